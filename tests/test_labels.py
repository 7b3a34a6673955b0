import numpy as np
import pytest
import torch
from scipy import stats

from common.errors import UserError
from common.labels import LabelConfig, LabelGenerator, RandomLabelDataset, build_label_generator, dataset_targets

TRUE = torch.arange(10).repeat_interleave(torch.tensor([50, 100, 150, 200, 250, 300, 350, 400, 450, 500]))
MODES = ["uniform_once", "shuffle_once", "uniform_per_iter", "shuffle_per_iter"]


@pytest.mark.parametrize("mode", MODES)
def test_deterministic_per_seed_and_in_range(mode):
    a = LabelGenerator(mode, TRUE, None, seed=3)
    b = LabelGenerator(mode, TRUE, None, seed=3)
    c = LabelGenerator(mode, TRUE, None, seed=4)
    for epoch in (0, 5):
        assert torch.equal(a.table(epoch), b.table(epoch))
        assert not torch.equal(a.table(epoch), c.table(epoch))
        assert int(a.table(epoch).min()) >= 0 and int(a.table(epoch).max()) < 10
    assert not torch.equal(a.table(0), TRUE)


def test_uniform_once_counts_are_near_uniform_for_any_class_count():
    for classes in (10, 37, 200):
        labels = LabelGenerator("uniform_once", torch.zeros(50_000, dtype=torch.int64), classes, seed=0).table(0)
        counts = np.bincount(labels.numpy(), minlength=classes)
        assert len(counts) == classes
        assert stats.chisquare(counts).pvalue > 1e-3  # uniform counts are not rejected


def test_shuffle_once_keeps_the_histogram_and_is_fixed():
    gen = LabelGenerator("shuffle_once", TRUE, None, seed=0)
    assert torch.equal(torch.bincount(gen.table(0)), torch.bincount(TRUE))
    assert torch.equal(gen.table(0), gen.table(7))
    assert (gen.table(0) != TRUE).float().mean() > 0.5


def test_once_modes_are_fixed_and_per_iteration_modes_change_between_epochs():
    for mode in ("uniform_once", "shuffle_once"):
        gen = LabelGenerator(mode, TRUE, None, seed=1)
        assert torch.equal(gen.table(0), gen.table(1))
    for mode in ("uniform_per_iter", "shuffle_per_iter"):
        gen = LabelGenerator(mode, TRUE, None, seed=1)
        first, second = gen.table(0).clone(), gen.table(1).clone()
        assert (first != second).float().mean() > 0.5
        assert torch.equal(gen.table(0), first)  # epoch 0 redrawn identically (resume)
    per_iter_shuffle = LabelGenerator("shuffle_per_iter", TRUE, None, seed=1)
    assert torch.equal(torch.bincount(per_iter_shuffle.table(3)), torch.bincount(TRUE))


def test_true_labels_and_class_count_checks():
    assert torch.equal(build_label_generator(LabelConfig(mode="ground_truth"), TRUE, seed=0).labels(torch.arange(5), 0), TRUE[:5])
    with pytest.raises(UserError, match="only possible with uniform modes"):
        LabelGenerator("shuffle_once", TRUE, 20, seed=0)
    assert build_label_generator(LabelConfig(num_classes=200), TRUE, seed=0).num_classes == 200


class FolderLike(torch.utils.data.Dataset):
    """Reads labels from `samples`, like torchvision's ImageFolder; `targets` is a decoy."""

    def __init__(self, n):
        self.samples = [(f"img{i}", i % 3) for i in range(n)]
        self.targets = [99] * n

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return torch.full((1,), float(index)), self.samples[index][1]


def test_wrapper_replaces_labels_of_any_dataset():
    dataset = FolderLike(30)
    assert dataset_targets(dataset) == [i % 3 for i in range(30)]
    gen = LabelGenerator("uniform_per_iter", dataset_targets(dataset), 7, seed=0)
    wrapped = RandomLabelDataset(dataset, gen)
    labels0 = [wrapped[i][1] for i in range(30)]
    assert labels0 == gen.table(0).tolist()
    assert torch.equal(wrapped[4][0], dataset[4][0])
    wrapped.set_epoch(1)
    assert [wrapped[i][1] for i in range(30)] == gen.table(1).tolist() != labels0


@pytest.mark.parametrize("configured", [None, 1])
def test_fewer_than_two_classes_is_an_error_naming_labels_num_classes(configured):
    with pytest.raises(UserError, match=r"labels: 1 label class.*labels\.num_classes.*at least 2"):
        build_label_generator(LabelConfig(mode="uniform_once", num_classes=configured), torch.zeros(8, dtype=torch.int64), seed=0)
