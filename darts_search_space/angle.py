"""The angle of DARTS architectures (paper section 3.2.2, docs/reference.md §4.5).

``V(a, W)`` concatenates, for every cell in order and each of its 30 input-to-output paths (from
input 0 or 1 through increasing nodes to any intermediate node, all of which feed the output), the
weights of the path's ops; then the fixed parts: stem, every cell's two preprocessing ops and the
classifier: its weight, and its bias as the released code did (``classifier_bias: released``: left
out on CIFAR, kept on ImageNet; ``with``/``without`` force one rule). A path through ``none``
contributes nothing. Per op:

- ``sep_conv``: its 4 convolution kernels and its 2 BNs (weight and bias);
- ``dil_conv``: its 2 kernels and its BN's weight and bias (the released code took the BN weight
  twice and no bias, a bug; ``dil_conv_bn: released`` reproduces it);
- pooling: a constant block of ``C*9`` values 1/9, then the weight and bias of the BN the supernet
  puts after the pooling;
- ``skip_connect``: the identity matrix ``eye(C)`` (a constant), or in a reduction cell's stride-2
  edges the kernels and BN of its FactorizedReduce.

One sampled cell of each type is shared by all cells of that type, so an op's atom groups its
weights over those cells, with multiplicity = the number of surviving paths through its edge.
``naive_pieces`` walks the paths literally, as the released code does, for the tests.
"""
from __future__ import annotations

from typing import Literal, Mapping, Sequence

import numpy as np
import torch

from common.angle import AngleScorer, Atom
from common.angle import scorer_from_checkpoints as checkpoint_scorer
from common.angle import scorer_from_states as states_scorer
from common.config import from_dict
from common.errors import UserError

from .ops import cell_layout
from .encoding import (AVG_POOL, DIL3, DIL5, EDGES, MAX_POOL, NAME, NODE_PATHS, NONE, NUM_EDGES, NUM_GENES, NUM_OPS, OPS,
                    PATH_EDGES, SEP3, SEP5, SKIP)
from .supernet import SupernetConfig

DilBN = Literal["paper", "released"]
ClassifierBias = Literal["released", "with", "without"]
_PATH_MATRIX = np.zeros((len(PATH_EDGES), NUM_EDGES))
for _p, _edges in enumerate(PATH_EDGES):
    _PATH_MATRIX[_p, list(_edges)] = 1


class Layout:
    """Where the weights of a supernet live, and the pieces each op contributes to ``V``."""

    def __init__(self, cfg: SupernetConfig, dil_conv_bn: DilBN = "paper", classifier_bias: ClassifierBias = "released"):
        if classifier_bias not in ("released", "with", "without"):
            raise ValueError(f"classifier_bias: expected released, with or without, got {classifier_bias!r}")
        self.cfg = cfg
        self.dil_conv_bn = dil_conv_bn
        # the released CIFAR angle appended classifier.weight only, the ImageNet one weight and bias
        self.classifier_bias = classifier_bias == "with" or (classifier_bias == "released" and cfg.stem != "cifar")
        self.cells = cell_layout(cfg.channels, cfg.layers, cfg.stem)

    def stem(self) -> list[str]:
        if self.cfg.stem == "cifar":
            return ["stems.stem.0.weight", "stems.stem.1.weight", "stems.stem.1.bias"]
        return ["stems.stem0.0.weight", "stems.stem0.1.weight", "stems.stem0.1.bias", "stems.stem0.3.weight",
                "stems.stem0.4.weight", "stems.stem0.4.bias", "stems.stem1.1.weight", "stems.stem1.2.weight",
                "stems.stem1.2.bias"]

    def preprocess(self, cell: int) -> list[str]:
        first = (["conv_1.weight", "conv_2.weight", "bn.weight", "bn.bias"] if self.cells[cell]["reduction_prev"]
                 else ["op.1.weight", "op.2.weight", "op.2.bias"])
        return ([f"cells.{cell}.preprocess0.{n}" for n in first]
                + [f"cells.{cell}.preprocess1.{n}" for n in ("op.1.weight", "op.2.weight", "op.2.bias")])

    def fixed(self) -> list[str]:
        return (self.stem() + [n for cell in range(len(self.cells)) for n in self.preprocess(cell)]
                + ["classifier.weight"] + (["classifier.bias"] if self.classifier_bias else []))

    def op_piece(self, cell: int, edge: int, code: int) -> tuple[list[str], float]:
        """(parameter names, squared norm of the constant) that op ``code`` on ``edge`` of ``cell`` adds."""
        prefix = f"cells.{cell}.edges.{edge}.{OPS[code]}"
        channels = self.cells[cell]["c"]
        if code in (SEP3, SEP5):
            return [f"{prefix}.op.{i}.weight" for i in (1, 2, 5, 6)] + [
                f"{prefix}.op.{i}.{p}" for i in (3, 7) for p in ("weight", "bias")], 0.0
        if code in (DIL3, DIL5):
            bn = ["op.3.weight", "op.3.bias"] if self.dil_conv_bn == "paper" else ["op.3.weight", "op.3.weight"]
            return [f"{prefix}.op.1.weight", f"{prefix}.op.2.weight"] + [f"{prefix}.{n}" for n in bn], 0.0
        if code in (MAX_POOL, AVG_POOL):
            return [f"{prefix}.1.weight", f"{prefix}.1.bias"], channels * 9 / 81
        if code == SKIP:
            if self.cells[cell]["reduction"] and EDGES[edge][0] < 2:
                return [f"{prefix}.{n}" for n in ("conv_1.weight", "conv_2.weight", "bn.weight", "bn.bias")], 0.0
            return [], float(channels)  # eye(C)
        raise ValueError(f"op {code} has no piece")

    def cells_of_type(self, reduction: bool) -> list[int]:
        return [i for i, spec in enumerate(self.cells) if spec["reduction"] == reduction]


def atoms(layout: Layout) -> list[Atom]:
    """Atom 0: the fixed parts; then, per gene position (28) and non-``none`` op (7), that op's pieces
    over every cell of the gene's type."""
    result = [Atom("fixed", tuple(layout.fixed()))]
    for gene in range(NUM_GENES):
        reduction, edge = gene >= NUM_EDGES, gene % NUM_EDGES
        for code in range(1, NUM_OPS):
            names, const_sq = [], 0.0
            for cell in layout.cells_of_type(reduction):
                params, const = layout.op_piece(cell, edge, code)
                names += params
                const_sq += const
            result.append(Atom(f"{'reduce' if reduction else 'normal'}:{edge}:{OPS[code]}", tuple(names), const_sq))
    return result


def counts(archs: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """``(len(archs), 1 + 28*7)`` multiplicities of the atoms of ``atoms`` in each architecture's ``V``."""
    genes = np.asarray(archs, dtype=np.int64).reshape(-1, NUM_GENES)
    n = len(genes)
    live = (genes != NONE).reshape(n, 2, NUM_EDGES)
    multiplicity = np.empty((n, 2, NUM_EDGES))
    for cell in range(2):
        alive = np.stack([live[:, cell, list(edges)].all(axis=1) for edges in PATH_EDGES], axis=1)
        multiplicity[:, cell] = alive @ _PATH_MATRIX  # surviving paths through each edge
    onehot = genes[:, :, None] == np.arange(1, NUM_OPS)[None, None, :]
    per_op = onehot * multiplicity.reshape(n, NUM_GENES, 1)
    return np.concatenate([np.ones((n, 1)), per_op.reshape(n, -1)], axis=1)


def naive_pieces(arch: Sequence[int], state: Mapping[str, torch.Tensor], layout: Layout) -> list[torch.Tensor]:
    """``V(arch, state)`` as a list of pieces, built path by path and cell by cell as the released code does."""
    pieces: list[torch.Tensor] = []
    for cell, spec in enumerate(layout.cells):
        genes = arch[NUM_EDGES:] if spec["reduction"] else arch[:NUM_EDGES]
        for node_path in NODE_PATHS:
            walk = []
            for a, b in zip(node_path, node_path[1:]):
                edge = EDGES.index((a, b))
                code = genes[edge]
                if code == NONE:
                    walk = []
                    break
                names, _ = layout.op_piece(cell, edge, code)
                c = spec["c"]
                if code in (MAX_POOL, AVG_POOL):
                    walk.append(torch.ones(c, 3, 3, dtype=torch.float64) / 9)
                elif code == SKIP and not names:
                    walk.append(torch.eye(c, dtype=torch.float64))
                walk += [state[name] for name in names]
            if walk:
                pieces.append(torch.cat([w.reshape(-1).to(torch.float64) for w in walk]))
    return pieces + [state[name] for name in layout.fixed()]


def supernet_config_of(model: dict) -> SupernetConfig:
    """The supernet config of a checkpoint whose config's model section is ``model``."""
    if not isinstance(model, dict) or not model:
        raise UserError("checkpoint config lacks its model section")
    return from_dict(SupernetConfig, model, "model")


def angle_atoms(model: dict, dil_conv_bn: DilBN = "paper", classifier_bias: ClassifierBias = "released"):
    """``(atoms, counts)`` of the supernet whose config's model section is ``model``."""
    return atoms(Layout(supernet_config_of(model), dil_conv_bn, classifier_bias)), counts


def scorer_from_states(state0: Mapping[str, torch.Tensor], state_t: Mapping[str, torch.Tensor], cfg: SupernetConfig,
                       dil_conv_bn: DilBN = "paper", source: str = "state dict",
                       classifier_bias: ClassifierBias = "released") -> AngleScorer:
    return states_scorer(atoms(Layout(cfg, dil_conv_bn, classifier_bias)), counts, state0, state_t, source, "DARTS")


def scorer_from_checkpoints(init_path, trained_path, dil_conv_bn: DilBN = "paper",
                            classifier_bias: ClassifierBias = "released") -> AngleScorer:
    """Angle scorer from the epoch-0 and trained checkpoints of one supernet run."""
    return checkpoint_scorer(NAME, "DARTS", init_path, trained_path,
                             lambda model: angle_atoms(model, dil_conv_bn, classifier_bias))
