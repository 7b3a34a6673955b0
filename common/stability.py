"""Ranking stability during supernet training, and a stop rule on it (``train.stability``).

After every epoch the angle of a fixed, seeded set of architectures (all of NAS-Bench-201's 15,625
when ``archs`` covers the space; otherwise ``archs`` drawn with the space's own random sampling) is
computed from the initial and the current weights, and Kendall's tau between this ranking and the
previous epoch's is logged (``log.txt``, TensorBoard ``stability/tau_vs_previous_epoch``). It needs no
ground truth, so it works in every space. With a ``threshold``, training stops once the tau has been
``>= threshold`` for ``patience`` epochs in a row; a resumed run that had stopped stays stopped.

The history (and the last ranking, so that a resumed run compares against the right epoch) is kept
in ``<run>/stability.json``. The architectures and their angles come from the space's interface
(``random``/``all_archs`` and ``angle_atoms``, ``common.space``), so every registered space has it.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from . import distributed
from .angle import scorer_from_states
from .checkpoint import atomic_write_text, load_checkpoint
from .config import to_dict
from .correlation import correlate
from .errors import UserError
from .seeding import numpy_rng

logger = logging.getLogger("rlnas")


@dataclass
class StabilityConfig:
    enabled: bool = False  # log the tau between consecutive epochs' angle rankings
    threshold: Optional[float] = None  # stop once that tau is >= threshold for `patience` epochs; None: never stop
    patience: int = 2
    archs: int = 1000  # architectures ranked (a seeded sample; the whole space when it is smaller)

    def __post_init__(self):
        if self.patience < 1 or self.archs < 2:
            raise ValueError("train.stability: patience must be >= 1 and archs >= 2")
        if self.threshold is not None and not -1.0 <= self.threshold <= 1.0:
            raise ValueError("train.stability.threshold must be in [-1, 1] (or null)")


def consecutive_taus(rankings: list[np.ndarray]) -> list[Optional[float]]:
    """Kendall tau of each ranking against the previous one (None for the first)."""
    return [None] + [correlate(b, a).kendall_tau for a, b in zip(rankings, rankings[1:])]


def stop_epoch(taus: dict[int, Optional[float]], threshold: float, patience: int) -> Optional[int]:
    """The first epoch at which the tau has been ``>= threshold`` for ``patience`` epochs in a row."""
    run = 0
    for epoch in sorted(taus):
        value = taus[epoch]
        run = run + 1 if value is not None and value >= threshold else 0
        if run >= patience:
            return epoch
    return None


class RankingStability:
    """Tracks the ranking after each epoch; ``after_epoch`` says whether to stop."""

    def __init__(self, cfg: StabilityConfig, archs, score: Callable, run_dir: Path, space: str):
        self.cfg, self.archs, self.score, self.space = cfg, archs, score, space
        self.path = Path(run_dir) / "stability.json"
        self.initial: Optional[dict] = None
        state = json.loads(self.path.read_text()) if self.path.is_file() else {}
        self.history: dict[int, Optional[float]] = {int(k): v for k, v in state.get("tau", {}).items()}
        self.previous = np.array(state["ranking"]) if state.get("ranking") is not None else None
        self.previous_epoch = state.get("epoch")
        self.stopped_at: Optional[int] = state.get("stopped_at")

    def stop_requested(self) -> bool:
        return self.stopped_at is not None

    def after_epoch(self, epoch: int, model: torch.nn.Module, writer=None) -> bool:
        if self.initial is None:  # the epoch-0 weights: the angle's reference, written before epoch 1
            self.initial = load_checkpoint(self.path.parent / "checkpoints" / "epoch_0000.pt", space=self.space)["model"]
        current = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        angles = np.asarray(self.score(self.initial, current, self.archs), dtype=np.float64)
        tau = None
        if self.previous is not None and self.previous_epoch == epoch - 1:
            tau = correlate(angles, self.previous).kendall_tau
        self.history[epoch] = tau
        self.previous, self.previous_epoch = angles, epoch
        if self.cfg.threshold is not None and self.stopped_at is None:
            self.stopped_at = stop_epoch(self.history, self.cfg.threshold, self.cfg.patience)
        if not distributed.is_main():  # every rank holds the same weights, hence decides alike; rank 0 writes
            return self.stopped_at is not None
        atomic_write_text(self.path, json.dumps({"tau": self.history, "ranking": angles.tolist(), "epoch": epoch,
                                                 "stopped_at": self.stopped_at, "archs": len(angles)}))
        if tau is None:
            logger.info("ranking stability: epoch %d ranked %d architectures (no previous epoch to compare)", epoch, len(angles))
        else:
            logger.info("ranking stability: epoch %d, Kendall tau vs epoch %d's angle ranking %.4f (%d architectures)",
                        epoch, epoch - 1, tau, len(angles))
            if writer is not None:
                writer.add_scalar("stability/tau_vs_previous_epoch", tau, epoch)
        if self.stopped_at is not None:
            logger.info("ranking stability: tau >= %s for %d epochs, training stops after epoch %d",
                        self.cfg.threshold, self.cfg.patience, self.stopped_at)
        return self.stopped_at is not None


class _Off:
    def stop_requested(self) -> bool:
        return False

    def after_epoch(self, epoch: int, model, writer=None) -> bool:
        return False


def probe(space, config, archs: int, seed: int):
    """``(archs, score(state0, state_t, archs))``: the ranked architectures (the whole space when it
    has at most ``archs``, else a seeded sample of its random sampling) and their angle."""
    try:
        every = space.all_archs()
    except UserError:  # too large to list
        every = None
    if every is not None and len(every) <= archs:
        chosen = list(every)
    elif every is not None:
        chosen = [every[i] for i in sorted(numpy_rng(seed, "stability").permutation(len(every))[:archs])]
    else:
        rng = numpy_rng(seed, "stability")
        chosen = []
        while len(chosen) < archs:
            arch = space.random(rng)
            if space.is_legal(arch):
                chosen.append(arch)
    atoms, counts = space.angle_atoms(to_dict(config.model), config)
    return chosen, lambda state0, state_t, sample: scorer_from_states(
        atoms, counts, state0, state_t, "stability", space.title)(sample)


def tracker(config, space: str, run_dir: Path):
    """The stability tracker of a run of the registered space ``space`` (a no-op unless
    ``config.train.stability.enabled``)."""
    cfg = getattr(config.train, "stability", None) if not isinstance(config, dict) else None
    if cfg is None or not cfg.enabled:
        return _Off()
    from .space import get_space

    archs, score = probe(get_space(space), config, cfg.archs, config.seed)
    return RankingStability(cfg, archs, score, run_dir, space)
