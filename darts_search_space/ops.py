"""Operations, cells and the macro network shared by the DARTS supernet and the retraining networks.

Module names follow the DARTS code (``op.1`` ... ``op.7`` inside a separable convolution,
``conv_1``/``conv_2``/``bn`` in FactorizedReduce) and an edge keeps its ops by name, so state-dict
keys read ``cells.{i}.edges.{e}.sep_conv_3x3.op.1.weight`` in the supernet and in a network alike.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from .encoding import AVG_POOL, DIL3, DIL5, EDGES, MAX_POOL, NONE, NUM_EDGES, OPS, SEP3, SEP5, SKIP, STEPS


class ReLUConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
                                nn.BatchNorm2d(c_out))

    def forward(self, x):
        return self.op(x)


class SepConv(nn.Module):
    """ReLU, depthwise k x k (stride), pointwise, BN, ReLU, depthwise k x k, pointwise, BN."""

    def __init__(self, c: int, kernel: int, stride: int):
        super().__init__()
        pad = kernel // 2
        self.op = nn.Sequential(
            nn.ReLU(inplace=False), nn.Conv2d(c, c, kernel, stride, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, 1, pad, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return self.op(x)


class DilConv(nn.Module):
    """ReLU, depthwise dilated (2) k x k, pointwise, BN."""

    def __init__(self, c: int, kernel: int, stride: int):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False), nn.Conv2d(c, c, kernel, stride, kernel - 1, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return self.op(x)


class FactorizedReduce(nn.Module):
    """Stride-2 reduction: two 1x1 stride-2 convolutions on offset grids, concatenated, then BN."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def make_op(code: int, c: int, stride: int, pool_bn: bool) -> nn.Module:
    """``OPS[code]`` on ``c`` channels; the supernet follows each pooling by an affine BN (``pool_bn``)."""
    if code in (MAX_POOL, AVG_POOL):
        pool = (nn.MaxPool2d(3, stride, 1) if code == MAX_POOL
                else nn.AvgPool2d(3, stride, 1, count_include_pad=False))
        return nn.Sequential(pool, nn.BatchNorm2d(c)) if pool_bn else pool
    if code == SKIP:
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if code in (SEP3, SEP5):
        return SepConv(c, 3 if code == SEP3 else 5, stride)
    if code in (DIL3, DIL5):
        return DilConv(c, 3 if code == DIL3 else 5, stride)
    raise ValueError(f"op code {code} ({OPS[code] if 0 <= code < len(OPS) else '?'}) has no module")


def drop_path(x: torch.Tensor, prob: float) -> torch.Tensor:
    """Zero whole samples with probability ``prob``, rescaling the others (DARTS drop path)."""
    keep = 1.0 - prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class Cell(nn.Module):
    """A DARTS cell. ``choices[e]`` lists the op codes edge ``e`` holds (all 7 in the supernet, one
    or none in a network); ``forward`` runs the ops its ``genes`` name."""

    def __init__(self, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool,
                 choices: Sequence[Sequence[int]], pool_bn: bool):
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0)
        self.edges = nn.ModuleList(
            nn.ModuleDict({OPS[code]: make_op(code, c, 2 if reduction and k < 2 else 1, pool_bn)
                           for code in choices[e] if code != NONE})
            for e, (k, _) in enumerate(EDGES))

    def forward(self, s0, s1, genes: Sequence[int], drop_prob: float = 0.0):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for node in range(STEPS):
            total = None
            for k in range(node + 2):
                code = genes[offset + k]
                if code == NONE:
                    continue
                out = self.edges[offset + k][OPS[code]](states[k])
                if drop_prob > 0 and self.training and not isinstance(self.edges[offset + k][OPS[code]], nn.Identity):
                    out = drop_path(out, drop_prob)
                total = out if total is None else total + out
            if total is None:
                raise ValueError(f"node {node + 2} has no input in genes {list(genes)}")
            states.append(total)
            offset += node + 2
        return torch.cat(states[2:], dim=1)


def reduction_layers(layers: int) -> tuple[int, int]:
    """Indices of the two reduction cells (``layers//3``, ``2*layers//3``): 2, 5 of 8; 4, 9 of 14; 6, 13 of 20."""
    return layers // 3, 2 * layers // 3


def cell_layout(channels: int, layers: int, stem: str, stem_multiplier: int = 3) -> list[dict]:
    """Per cell: ``c_pp``, ``c_p``, ``c``, ``reduction``, ``reduction_prev`` (the DARTS bookkeeping)."""
    if stem == "cifar":
        c_pp = c_p = stem_multiplier * channels
        reduction_prev = False
    else:  # the ImageNet stems end at C channels, 8x down-sampled; the first cell sees a reduction
        c_pp = c_p = channels
        reduction_prev = True
    layout, c = [], channels
    for i in range(layers):
        reduction = i in reduction_layers(layers)
        if reduction:
            c *= 2
        layout.append(dict(c_pp=c_pp, c_p=c_p, c=c, reduction=reduction, reduction_prev=reduction_prev))
        reduction_prev = reduction
        c_pp, c_p = c_p, STEPS * c
    return layout


def make_stem(channels: int, stem: str, stem_multiplier: int = 3) -> nn.ModuleDict:
    if stem == "cifar":
        c = stem_multiplier * channels
        return nn.ModuleDict({"stem": nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))})
    half = channels // 2
    return nn.ModuleDict({
        "stem0": nn.Sequential(nn.Conv2d(3, half, 3, 2, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
                               nn.Conv2d(half, channels, 3, 2, 1, bias=False), nn.BatchNorm2d(channels)),
        "stem1": nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 3, 2, 1, bias=False),
                               nn.BatchNorm2d(channels)),
    })


class AuxiliaryHead(nn.Module):
    """The DARTS auxiliary classifier on the output of the second reduction cell (8x8 on CIFAR,
    7x7 on ImageNet); the ImageNet head has no BN after its second convolution, as in DARTS."""

    def __init__(self, c: int, num_classes: int, imagenet: bool):
        super().__init__()
        layers = [nn.ReLU(inplace=True), nn.AvgPool2d(5, stride=2 if imagenet else 3, padding=0, count_include_pad=False),
                  nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
                  nn.Conv2d(128, 768, 2, bias=False)]
        layers += [nn.ReLU(inplace=True)] if imagenet else [nn.BatchNorm2d(768), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class Network(nn.Module):
    """Stem, ``layers`` cells (reductions at ``layers//3`` and ``2*layers//3``), global pooling, linear.

    ``arch`` fixes the ops (a retraining network holding only those); ``arch=None`` builds the
    supernet, whose every edge holds all 7 non-``none`` ops and whose ``forward`` takes the path.
    """

    def __init__(self, channels: int, num_classes: int, layers: int, stem: str = "cifar",
                 arch: Optional[Sequence[int]] = None, auxiliary: bool = False, pool_bn: bool = False,
                 stem_multiplier: int = 3):
        super().__init__()
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be 'cifar' or 'imagenet', got {stem!r}")
        self.stem_kind = stem
        self.arch = None if arch is None else tuple(int(g) for g in arch)
        self.drop_path_prob = 0.0
        self.stems = make_stem(channels, stem, stem_multiplier)
        self.layout = cell_layout(channels, layers, stem, stem_multiplier)
        self.aux_index = reduction_layers(layers)[1]
        all_ops = [list(range(1, len(OPS)))] * NUM_EDGES
        cells = []
        for spec in self.layout:
            genes = None if self.arch is None else self.arch[NUM_EDGES:] if spec["reduction"] else self.arch[:NUM_EDGES]
            choices = all_ops if genes is None else [[g] for g in genes]
            cells.append(Cell(spec["c_pp"], spec["c_p"], spec["c"], spec["reduction"], spec["reduction_prev"],
                              choices, pool_bn))
        self.cells = nn.ModuleList(cells)
        c_out = STEPS * self.layout[-1]["c"]
        self.auxiliary = (AuxiliaryHead(STEPS * self.layout[self.aux_index]["c"], num_classes, stem == "imagenet")
                          if auxiliary else None)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_out, num_classes)

    def forward(self, x: torch.Tensor, arch: Optional[Sequence[int]] = None):
        """Logits; in training with an auxiliary head, ``(logits, aux_logits)``."""
        arch = self.arch if arch is None else arch
        if arch is None:
            raise ValueError("the supernet needs the path to run: forward(x, arch)")
        arch = [int(g) for g in arch]
        normal, reduce = arch[:NUM_EDGES], arch[NUM_EDGES:]
        if self.stem_kind == "cifar":
            s0 = s1 = self.stems["stem"](x)
        else:
            s0 = self.stems["stem0"](x)
            s1 = self.stems["stem1"](s0)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, reduce if cell.reduction else normal, self.drop_path_prob)
            if i == self.aux_index and self.auxiliary is not None and self.training:
                aux = self.auxiliary(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return (logits, aux) if aux is not None else logits


def imagenet_init(model: nn.Module) -> None:
    """The released ImageNet supernet's initialisation: convolutions kaiming-uniform (fan-in, gain
    sqrt(2)), BN weight 1 and bias 0, linear N(0, 0.01) with bias 0."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_uniform_(module.weight)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01)
            nn.init.zeros_(module.bias)
