"""Candidate evaluation behind one protocol, so that search code never knows where scores come from.

``submit(archs)`` hands architectures over; ``results()`` returns ``{canonical string: score}`` for
everything submitted since the last call (``None`` for a candidate whose scoring failed).
``LocalEvaluator`` scores in-process; ``RabbitMQEvaluator`` (``rabbitmq.py``) farms the candidates
out to workers (``worker.py``) through a RabbitMQ broker. ``build_evaluator`` picks one from the
search config (``search.evaluator: local | rabbitmq``). Evaluators are context managers.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np

from .protocol import job_id


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

    def close(self) -> None:
        pass

    def __enter__(self) -> "LocalEvaluator":
        return self

    def __exit__(self, *_) -> None:
        self.close()


def evaluate(evaluator: Evaluator, archs: Sequence) -> dict[str, float | None]:
    evaluator.submit(archs)
    return evaluator.results()


def build_evaluator(search_cfg, space, score_fn: Callable[[list], np.ndarray], fingerprint: str):
    """The evaluator ``search_cfg.evaluator`` names.

    ``fingerprint`` identifies the scorer's weights (e.g. ``AngleScorer.fingerprint``); with the
    space and ``search_cfg.score`` it makes the job id that workers built from the same config share.
    """
    if search_cfg.evaluator == "local":
        return LocalEvaluator(space.to_str, score_fn)
    from .rabbitmq import RabbitMQEvaluator  # pika only when a broker is used

    return RabbitMQEvaluator(job_id(space.name, search_cfg.score, fingerprint), space.name, space.to_str,
                             search_cfg.amqp)
