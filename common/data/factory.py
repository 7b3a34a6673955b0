"""The one place that turns a ``data`` config into loaders: in memory, or streamed for ``imagenet``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import torch

from ..errors import UserError
from ..labels import LabelConfig, LabelGenerator, RandomLabelDataset, build_label_generator
from .augment import BatchAugment
from .config import DataConfig
from .loaders import InMemoryLoader
from .sources import build_datasets
from .streaming import StreamLoader, build_image_folders

Loader = Union[InMemoryLoader, StreamLoader]


@dataclass
class Loaders:
    train: Loader  # shuffled and augmented; random labels when ``labels`` is set, else the true ones
    evaluation: Optional[Loader]  # the test split, else the held-out validation split; None unless asked for
    labels: Optional[LabelGenerator]  # the random labels ``train`` yields; None: true labels
    num_classes: int  # classes a network must predict: the label generator's, else the dataset's


def build_loaders(data: DataConfig, seed: int, batch_size: int, *, labels: Optional[LabelConfig] = None,
                  eval_batch_size: Optional[int] = None, device: str | torch.device = "cpu", drop_last: bool = False,
                  rank: int = 0, world_size: int = 1) -> Loaders:
    """The loaders of ``data``, ``batch_size`` images per rank (rank ``rank`` of ``world_size``).

    ``labels`` (supernet training): the training loader yields random labels drawn by
    ``build_label_generator``; None (retraining): the true labels. ``eval_batch_size`` asks for an
    evaluation loader (true labels, no augmentation beyond normalisation, not shuffled), and makes
    a dataset without test or validation images a ``UserError``.

    In-memory datasets use ``InMemoryLoader`` with batched augmentation on the device; ``imagenet``
    streams through ``StreamLoader`` (random labels via ``RandomLabelDataset``, which replaces the
    label ``ImageFolder`` returns). With several ranks the final partial global batch of training is
    cut so that every rank trains on as many images as the others (DDP averages their gradients).
    """
    batching = dict(device=device, seed=seed, rank=rank, world_size=world_size)
    train = dict(shuffle=True, drop_last=drop_last, even_shards=world_size > 1, **batching)
    if data.dataset == "imagenet":
        folders = build_image_folders(data, seed)
        generator = None if labels is None else build_label_generator(labels, folders.train.targets, seed)
        streamed = dict(num_workers=data.imagenet.num_workers)
        evaluation = None
        if eval_batch_size is not None:
            held_out = folders.test if folders.test is not None else folders.valid
            if held_out is None:
                raise UserError(f"data.root: {data.root} has no val/ folder and data.valid_size is 0: "
                                "nothing to evaluate on")
            evaluation = StreamLoader(held_out, eval_batch_size, shuffle=False, **streamed, **batching)
        images = folders.train if generator is None else RandomLabelDataset(folders.train, generator)
        return Loaders(StreamLoader(images, batch_size, **streamed, **train), evaluation, generator,
                       folders.num_classes if generator is None else generator.num_classes)
    datasets = build_datasets(data, seed)
    generator = None if labels is None else build_label_generator(labels, datasets.train.targets, seed)
    evaluation = None
    if eval_batch_size is not None:
        held_out = datasets.test if datasets.test is not None and len(datasets.test) else datasets.valid
        if held_out is None or not len(held_out):
            raise UserError(f"data: {data.dataset} has no test or validation images to evaluate on")
        evaluation = InMemoryLoader(held_out, eval_batch_size, shuffle=False,
                                    augment=BatchAugment(datasets.mean, datasets.std), **batching)
    augment = BatchAugment(datasets.mean, datasets.std, data.augment.crop_padding, data.augment.flip)
    train_loader = InMemoryLoader(datasets.train, batch_size, labels=None if generator is None else generator.labels,
                                  augment=augment, **train)
    return Loaders(train_loader, evaluation, generator,
                   datasets.num_classes if generator is None else generator.num_classes)


def build_training_data(data: DataConfig, labels: LabelConfig, seed: int, batch_size: int, *,
                        device: str | torch.device = "cpu", drop_last: bool = False, rank: int = 0,
                        world_size: int = 1) -> tuple[Loader, LabelGenerator]:
    """The supernet's training loader (``batch_size`` images per rank, random labels) and its labels."""
    loaders = build_loaders(data, seed, batch_size, labels=labels, device=device, drop_last=drop_last, rank=rank,
                            world_size=world_size)
    return loaders.train, loaders.labels
