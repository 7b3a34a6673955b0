"""Seeds derived from the config's seed, so that every random stream is reproducible on its own.

Each stream (path sampling, data shuffling, augmentation, labels, ...) of each epoch gets its own
seed, derived from ``(seed, stream name, epoch, ...)``. A run resumed at epoch k therefore draws
exactly what an uninterrupted run draws from epoch k on, without saving generator states.
"""
from __future__ import annotations

import zlib

import numpy as np
import torch


def _key(part) -> int:
    if isinstance(part, str):
        return zlib.crc32(part.encode())
    return int(part) % (1 << 64)


def derive_seed(seed: int, *parts) -> int:
    """A 63-bit seed determined by ``seed`` and the stream ``parts`` (strings or ints)."""
    sequence = np.random.SeedSequence([int(seed) % (1 << 64), *(_key(p) for p in parts)])
    high, low = (int(word) for word in sequence.generate_state(2, dtype=np.uint32))
    return ((high << 32) | low) & (2**63 - 1)


def numpy_rng(seed: int, *parts) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *parts))


def torch_generator(seed: int, *parts, device: str | torch.device = "cpu") -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(derive_seed(seed, *parts))
    return generator
