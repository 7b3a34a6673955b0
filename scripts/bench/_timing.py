"""Helpers shared by the benchmarks in this folder: device-aware clocks and an aligned table.

Every benchmark imports this module before the project's packages; importing it puts the project
root on ``sys.path``, so that ``python scripts/bench/<script>.py`` works without ``PYTHONPATH``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Sequence

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work, so that a clock read covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_of(repeats: int, fn: Callable[[], object], device: torch.device) -> tuple[object, float]:
    """Run ``fn`` ``repeats`` times; return its last result and the fastest wall time in seconds."""
    best, result = float("inf"), None
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        result = fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return result, best


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """First column left-aligned, the others right-aligned, widths fitted to the content."""
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = [str(cell).ljust(w) if i == 0 else str(cell).rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        print("  ".join(cells))
