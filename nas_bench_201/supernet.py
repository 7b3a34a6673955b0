"""The NAS-Bench-201 supernet of the released RLNAS code (``TinyNetworkSPOS``, C=16, N=5).

Stem, then 3 stages of N search cells separated by fixed stride-2 residual blocks, then BN-ReLU,
global pooling and a linear classifier. Every search-cell edge holds all 5 ops; convolutions are
ReLU-Conv-BN with a non-affine BN that tracks running statistics. A training path gives each search
cell its own 6 op codes (as released) or one genotype shared by all cells.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .ops import NODE_INPUTS, ResNetBasicBlock, make_op, run_cell, stage_layout
from .encoding import AVG_POOL, CONV_1X1, CONV_3X3, EDGE_NAMES, NONE, NUM_EDGES, OPS, SKIP


@dataclass
class SupernetConfig:
    channels: int = 16  # C: channels of the first stage (doubled at each reduction)
    cells_per_stage: int = 5  # N
    sampling: Literal["per_cell", "shared"] = "per_cell"  # per_cell: each cell its own path, as released
    # train: `none` computed as x * 0 (released): ops feeding only `none` edges get a zero gradient,
    # so weight decay and momentum move them; skip: `none` costs nothing and leaves them untouched
    dead_ends: Literal["skip", "train"] = "skip"

    def __post_init__(self):
        if self.channels < 1 or self.cells_per_stage < 1:
            raise ValueError("channels and cells_per_stage must be positive")


class SearchCell(nn.Module):
    def __init__(self, channels: int, none_as_zero: bool = False):
        super().__init__()
        self.none_as_zero = none_as_zero
        self.edges = nn.ModuleDict(
            {name: nn.ModuleList([make_op(code, channels, affine=False) for code in range(len(OPS))])
             for name in EDGE_NAMES})

    def forward(self, x: torch.Tensor, ops, optimised: bool = True) -> torch.Tensor:
        return run_cell(x, ops, lambda edge, code: self.edges[EDGE_NAMES[edge]][code], optimised, self.none_as_zero)


def sample_cell(rng: np.random.Generator) -> list[int]:
    """One cell's ops as the released sampler draws them: per node, uniform ops on its incoming
    edges, redrawn until at least one is not ``none``."""
    ops: list[int] = []
    for inputs in (1, 2, 3):
        while True:
            draw = rng.integers(0, len(OPS), inputs)
            if draw.any():
                break
        ops += draw.tolist()
    return ops


class Supernet(nn.Module):
    def __init__(self, cfg: SupernetConfig, num_classes: int):
        super().__init__()
        self.cfg = cfg
        channels = cfg.channels
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.layout = stage_layout(channels, cfg.cells_per_stage)
        cells, c_prev = [], channels
        for kind, c in self.layout:
            cells.append(SearchCell(c, cfg.dead_ends == "train") if kind == "search" else ResNetBasicBlock(c_prev, c))
            c_prev = c
        self.cells = nn.ModuleList(cells)
        self.num_search_cells = sum(kind == "search" for kind, _ in self.layout)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        # False: the plain op-by-op forward (the same function; tests and benchmarks compare the two)
        self.optimised = True

    def sample_path(self, rng: np.random.Generator) -> np.ndarray:
        """``(num_search_cells, 6)`` op codes for one training step."""
        if self.cfg.sampling == "shared":
            return np.tile(np.array(sample_cell(rng)), (self.num_search_cells, 1))
        return np.array([sample_cell(rng) for _ in range(self.num_search_cells)])

    def forward(self, x: torch.Tensor, path) -> torch.Tensor:
        """``path``: one architecture (6 codes) for all cells, or one row of 6 codes per search cell."""
        path = np.asarray(path)
        rows = np.broadcast_to(path, (self.num_search_cells, NUM_EDGES)).tolist()
        x = self.stem(x)
        search_index = 0
        for (kind, _), cell in zip(self.layout, self.cells):
            if kind == "search":
                x = cell(x, rows[search_index], self.optimised)
                search_index += 1
            else:
                x = cell(x)
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(x)

    # ------------------------------------------------------------------ the maskable step (common.masked_step)
    # Every op of every edge is computed and the path picks one per edge by a one-hot mask, so a step
    # is the same kernels whatever the path: it can be captured once and replayed. Op slot
    # ``search_cell * 30 + edge * 5 + code`` names an op; ``ran_slots`` says which ops the single-path
    # forward would have run, so that the step keeps only their updates.

    @property
    def num_slots(self) -> int:
        return self.num_search_cells * NUM_EDGES * len(OPS)

    def slot_of(self, name: str) -> int | None:
        """The op slot a parameter or buffer belongs to (None: on every path)."""
        match = re.match(r"cells\.(\d+)\.edges\.(\d<-\d)\.(\d)\.", name)
        if match is None:
            return None
        cell, edge, code = int(match.group(1)), EDGE_NAMES.index(match.group(2)), int(match.group(3))
        search = sum(kind == "search" for kind, _ in self.layout[:cell])
        return (search * NUM_EDGES + edge) * len(OPS) + code

    def path_codes(self, path) -> torch.Tensor:
        """``(num_search_cells, 6)`` int64 codes of a path as ``forward`` takes it."""
        return torch.as_tensor(np.broadcast_to(np.asarray(path), (self.num_search_cells, NUM_EDGES)).copy())

    def ran_slots(self, codes: torch.Tensor) -> torch.Tensor:
        """``(num_slots,)`` bool: the ops ``forward(x, path)`` runs for ``codes`` (device ops, no sync):
        every op but ``none``, except, with ``dead_ends: skip``, those feeding a node that reaches the
        output only through ``none`` edges (``ops.run_cell``)."""
        used = codes != NONE
        if self.cfg.dead_ends == "skip":
            live2 = used[:, 5]  # 3<-2
            live1 = used[:, 4] | (used[:, 2] & live2)  # 3<-1, or 2<-1 into a live node 2
            always = torch.ones_like(live1)
            used = used & torch.stack([live1, live2, live2, always, always, always], dim=1)
        return (F.one_hot(codes, len(OPS)).bool() & used[..., None]).reshape(-1)

    def masked_forward(self, x: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """``forward(x, path)`` to float rounding for ``codes = path_codes(path)`` on ``x``'s device."""
        masks = F.one_hot(codes, len(OPS)).to(x.dtype)
        x = self.stem(x)
        search_index = 0
        for (kind, _), cell in zip(self.layout, self.cells):
            if kind != "search":
                x = cell(x)
                continue
            mask, nodes, activated = masks[search_index], [x], {}
            for node, inputs in enumerate(NODE_INPUTS, 1):
                total = None
                for j, edge in inputs:
                    ops, m = cell.edges[EDGE_NAMES[edge]], mask[edge]
                    if j not in activated:
                        activated[j] = torch.relu(nodes[j])
                    out = (nodes[j] * m[SKIP] + ops[CONV_1X1](activated[j], activated=True) * m[CONV_1X1]
                           + ops[CONV_3X3](activated[j], activated=True) * m[CONV_3X3] + ops[AVG_POOL](nodes[j]) * m[AVG_POOL])
                    total = out if total is None else total + out
                nodes.append(total)
            x = nodes[-1]
            search_index += 1
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(x)


def build_supernet(cfg: SupernetConfig, num_classes: int) -> Supernet:
    return Supernet(cfg, num_classes)
