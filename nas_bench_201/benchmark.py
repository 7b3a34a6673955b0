"""NAS-Bench-201 ground truth from the compact CSV table (``nb201_accuracies.csv``).

The table has one row per benchmark index with the 200-epoch accuracies (percent) and the
params/FLOPs of each architecture (columns: see ``ACCURACY_COLUMNS`` and ``COST_COLUMNS``). Its
path comes from the config (``benchmark.table``), else ``RLNAS_NB201_TABLE``, else
``$RLNAS_DATA/nasbench201/nb201_accuracies.csv``. ``python -m nas_bench_201.convert_benchmark``
makes the table from the official ``NAS-Bench-201-v1_1-096897.pth``.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from common.errors import UserError

from .encoding import NUM_ARCHS, benchmark_archs, to_str

DATASETS = ("cifar10", "cifar100", "imagenet16")
ACCURACY_COLUMNS = tuple(f"{d}_{s}" for d in DATASETS for s in ("valid", "test"))
COST_COLUMNS = tuple(f"{kind}_{d}_M" for kind in ("params", "flops") for d in DATASETS)
COLUMNS = ("index", "arch_str") + ACCURACY_COLUMNS + COST_COLUMNS
TABLE_FILE = Path("nasbench201") / "nb201_accuracies.csv"


@dataclass
class BenchmarkConfig:
    table: Optional[str] = None  # CSV path; None: $RLNAS_NB201_TABLE, then $RLNAS_DATA/nasbench201/nb201_accuracies.csv
    dataset: Literal["cifar10", "cifar100", "imagenet16"] = "cifar10"  # the benchmark dataset the supernet stands for
    metrics: Optional[list[str]] = None  # columns to correlate with; None: <dataset>_test (as the released code)
    top_k: list[int] = field(default_factory=lambda: [10, 50, 100])  # top-k precision levels

    def __post_init__(self):
        for metric in self.metrics or []:
            if metric not in ACCURACY_COLUMNS:
                raise ValueError(f"metrics: unknown column '{metric}' (choose from {', '.join(ACCURACY_COLUMNS)})")

    def metric_columns(self) -> list[str]:
        return list(self.metrics) if self.metrics else [f"{self.dataset}_test"]


def find_table(configured: Optional[str]) -> Optional[Path]:
    """The table to use: the configured path (must exist), else the environment's, else None."""
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise UserError(f"benchmark.table: file not found: {path}")
        return path
    if os.environ.get("RLNAS_NB201_TABLE"):
        path = Path(os.environ["RLNAS_NB201_TABLE"])
        if not path.is_file():
            raise UserError(f"RLNAS_NB201_TABLE: file not found: {path}")
        return path
    if os.environ.get("RLNAS_DATA"):
        path = Path(os.environ["RLNAS_DATA"]) / TABLE_FILE
        if path.is_file():
            return path
    return None


class BenchmarkTable:
    """All columns of the table as arrays indexed by benchmark index."""

    def __init__(self, columns: dict[str, np.ndarray], path: Path):
        self.columns = columns
        self.path = path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BenchmarkTable":
        path = Path(path)
        try:
            with open(path, newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, None)
                rows = list(reader)
        except OSError as error:
            raise UserError(f"{path}: cannot read the benchmark table ({error.strerror})") from None
        if header is None or tuple(header[: len(COLUMNS)]) != COLUMNS:
            raise UserError(f"{path}: not a NAS-Bench-201 table (expected columns {', '.join(COLUMNS)})")
        if len(rows) != NUM_ARCHS:
            raise UserError(f"{path}: {len(rows)} rows, expected {NUM_ARCHS}")
        try:
            index = np.array([int(row[0]) for row in rows])
            numbers = np.array([[float(v) for v in row[2: len(COLUMNS)]] for row in rows])
        except (ValueError, IndexError):
            raise UserError(f"{path}: malformed row (expected an int index and numeric columns)") from None
        order = np.argsort(index)
        if not np.array_equal(index[order], np.arange(NUM_ARCHS)):
            raise UserError(f"{path}: the index column must hold 0..{NUM_ARCHS - 1} once each")
        arch_strs = [rows[i][1] for i in order]
        expected = [to_str(arch) for arch in benchmark_archs()]
        if arch_strs != expected:
            first = next(i for i, (a, b) in enumerate(zip(arch_strs, expected)) if a != b)
            raise UserError(f"{path}: index {first} is {arch_strs[first]}, NAS-Bench-201 has {expected[first]}")
        columns = {name: numbers[order, k] for k, name in enumerate(COLUMNS[2:])}
        return cls(columns, path)

    def metric(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise UserError(f"benchmark: unknown column '{name}' (choose from {', '.join(self.columns)})")
        return self.columns[name]

    def row(self, index: int) -> dict[str, float]:
        return {name: float(values[index]) for name, values in self.columns.items()}
