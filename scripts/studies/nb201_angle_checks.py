"""Checks on the angle of NAS-Bench-201 supernets that need their checkpoints (issue 29):

- the Kendall tau against CIFAR-10 test accuracy over all 15,625 architectures and over the 15,284
  with a surviving path (the 341 whose every path is cut tie at angle 0), per saved epoch;
- the size-proxy question: the tau of the angle against the architectures' parameter count
  (``params_cifar10_M`` of the benchmark table), over all and over the connected ones, and against
  the convolution weight on the live edges (a post-hoc, path-aware size: 9 per 3x3 and 1 per 1x1
  convolution on an edge that lies on a surviving input-to-output path; ``live_conv_weight``);
- the stop on ranking stability (``common.stability.stop_epoch``: tau between consecutive epochs'
  angle rankings of all 15,625 >= threshold for ``patience`` epochs) and whether the search result
  changes there: the architecture ranked first by angle over the whole space (ties in index order)
  and the mean test accuracy of the top 10, at the stop and at the last epoch.

    python scripts/studies/nb201_angle_checks.py RUN_DIR [RUN_DIR ...] --out DIR [--label NAME=RUN_DIR]

A RUN_DIR is a supernet run (``checkpoints/epoch_0000.pt`` and later ``epoch_*.pt``) or a
training-free pair (``checkpoints/init_a.pt`` and ``init_b.pt``: one "epoch", no stop). Nothing is
written to the run directories. Writes ``DIR/checks.md`` and ``DIR/checks.csv``; the statistics over
supernets are ``common.statistics.summary`` (sample SD, t-interval; the supernets are the units).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # python scripts/studies/X.py from anywhere

from common.checkpoint import atomic_write_text  # noqa: E402
from common.cli import ArgumentParser, run  # noqa: E402
from common.errors import UserError  # noqa: E402
from common.report import markdown_table, write_csv  # noqa: E402
from common.stability import stop_epoch  # noqa: E402
from common.statistics import kendall_tau, paired_difference, summary  # noqa: E402
from nas_bench_201.angles import all_angles, angles_by_epoch  # noqa: E402
from nas_bench_201.benchmark import SHIPPED_TABLE, BenchmarkTable  # noqa: E402
from nas_bench_201.encoding import NUM_EDGES, OPS, PATH_EDGES, all_paths_cut, benchmark_archs, surviving_paths  # noqa: E402

THRESHOLDS = (0.9, 0.95, 0.98)
PATIENCE = 2
TOP = 10


def live_conv_weight(archs) -> np.ndarray:
    """Per architecture: 9 per 3x3 and 1 per 1x1 convolution on an edge of a surviving path (the kernel
    weights a path-aware count of convolution carries; a cell's channels are fixed within a stage)."""
    archs = np.asarray(archs)
    paths = surviving_paths(archs)
    live = np.zeros((len(archs), NUM_EDGES), dtype=bool)
    for p, edges in enumerate(PATH_EDGES):
        live[:, list(edges)] |= paths[:, [p]]
    return (9 * ((archs == OPS.index("nor_conv_3x3")) & live) + ((archs == OPS.index("nor_conv_1x1")) & live)).sum(axis=1)


def angle_series(run_dir: Path) -> list[tuple[int, np.ndarray]]:
    """``[(epoch, angles)]`` of a run: every saved epoch against epoch 0, or the training-free pair."""
    ckpt = run_dir / "checkpoints"
    if (ckpt / "init_a.pt").is_file() and (ckpt / "init_b.pt").is_file():
        return [(0, all_angles(ckpt / "init_a.pt", ckpt / "init_b.pt"))]
    series = list(angles_by_epoch(run_dir)) if (ckpt / "epoch_0000.pt").is_file() else []
    if not series:
        raise UserError(f"{run_dir}: neither epoch checkpoints nor a training-free pair")
    return series


def measure(run_dir: Path, truth: np.ndarray, params: np.ndarray, alive: np.ndarray) -> dict[int, dict]:
    archs, result, previous = benchmark_archs(), {}, None
    conv = live_conv_weight(archs)
    for epoch, angles in angle_series(run_dir):
        order = np.argsort(-angles, kind="stable")
        result[epoch] = {
            "tau_all": kendall_tau(angles, truth), "tau_connected": kendall_tau(angles[alive], truth[alive]),
            "tau_params": kendall_tau(angles, params), "tau_params_connected": kendall_tau(angles[alive], params[alive]),
            "tau_live_conv": kendall_tau(angles, conv),
            "consecutive": None if previous is None else kendall_tau(angles, previous),
            "top1": int(order[0]), "top1_test": float(truth[order[0]]), "top10_test": float(truth[order[:TOP]].mean()),
        }
        previous = angles
    return result


def main(argv=None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--label", action="append", default=[], metavar="NAME=RUN_DIR", help="a run with a name")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    runs = [(path.name, path) for path in args.runs]
    for item in args.label:
        name, _, path = item.partition("=")
        runs.append((name, Path(path)))
    if not runs:
        raise UserError("give at least one run directory")
    table = BenchmarkTable.load(SHIPPED_TABLE)
    truth, params = table.metric("cifar10_test"), table.metric("params_cifar10_M")
    alive = ~all_paths_cut(benchmark_archs())
    measures = {name: measure(path, truth, params, alive) for name, path in runs}

    csv_rows, per_run, stops = [], [], []
    for name, per in measures.items():
        last = max(per)
        for epoch, m in sorted(per.items()):
            csv_rows.append([name, epoch, *(m[k] for k in ("tau_all", "tau_connected", "tau_params", "tau_params_connected",
                                                            "tau_live_conv", "consecutive", "top1", "top1_test", "top10_test"))])
        m = per[last]
        per_run.append([name, last, f"{m['tau_all']:.4f}", f"{m['tau_connected']:.4f}", f"{m['tau_all'] - m['tau_connected']:+.4f}",
                        f"{m['tau_params']:.4f}", f"{m['tau_params_connected']:.4f}", f"{m['tau_live_conv']:.4f}", f"{m['top1_test']:.2f}", f"{m['top10_test']:.2f}"])
        for threshold in THRESHOLDS if len(per) > 1 else ():
            stop = stop_epoch({e: v["consecutive"] for e, v in per.items()}, threshold, PATIENCE)
            if stop is None:
                stops.append([f"{threshold:.2f}", name, last, "no stop", "", "", "", "", ""])
                continue
            s = per[stop]
            stops.append([f"{threshold:.2f}", name, last, stop, f"{m['tau_all'] - s['tau_all']:+.4f}",
                          "same" if s["top1"] == m["top1"] else f"#{s['top1']} -> #{m['top1']}",
                          f"{s['top1_test']:.2f} / {m['top1_test']:.2f}", f"{s['top10_test']:.2f} / {m['top10_test']:.2f}",
                          f"{m['top10_test'] - s['top10_test']:+.2f}"])
    final = {name: per[max(per)] for name, per in measures.items()}
    gap = paired_difference([v["tau_connected"] for v in final.values()], [v["tau_all"] for v in final.values()])
    conv = live_conv_weight(benchmark_archs())
    lines = ["# Angle checks from checkpoints", "",
             f"Runs: {', '.join(f'`{name}` ({path})' for name, path in runs)}.", "",
             "## Tau over all 15,625 and over the 15,284 with a path; the angle against the parameter count", "",
             "At the last saved epoch (training-free pairs: the two initialisations). The parameter count "
             f"(`params_cifar10_M`) itself ranks CIFAR-10 at tau {kendall_tau(params, truth):.4f} over all 15,625 and "
             f"{kendall_tau(params[alive], truth[alive]):.4f} over the 15,284 with a path; the convolution weight on "
             f"live edges (9 per 3x3, 1 per 1x1 on a surviving path; post hoc) at {kendall_tau(conv, truth):.4f}, and it "
             f"agrees with the parameter count at tau {kendall_tau(conv, params):.4f}.", "",
             markdown_table(["run", "epoch", "tau, all 15,625", "tau, 15,284 with a path", "all minus with a path",
                             "tau vs params, all", "tau vs params, with a path", "tau vs live conv weight, all",
                             "top-1 by angle: test (%)",
                             "top-10 by angle: mean test (%)"], per_run), "",
             f"Over these {len(final)} runs (the units), tau over all minus tau over the 15,284 with a path: {gap.summary.text(4)}; "
             f"tau of the angle vs params over all: {summary([v['tau_params'] for v in final.values()]).text(4)}; vs the "
             f"live conv weight: {summary([v['tau_live_conv'] for v in final.values()]).text(4)}.", ""]
    if stops:
        lines += [f"## The stop on ranking stability (patience {PATIENCE}) and the search result at the stop", "",
                  "Tau between consecutive saved epochs' angle rankings of all 15,625 (as `train.stability` with archs >= "
                  "15,625); the search result is the architecture ranked first by angle over the whole space (ties in "
                  "index order) and the top 10's mean test accuracy, at the stop against the last epoch.", "",
                  markdown_table(["threshold", "run", "epochs run", "stop at epoch", "final tau minus tau at the stop",
                                  "top-1 architecture (stop -> final)", "top-1 test (%): stop / final",
                                  "top-10 mean test (%): stop / final", "top-10: final minus stop"], stops), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "checks.csv", ["run", "epoch", "tau_all", "tau_connected", "tau_params", "tau_params_connected",
                                        "tau_live_conv", "consecutive", "top1_index", "top1_test", "top10_test"], csv_rows)
    atomic_write_text(args.out / "checks.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(run(main))
