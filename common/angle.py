"""The angle engine (docs/design.md section 4).

The angle of an architecture ``a`` is ``arccos(<V(a,W0), V(a,Wt)> / (|V(a,W0)| |V(a,Wt)|))`` where
``V`` concatenates the weights on every input-to-output path (a weight on k paths appears k times)
plus the fixed parts of the network. Because ``V`` is a concatenation, the three sums decompose:

    dot(a) = sum_k m_k(a) <w0_k, wt_k>,  n0(a) = sum_k m_k(a) |w0_k|^2,  nt(a) = sum_k m_k(a) |wt_k|^2

over *atoms* ``k``, with ``m_k(a)`` the number of times atom ``k`` occurs in ``V(a)``. An atom is a
group of parameter tensors and/or constant blocks (pooling kernels, identity matrices) that always
occur together. A search space says which atoms exist (``Atom`` list) and how often each occurs in
each architecture (a counts matrix); this module computes the statistics once (float64) and scores
any number of architectures at once as ``counts x stats``. ``naive_angle`` is the literal definition
(concatenate, then cosine) kept for tests.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from .checkpoint import RUN_KEYS, load_checkpoint
from .config import config_differences, differences_text
from .errors import UserError

logger = logging.getLogger("rlnas")

STAT_DOT, STAT_N0, STAT_NT = 0, 1, 2


@dataclass(frozen=True)
class Atom:
    """One block of ``V``: the state-dict tensors ``params`` and a constant of squared norm ``const_sq``."""

    name: str
    params: tuple[str, ...] = ()
    const_sq: float = 0.0


def atom_statistics(atoms: Sequence[Atom], state0: Mapping[str, torch.Tensor],
                    state_t: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``(len(atoms), 3)`` float64 CPU tensor of (dot, |w0|^2, |wt|^2) per atom."""
    # numpy's pairwise sum, not a BLAS or torch reduction: those split the work by thread count, and the
    # statistics (hence every angle and the scorer's fingerprint, the distributed job id) must be
    # bit-identical in a search process and in single-threaded workers on other machines.
    stats = np.zeros((len(atoms), 3), dtype=np.float64)
    for row, atom in enumerate(atoms):
        for name in atom.params:
            w0 = state0[name].detach().to("cpu", torch.float64).reshape(-1).numpy()
            wt = state_t[name].detach().to("cpu", torch.float64).reshape(-1).numpy()
            if w0.shape != wt.shape:
                raise ValueError(f"{name}: shapes differ between the two checkpoints")
            stats[row, STAT_DOT] += np.sum(w0 * wt)
            stats[row, STAT_N0] += np.sum(w0 * w0)
            stats[row, STAT_NT] += np.sum(wt * wt)
        stats[row] += atom.const_sq
    return torch.from_numpy(stats)


def angles_from_counts(counts: np.ndarray | torch.Tensor, stats: torch.Tensor) -> np.ndarray:
    """Angles (radians, float64) of the architectures whose atom multiplicities are the rows of ``counts``.

    An architecture whose ``V`` is empty (no surviving path) scores 0.
    """
    counts = torch.as_tensor(counts, dtype=torch.float64)
    stats = stats.to(torch.float64)
    # Accumulated atom by atom rather than by a matrix product, whose blocking depends on the batch:
    # an architecture's angle is then bit-identical whichever batch (or remote worker) scores it.
    sums = torch.zeros(counts.shape[0], stats.shape[1], dtype=torch.float64)
    for k in range(stats.shape[0]):
        sums += counts[:, k:k + 1] * stats[k]
    dot, n0, nt = sums[:, STAT_DOT], sums[:, STAT_N0], sums[:, STAT_NT]
    norm = torch.sqrt(n0 * nt)
    empty = norm == 0
    cosine = torch.where(empty, torch.ones_like(dot), dot / torch.where(empty, torch.ones_like(norm), norm))
    return torch.arccos(cosine.clamp(-1.0, 1.0)).numpy()


def naive_angle(pieces0: Sequence[torch.Tensor], pieces_t: Sequence[torch.Tensor]) -> float:
    """The literal definition in float64: concatenate every piece of ``V`` and take the arccos of the cosine."""
    if not pieces0:
        return 0.0
    v0 = torch.cat([p.detach().reshape(-1).to(torch.float64) for p in pieces0])
    vt = torch.cat([p.detach().reshape(-1).to(torch.float64) for p in pieces_t])
    cosine = torch.dot(v0, vt) / (v0.norm() * vt.norm())
    return float(torch.arccos(cosine.clamp(-1.0, 1.0)))


class AngleScorer:
    """Scores architectures of one search space from two state dicts (initial and trained)."""

    def __init__(self, atoms: Sequence[Atom], state0: Mapping[str, torch.Tensor], state_t: Mapping[str, torch.Tensor],
                 counts_fn):
        self.atoms = list(atoms)
        self.stats = atom_statistics(self.atoms, state0, state_t)
        self.counts_fn = counts_fn

    @property
    def fingerprint(self) -> str:
        """A digest of the statistics: equal for equal weights, different once training moved them."""
        return hashlib.sha256(self.stats.numpy().tobytes()).hexdigest()[:16]

    def __call__(self, archs) -> np.ndarray:
        if len(archs) == 0:
            return np.zeros(0)
        return angles_from_counts(self.counts_fn(archs), self.stats)


def scorer_from_states(atoms: Sequence[Atom], counts_fn, state0: Mapping[str, torch.Tensor],
                       state_t: Mapping[str, torch.Tensor], where: str, title: str) -> AngleScorer:
    """The scorer of two state dicts, once every tensor the atoms name is known to be in both."""
    missing = [name for atom in atoms for name in atom.params if name not in state_t or name not in state0]
    if missing:
        raise UserError(f"{where}: not a {title} supernet of the configured shape (missing {missing[0]})")
    for state, which in ((state0, "initial"), (state_t, "trained")):
        bad = next((name for atom in atoms for name in atom.params if not torch.isfinite(state[name]).all()), None)
        if bad is not None:
            raise UserError(f"{where}: the {which} weights are not finite ({bad} holds NaN or inf); "
                            "no angle can be taken from them")
    return AngleScorer(atoms, state0, state_t, counts_fn)


def scorer_from_checkpoints(space: str, title: str, init_path, trained_path, atoms_of) -> AngleScorer:
    """Angle scorer from the epoch-0 and trained checkpoints of one supernet run of space ``space``;
    ``atoms_of(model_section)`` gives ``(atoms, counts)`` for the checkpoints' ``config.model``."""
    init = load_checkpoint(init_path, space=space)
    trained = load_checkpoint(trained_path, space=space)
    if init["config"].get("model") != trained["config"].get("model"):
        raise UserError(f"{init_path} and {trained_path} are checkpoints of different supernets")
    if init["model"].keys() == trained["model"].keys() and all(
            torch.equal(init["model"][key], trained["model"][key]) for key in init["model"]):
        raise UserError(f"{init_path} and {trained_path} hold the same weights, so every angle would be 0: "
                        "give a run's epoch_0000.pt and a later checkpoint")
    differences = config_differences({k: init["config"].get(k) for k in RUN_KEYS},
                                     {k: trained["config"].get(k) for k in RUN_KEYS})
    if differences:
        logger.warning("warning: %s and %s come from different runs (%s): the angle measures more than training",
                       init_path, trained_path, differences_text(differences))
    model = trained["config"].get("model")
    atoms, counts_fn = atoms_of(model if isinstance(model, dict) else {})
    return scorer_from_states(atoms, counts_fn, init["model"], trained["model"], str(trained_path), title)
