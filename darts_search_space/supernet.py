"""The DARTS supernets of the released RLNAS code (docs/reference.md §4.3).

CIFAR-10: C=16, 8 cells, reductions at 2 and 5, a 3x3 stem to 3C channels. ImageNet: C=48, 14
cells ``NNNNRNNNNRNNNN`` after the two-stage stride-8 stem. Every edge holds the 7 non-``none`` ops
with affine BNs, each pooling followed by an affine BN; one sampled normal cell and one sampled
reduction cell are shared by all cells of their type; no auxiliary head, no drop path.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .ops import Network, imagenet_init
from .encoding import random_arch


@dataclass
class SupernetConfig:
    stem: Literal["cifar", "imagenet"] = "cifar"
    channels: int = 16  # C of the first cells (doubled at each reduction)
    layers: int = 8  # cells; reductions at layers//3 and 2*layers//3
    init: Literal["default", "imagenet"] = "default"  # imagenet: the released ImageNet supernet's init

    def __post_init__(self):
        if self.channels < 2 or self.channels % 2 or self.layers < 3:
            raise ValueError("channels must be even and >= 2, layers >= 3")


class Supernet(Network):
    def __init__(self, cfg: SupernetConfig, num_classes: int):
        super().__init__(cfg.channels, num_classes, cfg.layers, cfg.stem, arch=None, auxiliary=False, pool_bn=True)
        self.cfg = cfg
        if cfg.init == "imagenet":
            imagenet_init(self)

    def sample_path(self, rng: np.random.Generator) -> tuple[int, ...]:
        """One uniformly sampled legal architecture (28 genes) for a training step."""
        return random_arch(rng)


def build_supernet(cfg: SupernetConfig, num_classes: int) -> Supernet:
    return Supernet(cfg, num_classes)
