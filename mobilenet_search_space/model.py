"""The standalone network of one architecture, as retrained (docs/reference.md §5.7).

Identity layers are dropped; every other layer is its single inverted-residual block. The head is
the supernet's with Dropout before the classifier. PyTorch's default initialisation, as released.
State-dict keys: ``stem``, ``first``, ``features.{j}`` (the j-th kept layer), ``head``, ``classifier.1``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .blocks import InvertedResidual, head_conv, stem
from .encoding import BLOCKS, HEAD_CHANNELS, IDENTITY, check, layer_specs, scale


class MobileNetNetwork(nn.Module):
    def __init__(self, arch: Sequence[int], num_classes: int, width_mult: float = 1.0, dropout: float = 0.2):
        super().__init__()
        self.arch = check(arch)
        self.stem, self.first = stem(width_mult)
        specs = layer_specs(width_mult)
        self.features = nn.Sequential(*[InvertedResidual(s.c_in, s.c_out, s.stride, *BLOCKS[code])
                                        for s, code in zip(specs, self.arch) if code != IDENTITY])
        self.head = head_conv(specs[-1].c_out, width_mult)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(scale(HEAD_CHANNELS, width_mult), num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.first(self.stem(x)))
        return self.classifier(self.pool(self.head(x)).flatten(1))


def build_model(arch: Sequence[int], num_classes: int, width_mult: float = 1.0, dropout: float = 0.2) -> MobileNetNetwork:
    return MobileNetNetwork(arch, num_classes, width_mult, dropout)
