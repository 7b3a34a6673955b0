"""Make the compact benchmark table from the official NAS-Bench-201 v1.1 file.

    python -m nas_bench_201.convert_benchmark --pth NAS-Bench-201-v1_1-096897.pth --out nb201_accuracies.csv

writes one row per benchmark index (columns ``benchmark.COLUMNS``): the 200-epoch accuracies of the
last epoch, averaged over seeds (percent), and the params/FLOPs (M), as the ``nas-bench-201`` API
reports them. The file is read with ``torch.load(weights_only=True)``: plain data and numpy scalars
and arrays only, never arbitrary objects. ``--out`` ending in ``.npz`` writes the compressed archive
the project ships (``nas_bench_201/nb201_accuracies.npz``, byte-reproducible); ``--table FILE``
instead of ``--pth`` converts an existing table (CSV or ``.npz``) into the other format:

    python -m nas_bench_201.convert_benchmark --table nb201_accuracies.csv --out nas_bench_201/nb201_accuracies.npz
"""
from __future__ import annotations

import csv
import logging
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import torch

from common.checkpoint import atomic_write_text
from common.cli import ArgumentParser, output_file, run, setup_logging
from common.errors import UserError

from .benchmark import ACCURACY_COLUMNS, COLUMNS, BenchmarkTable
from .encoding import NUM_ARCHS, arch_of, to_str

logger = logging.getLogger("rlnas")

# Table column -> (dataset, set) of ArchResults.get_metrics; then the cost columns' datasets.
METRICS = {
    "cifar10_valid": ("cifar10-valid", "x-valid"),
    "cifar10_test": ("cifar10", "ori-test"),
    "cifar100_valid": ("cifar100", "x-valid"),
    "cifar100_test": ("cifar100", "x-test"),
    "imagenet16_valid": ("ImageNet16-120", "x-valid"),
    "imagenet16_test": ("ImageNet16-120", "x-test"),
}
COST_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
KEYS = ("meta_archs", "arch2infos", "evaluated_indexes")


def _numpy_globals() -> list:
    """numpy scalars, dtypes and arrays (plain data), under their numpy 1.x and 2.x module paths."""
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    allowed = [np.dtype, np.ndarray] + sorted({type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDG"}, key=str)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed += [(multiarray.scalar, f"{module}.scalar"), (multiarray._reconstruct, f"{module}._reconstruct")]
    return allowed


def _refused_globals(path: Path, message: str) -> list[str]:
    """The globals ``weights_only`` refuses: all of them for a zip file, else the first one."""
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # legacy (non-zip) format: only the error message names one
        names = []
    return sorted(names) or re.findall(r"GLOBAL (\S+)", message)[:1]


def load_benchmark(path: Path) -> dict:
    """The benchmark dict, loaded safely; anything else is a UserError."""
    if not path.is_file():
        raise UserError(f"benchmark file not found: {path}")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # not a torch file, truncated, or holding objects weights_only refuses
        message = str(error)
        if isinstance(error, pickle.UnpicklingError) and "GLOBAL " in message:
            refused = ", ".join(_refused_globals(path, message))
            raise UserError(f"{path}: refused to load, the file holds objects other than data ({refused})") from None
        lines = [line.strip() for line in message.split("WeightsUnpickler error:")[-1].splitlines() if line.strip()]
        reason = f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__
        raise UserError(f"{path}: not a readable torch file ({reason})") from None
    if not isinstance(data, dict) or any(key not in data for key in KEYS):
        raise UserError(f"{path}: not a NAS-Bench-201 benchmark file (expected a dict with keys {', '.join(KEYS)})")
    return data


def check_archs(meta_archs) -> None:
    """The file's index -> architecture mapping must be ours."""
    if not isinstance(meta_archs, (list, tuple)) or len(meta_archs) != NUM_ARCHS:
        count = len(meta_archs) if isinstance(meta_archs, (list, tuple)) else "no list of"
        raise UserError(f"the benchmark file has {count} architectures, expected {NUM_ARCHS}")
    for index, arch_str in enumerate(meta_archs):
        if arch_str != to_str(arch_of(index)):
            raise UserError(f"index {index} is {arch_str} in the benchmark file, {to_str(arch_of(index))} here")


def table_rows(data: dict, arch_results_class, progress: bool = False) -> list[str]:
    """CSV lines (header first) from the benchmark dict, queried through the API's ArchResults."""
    from tqdm import tqdm

    check_archs(data["meta_archs"])
    lines = [",".join(COLUMNS)]
    for index in tqdm(range(NUM_ARCHS), desc="architectures", disable=not progress, leave=False):
        try:
            # As NASBench201API.query_meta_info_by_index(index, hp='200'), without its deep copies.
            result = arch_results_class.create_from_state_dict(data["arch2infos"][index]["full"])
            values = [result.get_metrics(*METRICS[column], is_random=False)["accuracy"]
                      for column in ACCURACY_COLUMNS]
            costs = [result.get_compute_costs(dataset) for dataset in COST_DATASETS]
            values += [cost["params"] for cost in costs] + [cost["flops"] for cost in costs]
            values = [repr(float(value)) for value in values]
        except Exception as error:  # missing dataset, seed or epoch: the file is not the expected benchmark
            raise UserError(f"index {index}: no 200-epoch results in the benchmark file "
                            f"({type(error).__name__}: {str(error)[:100]})") from None
        lines.append(",".join([str(index), data["meta_archs"][index], *values]))
    return lines


def main(argv=None) -> None:
    parser = ArgumentParser(prog="python -m nas_bench_201.convert_benchmark", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pth", help="the official NAS-Bench-201-v1_1-096897.pth")
    source.add_argument("--table", help="an existing table (CSV or .npz) to convert")
    parser.add_argument("--out", required=True, help="table to write: .csv, or .npz for the compressed archive")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    setup_logging()
    out = output_file(args.out, "--out")
    if args.table:
        BenchmarkTable.load(args.table).save(out)
        logger.info("wrote %d architectures to %s", NUM_ARCHS, out)
        return
    try:
        from nas_201_api import ArchResults
    except ImportError:
        raise UserError("reading the benchmark file needs the NAS-Bench-201 API: pip install nas-bench-201") from None
    progress = sys.stderr.isatty()
    if progress:  # on a terminal only: errors stay one line
        logger.info("loading %s (several minutes for the official file)", args.pth)
    lines = table_rows(load_benchmark(Path(args.pth)), ArchResults, progress)
    if out.suffix == ".npz":
        header, *rows = csv.reader(lines)
        BenchmarkTable.from_rows(header, rows, out).save(out)
    else:
        atomic_write_text(out, "\n".join(lines) + "\n")
    logger.info("wrote %d architectures to %s", NUM_ARCHS, out)


if __name__ == "__main__":
    sys.exit(run(main))
