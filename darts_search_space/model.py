"""The retraining networks of a genotype: ``NetworkCIFAR`` and ``NetworkImageNet`` of DARTS.

Same cells as the supernet, holding only the genotype's ops; pooling has no BN; drop path on every
non-identity op (``drop_path_prob``, set per epoch by ``common.retrain``); an optional auxiliary
head after the second reduction cell, used only in training.
"""
from __future__ import annotations

from typing import Sequence

from .ops import Network


def network_cifar(arch: Sequence[int], num_classes: int = 10, channels: int = 36, layers: int = 20,
                  auxiliary: bool = True) -> Network:
    """DARTS' CIFAR network: 3x3 stem to 3C, ``layers`` cells (20: reductions at 6 and 13)."""
    return Network(channels, num_classes, layers, "cifar", arch=arch, auxiliary=auxiliary)


def network_imagenet(arch: Sequence[int], num_classes: int = 1000, channels: int = 48, layers: int = 14,
                     auxiliary: bool = True) -> Network:
    """DARTS' ImageNet network (mobile setting): stride-8 two-stage stem, 14 cells ``NNNNRNNNNRNNNN``."""
    return Network(channels, num_classes, layers, "imagenet", arch=arch, auxiliary=auxiliary)


def build_model(arch: Sequence[int], num_classes: int, stem: str, channels: int, layers: int,
                auxiliary: bool) -> Network:
    build = network_cifar if stem == "cifar" else network_imagenet
    return build(arch, num_classes, channels, layers, auxiliary)
