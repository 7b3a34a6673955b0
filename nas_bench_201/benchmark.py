"""NAS-Bench-201 ground truth: the compact table of all 15,625 architectures.

The table has one row per benchmark index with the 200-epoch accuracies (percent) and the
params/FLOPs of each architecture (columns: see ``ACCURACY_COLUMNS`` and ``COST_COLUMNS``), as a
CSV (``index,arch_str,...``) or as a compressed numpy archive (one float64 array per column, in
index order; read with ``allow_pickle=False``). The project ships the table as
``nas_bench_201/nb201_accuracies.npz`` (NAS-Bench-201 v1.1, MIT licence; its sha256 is
``SHIPPED_SHA256`` and is checked when it is read). The table used is the config's
(``benchmark.table``), else ``RLNAS_NB201_TABLE``, else the shipped one.
``python -m nas_bench_201.convert_benchmark`` makes a table from the official
``NAS-Bench-201-v1_1-096897.pth`` or converts one table format into the other.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from common.checkpoint import atomic_write_bytes, atomic_write_text
from common.config import require_env
from common.errors import UserError

from .encoding import NUM_ARCHS, benchmark_archs, to_str

DATASETS = ("cifar10", "cifar100", "imagenet16")
ACCURACY_COLUMNS = tuple(f"{d}_{s}" for d in DATASETS for s in ("valid", "test"))
COST_COLUMNS = tuple(f"{kind}_{d}_M" for kind in ("params", "flops") for d in DATASETS)
COLUMNS = ("index", "arch_str") + ACCURACY_COLUMNS + COST_COLUMNS
NUMERIC_COLUMNS = ACCURACY_COLUMNS + COST_COLUMNS
SHIPPED_TABLE = Path(__file__).resolve().with_name("nb201_accuracies.npz")
SHIPPED_SHA256 = "4f2b8159e092dd98d6d0167148af3af5de5803d8d759e2a5ebaa42516f2f3ca6"


@dataclass
class BenchmarkConfig:
    table: Optional[str] = None  # CSV or .npz path; None: $RLNAS_NB201_TABLE, else the shipped table
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
    """The table to use: the configured path (must exist), else the environment's, else the shipped
    one (None only when an installation lacks it)."""
    if configured:
        path = Path(require_env(configured, "benchmark.table"))
        if not path.is_file():
            raise UserError(f"benchmark.table: file not found: {path}")
        return path
    if os.environ.get("RLNAS_NB201_TABLE"):
        path = Path(os.environ["RLNAS_NB201_TABLE"])
        if not path.is_file():
            raise UserError(f"RLNAS_NB201_TABLE: file not found: {path}")
        return path
    return SHIPPED_TABLE if SHIPPED_TABLE.is_file() else None


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class BenchmarkTable:
    """All columns of the table as arrays indexed by benchmark index."""

    def __init__(self, columns: dict[str, np.ndarray], path: Path):
        self.columns = columns
        self.path = path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BenchmarkTable":
        """A CSV or ``.npz`` table; the shipped table must match its checksum."""
        path = Path(path)
        if path.suffix == ".npz":
            return cls._load_npz(path)
        try:
            with open(path, newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, None)
                rows = list(reader)
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not a text file"
            raise UserError(f"{path}: cannot read the benchmark table ({reason})") from None
        return cls.from_rows(header, rows, path)

    @classmethod
    def from_rows(cls, header: Optional[list[str]], rows: list[list[str]], path: Path) -> "BenchmarkTable":
        """The table of CSV ``rows`` under ``header``, checked against the space's index order."""
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
        columns = {name: numbers[order, k] for k, name in enumerate(NUMERIC_COLUMNS)}
        return cls(columns, path)

    @classmethod
    def _load_npz(cls, path: Path) -> "BenchmarkTable":
        """One float64 array of NUM_ARCHS values per column, index order implied (no pickle)."""
        if path.resolve() == SHIPPED_TABLE and path.is_file() and sha256_of(path) != SHIPPED_SHA256:
            raise UserError(f"{path}: the shipped benchmark table is damaged (sha256 differs); reinstall it")
        try:
            with np.load(path, allow_pickle=False) as archive:
                missing = [name for name in NUMERIC_COLUMNS if name not in archive.files]
                if missing:
                    raise UserError(f"{path}: not a NAS-Bench-201 table (missing {', '.join(missing)})")
                columns = {name: archive[name] for name in NUMERIC_COLUMNS}
        except UserError:
            raise
        except Exception as error:  # missing, not a zip of .npy files, truncated, or holding objects
            reason = getattr(error, "strerror", None) or f"{type(error).__name__}: {str(error)[:100]}"
            raise UserError(f"{path}: cannot read the benchmark table ({reason})") from None
        for name, values in columns.items():
            if values.dtype != np.float64 or values.shape != (NUM_ARCHS,) or not np.isfinite(values).all():
                raise UserError(f"{path}: column {name} must hold {NUM_ARCHS} finite float64 values")
        return cls(columns, path)

    def save(self, path: str | os.PathLike) -> None:
        """Write the table as CSV (``.csv``) or as a byte-reproducible compressed ``.npz``."""
        path = Path(path)
        if path.suffix == ".npz":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for name in NUMERIC_COLUMNS:  # fixed order and timestamps: the same table gives the same bytes
                    array = io.BytesIO()
                    np.lib.format.write_array(array, np.ascontiguousarray(self.columns[name], np.float64),
                                              allow_pickle=False)
                    info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, array.getvalue(), compresslevel=9)
            atomic_write_bytes(path, buffer.getvalue())
            return
        lines = [",".join(COLUMNS)]
        for index, arch in enumerate(benchmark_archs()):
            values = [repr(float(self.columns[name][index])) for name in NUMERIC_COLUMNS]
            lines.append(",".join([str(index), to_str(arch), *values]))
        atomic_write_text(path, "\n".join(lines) + "\n")

    def metric(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise UserError(f"benchmark: unknown column '{name}' (choose from {', '.join(self.columns)})")
        return self.columns[name]

    def row(self, index: int) -> dict[str, float]:
        return {name: float(values[index]) for name, values in self.columns.items()}
