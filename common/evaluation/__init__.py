"""Candidate evaluation behind one protocol, so that search code never knows where scores come from.

``submit(archs)`` hands architectures over; ``results()`` returns ``{canonical string: score}`` for
everything submitted since the last call (``None`` for a candidate whose scoring failed).
``LocalEvaluator`` scores in-process; a distributed evaluator implements the same two methods.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np


class Evaluator(Protocol):
    def submit(self, archs: Sequence) -> None: ...

    def results(self) -> dict[str, float | None]: ...


class LocalEvaluator:
    """Scores submitted architectures in this process with ``score_fn(archs) -> array of scores``."""

    def __init__(self, to_str: Callable[[object], str], score_fn: Callable[[list], np.ndarray]):
        self.to_str = to_str
        self.score_fn = score_fn
        self._pending: list = []

    def submit(self, archs: Sequence) -> None:
        self._pending.extend(archs)

    def results(self) -> dict[str, float | None]:
        archs, self._pending = self._pending, []
        if not archs:
            return {}
        scores = np.asarray(self.score_fn(archs), dtype=np.float64)
        return {self.to_str(arch): float(score) for arch, score in zip(archs, scores)}


def evaluate(evaluator: Evaluator, archs: Sequence) -> dict[str, float | None]:
    evaluator.submit(archs)
    return evaluator.results()
