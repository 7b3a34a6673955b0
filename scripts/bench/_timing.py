"""Helpers shared by the benchmarks in this folder: device-aware clocks and an aligned table."""
from __future__ import annotations

import time
from typing import Callable, Sequence

import torch


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
