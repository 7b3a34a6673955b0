"""Random labels: the four generation modes of the paper's Table 6, plus true labels for baselines.

- ``uniform_once`` (the paper's default, RLNAS*): one label per image, drawn uniformly over
  ``num_classes`` classes before training, fixed for the whole run.
- ``shuffle_once``: the true labels permuted once before training (keeps the label histogram).
- ``uniform_per_iter``: a fresh uniform label every time an image is used.
- ``shuffle_per_iter``: every time an image is used, the true label of a randomly chosen image.
- ``ground_truth``: the true labels (the supervised baselines, methods A and B of Table 1).

Every image is used once per epoch, so the per-iteration modes redraw one label table per epoch:
each use of an image gets a label independent of all earlier ones, and the table of epoch ``e`` is
a function of ``(seed, e)`` alone, which keeps resumed runs exact. ``RandomLabelDataset`` wraps any
map-style dataset; the in-memory loaders call ``LabelGenerator.labels`` per batch instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Sequence

import torch
from torch.utils.data import Dataset

from .errors import UserError
from .seeding import torch_generator

LabelMode = Literal["uniform_once", "shuffle_once", "uniform_per_iter", "shuffle_per_iter", "ground_truth"]


@dataclass
class LabelConfig:
    mode: LabelMode = "uniform_once"
    num_classes: Optional[int] = None  # None: the dataset's number of classes
    seed: Optional[int] = None  # None: the experiment seed

    def __post_init__(self):
        if self.num_classes is not None and self.num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {self.num_classes}")


class LabelGenerator:
    """Maps ``(image indices, epoch)`` to labels according to one of the modes above."""

    def __init__(self, mode: LabelMode, true_labels: torch.Tensor | Sequence[int], num_classes: int | None,
                 seed: int):
        self.true_labels = torch.as_tensor(true_labels, dtype=torch.int64).cpu()
        dataset_classes = int(self.true_labels.max()) + 1 if len(self.true_labels) else 0
        self.num_classes = dataset_classes if num_classes is None else int(num_classes)
        if mode in ("shuffle_once", "shuffle_per_iter", "ground_truth") and self.num_classes != dataset_classes:
            raise UserError(f"labels.num_classes={num_classes} is only possible with uniform modes: "
                            f"mode '{mode}' uses the dataset's {dataset_classes} classes")
        if self.num_classes < 2:
            source = "labels.num_classes" if num_classes is not None else "the data's labels; set labels.num_classes"
            raise UserError(f"labels: {self.num_classes} label class(es) from {source}: a classifier needs at least 2 "
                            "(with one, every loss is 0 and nothing is learnt)")
        self.mode = mode
        self.seed = seed
        self._epoch_table: tuple[int, torch.Tensor] | None = None
        self._fixed = self._table(None) if mode.endswith("_once") else None

    def __len__(self) -> int:
        return len(self.true_labels)

    def _table(self, epoch: int | None) -> torch.Tensor:
        generator = torch_generator(self.seed, "labels", self.mode, "fixed" if epoch is None else epoch)
        n = len(self.true_labels)
        if self.mode.startswith("uniform"):
            return torch.randint(self.num_classes, (n,), generator=generator, dtype=torch.int64)
        return self.true_labels[torch.randperm(n, generator=generator)]

    def table(self, epoch: int) -> torch.Tensor:
        """The labels of all images during ``epoch``."""
        if self.mode == "ground_truth":
            return self.true_labels
        if self._fixed is not None:
            return self._fixed
        if self._epoch_table is None or self._epoch_table[0] != epoch:
            self._epoch_table = (epoch, self._table(epoch))
        return self._epoch_table[1]

    def labels(self, indices: torch.Tensor, epoch: int) -> torch.Tensor:
        return self.table(epoch)[indices.cpu()]


def build_label_generator(cfg: LabelConfig, true_labels: torch.Tensor | Sequence[int], seed: int) -> LabelGenerator:
    return LabelGenerator(cfg.mode, true_labels, cfg.num_classes, seed if cfg.seed is None else cfg.seed)


def dataset_targets(dataset: Dataset) -> list[int]:
    """True labels of a map-style dataset: ``samples`` (ImageFolder), ``targets``, else by iterating."""
    samples = getattr(dataset, "samples", None)
    if samples is not None:
        return [int(target) for _, target in samples]
    targets = getattr(dataset, "targets", None)
    if targets is not None:
        return [int(t) for t in targets]
    return [int(dataset[i][1]) for i in range(len(dataset))]


class RandomLabelDataset(Dataset):
    """``(image, label)`` pairs of any dataset with the labels of a LabelGenerator.

    It reads the image through ``dataset[i]`` and replaces the label it returns, so it works for
    datasets that ignore attributes such as ``targets`` (torchvision's ImageFolder reads
    ``samples``: the released ImageNet code overwrote ``targets`` and trained on true labels).
    Call ``set_epoch`` before each epoch for the per-iteration modes.
    """

    def __init__(self, dataset: Dataset, generator: LabelGenerator):
        if len(generator) != len(dataset):
            raise ValueError(f"label generator covers {len(generator)} images, dataset has {len(dataset)}")
        self.dataset = dataset
        self.generator = generator
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image = self.dataset[index][0]
        return image, int(self.generator.table(self.epoch)[index])
