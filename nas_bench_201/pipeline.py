"""All RLNAS stages on NAS-Bench-201: train the supernet, rank every architecture by angle, search,
and (when a benchmark table is configured or found) correlate with the true accuracies.

    python -m nas_bench_201.pipeline --config CFG [--set k=v ...] [--run-dir DIR]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from common.cli import parse_stage, run, stage_parser
from common.training import train_supernet

from .angle import scorer_from_checkpoints
from .angles import write_angles_csv
from .config import NB201Config
from .correlation import correlation
from .search import checkpoints, load_table, search
from .space import NAME, benchmark_archs, to_str
from .eps import build_training_supernet


def summary(cfg: NB201Config, run_dir: Path, angles: np.ndarray, result: dict, corr: dict | None) -> str:
    lines = [f"\nRLNAS on NAS-Bench-201 ({cfg.data.dataset}, labels: {cfg.labels.mode}), run directory {run_dir}",
             "Top architectures by angle over the whole space:"]
    for index in np.argsort(-angles, kind="stable")[:5]:
        lines.append(f"  {angles[index]:.6f}  #{index:<5d} {to_str(benchmark_archs()[index])}")
    best = result["best"]
    lines.append(f"{cfg.search.strategy} search ({result['evaluated']} scored) found {best['arch_str']} "
                 f"(index {best['index']}, {cfg.search.score} {best['score']:.6f})")
    if "benchmark" in best:
        accuracies = ", ".join(f"{k} {v:.2f}" for k, v in best["benchmark"].items() if k.endswith(("_valid", "_test")))
        lines.append(f"  its NAS-Bench-201 accuracies (%): {accuracies}")
    if corr is not None:
        lines.append(f"Kendall tau (angle vs {corr['metric']}, all {corr['n']} architectures): {corr['kendall_tau']:.4f}")
    if ("benchmark" in best or corr is not None) and cfg.data.dataset != cfg.benchmark.dataset:
        lines.append(f"(accuracies and tau are NAS-Bench-201's own {cfg.benchmark.dataset} numbers: they measure this "
                     f"search only if the {cfg.data.dataset} training images are {cfg.benchmark.dataset}'s)")
    if corr is None:
        lines.append("No benchmark table found (set RLNAS_NB201_TABLE or benchmark.table) for accuracies and tau.")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = stage_parser("python -m nas_bench_201.pipeline", __doc__)
    _, cfg, run_dir = parse_stage(parser, NB201Config, argv)
    train_supernet(cfg, NAME, lambda num_classes: build_training_supernet(cfg, num_classes), run_dir)
    scorer = scorer_from_checkpoints(*checkpoints(cfg.search, run_dir), cfg.angle.weights)
    angles = scorer(benchmark_archs())
    write_angles_csv(run_dir / "angles.csv", angles)
    table = load_table(cfg)
    result = search(cfg, run_dir, scorer if cfg.search.score == "angle" else None, table)
    corr = correlation(cfg, run_dir, table, angles) if table is not None else None
    print(summary(cfg, run_dir, angles, result, corr))


if __name__ == "__main__":
    sys.exit(run(main))
