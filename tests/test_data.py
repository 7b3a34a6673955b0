import json
import os
import pickle

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from common.data import BatchAugment, DataConfig, InMemoryLoader, ImageSet, SyntheticConfig, build_datasets
from common.errors import UserError


def images(n=10, size=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return ImageSet(torch.randint(0, 256, (n, 3, size, size), generator=generator, dtype=torch.uint8),
                    torch.arange(n) % 3, 3)


def test_batched_augmentation_equals_a_per_image_reference():
    data = images(16)
    augment = BatchAugment((0.4, 0.5, 0.6), (0.2, 0.25, 0.3), crop_padding=2, flip=True)
    offsets, flips = augment.draw(16, torch.Generator().manual_seed(1))
    batched = augment.apply(data.images, offsets, flips)
    mean, std = torch.tensor([0.4, 0.5, 0.6]).view(3, 1, 1), torch.tensor([0.2, 0.25, 0.3]).view(3, 1, 1)
    for i in range(16):
        padded = torch.zeros(3, 12, 12, dtype=torch.uint8)
        padded[:, 2:10, 2:10] = data.images[i]
        dy, dx = offsets[i].tolist()
        crop = padded[:, dy:dy + 8, dx:dx + 8]
        if flips[i]:
            crop = crop.flip(2)
        assert torch.allclose(batched[i], (crop.float() / 255 - mean) / std, atol=1e-6)
    assert flips.any() and (~flips).any() and len({tuple(o) for o in offsets.tolist()}) > 1
    plain = augment(data.images, None)
    assert torch.allclose(plain, (data.images.float() / 255 - mean) / std, atol=1e-6)


def test_loader_epochs_are_reproducible_and_cover_every_image_once():
    data = images(50)
    labels = lambda idx, epoch: (idx + epoch) % 7  # noqa: E731
    loader = InMemoryLoader(data, 8, labels=labels, augment=BatchAugment((0.5,) * 3, (0.5,) * 3, 1, True), seed=3)
    first = list(loader.epoch(2))
    again = list(loader.epoch(2))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    assert len(loader) == len(first) == 7
    seen = torch.cat(loader.indices(2))
    assert sorted(seen.tolist()) == list(range(50))
    assert torch.equal(torch.cat([y for _, y in first]), (seen + 2) % 7)
    assert not torch.equal(torch.cat(loader.indices(3)), seen)
    assert len(InMemoryLoader(data, 8, drop_last=True).indices(0)) == 6


def test_loader_shards_for_two_ranks():
    data = images(45)
    single = InMemoryLoader(data, 4, world_size=1, seed=1, drop_last=True).indices(0)
    ranks = [InMemoryLoader(data, 4, world_size=2, rank=r, seed=1, drop_last=True).indices(0) for r in (0, 1)]
    a, b = (set(torch.cat(r).tolist()) for r in ranks)
    assert not a & b
    assert len(ranks[0]) == len(ranks[1]) == 5
    assert a | b == set(torch.cat(single[:10]).tolist())


def test_synthetic_is_deterministic_and_split_is_seeded(tmp_path):
    cfg = DataConfig(valid_fraction=0.25)
    first, second = build_datasets(cfg, seed=0), build_datasets(cfg, seed=0)
    assert torch.equal(first.train.images, second.train.images)
    assert len(first.train) == 384 and len(first.valid) == 128 and first.test is not None
    other = build_datasets(cfg, seed=1)
    assert torch.equal(torch.cat([first.train.images, first.valid.images]).sum(0),
                       torch.cat([other.train.images, other.valid.images]).sum(0))  # same images, other split
    assert not torch.equal(first.valid.images, other.valid.images)
    capped = build_datasets(DataConfig(max_train_images=100), 0).train
    assert len(capped) == 100 and torch.equal(capped.images, build_datasets(DataConfig(max_train_images=100), 0).train.images)
    no_test = build_datasets(DataConfig(synthetic=SyntheticConfig(num_images=8, num_test_images=0)), 0)
    assert len(no_test.train) == 8 and len(no_test.test) == 0


def test_split_file(tmp_path):
    path = tmp_path / "split.txt"
    path.write_text(json.dumps({"train": ["int", [str(i) for i in range(0, 512, 2)]],
                                "valid": ["int", [str(i) for i in range(1, 512, 2)]]}))
    data = build_datasets(DataConfig(split_file=str(path)), 0)
    full = build_datasets(DataConfig(), 0)
    assert torch.equal(data.train.images, full.train.images[::2]) and torch.equal(data.valid.targets, full.train.targets[1::2])
    path.write_text(json.dumps({"train": ["int", ["0", "1"]], "valid": ["int", ["1"]]}))
    with pytest.raises(UserError, match="disjoint"):
        build_datasets(DataConfig(split_file=str(path)), 0)
    path.write_text("garbage")
    with pytest.raises(UserError, match="not a NAS-Bench-201 split file"):
        build_datasets(DataConfig(split_file=str(path)), 0)


def write_folder(root, classes=("a", "b"), per_class=3, size=8):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((size, size, 3), 40 * c + 10 * i, dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")


def test_imagefolder_with_train_and_test_and_cache(tmp_path):
    write_folder(tmp_path / "data/train")
    write_folder(tmp_path / "data/test", per_class=2)
    cfg = DataConfig(dataset="imagefolder", root=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"))
    data = build_datasets(cfg, 0)
    assert data.train.images.shape == (6, 3, 8, 8) and data.test.images.shape == (4, 3, 8, 8)
    assert data.train.targets.tolist() == [0, 0, 0, 1, 1, 1]
    assert int(data.train.images[4, 0, 0, 0]) == 50
    assert len(list((tmp_path / "cache").iterdir())) == 2
    cached = build_datasets(cfg, 0)
    assert torch.equal(cached.train.images, data.train.images)
    for cache_file in (tmp_path / "cache").iterdir():  # a truncated cache is decoded again, not fatal
        cache_file.write_bytes(cache_file.read_bytes()[:100])
    redecoded = build_datasets(cfg, 0)
    assert torch.equal(redecoded.train.images, data.train.images) and torch.equal(redecoded.test.images, data.test.images)
    assert all(f.stat().st_size > 100 for f in (tmp_path / "cache").iterdir())  # and rewritten
    resized = build_datasets(DataConfig(dataset="imagefolder", root=str(tmp_path / "data/train"), image_size=4), 0)
    assert resized.train.images.shape == (6, 3, 4, 4) and resized.test is None
    with pytest.raises(UserError, match="folder not found"):
        build_datasets(DataConfig(dataset="imagefolder", root=str(tmp_path / "nope")), 0)
    with pytest.raises(UserError, match="data.root: required"):
        build_datasets(DataConfig(dataset="imagefolder"), 0)


def write_imagenet16(root, per_file=6):
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]:
        batch = {"data": rng.integers(0, 256, (per_file, 3 * 16 * 16), dtype=np.uint8),
                 "labels": [1, 2, 3, 120, 121, 1000][:per_file], "mean": np.zeros(3)}
        with open(root / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)


def test_imagenet16_format_and_class_filter(tmp_path):
    write_imagenet16(tmp_path / "in16")
    data = build_datasets(DataConfig(dataset="imagenet16", root=str(tmp_path / "in16"), num_classes=120), 0)
    assert data.train.images.shape == (40, 3, 16, 16) and data.train.num_classes == 120
    assert sorted(set(data.train.targets.tolist())) == [0, 1, 2, 119]
    assert len(data.test) == 4


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > exploited.txt",))


def test_foreign_pickles_cannot_run_code(tmp_path, monkeypatch):
    write_imagenet16(tmp_path / "in16")
    with open(tmp_path / "in16/val_data", "wb") as handle:
        pickle.dump({"data": Exploit(), "labels": [1]}, handle, protocol=2)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="refusing to load"):
        build_datasets(DataConfig(dataset="imagenet16", root=str(tmp_path / "in16")), 0)
    assert not (tmp_path / "exploited.txt").exists()


def test_cifar_through_torchvision(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        with open(folder / name, "wb") as handle:
            pickle.dump({"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 9]}, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, handle)
    # Our fake files cannot match torchvision's MD5 sums; everything else is torchvision's own reader.
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    data = build_datasets(DataConfig(dataset="cifar10", root=str(tmp_path)), 0)
    assert data.train.images.shape == (20, 3, 32, 32) and len(data.test) == 4
    assert data.train.targets.tolist()[:4] == [0, 1, 2, 9] and data.num_classes == 10
    with pytest.raises(UserError, match="torchvision's format"):
        build_datasets(DataConfig(dataset="cifar100", root=str(tmp_path)), 0)


@pytest.mark.slow
def test_offline_cifar10_image_folder(cifar10_folder, tmp_path):
    cfg = DataConfig(dataset="imagefolder", root=str(cifar10_folder), valid_fraction=0.5, cache_dir=str(tmp_path))
    data = build_datasets(cfg, 0)
    assert (len(data.train), len(data.valid), len(data.test)) == (25000, 25000, 10000)
    assert data.train.images.shape[1:] == (3, 32, 32) and data.num_classes == 10
    assert torch.equal(torch.bincount(torch.cat([data.train.targets, data.valid.targets])), torch.full((10,), 5000))


def test_max_train_images_draws_from_every_class_of_a_sorted_folder(tmp_path):
    write_folder(tmp_path / "data", per_class=6)  # files are listed class by class
    data = build_datasets(DataConfig(dataset="imagefolder", root=str(tmp_path / "data"), max_train_images=6), 0)
    assert len(data.train) == 6 and set(data.train.targets.tolist()) == {0, 1}  # the first 6 would be class 0 only



def test_an_unset_data_root_variable_is_reported_when_the_data_is_read(monkeypatch):
    monkeypatch.delenv("UNSET_RLNAS_DATA", raising=False)
    cfg = DataConfig(dataset="cifar10", root="${UNSET_RLNAS_DATA}/cifar")
    with pytest.raises(UserError, match=r"^data.root: environment variable UNSET_RLNAS_DATA is not set"):
        build_datasets(cfg, seed=0)
