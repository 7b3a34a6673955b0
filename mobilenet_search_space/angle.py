"""The angle of MobileNet-space architectures (paper section 3.2.2, ref §5.4).

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
from common.checkpoint import load_checkpoint
from common.errors import UserError
from common.seeding import numpy_rng

from .space import IDENTITY, IDENTITY_ALLOWED, NAME, NUM_BLOCKS, NUM_LAYERS, MobileNetSpace, layer_specs

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
    atom_list = atoms(width_mult)
    missing = [name for atom in atom_list for name in atom.params if name not in state0 or name not in state_t]
    if missing:
        raise UserError(f"{where}: not a MobileNet supernet of the configured shape (missing {missing[0]})")
    return AngleScorer(atom_list, state0, state_t, counts)


def scorer_from_checkpoints(init_path, trained_path) -> AngleScorer:
    """Angle scorer from the epoch-0 and trained checkpoints of one supernet run."""
    init = load_checkpoint(init_path, space=NAME)
    trained = load_checkpoint(trained_path, space=NAME)
    if init["config"].get("model") != trained["config"].get("model"):
        raise UserError(f"{init_path} and {trained_path} are checkpoints of different supernets")
    try:
        width_mult = float(trained["config"].get("model", {}).get("width_mult", 1.0))
    except (AttributeError, TypeError, ValueError):
        raise UserError(f"{trained_path}: checkpoint config lacks a valid model.width_mult") from None
    return scorer_from_states(init["model"], trained["model"], width_mult, str(trained_path))


def stability_probe(config, archs: int, seed: int):
    """``common.stability``: ``archs`` architectures of the space's random sampling (seeded, no FLOPs
    limit) and their angles from two state dicts of this supernet."""
    rng, space = numpy_rng(seed, "stability"), MobileNetSpace()
    chosen = [space.random(rng) for _ in range(archs)]
    return chosen, lambda state0, state_t, sample: scorer_from_states(state0, state_t, config.model.width_mult)(sample)
