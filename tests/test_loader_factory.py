"""``build_loaders``: the labels, the evaluation split and the errors, for both the in-memory and the streamed path."""
import numpy as np
import pytest
import torch
from PIL import Image

from common.data import DataConfig, ImageNetConfig, SyntheticConfig, build_datasets, build_loaders, build_training_data
from common.errors import UserError
from common.labels import LabelConfig


def synthetic(**changes) -> DataConfig:
    sizes = dict(num_images=30, num_test_images=9, num_classes=4, image_size=8)
    sizes.update(changes.pop("synthetic", {}))
    return DataConfig(synthetic=SyntheticConfig(**sizes), **changes)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """train/: 2 classes x 5 PNGs, no val/ folder."""
    root = tmp_path_factory.mktemp("stream")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (root / "train" / name).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (9, 11, 3), dtype=np.uint8)).save(root / "train" / name / f"{i}.png")
    return root


def streamed(folder, **changes) -> DataConfig:
    return DataConfig(dataset="imagenet", root=str(folder), imagenet=ImageNetConfig(crop_size=6, resize_size=8, num_workers=0),
                      **changes)


def test_true_labels_and_a_plain_evaluation_of_the_test_split():
    data = synthetic()
    loaders = build_loaders(data, 1, 8, eval_batch_size=4)
    datasets = build_datasets(data, 1)
    assert loaders.labels is None and loaders.num_classes == 4
    targets = torch.cat([y for _, y in loaders.train.epoch(0)])
    assert torch.equal(targets, datasets.train.targets[torch.cat(loaders.train.indices(0))])
    images, labels = zip(*loaders.evaluation.epoch(0))
    mean, std = torch.tensor(datasets.mean).view(1, 3, 1, 1), torch.tensor(datasets.std).view(1, 3, 1, 1)
    assert torch.allclose(torch.cat(images), (datasets.test.images.float() / 255 - mean) / std, atol=1e-6)
    assert torch.equal(torch.cat(labels), datasets.test.targets)  # in order, every test image once


def test_random_labels_come_from_the_generator_and_set_the_class_count():
    data = synthetic()
    loaders = build_loaders(data, 2, 8, labels=LabelConfig(num_classes=11))
    assert loaders.evaluation is None and loaders.num_classes == loaders.labels.num_classes == 11
    for epoch in (0, 1):
        labels = torch.cat([y for _, y in loaders.train.epoch(epoch)])
        assert torch.equal(labels, loaders.labels.labels(torch.cat(loaders.train.indices(epoch)), epoch))
    loader, generator = build_training_data(data, LabelConfig(num_classes=11), 2, 8)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
               for a, b in zip(loader.epoch(0), loaders.train.epoch(0)))
    assert torch.equal(generator.table(0), loaders.labels.table(0))


def test_without_a_test_split_the_held_out_images_are_evaluated():
    data = synthetic(valid_size=6, synthetic=dict(num_test_images=0))
    loaders = build_loaders(data, 3, 8, eval_batch_size=4)
    assert len(loaders.evaluation.data) == 6 and len(loaders.train.data) == 24
    assert torch.equal(loaders.evaluation.data.images, build_datasets(data, 3).valid.images)
    with pytest.raises(UserError, match="no test or validation images"):
        build_loaders(synthetic(synthetic=dict(num_test_images=0)), 3, 8, eval_batch_size=4)
    build_loaders(synthetic(synthetic=dict(num_test_images=0)), 3, 8)  # no evaluation asked for: fine


def test_streamed_folder_without_val_evaluates_the_held_out_images(folder):
    loaders = build_loaders(streamed(folder, valid_size=3), 0, 4, eval_batch_size=2)
    assert loaders.labels is None and loaders.num_classes == 2
    assert len(loaders.train.data) == 7 and len(loaders.evaluation.data) == 3
    true = [target for _, target in loaders.train.data.samples]
    order = torch.cat(loaders.train.indices(0))
    assert torch.cat([y for _, y in loaders.train.epoch(0)]).tolist() == [true[i] for i in order.tolist()]
    labels = torch.cat([y for _, y in loaders.evaluation.epoch(0)]).tolist()
    assert labels == loaders.evaluation.data.targets
    with pytest.raises(UserError, match="no val/ folder and data.valid_size is 0"):
        build_loaders(streamed(folder), 0, 4, eval_batch_size=2)
    randomised = build_loaders(streamed(folder), 0, 4, labels=LabelConfig(mode="uniform_every_epoch", num_classes=9))
    assert randomised.num_classes == 9
    labels = torch.cat([y for _, y in randomised.train.epoch(1)])
    assert torch.equal(labels, randomised.labels.labels(torch.cat(randomised.train.indices(1)), 1))
