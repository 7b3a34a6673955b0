"""Stage 4: Kendall tau between the angle and the benchmark accuracy over all 15,625 architectures.

    python -m nas_bench_201.correlation --config CFG [--set k=v ...] [--run-dir DIR] [--epochs]

writes ``DIR/correlation.json`` (``kendall_tau``, ``spearman``, ``n``, ``ties``, the metric and
dataset names, and every configured metric under ``metrics``), ``DIR/angles.csv`` and a scatter
plot of angle against accuracy, ``DIR/correlation.png``. With ``--epochs`` also the tau of the
angle at every saved epoch checkpoint against each dataset's test accuracy (the angle costs almost
nothing, so this shows how many epochs a budget needs): ``DIR/tau_epochs.csv`` and ``.png``.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np

from common.checkpoint import atomic_write_text
from common.cli import parse_stage, run, stage_parser
from common.correlation import correlate
from common.errors import UserError
from common.report import line_plot, scatter_panels, write_csv
from common.search import checkpoints

from .angles import all_angles, angles_by_epoch, write_angles_csv
from .benchmark import DATASETS, BenchmarkTable
from .config import NB201Config
from .space import load_table

logger = logging.getLogger("rlnas")


def correlation(cfg: NB201Config, run_dir: Path, table: BenchmarkTable | None = None,
                angles: np.ndarray | None = None) -> dict:
    """Correlate the angles (computed and written to ``angles.csv`` unless given) with the table."""
    run_dir = Path(run_dir)
    table = table if table is not None else load_table(cfg)
    if table is None:
        raise UserError("no NAS-Bench-201 table (the shipped nas_bench_201/nb201_accuracies.npz is missing): set benchmark.table or RLNAS_NB201_TABLE")
    init, trained = checkpoints(cfg.search, run_dir)
    if angles is None:
        angles = all_angles(init, trained, cfg.angle.weights)
        write_angles_csv(run_dir / "angles.csv", angles)
    metrics = {}
    for metric in cfg.benchmark.metric_columns():
        metrics[metric] = correlate(angles, table.metric(metric), cfg.benchmark.top_k).as_dict()
        logger.info("angle vs %s: Kendall tau-b %.4f, Spearman %.4f (n=%d, %d tied angles)", metric,
                    metrics[metric]["kendall_tau"], metrics[metric]["spearman"], metrics[metric]["n"],
                    metrics[metric]["score_ties"])
    primary = cfg.benchmark.metric_columns()[0]
    document = {
        "score": "angle", "dataset": cfg.benchmark.dataset, "metric": primary,
        "kendall_tau": metrics[primary]["kendall_tau"], "spearman": metrics[primary]["spearman"],
        "n": metrics[primary]["n"], "ties": metrics[primary]["score_ties"],
        "metrics": metrics, "init_checkpoint": str(init), "trained_checkpoint": str(trained),
        "benchmark_table": str(table.path),
    }
    atomic_write_text(run_dir / "correlation.json", json.dumps(document, indent=2))
    # Architectures with every path cut sit alone at angle 0; plotting them would squash the rest.
    alive = angles > 0
    shown = angles[alive]
    best = int(np.argmax(shown)) if len(shown) else None
    xlabel = f"angle (rad); {int((~alive).sum())} all-cut archs (angle 0) omitted"
    scatter_panels([{"x": shown, "y": table.metric(m)[alive], "ylabel": f"{m} (%)", "highlight": best,
                     "title": f"{m}: tau {metrics[m]['kendall_tau']:.3f}"} for m in metrics],
                   run_dir / "correlation.png", xlabel=xlabel)
    return document


def tau_by_epoch(run_dir: Path, init: Path, table: BenchmarkTable) -> dict[int, dict[str, float]]:
    """Kendall tau of the angle at every saved ``epoch_NNNN.pt`` (epoch 0 excluded: it is the reference)
    against each benchmark dataset's test accuracy: ``{epoch: {dataset: tau}}``."""
    return {epoch: {d: correlate(angles, table.metric(f"{d}_test")).kendall_tau for d in DATASETS}
            for epoch, angles in angles_by_epoch(run_dir, init)}


def write_tau_by_epoch(taus: dict[int, dict[str, float]], out_dir: Path) -> None:
    """``tau_epochs.csv`` and the plot ``tau_epochs.png`` (one line per dataset)."""
    epochs = sorted(taus)
    write_csv(out_dir / "tau_epochs.csv", ["epoch", *DATASETS], [[e, *(taus[e][d] for d in DATASETS)] for e in epochs])
    line_plot([{"title": "Kendall tau of the angle during training", "xlabel": "epoch", "ylabel": "Kendall tau",
                "series": {d: (epochs, [taus[e][d] for e in epochs]) for d in DATASETS}}], out_dir / "tau_epochs.png")


def main(argv=None) -> None:
    parser = stage_parser("python -m nas_bench_201.correlation", __doc__)
    parser.add_argument("--epochs", action="store_true",
                        help="also score every saved epoch checkpoint: tau_epochs.csv and tau_epochs.png")
    args, cfg, run_dir = parse_stage(parser, NB201Config, argv)
    correlation(cfg, run_dir)
    if args.epochs:
        taus = tau_by_epoch(run_dir, checkpoints(cfg.search, run_dir)[0], load_table(cfg))
        write_tau_by_epoch(taus, run_dir)
        for epoch, values in sorted(taus.items()):
            logger.info("epoch %d: tau %s", epoch, ", ".join(f"{d} {v:.4f}" for d, v in values.items()))


if __name__ == "__main__":
    sys.exit(run(main))
