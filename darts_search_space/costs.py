"""FLOPs and parameters of DARTS networks from a per-op table (the space's cost model; the command is
``python -m darts_search_space.flops``). Convention (the paper's, reference section 7): FLOPs
are the multiply-adds of the convolutions and of the classifier, whose linear layer is counted as
thop counts it, ``(2*in - 1) * out``; batch 1 at 224x224 (ImageNet) or 32x32 (CIFAR); the auxiliary
head is left out (it does not run at inference). Params are those of convolutions, BNs and the
classifier (auxiliary head left out). Pooling has no weights in a network (its BN exists only in
the supernet). Every architecture's cost is a fixed part plus one table entry per (cell type, edge,
op), so the search prices a candidate with 28 look-ups instead of a model build; tests check the
table against ``common.flops.count_flops_released`` on built networks.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Sequence

import numpy as np

from common.errors import UserError

from .ops import STEPS, cell_layout
from .encoding import DIL3, DIL5, EDGES, NUM_EDGES, NUM_GENES, NUM_OPS, SEP3, SEP5, SKIP


@dataclass(frozen=True)
class NetworkShape:
    """The network whose cost is tabulated: the retraining network at its evaluation resolution."""

    channels: int = 48
    layers: int = 14
    stem: Literal["cifar", "imagenet"] = "imagenet"
    image_size: int = 224
    num_classes: int = 1000
    stem_multiplier: int = 3

    @classmethod
    def of(cls, dataset: str, channels: int | None = None, layers: int | None = None) -> "NetworkShape":
        if dataset == "imagenet":
            return cls(channels or 48, layers or 14, "imagenet", 224, 1000)
        if dataset == "cifar10":
            return cls(channels or 36, layers or 20, "cifar", 32, 10)
        raise UserError(f"unknown dataset {dataset!r} (imagenet or cifar10)")

    def costs(self, archs) -> tuple[np.ndarray, np.ndarray]:
        """``(flops, params)`` of each architecture on this network (the ``CostModel`` of ``common.space``)."""
        return costs(archs, self)


def _out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _bn(c: int) -> int:
    return 2 * c


def _factorized_reduce(c_in: int, c_out: int, size: int) -> tuple[int, int]:
    """(MACs, params) of FactorizedReduce on a ``size`` x ``size`` input."""
    half = c_out // 2
    macs = c_in * half * (_out(size, 1, 2, 0) ** 2 + _out(size - 1, 1, 2, 0) ** 2)
    return macs, 2 * c_in * half + _bn(c_out)


def op_cost(code: int, c: int, size: int, stride: int) -> tuple[int, int]:
    """(MACs, params) of op ``code`` on ``c`` channels and a ``size`` x ``size`` input, in a network."""
    if code in (SEP3, SEP5):
        k = 3 if code == SEP3 else 5
        first = _out(size, k, stride, k // 2) ** 2
        second = _out(_out(size, k, stride, k // 2), k, 1, k // 2) ** 2
        macs = (c * k * k + c * c) * (first + second)
        return macs, 2 * (c * k * k + c * c) + 2 * _bn(c)
    if code in (DIL3, DIL5):
        k = 3 if code == DIL3 else 5
        out = _out(size, k, stride, k - 1, dilation=2) ** 2
        return (c * k * k + c * c) * out, c * k * k + c * c + _bn(c)
    if code == SKIP and stride == 2:
        return _factorized_reduce(c, c, size)
    return 0, 0  # identity, pooling (no BN in a network) and none cost nothing


@lru_cache(maxsize=32)
def cost_tables(shape: NetworkShape) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(flops[28, 8], params[28, 8], fixed_flops, fixed_params)``: the cost of gene ``g`` at position
    ``i`` (summed over every cell of that type) and of everything that does not depend on the genes."""
    flops = np.zeros((NUM_GENES, NUM_OPS), dtype=np.int64)
    params = np.zeros((NUM_GENES, NUM_OPS), dtype=np.int64)
    size = shape.image_size
    if shape.stem == "cifar":
        c0 = shape.stem_multiplier * shape.channels
        fixed_flops, fixed_params = 3 * 9 * c0 * size ** 2, 3 * 9 * c0 + _bn(c0)
        s0 = s1 = size
    else:
        half, c = shape.channels // 2, shape.channels
        a = _out(size, 3, 2, 1)
        b = _out(a, 3, 2, 1)
        s1 = _out(b, 3, 2, 1)
        s0 = b
        fixed_flops = 3 * 9 * half * a ** 2 + half * 9 * c * b ** 2 + c * 9 * c * s1 ** 2
        fixed_params = 3 * 9 * half + _bn(half) + half * 9 * c + _bn(c) + c * 9 * c + _bn(c)
    for spec in cell_layout(shape.channels, shape.layers, shape.stem, shape.stem_multiplier):
        c = spec["c"]
        if spec["reduction_prev"]:
            macs, p = _factorized_reduce(spec["c_pp"], c, s0)
        else:
            macs, p = spec["c_pp"] * c * s0 ** 2, spec["c_pp"] * c + _bn(c)
        fixed_flops += macs + spec["c_p"] * c * s1 ** 2
        fixed_params += p + spec["c_p"] * c + _bn(c)
        base = NUM_EDGES if spec["reduction"] else 0
        inner = _out(s1, 3, 2, 1) if spec["reduction"] else s1
        for e, (k, _) in enumerate(EDGES):
            stride = 2 if spec["reduction"] and k < 2 else 1
            for code in range(1, NUM_OPS):
                macs, p = op_cost(code, c, s1 if k < 2 else inner, stride)
                flops[base + e, code] += macs
                params[base + e, code] += p
        s0, s1 = s1, inner
    c_last = STEPS * cell_layout(shape.channels, shape.layers, shape.stem, shape.stem_multiplier)[-1]["c"]
    fixed_flops += (2 * c_last - 1) * shape.num_classes  # thop's linear count, as the paper's numbers use
    fixed_params += c_last * shape.num_classes + shape.num_classes
    flops.setflags(write=False)
    params.setflags(write=False)
    return flops, params, int(fixed_flops), int(fixed_params)


def costs(archs: Sequence[Sequence[int]] | np.ndarray, shape: NetworkShape = NetworkShape()) -> tuple[np.ndarray, np.ndarray]:
    """``(flops, params)`` of each architecture (rows of 28 genes), as int64 arrays."""
    genes = np.asarray(archs, dtype=np.int64).reshape(-1, NUM_GENES)
    flops, params, fixed_flops, fixed_params = cost_tables(shape)
    rows = np.arange(NUM_GENES)
    return fixed_flops + flops[rows, genes].sum(axis=1), fixed_params + params[rows, genes].sum(axis=1)


def flops_of(arch: Sequence[int], shape: NetworkShape = NetworkShape()) -> int:
    return int(costs([arch], shape)[0][0])
