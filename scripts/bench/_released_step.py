"""The released RLNAS NAS-Bench-201 supernet training step, re-implemented from its description (the
baseline that ``train_throughput.py`` measures us against; written here, not copied).

What the released code computes per step, and so what this module does:

- model ``TinyNetworkSPOS(C, N)``: stem Conv3x3 + affine BN; 3 stages of N search cells separated by
  stride-2 ``ResNetBasicblock``s; BN + ReLU, global average pooling, linear classifier; an unused
  ``arch_parameters`` tensor (6 x 5) that no optimizer steps;
- every search-cell edge holds the 5 ops ``[none, skip_connect, nor_conv_1x1, nor_conv_3x3,
  avg_pool_3x3]``; ``none`` is evaluated as ``x * 0`` and added, ``skip_connect`` is the identity,
  the convolutions are ``ReLU -> Conv -> BN(affine=False)`` with their own (non-inplace) ReLU each,
  and the pool is ``nn.AvgPool2d(3, 1, 1, count_include_pad=False)`` with no BN (in-cell pools of
  the benchmark have ``C_in == C_out``, so no preprocessing ReLU-Conv-BN either);
- node i = Python ``sum`` of its incoming edges' outputs (``0 + a + b + ...``);
- the path is drawn per cell and per node with Python's ``random.choice`` over the edge's ops,
  redrawn while all of a node's ops are ``none`` (``forward_urs``);
- step: ``zero_grad()`` (gradients zeroed in place, as in the PyTorch of the time), forward, plain
  cross-entropy, backward, ``torch.optim.SGD`` (lr 0.025, momentum 0.9, Nesterov, weight decay 5e-4
  on every weight, the per-parameter loop of that PyTorch: ``foreach=False``).

Not included (so the baseline is, if anything, faster than the released step): the released loop's
per-step accuracy and ``loss.item()`` bookkeeping, its ``DataParallel`` wrapper and its per-image
torchvision data pipeline; every variant of the benchmark reads the same ready batches.
"""
from __future__ import annotations

import random
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGE_KEYS = ("1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2")  # sorted, the order of a 6-code path


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


class ReLUConvBN(nn.Module):
    def __init__(self, c_in, c_out, kernel, stride, padding, affine):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
                                nn.BatchNorm2d(c_out, affine=affine, track_running_stats=True))

    def forward(self, x):
        return self.op(x)


class Pooling(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)

    def forward(self, x):
        return self.op(x)


def make_op(name: str, channels: int) -> nn.Module:
    return {"none": Zero, "skip_connect": nn.Identity, "avg_pool_3x3": Pooling,
            "nor_conv_1x1": lambda: ReLUConvBN(channels, channels, 1, 1, 0, affine=False),
            "nor_conv_3x3": lambda: ReLUConvBN(channels, channels, 3, 1, 1, affine=False)}[name]()


class SearchCell(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.edges = nn.ModuleDict({key: nn.ModuleList([make_op(name, channels) for name in OPS]) for key in EDGE_KEYS})

    def draw(self, rng: random.Random) -> list[int]:
        """One cell's 6 op codes as ``forward_urs`` draws them (node by node, redrawn while all none)."""
        codes = {}
        for i in range(1, 4):
            while True:
                drawn = {j: rng.choice(range(len(OPS))) for j in range(i)}
                if any(code != 0 for code in drawn.values()):
                    break
            codes.update({f"{i}<-{j}": code for j, code in drawn.items()})
        return [codes[key] for key in EDGE_KEYS]

    def forward(self, x, codes: Sequence[int]):
        chosen = dict(zip(EDGE_KEYS, codes))
        nodes = [x]
        for i in range(1, 4):
            nodes.append(sum(self.edges[f"{i}<-{j}"][chosen[f"{i}<-{j}"]](nodes[j]) for j in range(i)))
        return nodes[-1]


class ResNetBasicblock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, affine=True)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, affine=True)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2, 0), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class ReleasedSupernet(nn.Module):
    """``TinyNetworkSPOS``; its state-dict keys equal ``nas_bench_201.supernet.Supernet``'s plus
    ``arch_parameters``, so the same weights load into both."""

    def __init__(self, channels: int = 16, cells_per_stage: int = 5, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        cells, c_prev = [], channels
        for stage in range(3):
            c = channels << stage
            if stage:
                cells.append(ResNetBasicblock(c_prev, c))
            cells += [SearchCell(c) for _ in range(cells_per_stage)]
            c_prev = c
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        self.arch_parameters = nn.Parameter(1e-3 * torch.randn(len(EDGE_KEYS), len(OPS)))

    def search_cells(self) -> list[SearchCell]:
        return [cell for cell in self.cells if isinstance(cell, SearchCell)]

    def draw_path(self, rng: random.Random) -> list[list[int]]:
        return [cell.draw(rng) for cell in self.search_cells()]

    def get_weights(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if name != "arch_parameters"]

    def forward(self, x, path: Sequence[Sequence[int]]):
        rows = iter(path)
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature, next(rows)) if isinstance(cell, SearchCell) else cell(feature)
        out = self.global_pooling(self.lastact(feature)).view(feature.size(0), -1)
        return out, self.classifier(out)


def released_optimizer(model: ReleasedSupernet, lr: float = 0.025) -> torch.optim.SGD:
    return torch.optim.SGD(model.get_weights(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4, foreach=False)


def released_step(model: ReleasedSupernet, optimizer: torch.optim.Optimizer, images, labels,
                  path: Optional[Sequence[Sequence[int]]] = None, rng: Optional[random.Random] = None) -> torch.Tensor:
    """One training step; ``path`` (one row of 6 codes per search cell) or drawn from ``rng``."""
    if path is None:
        path = model.draw_path(rng)
    optimizer.zero_grad(set_to_none=False)
    _, logits = model(images, path)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    optimizer.step()
    return loss.detach()
