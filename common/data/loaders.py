"""The batch plan shared by every loader, and ``InMemoryLoader`` over an ``ImageSet``.

Every epoch's order and augmentation are derived from ``(seed, epoch)``, so an epoch replays
identically after a resume; under DDP each rank reads its ``rank_slice`` of the same global batches.
"""
from __future__ import annotations

from typing import Callable, Iterator, Optional

import torch

from ..seeding import torch_generator
from .augment import BatchAugment
from .sources import ImageSet


def global_batches(n: int, global_batch: int, *, seed: int, epoch: int, shuffle: bool = True, drop_last: bool = False,
                   world_size: int = 1, even_shards: bool = False) -> list[torch.Tensor]:
    """The global batches of indices into ``n`` images for ``epoch``: the same on every rank.

    The order is drawn from ``(seed, epoch)``. A final partial batch is dropped with ``drop_last``;
    with ``even_shards`` (DDP training, where gradients are averaged over ranks) it is cut to a
    multiple of ``world_size`` so that every rank gets the same number of images.
    """
    order = torch.randperm(n, generator=torch_generator(seed, "shuffle", epoch)) if shuffle else torch.arange(n)
    batches = []
    for start in range(0, n, global_batch):
        chunk = order[start:start + global_batch]
        if len(chunk) < global_batch:
            if drop_last:
                break
            if even_shards:
                chunk = chunk[:len(chunk) - len(chunk) % world_size]
                if not len(chunk):
                    break
        batches.append(chunk)
    return batches


def rank_slice(size: int, rank: int, world_size: int) -> slice:
    """Rank ``rank``'s part of a global batch of ``size``: as even as possible (sizes differ by at
    most one; a rank may get none of a final partial batch), in rank order."""
    base, extra = divmod(size, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def num_batches(n: int, batch_size: int, world_size: int, drop_last: bool, even_shards: bool) -> int:
    """How many batches each rank gets of an epoch of ``global_batches``."""
    full, rest = divmod(n, batch_size * world_size)
    if drop_last or (even_shards and rest < world_size):
        return full
    return full + (1 if rest else 0)


class ShardedBatches:
    """The batch plan shared by the loaders: ``global_batches`` of ``batch_size * world_size`` images
    drawn from ``(seed, epoch)``, of which rank ``rank`` takes its ``rank_slice``."""

    def __init__(self, data, batch_size: int, *, shuffle: bool = True, drop_last: bool = False,
                 device: str | torch.device = "cpu", seed: int = 0, rank: int = 0, world_size: int = 1,
                 even_shards: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of size {world_size}")
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.device = torch.device(device)
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.even_shards = even_shards

    def __len__(self) -> int:
        return num_batches(len(self.data), self.batch_size, self.world_size, self.drop_last, self.even_shards)

    def _global(self, epoch: int) -> list[torch.Tensor]:
        return global_batches(len(self.data), self.batch_size * self.world_size, seed=self.seed, epoch=epoch,
                              shuffle=self.shuffle, drop_last=self.drop_last, world_size=self.world_size,
                              even_shards=self.even_shards)

    def indices(self, epoch: int) -> list[torch.Tensor]:
        """This rank's batches of indices for ``epoch``."""
        return [chunk[rank_slice(len(chunk), self.rank, self.world_size)] for chunk in self._global(epoch)]


class InMemoryLoader(ShardedBatches):
    """Batches of an ImageSet: shuffled, labelled, augmented on ``device``; no per-image Python work.

    With ``world_size > 1`` it yields rank ``rank``'s part (``rank_slice``) of each global batch of
    ``batch_size * world_size`` images (``global_batches``); every rank gets the same number of batches.
    The augmentation of an image does not depend on the rank that reads it: the draws are made for
    the whole global batch from one ``(seed, epoch)`` stream and each rank keeps its part, so the
    ranks together see exactly the batches of a single process with the global batch size.
    """

    def __init__(self, data: ImageSet, batch_size: int, *, labels: Optional[Callable[[torch.Tensor, int], torch.Tensor]] = None,
                 augment: Optional[BatchAugment] = None, device: str | torch.device = "cpu", **batching):
        super().__init__(data, batch_size, device=device, **batching)
        self.labels = labels
        self.augment = augment
        if self.device.type == "cuda":  # uint8 images are small: keep them on the GPU, index there
            self.data = ImageSet(data.images.to(self.device), data.targets, data.num_classes)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's batches. Its order, labels and augmentation draws are made up front on the host
        (the same draws, in the same order, as one batch at a time) and reach the device in one copy
        each: no host-device transfer or synchronisation between the steps of an epoch."""
        generator = torch_generator(self.seed, "augment", epoch, 0) if self.augment is not None else None
        batches, labels, offsets, flips = [], [], [], []
        for chunk in self._global(epoch):
            part = rank_slice(len(chunk), self.rank, self.world_size)
            batches.append(chunk[part])
            labels.append(self.data.targets[chunk[part]] if self.labels is None else self.labels(chunk[part], epoch))
            if generator is not None:  # draws for the whole global batch, this rank's part of them (see the class docstring)
                offset, flip = self.augment.draw(len(chunk), generator)
                offsets.append(offset[part])
                flips.append(flip[part])
        sizes = [len(batch) for batch in batches]

        def moved(parts: list[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, ...]:
            return torch.cat(parts).to(device).split(sizes) if parts else ()

        batches, labels = moved(batches, self.data.images.device), moved(labels, self.device)
        offsets, flips = moved(offsets, self.device), moved(flips, self.device)
        for step, batch in enumerate(batches):
            images = self.data.images[batch].to(self.device, non_blocking=True)
            if generator is None:
                x = images.float().div_(255)
            else:
                x = self.augment.apply(images, offsets[step], flips[step])
            yield x, labels[step]

