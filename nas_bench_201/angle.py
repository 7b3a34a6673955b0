"""The angle of NAS-Bench-201 architectures (paper section 3.2.2, docs/reference.md §3.4).

``V(a, W)`` is built from the supernet with genotype ``a`` in every search cell: the stem, the two
fixed residual blocks and the head once, and for each of the 4 input-to-output paths of a cell and
each search cell, the weights of the path's ops: a convolution contributes its kernel, average
pooling a constant block of ``C*9`` values 1/9, ``skip_connect`` nothing. A path through ``none``
contributes nothing; an architecture whose 4 paths are all cut scores 0. Search-cell BNs are not
affine, so they hold no weights.

``atoms``/``counts`` feed the angle engine (multiplicity of an edge's op = number of surviving paths
through the edge); ``naive_pieces`` walks the paths literally, as the released code does, for tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

import numpy as np
import torch

from common.angle import AngleScorer, Atom
from common.angle import scorer_from_checkpoints as checkpoint_scorer
from common.errors import UserError

from .ops import stage_layout
from .encoding import (AVG_POOL, CONV_1X1, CONV_3X3, EDGE_NAMES, NAME, NODE_PATHS, NONE, NUM_EDGES, PATH_EDGES, SKIP, EDGES,
                       surviving_paths)

WEIGHTED_OPS = (CONV_1X1, CONV_3X3)
Weights = Literal["all", "conv"]


@dataclass
class AngleConfig:
    weights: Weights = "all"  # all: as the paper and the released code; conv: convolution kernels only


class Layout:
    """Where the weights of a supernet with ``channels`` and ``cells_per_stage`` live."""

    def __init__(self, channels: int, cells_per_stage: int):
        self.cells = stage_layout(channels, cells_per_stage)
        self.search = [(index, c) for index, (kind, c) in enumerate(self.cells) if kind == "search"]
        self.reduce = [index for index, (kind, _) in enumerate(self.cells) if kind == "reduce"]

    @staticmethod
    def head() -> list[str]:
        return ["stem.0.weight", "stem.1.weight", "stem.1.bias"]

    @staticmethod
    def tail() -> list[str]:
        return ["lastact.0.weight", "lastact.0.bias", "classifier.weight", "classifier.bias"]

    @staticmethod
    def reduction_block(cell: int) -> list[str]:
        prefix = f"cells.{cell}"
        return [f"{prefix}.conv_a.op.1.weight", f"{prefix}.conv_a.op.2.weight", f"{prefix}.conv_a.op.2.bias",
                f"{prefix}.conv_b.op.1.weight", f"{prefix}.conv_b.op.2.weight", f"{prefix}.conv_b.op.2.bias",
                f"{prefix}.downsample.1.weight"]

    def fixed(self, weights: Weights = "all") -> list[str]:
        names = self.head() + [name for cell in self.reduce for name in self.reduction_block(cell)] + self.tail()
        if weights == "conv":  # 4-d tensors: the stem's, the residual blocks' and the downsample's kernels
            names = [n for n in names if n == "stem.0.weight" or n.endswith((".op.1.weight", "downsample.1.weight"))]
        return names

    @staticmethod
    def conv(cell: int, edge: int, code: int) -> str:
        return f"cells.{cell}.edges.{EDGE_NAMES[edge]}.{code}.op.1.weight"


def atoms(layout: Layout, weights: Weights = "all") -> list[Atom]:
    """Atom 0: the fixed parts; then per edge its two convolutions and its pooling constant
    (``weights="conv"``: convolution kernels only, no BN affine, classifier or pooling constants)."""
    if weights not in ("all", "conv"):
        raise ValueError(f"angle weights: expected all or conv, got {weights!r}")
    result = [Atom("fixed", tuple(layout.fixed(weights)))]
    for edge in range(NUM_EDGES):
        for code in WEIGHTED_OPS:
            result.append(Atom(f"{EDGE_NAMES[edge]}:{code}", tuple(layout.conv(cell, edge, code) for cell, _ in layout.search)))
        # Pooling: C*9 values of 1/9 per search cell, the same constant in both vectors.
        pool = sum(c * 9 / 81 for _, c in layout.search) if weights == "all" else 0.0
        result.append(Atom(f"{EDGE_NAMES[edge]}:pool", const_sq=pool))
    return result


def counts(archs: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """``(len(archs), 19)`` multiplicities of the atoms of ``atoms`` in each architecture's ``V``."""
    ops = np.asarray(archs, dtype=np.int64).reshape(-1, NUM_EDGES)
    path_alive = surviving_paths(ops)
    on_path = np.zeros((len(PATH_EDGES), NUM_EDGES))
    for p, edges in enumerate(PATH_EDGES):
        on_path[p, list(edges)] = 1
    multiplicity = path_alive @ on_path  # surviving paths through each edge
    columns = [path_alive.any(axis=1).astype(np.float64)]
    for edge in range(NUM_EDGES):
        for code in (*WEIGHTED_OPS, AVG_POOL):
            columns.append(multiplicity[:, edge] * (ops[:, edge] == code))
    return np.stack(columns, axis=1)


def naive_pieces(arch: Sequence[int], state: Mapping[str, torch.Tensor], layout: Layout) -> list[torch.Tensor]:
    """``V(arch, state)`` as a list of pieces, built path by path in the released code's order."""
    pieces = [state[name] for name in layout.head()]
    fixed_added, cut_paths = 0, 0
    for node_path in NODE_PATHS:
        for cell, (kind, channels) in enumerate(layout.cells):
            if kind == "reduce":
                if fixed_added < len(layout.reduce):
                    pieces += [state[name] for name in layout.reduction_block(cell)]
                    fixed_added += 1
                continue
            walk, cut = [], False
            for a, b in zip(node_path, node_path[1:]):
                code = arch[EDGES.index((b, a))]
                if code == NONE:
                    cut = True
                    break
                if code == AVG_POOL:
                    walk.append(torch.full((channels * 9,), 1 / 9, dtype=torch.float64))
                elif code != SKIP:
                    walk.append(state[layout.conv(cell, EDGES.index((b, a)), code)])
            if cut:
                cut_paths += 1
                break  # the genotype is the same in every cell: this path is cut everywhere
            if walk:
                pieces.append(torch.cat([w.reshape(-1).to(torch.float64) for w in walk]))
    if cut_paths == len(NODE_PATHS):
        return []
    return pieces + [state[name] for name in layout.tail()]


def layout_of(model: dict) -> Layout:
    """The layout of a supernet whose config's model section is ``model``."""
    try:
        return Layout(int(model["channels"]), int(model["cells_per_stage"]))
    except (KeyError, TypeError, ValueError):
        raise UserError("checkpoint config lacks model.channels / model.cells_per_stage") from None


def angle_atoms(model: dict, weights: Weights = "all"):
    """``(atoms, counts)`` of the supernet whose config's model section is ``model``."""
    return atoms(layout_of(model), weights), counts


def scorer_from_checkpoints(init_path, trained_path, weights: Weights = "all") -> AngleScorer:
    """Angle scorer from the epoch-0 and trained checkpoints of one supernet run."""
    return checkpoint_scorer(NAME, "NAS-Bench-201", init_path, trained_path, lambda model: angle_atoms(model, weights))
