"""The scorers of ``search.score`` on NAS-Bench-201 (``common.scoring`` with this space)."""
from __future__ import annotations

from common.scoring import build_scorer as _build_scorer

from .space import SPACE


def build_scorer(cfg, init, trained, datasets=None):
    return _build_scorer(SPACE, cfg, init, trained, datasets)
