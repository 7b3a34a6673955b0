"""The standalone network of one genotype: NAS-Bench-201's training network (``TinyNetwork``).

Same macro structure as the supernet, but each search cell holds only its genotype's ops, with
affine BNs, as in the benchmark; its parameter count equals the benchmark's ``params`` column.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .ops import ResNetBasicBlock, make_op, run_cell, stage_layout
from .encoding import EDGE_NAMES, NONE, SKIP


class InferCell(nn.Module):
    def __init__(self, arch: Sequence[int], channels: int):
        super().__init__()
        self.arch = tuple(int(op) for op in arch)
        self.edges = nn.ModuleDict({EDGE_NAMES[edge]: make_op(code, channels, affine=True)
                                    for edge, code in enumerate(self.arch) if code not in (NONE, SKIP)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_cell(x, self.arch, lambda edge, code: self.edges[EDGE_NAMES[edge]])


class NB201Network(nn.Module):
    def __init__(self, arch: Sequence[int], num_classes: int, channels: int = 16, cells_per_stage: int = 5):
        super().__init__()
        self.arch = tuple(int(op) for op in arch)
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        cells, c_prev = [], channels
        for kind, c in stage_layout(channels, cells_per_stage):
            cells.append(InferCell(self.arch, c) if kind == "search" else ResNetBasicBlock(c_prev, c))
            c_prev = c
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cells(self.stem(x))
        return self.classifier(self.global_pooling(self.lastact(x)).flatten(1))


def build_model(arch: Sequence[int], num_classes: int, channels: int = 16, cells_per_stage: int = 5) -> NB201Network:
    return NB201Network(arch, num_classes, channels, cells_per_stage)
