"""Paired comparison of two methods of a NAS-Bench-201 study that differ in one setting, over the
supernet seeds both trained (same data, labels, paths and initial weights within a seed).

    python scripts/studies/nb201_paired.py RESULTS_JSON --pair A_METHOD:B_METHOD [--pair ...] --out DIR

RESULTS_JSON is a study's ``results.json`` (``nas_bench_201.reproduce``); its supernet run
directories must still exist. For every saved epoch of every supernet the angle of all 15,625
architectures is recomputed from the checkpoints and compared with the benchmark's CIFAR-10 test
accuracy: Kendall tau over all of them and over the 15,284 with a surviving path (the 341 whose
every path is cut sit at angle 0), and the mean test accuracy of the top 10 by angle (ties in input
order). Per epoch, the paired differences B - A over the seeds (the independent units) get their
mean, sample SD, 95% t-interval and paired t-test (``common.statistics``); the search's found
architecture (mean over search seeds within a supernet) likewise. Writes ``DIR/paired.md``,
``DIR/paired.csv`` and ``DIR/paired_tau.png``.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # python scripts/studies/X.py from anywhere

from common.checkpoint import atomic_write_text  # noqa: E402
from common.cli import ArgumentParser, run  # noqa: E402
from common.errors import UserError  # noqa: E402
from common.report import line_plot, markdown_table, write_csv  # noqa: E402
from common.statistics import kendall_tau, paired_difference  # noqa: E402
from nas_bench_201.angles import angles_by_epoch  # noqa: E402
from nas_bench_201.benchmark import BenchmarkTable, SHIPPED_TABLE  # noqa: E402
from nas_bench_201.encoding import all_paths_cut, benchmark_archs  # noqa: E402

METRIC = "cifar10_test"
TOP = 10


def epoch_measures(run_dir: Path, truth: np.ndarray, connected: np.ndarray) -> dict[int, dict[str, float]]:
    """``{epoch: {tau_all, tau_connected, top10_test}}`` from a supernet run's saved epochs."""
    result = {}
    for epoch, angles in angles_by_epoch(run_dir) if (run_dir / "checkpoints/epoch_0000.pt").is_file() else ():
        top = np.argsort(-angles, kind="stable")[:TOP]
        result[epoch] = {
            "tau_all": kendall_tau(angles, truth),
            "tau_connected": kendall_tau(angles[connected], truth[connected]),
            "top10_test": float(truth[top].mean()),
        }
    if not result:
        raise UserError(f"{run_dir}: no epoch_0000.pt and later epoch checkpoints (was the run directory removed?)")
    return result


def main(argv=None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument("--pair", action="append", required=True, metavar="A:B", help="two methods of the study")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text())
        taus, searches = results["tau"], results["search"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{args.results}: not a study results.json ({error})") from None
    truth = BenchmarkTable.load(SHIPPED_TABLE).metric(METRIC)
    connected = ~all_paths_cut(benchmark_archs())
    rows, lines, panels = [], [], []
    for pair in args.pair:
        a, _, b = pair.partition(":")
        runs = {(t["method"], t["train_seed"]): Path(t["run_dir"]) for t in taus if t["method"] in (a, b)}
        seeds = sorted({s for m, s in runs if m == a} & {s for m, s in runs if m == b})
        if not b or not seeds:
            raise UserError(f"--pair {pair}: the study has no supernet seed trained by both methods")
        measures = {key: epoch_measures(path, truth, connected) for key, path in runs.items() if key[1] in seeds}
        found = defaultdict(list)
        for entry in searches:
            if (entry["method"], entry["train_seed"]) in measures and entry.get("test") is not None:
                found[entry["method"], entry["train_seed"]].append(float(entry["test"]))
        epochs = sorted(set.intersection(*(set(m) for m in measures.values())))
        lines += [f"## {b} against {a}", "",
                  f"Paired over supernet seeds {seeds} (n={len(seeds)}); differences are {b} minus {a}, with their "
                  "mean, sample SD, 95% t-interval and paired t-test over the seeds.", ""]
        table = []
        for measure, label, digits in (("tau_all", "tau, all 15,625", 4), ("tau_connected", "tau, 15,284 with a path", 4),
                                       ("top10_test", "top-10 by angle, mean test acc (%)", 2)):
            for epoch in epochs:
                values = {m: [measures[m, s][epoch][measure] for s in seeds] for m in (a, b)}
                diff = paired_difference(values[a], values[b])
                table.append([label, epoch, ", ".join(f"{v:.{digits}f}" for v in values[a]),
                              ", ".join(f"{v:.{digits}f}" for v in values[b]), diff.text(digits)])
                for seed, va, vb in zip(seeds, values[a], values[b]):
                    rows.append([measure, epoch, seed, a, va, b, vb])
        if all(found[m, s] for m in (a, b) for s in seeds):
            values = {m: [float(np.mean(found[m, s])) for s in seeds] for m in (a, b)}
            table.append(["found architecture, test acc (%)", epochs[-1], ", ".join(f"{v:.2f}" for v in values[a]),
                          ", ".join(f"{v:.2f}" for v in values[b]), paired_difference(values[a], values[b]).text(2)])
        lines += [markdown_table(["measure", "epoch", f"{a} per seed", f"{b} per seed", f"{b} - {a}"], table), ""]
        panels.append({"title": f"{b} vs {a}: tau over all 15,625", "xlabel": "epoch",
                       "ylabel": f"Kendall tau vs {METRIC}",
                       "series": {f"{m} seed {s}": (epochs, [measures[m, s][e]["tau_all"] for e in epochs])
                                  for m in (a, b) for s in seeds}})
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "paired.csv", ["measure", "epoch", "train_seed", "method_a", "value_a", "method_b", "value_b"], rows)
    line_plot(panels, args.out / "paired_tau.png")
    atomic_write_text(args.out / "paired.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(run(main))
