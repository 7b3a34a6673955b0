"""Batched augmentation of uint8 images on their device: random crop with zero padding, flip, normalisation."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F


class BatchAugment:
    """Random crop with zero padding, horizontal flip and normalisation of a uint8 batch, on its device."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], crop_padding: int = 0, flip: bool = False):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.crop_padding = crop_padding
        self.flip = flip

    def draw(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Crop offsets ``(batch, 2)`` in ``[0, 2 * padding]`` (drawn first), then flip flags ``(batch,)``."""
        offsets = torch.randint(0, 2 * self.crop_padding + 1, (batch, 2), generator=generator)
        flips = torch.rand(batch, generator=generator) < 0.5 if self.flip else torch.zeros(batch, dtype=torch.bool)
        return offsets, flips

    def apply(self, images: torch.Tensor, offsets: Optional[torch.Tensor], flips: Optional[torch.Tensor]) -> torch.Tensor:
        if offsets is not None and self.crop_padding > 0:
            n, _, h, w = images.shape
            p = self.crop_padding
            padded = F.pad(images, (p, p, p, p))
            offsets = offsets.to(images.device, non_blocking=True)
            rows = (offsets[:, 0:1] + torch.arange(h, device=images.device))[:, None, :, None]
            cols = (offsets[:, 1:2] + torch.arange(w, device=images.device))[:, None, None, :]
            batch = torch.arange(n, device=images.device)[:, None, None, None]
            channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
            images = padded[batch, channel, rows, cols]
        if flips is not None and self.flip:
            flips = flips.to(images.device, non_blocking=True)[:, None, None, None]
            images = torch.where(flips, images.flip(3), images)
        x = images.float().div_(255)
        if self.mean.device != x.device:
            self.mean, self.std = self.mean.to(x.device), self.std.to(x.device)
        return (x - self.mean) / self.std

    def __call__(self, images: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
        if generator is None:
            return self.apply(images, None, None)
        return self.apply(images, *self.draw(len(images), generator))
