"""Which training images are held out for validation, and which are kept for quick runs: seeded
index draws shared by the in-memory datasets and the streamed image folders."""
from __future__ import annotations

from typing import Optional

import torch

from ..errors import UserError
from ..seeding import torch_generator
from .config import DataConfig


def holdout_split(n: int, cfg: DataConfig, seed: int) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Sorted indices ``(train, held_out)`` of ``n`` training images by ``valid_fraction`` or
    ``valid_size`` (a seeded draw); ``held_out`` is None when nothing is held out."""
    if cfg.valid_fraction == 0 and cfg.valid_size == 0:
        return torch.arange(n), None
    if cfg.valid_size >= n:
        raise UserError(f"data.valid_size: {cfg.valid_size} would hold out all {n} training images")
    generator = torch_generator(cfg.split_seed if cfg.split_seed is not None else seed, "split")
    order = torch.randperm(n, generator=generator)
    cut = n - cfg.valid_size if cfg.valid_size else round(n * (1 - cfg.valid_fraction))
    return order[:cut].sort().values, order[cut:].sort().values


def train_subset(count: int, cfg: DataConfig, seed: int) -> Optional[torch.Tensor]:
    """Sorted positions of a seeded ``data.max_train_images`` of ``count`` training images (None: all).
    Seeded, not the first N: image folders list their files class by class."""
    if cfg.max_train_images is None or cfg.max_train_images >= count:
        return None
    order = torch.randperm(count, generator=torch_generator(seed, "max_train_images"))
    return order[:cfg.max_train_images].sort().values

