"""The angle of MobileNet-space architectures (paper section 3.2.2, docs/reference.md §5.4).

``V(a, W)`` is a chain of blocks, with no paths to enumerate: the fixed parts' conv weights (stem
conv, the expand-1 block's two convs, head conv) and the classifier weight (no BN, no classifier
bias), then per layer either its block's weights (pw-expand conv, its BN gamma and beta, depthwise
conv, its BN gamma and beta, pw-linear conv; the block's last BN is left out, as released) or, for
identity, the matrix ``eye(C)`` flattened (a constant of squared norm C). Every atom occurs at most
once, so the angle engine's counts are one-hot per layer.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from common.angle import AngleScorer, Atom
from common.angle import scorer_from_states as states_scorer
from common.errors import UserError

from .encoding import IDENTITY, IDENTITY_ALLOWED, NUM_BLOCKS, NUM_LAYERS, layer_specs

FIXED = ("stem.0.weight", "first.conv.0.weight", "first.conv.3.weight", "head.0.weight", "classifier.0.weight")
BLOCK_PARTS = ("conv.0.weight", "conv.1.weight", "conv.1.bias", "conv.3.weight", "conv.4.weight", "conv.4.bias",
               "conv.6.weight")
IDENTITY_LAYERS = tuple(int(i) for i in np.flatnonzero(IDENTITY_ALLOWED))
_IDENTITY_COLUMN = {layer: 1 + NUM_LAYERS * NUM_BLOCKS + k for k, layer in enumerate(IDENTITY_LAYERS)}
NUM_ATOMS = 1 + NUM_LAYERS * NUM_BLOCKS + len(IDENTITY_LAYERS)


def block_params(layer: int, code: int) -> list[str]:
    return [f"layers.{layer}.ops.{code}.{part}" for part in BLOCK_PARTS]


def atoms(width_mult: float = 1.0) -> list[Atom]:
    """Atom 0: the fixed parts; then (layer, block) for every layer and block; then one identity per layer that allows it."""
    specs = layer_specs(width_mult)
    result = [Atom("fixed", FIXED)]
    result += [Atom(f"{layer}:{code}", tuple(block_params(layer, code)))
               for layer in range(NUM_LAYERS) for code in range(NUM_BLOCKS)]
    result += [Atom(f"{layer}:identity", const_sq=float(specs[layer].c_out)) for layer in IDENTITY_LAYERS]
    return result


def counts(archs: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """``(len(archs), NUM_ATOMS)`` multiplicities (0 or 1) of the atoms of ``atoms`` in each ``V``."""
    codes = np.asarray(archs, dtype=np.int64).reshape(-1, NUM_LAYERS)
    result = np.zeros((len(codes), NUM_ATOMS))
    result[:, 0] = 1
    rows, layers = np.nonzero(codes >= 0)
    result[rows, 1 + layers * NUM_BLOCKS + codes[rows, layers]] = 1
    for layer, column in _IDENTITY_COLUMN.items():
        result[:, column] = codes[:, layer] == IDENTITY
    return result


def naive_pieces(arch: Sequence[int], state: Mapping[str, torch.Tensor], width_mult: float = 1.0) -> list[torch.Tensor]:
    """``V(arch, state)`` as a list of pieces, in the released code's order."""
    specs = layer_specs(width_mult)
    pieces = [state[name] for name in FIXED]
    for layer, code in enumerate(arch):
        if code == IDENTITY:
            pieces.append(torch.eye(specs[layer].c_out, specs[layer].c_in, dtype=torch.float64))
        else:
            pieces += [state[name] for name in block_params(layer, code)]
    return pieces


def scorer_from_states(state0: Mapping[str, torch.Tensor], state_t: Mapping[str, torch.Tensor],
                       width_mult: float = 1.0, where: str = "checkpoint") -> AngleScorer:
    return states_scorer(atoms(width_mult), counts, state0, state_t, where, "MobileNet")


def width_of(model: dict) -> float:
    """The width multiplier of a supernet whose config's model section is ``model``."""
    try:
        return float(model.get("width_mult", 1.0))
    except (AttributeError, TypeError, ValueError):
        raise UserError("checkpoint config lacks a valid model.width_mult") from None


def angle_atoms(model: dict):
    """``(atoms, counts)`` of the supernet whose config's model section is ``model``."""
    return atoms(width_of(model)), counts
