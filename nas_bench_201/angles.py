"""Stage 2: the angle of every NAS-Bench-201 architecture from two checkpoints of one supernet.

    python -m nas_bench_201.angles --init CKPT0 --trained CKPT --out FILE.csv

writes one row per architecture, ``index,arch_str,angle``, in benchmark index order (all 15,625).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from common.checkpoint import atomic_write_text
from common.cli import ArgumentParser, output_file, run, setup_logging

from .angle import scorer_from_checkpoints
from .encoding import benchmark_archs, to_str


def all_angles(init: Path, trained: Path, weights: str = "all") -> np.ndarray:
    """Angles of all architectures, indexed by benchmark index."""
    return scorer_from_checkpoints(init, trained, weights)(benchmark_archs())


def angles_by_epoch(run_dir: Path, init: Optional[Path] = None, weights: str = "all") -> Iterator[tuple[int, np.ndarray]]:
    """``(epoch, angles of all architectures)`` for every saved ``epoch_NNNN.pt`` of a supernet run after
    epoch 0, each against ``init`` (default: the run's ``epoch_0000.pt``), in epoch order."""
    checkpoints = Path(run_dir) / "checkpoints"
    init = checkpoints / "epoch_0000.pt" if init is None else init
    for path in sorted(checkpoints.glob("epoch_[0-9][0-9][0-9][0-9].pt")):
        epoch = int(path.stem.split("_")[1])
        if epoch > 0:
            yield epoch, all_angles(init, path, weights)


def write_angles_csv(path: Path, angles: np.ndarray) -> None:
    lines = ["index,arch_str,angle"]
    lines += [f"{index},{to_str(arch)},{angle!r}" for index, (arch, angle) in
              enumerate(zip(benchmark_archs(), angles.tolist()))]
    atomic_write_text(Path(path), "\n".join(lines) + "\n")


def main(argv=None) -> None:
    parser = ArgumentParser(prog="python -m nas_bench_201.angles", description=__doc__)
    parser.add_argument("--init", required=True, help="checkpoint of the initial weights (epoch_0000.pt)")
    parser.add_argument("--trained", required=True, help="checkpoint of the trained weights (last.pt)")
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    out = output_file(args.out, "--out")
    setup_logging()
    write_angles_csv(out, all_angles(Path(args.init), Path(args.trained)))


if __name__ == "__main__":
    sys.exit(run(main))
