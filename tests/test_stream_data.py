"""The streaming ImageNet-style data path: ImageFolder, per-image seeded augmentation, rank shards, random labels."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from common.config import load_config
from common.data import DataConfig, ImageNetConfig, build_datasets, build_image_folders, build_training_data
from common.errors import UserError
from common.labels import LabelConfig
from common.training import train_supernet
from nas_bench_201.config import NB201Config
from nas_bench_201.supernet import build_supernet

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("n01", "n02", "n03")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """train/: 3 classes x 6 JPEGs of assorted sizes; val/: 3 classes x 2."""
    root = tmp_path_factory.mktemp("imagenet")
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("val", 2)):
        for c, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                h, w = 14 + 2 * i, 20 - i
                pixels = (rng.random((h, w, 3)) * 80 + 80 * c).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{name}_{i}.JPEG", quality=95)
    return root


def config(folder, **changes) -> DataConfig:
    fields = dict(dataset="imagenet", root=str(folder), valid_size=3,
                  imagenet=ImageNetConfig(crop_size=8, resize_size=10, num_workers=0, color_jitter=0.4))
    fields.update(changes)
    return DataConfig(**fields)


def test_folders_hold_out_a_seeded_validation_split(folder):
    folders = build_image_folders(config(folder), seed=0)
    assert folders.classes == list(CLASSES) and folders.num_classes == 3
    assert len(folders.train) == 15 and len(folders.valid) == 3 and len(folders.test) == 6
    train_files = {path for path, _ in folders.train.samples}
    valid_files = {path for path, _ in folders.valid.samples}
    assert not train_files & valid_files and len(train_files | valid_files) == 18
    again = build_image_folders(config(folder), seed=0)
    other = build_image_folders(config(folder), seed=1)
    assert valid_files == {path for path, _ in again.valid.samples}
    assert valid_files != {path for path, _ in other.valid.samples}
    image, label = folders.valid[0]  # evaluation transform: resize 10, centre crop 8, normalised
    assert image.shape == (3, 8, 8) and image.dtype == torch.float32 and label == folders.valid.targets[0]
    assert torch.equal(folders.valid[0][0], folders.valid[0][0])  # no randomness in evaluation


def load(folder, rank=0, world=1, batch=4, workers=0, mode="uniform_once", seed=0):
    data = config(folder, imagenet=ImageNetConfig(crop_size=8, resize_size=10, num_workers=workers, color_jitter=0.4))
    return build_training_data(data, LabelConfig(mode=mode), seed, batch, rank=rank, world_size=world)


def test_ranks_read_disjoint_shards_of_the_single_process_batches_with_its_labels(folder):
    single, labels = load(folder, batch=4)
    ranks = [load(folder, rank=r, world=2, batch=2)[0] for r in (0, 1)]
    assert len(single) == 4 and [len(r) for r in ranks] == [4, 4]  # 15 images: 3 batches of 4, then 3 cut to 2
    for epoch in (0, 1):
        whole = list(single.epoch(epoch))
        parts = [list(r.epoch(epoch)) for r in ranks]
        indices = single.indices(epoch)
        for step, (images, targets) in enumerate(whole[:3]):
            assert images.shape == (4, 3, 8, 8)
            joined = torch.cat([parts[0][step][0], parts[1][step][0]])
            assert torch.equal(joined, images)  # an image's augmentation does not depend on the rank reading it
            assert torch.equal(torch.cat([parts[0][step][1], parts[1][step][1]]), targets)
            assert torch.equal(targets, labels.table(epoch)[indices[step]])  # the generator's labels, by image
        assert sum(len(p[3][1]) for p in parts) == 2 and len(whole[3][1]) == 3
        seen = [set(torch.cat(r.indices(epoch)).tolist()) for r in ranks]
        assert not seen[0] & seen[1]
    assert not torch.equal(list(single.epoch(0))[0][0], list(single.epoch(1))[0][0])
    assert torch.equal(list(single.epoch(1))[0][0], list(single.epoch(1))[0][0])  # an epoch replays


def test_labels_are_random_not_the_folder_classes(folder):
    loader, labels = load(folder, batch=15, mode="uniform_once", seed=3)
    true = torch.tensor(loader.data.dataset.targets)
    _, served = next(loader.epoch(0))
    order = loader.indices(0)[0]
    assert torch.equal(served, labels.table(0)[order])
    assert not torch.equal(served, true[order])  # ImageFolder's own labels are replaced
    per_iter, generator = load(folder, batch=15, mode="uniform_per_iter", seed=3)
    first, second = (next(per_iter.epoch(e))[1] for e in (0, 1))
    assert torch.equal(first, generator.table(0)[per_iter.indices(0)[0]])
    assert torch.equal(second, generator.table(1)[per_iter.indices(1)[0]])


def test_worker_processes_give_the_same_batches(folder):
    inline, _ = load(folder, workers=0)
    workers, _ = load(folder, workers=2)
    for (a, y), (b, z) in zip(inline.epoch(2), workers.epoch(2)):
        assert torch.equal(a, b) and torch.equal(y, z)


def test_supernet_trains_on_a_streamed_folder(folder, tmp_path):
    overrides = ["device=cpu", "data.dataset=imagenet", f"data.root={folder}", "data.valid_size=3",
                 "data.imagenet.crop_size=8", "data.imagenet.resize_size=10", "data.imagenet.num_workers=0",
                 "model.channels=4", "model.cells_per_stage=1", "train.epochs=1", "train.batch_size=4"]
    cfg = load_config(ROOT / "configs/nas_bench_201/quickstart.yaml", NB201Config, overrides)
    assert train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), tmp_path) == 1
    assert (tmp_path / "checkpoints/epoch_0001.pt").is_file()


def test_bad_streaming_input_is_a_user_error(folder, tmp_path):
    with pytest.raises(UserError, match="no train/ folder"):
        build_image_folders(config(tmp_path), 0)
    with pytest.raises(UserError, match="streamed from disk"):
        build_datasets(config(folder), 0)
    with pytest.raises(UserError, match="would hold out all 18"):
        build_image_folders(config(folder, valid_size=18), 0)
    with pytest.raises(UserError, match="data.num_classes: 5"):
        build_image_folders(config(folder, num_classes=5), 0)
    (tmp_path / "train/n01").mkdir(parents=True)
    with pytest.raises(UserError, match="data.root"):
        build_image_folders(config(tmp_path), 0)
