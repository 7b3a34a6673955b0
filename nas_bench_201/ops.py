"""Building blocks of NAS-Bench-201 networks (module names follow the benchmark's code, so that
state-dict keys read ``cells.{c}.edges.{i}<-{j}.{op}.op.1.weight`` as in the released checkpoints)."""
from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from common.device_ops import avg_pool_3x3
from common.pooling import avg_pool_3x3_reference

from .encoding import AVG_POOL, CONV_1X1, CONV_3X3, EDGES, NONE, OPS, SKIP


class ReLUConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool,
                 track_running_stats: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward(self, x, activated: bool = False):
        """``activated``: ``x`` is already ReLU'd (a cell shares one ReLU among a node's convolutions)."""
        if activated:
            return self.op[2](self.op[1](x))
        return self.op(x)


class ResNetBasicBlock(nn.Module):
    """The fixed reduction cell between stages: stride-2 residual block."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, affine=True)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, affine=True)
        self.downsample = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                                        nn.Conv2d(c_in, c_out, kernel_size=1, bias=False))

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class AvgPool3x3(nn.Module):
    """The benchmark's ``avg_pool_3x3`` op (no parameters), as ``common.device_ops`` computes it on the input's device."""

    def forward(self, x):
        return avg_pool_3x3(x)


def make_op(code: int, channels: int, affine: bool) -> nn.Module:
    """Op ``OPS[code]`` on ``channels`` channels; parameter-free ops are plain modules."""
    if code == CONV_1X1:
        return ReLUConvBN(channels, channels, 1, 1, 0, affine)
    if code == CONV_3X3:
        return ReLUConvBN(channels, channels, 3, 1, 1, affine)
    if code == AVG_POOL:
        return AvgPool3x3()
    if 0 <= code < len(OPS):
        return nn.Identity()  # skip_connect; `none` is never evaluated (its edge is skipped)
    raise ValueError(f"unknown op code {code}")


def stage_layout(channels: int, cells_per_stage: int) -> list[tuple[str, int]]:
    """``[("search" | "reduce", channels)]`` for the 3N+2 cells of the network."""
    layout = []
    for stage in range(3):
        if stage:
            layout.append(("reduce", channels << stage))
        layout += [("search", channels << stage)] * cells_per_stage
    return layout


# For each node i = 1..3: its (input node, edge index) pairs.
NODE_INPUTS = tuple(tuple((j, EDGES.index((i, j))) for j in range(i)) for i in range(1, 4))


@lru_cache(maxsize=None)
def _live_nodes(ops: tuple[int, ...]) -> tuple[bool, ...]:
    """For nodes 0-3: whether the node's value reaches the cell output (node 3) through ops other
    than ``none``."""
    live = [False, False, False, True]
    for j in (2, 1, 0):
        live[j] = any(live[i] and ops[edge] != NONE for i, inputs in enumerate(NODE_INPUTS, 1)
                      for source, edge in inputs if source == j)
    return tuple(live)


def run_cell(x, ops, edge_module, optimised: bool = True, none_as_zero: bool = False):
    """Node i = sum over its inputs j of op_{i<-j}(node j); returns node 3.

    ``none`` edges cost nothing, and neither does a node whose value reaches the output only through
    ``none`` edges (a dead end: it changes no output and receives no gradient); ``skip_connect``
    passes the tensor through; a node without any non-``none`` input is zero.
    ``edge_module(edge, code)`` returns the module of a weighted op.
    ``optimised`` computes the ReLU in front of a node's convolutions once for all of them; ``False``
    is the plain op-by-op evaluation (same numbers; kept for the tests and the benchmark).
    ``none_as_zero`` computes ``none`` as the released ``x * 0``: the same output, but an op whose
    output only reaches ``none`` edges gets a zero gradient instead of none (so SGD's weight decay
    and momentum move it, as released).
    """
    nodes = [x]
    activated: dict[int, torch.Tensor] = {}
    live = _live_nodes(tuple(ops))
    for node, inputs in enumerate(NODE_INPUTS, 1):
        if not (live[node] or none_as_zero):
            nodes.append(None)
            continue
        total = None
        for j, edge in inputs:
            code = ops[edge]
            if code == NONE:
                if not none_as_zero:
                    continue
                out = nodes[j] * 0
                total = out if total is None else total + out
                continue
            if code == SKIP:
                out = nodes[j]
            elif not optimised:
                module = edge_module(edge, code)
                out = avg_pool_3x3_reference(nodes[j]) if code == AVG_POOL else module(nodes[j])
            elif code == AVG_POOL:
                out = edge_module(edge, code)(nodes[j])
            else:
                if j not in activated:
                    activated[j] = torch.relu(nodes[j])
                out = edge_module(edge, code)(activated[j], activated=True)
            total = out if total is None else total + out
        nodes.append(torch.zeros_like(x) if total is None else total)
    return nodes[-1]
