"""The MobileNet-space supernet (docs/reference.md §5.1, §5.3): stem, 21 choice layers of 6 blocks each, head.

Each training step runs one path: per layer, one of its legal choices drawn uniformly (identity
where legal), all layers independently, as the released sampler does. Identity layers hold no
module. The head pools globally (the released ``AvgPool2d(7)`` at 224x224), so smaller inputs work.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .blocks import InvertedResidual, head_conv, init_supernet_weights, stem
from .encoding import BLOCKS, IDENTITY, HEAD_CHANNELS, MobileNetCodec, layer_specs, scale


@dataclass
class SupernetConfig:
    width_mult: float = 1.0  # channel multiplier of every layer (1.0: the paper's supernet)

    def __post_init__(self):
        if not self.width_mult > 0:
            raise ValueError(f"width_mult must be positive, got {self.width_mult}")


class ChoiceLayer(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.ops = nn.ModuleList([InvertedResidual(c_in, c_out, stride, k, e) for k, e in BLOCKS])

    def forward(self, x: torch.Tensor, code: int) -> torch.Tensor:
        return x if code == IDENTITY else self.ops[code](x)


class Supernet(nn.Module):
    def __init__(self, cfg: SupernetConfig, num_classes: int):
        super().__init__()
        self.cfg = cfg
        specs = layer_specs(cfg.width_mult)
        self.stem, self.first = stem(cfg.width_mult)
        self.layers = nn.ModuleList([ChoiceLayer(s.c_in, s.c_out, s.stride) for s in specs])
        self.head = head_conv(specs[-1].c_out, cfg.width_mult)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(scale(HEAD_CHANNELS, cfg.width_mult), num_classes))
        self.space = MobileNetCodec()
        init_supernet_weights(self)

    def sample_path(self, rng: np.random.Generator) -> tuple[int, ...]:
        return self.space.random(rng)

    def forward(self, x: torch.Tensor, path: Sequence[int]) -> torch.Tensor:
        x = self.first(self.stem(x))
        for layer, code in zip(self.layers, path):
            x = layer(x, int(code))
        return self.classifier(self.pool(self.head(x)).flatten(1))


def build_supernet(cfg: SupernetConfig, num_classes: int) -> Supernet:
    return Supernet(cfg, num_classes)
