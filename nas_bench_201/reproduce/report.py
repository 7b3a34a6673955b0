"""Report rendering of a study: ``report.md`` (tables in the paper's layout beside the paper's numbers,
with scale and seeds), the CSVs behind them and PNG plots. ``StudyReport`` is mixed into the runner
and reads its ``rc``, ``methods``, ``records`` (one per search) and ``taus`` (one per supernet)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from common.checkpoint import atomic_write_text
from common.config import to_dict
from common.correlation import correlate
from common.report import bar_plot, line_plot, markdown_table, mean_std, scatter_panels, write_csv
from common.stability import stop_epoch

from ..benchmark import DATASETS
from ..space import NUM_ARCHS
from .config import tau_subset

DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16": "ImageNet16-120"}


@lru_cache(maxsize=1)
def paper() -> dict:
    """The paper's numbers (``paper.yaml``): titles, search results and taus per experiment."""
    return yaml.safe_load((Path(__file__).resolve().parent / "paper.yaml").read_text())


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (reports stay portable)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def training_curve(run_dir: str) -> dict[int, dict[str, float]]:
    """Per epoch of a supernet run, from its TensorBoard scalars: mean loss, accuracy on its own
    labels (sampled paths, as trained) and images/s."""
    tb = Path(run_dir) / "tb"
    if not run_dir or not tb.is_dir():
        return {}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tb))
    events.Reload()
    curve: dict[int, dict[str, float]] = {}
    for tag in ("epoch/loss", "epoch/train_acc", "epoch/images_per_s"):
        if tag in events.Tags().get("scalars", []):
            for event in events.Scalars(tag):  # a resumed run logs an epoch again: the last value wins
                curve.setdefault(int(event.step), {})[tag.split("/")[1]] = float(event.value)
    return curve


class StudyReport:
    def scatter(self, dataset: str, name: str, scores: np.ndarray) -> None:
        alive = scores > 0
        scatter_panels([{"x": scores[alive], "y": self.table.metric(f"{d}_test")[alive], "ylabel": f"{d}_test (%)",
                         "title": f"{self.label(name)}: tau {correlate(scores, self.table.metric(f'{d}_test')).kendall_tau:.3f}"}
                        for d in DATASETS], self.out / f"angle_scatter_{dataset}_{name}.png",
                       xlabel=f"angle (rad), supernet trained on {dataset}; all-cut archs omitted")

    def label(self, name: str) -> str:
        return self.methods[name].label or name

    def write_report(self) -> None:
        rc, out = self.rc, self.out
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "search.csv", ["dataset", "method", "train_seed", "search_seed", "arch_str", "index", "score",
                                       "evaluated", "valid", "test", "seconds"],
                  [[r[k] for k in ("dataset", "method", "train_seed", "search_seed", "arch_str", "index", "score",
                                   "evaluated", "valid", "test", "seconds")] for r in self.records])
        tau_columns = ["dataset", "method", "train_seed", "score", "labels", "num_classes", "tau", "n", "tau_se",
                       "tau_subset", "n_subset", "angle_tau_subset", "accuracy_se", "prepare_seconds", "seconds", "run_dir"]
        write_csv(out / "tau.csv", tau_columns, [[t.get(k) for k in tau_columns] for t in self.taus])
        atomic_write_text(out / "results.json", json.dumps({"config": to_dict(rc), "preset": self.preset,
                                                             "search": self.records, "tau": self.taus}, indent=2))
        lines = [f"# {paper()['titles'][rc.experiment]}", "",
                 f"Preset `{self.preset}` (`{_shown(self.config_path)}`). {rc.scale}".strip(), "",
                 f"Train seeds {rc.train_seeds}, search seeds {rc.search_seeds}: each cell is mean+-std over the "
                 f"{len(rc.train_seeds) * len(rc.search_seeds)} (train seed, search seed) runs. Accuracies are the "
                 "NAS-Bench-201 200-epoch accuracies (%) of the architecture each search returns; tau is Kendall's "
                 "tau-b of the score against the benchmark's test accuracy.", ""]
        lines += self.search_section() + self.tau_section() + self.extra_sections()
        atomic_write_text(out / "report.md", "\n".join(lines) + "\n")

    def cell(self, dataset: str, name: str, key: str) -> str:
        return mean_std([r[key] for r in self.records if r["dataset"] == dataset and r["method"] == name])

    def search_section(self) -> list[str]:
        if not self.records:
            return []
        rc = self.rc
        paper_rows = paper()["search"].get(rc.experiment, {})
        header, rows = ["method", "score", "labels", "evaluated / search"], []
        both = rc.experiment == "table12"
        for d in rc.datasets:
            header += [f"{DATASET_NAMES[d]} valid", f"{DATASET_NAMES[d]} test"] if both else [f"{DATASET_NAMES[d]} test"]
        if paper_rows:
            header += ["paper " + ("valid / test" if both else "test") + f" ({DATASET_NAMES[d]})" for d in rc.datasets]
        for name in self.methods:
            mine = [r for r in self.records if r["method"] == name]
            if not mine:
                continue
            taus = [t for t in self.taus if t["method"] == name]
            row = [self.label(name), taus[0]["score"] if taus else "", taus[0]["labels"] if taus else "",
                   int(np.mean([r["evaluated"] for r in mine]))]
            for d in rc.datasets:
                row += [self.cell(d, name, "valid"), self.cell(d, name, "test")] if both else [self.cell(d, name, "test")]
            for d in rc.datasets if paper_rows else ():
                valid, test = paper_rows.get(name, {}).get(d, (None, None))
                row.append(f"{valid} / {test}" if both and valid else (test or ""))
            rows.append(row)
        return ["## Search results (accuracy of the architecture found)", "", markdown_table(header, rows), "",
                "Per run: `search.csv` (architecture, benchmark index, score, time).", ""]

    def tau_section(self) -> list[str]:
        rc = self.rc
        if not self.taus:
            return []
        paper_tau = paper()["tau"].get(rc.experiment, {})
        n_subset = len(tau_subset(rc.tau_archs, rc.tau_seed))

        def common(t: dict, key: str) -> float | None:  # results kept from a study over another subset: none
            return t[key] if t["n_subset"] == n_subset else None

        subset = n_subset < NUM_ARCHS  # costly scores on a subset: show every method on it too
        header = ["method", "score"]
        for d in rc.datasets:
            header += [f"{DATASET_NAMES[d]} tau (n)"]
            header += [f"{DATASET_NAMES[d]} tau, common subset",
                       f"{DATASET_NAMES[d]} angle of the same supernet, common subset"] if subset else []
        header += [f"paper ({DATASET_NAMES[d]})" for d in rc.datasets] if paper_tau else []
        rows = []
        bars: dict[str, dict[str, float]] = {DATASET_NAMES[d]: {} for d in rc.datasets}
        for name in self.methods:
            mine = [t for t in self.taus if t["method"] == name]
            if not mine:
                continue
            row = [self.label(name), mine[0]["score"]]
            for d in rc.datasets:
                here = [t for t in mine if t["dataset"] == d]
                ns = sorted({t["n"] for t in here})
                row += [f"{mean_std([t['tau'] for t in here], 4)} ({', '.join(map(str, ns))})" if here else ""]
                row += [mean_std([common(t, "tau_subset") for t in here], 4),
                        mean_std([common(t, "angle_tau_subset") for t in here], 4)] if subset else []
                if here:
                    bars[DATASET_NAMES[d]][self.label(name)] = float(np.mean([t["tau"] for t in here]))
            row += [paper_tau.get(name, {}).get(d, "") for d in rc.datasets] if paper_tau else []
            rows.append(row)
        bar_plot(bars, self.out / "tau_per_method.png", "Kendall tau", "Kendall tau per method")
        note = (f"The common subset is {n_subset} architectures drawn with seed {rc.tau_seed}; angle taus are over "
                "the whole space. " if subset else "Over all 15,625 architectures. ")
        if any(t["n_subset"] != n_subset for t in self.taus):
            note += ("Supernets kept from an earlier study over another subset size are left out of the common-subset "
                     "columns. ")
        if len(rc.train_seeds) > 1:
            note += "Cells with several supernets give mean+-std over the train seeds (population std). "
        per_seed = ["supernet", "score", "tau", "n", "tau s.e. (independent pairs)", "val_acc: s.e. of one accuracy (points)",
                    "val_acc: validation / BN images", "prepare (s)", "scoring (s)"]
        per_rows = [[f"{t['dataset']} {self.label(t['method'])} s{t['train_seed']}", t["score"], f"{t['tau']:.4f}", t["n"],
                     f"{t['tau_se']:.4f}" if t.get("tau_se") else "",
                     f"{t['accuracy_se']:.2f}" if t.get("accuracy_se") is not None else "",
                     f"{t['valid_images']} / {t['bn_images']}" if t.get("valid_images") else "",
                     f"{t['prepare_seconds']:.0f}" if t.get("prepare_seconds") is not None else "",
                     f"{t['seconds']:.1f}" if t.get("seconds") is not None else ""] for t in self.taus]
        return ["## Ranking correlation (Kendall tau vs benchmark test accuracy)", "", markdown_table(header, rows), "",
                note + "Per supernet: `tau.csv`. Plot: `tau_per_method.png`.", "",
                "### Per supernet", "", markdown_table(per_seed, per_rows), "",
                "The tau s.e. is sqrt(2(2n+5)/(9n(n-1))), the spread of tau over n architectures by sampling alone; "
                "the s.e. of one accuracy is the binomial sqrt(p(1-p)/n_valid), averaged over the scored "
                "architectures. Prepare: training (0 when reused) or initialisation; scoring: the tau's scores.", ""]

    def extra_sections(self) -> list[str]:
        lines: list[str] = []
        transfer = [t for t in self.taus if "transfer" in t]
        if transfer:
            header = ["supernet trained on", "method"] + [f"tau vs {DATASET_NAMES[d]} test" for d in DATASETS]
            rows = [[DATASET_NAMES[t["dataset"]], self.label(t["method"]) + f" (seed {t['train_seed']})"]
                    + [t["transfer"][d] for d in DATASETS] for t in transfer]
            write_csv(self.out / "transfer.csv", ["dataset", "method", "train_seed", *DATASETS],
                      [[t["dataset"], t["method"], t["train_seed"], *(t["transfer"][d] for d in DATASETS)] for t in transfer])
            lines += ["## Transfer: one supernet's angle ranking against all three datasets", "",
                      markdown_table(header, rows), ""]
        epochs = [t for t in self.taus if t.get("epochs")]
        if epochs:
            lines += self.epochs_section(epochs)
        lines += self.training_section()
        if self.rc.class_range is not None and self.taus:
            panels_acc, panels_tau, rows = [], [], []
            for d in self.rc.datasets:
                counts = [int(n) for n in self.methods if any(t["method"] == n and t["dataset"] == d for t in self.taus)]
                acc = [np.mean([r["test"] for r in self.records if r["method"] == str(n) and r["dataset"] == d] or [np.nan]) for n in counts]
                tau = [np.mean([t["tau"] for t in self.taus if t["method"] == str(n) and t["dataset"] == d]) for n in counts]
                real = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}[d]
                panels_acc.append((DATASET_NAMES[d], (counts, acc), real))
                panels_tau.append((DATASET_NAMES[d], (counts, tau), real))
                rows += [[DATASET_NAMES[d], n, f"{a:.2f}", f"{t:.4f}"] for n, a, t in zip(counts, acc, tau)]
            line_plot([{"title": "(a) test accuracy of the architecture found", "xlabel": "random-label classes",
                        "ylabel": "test accuracy (%)", "series": {name: s for name, s, _ in panels_acc},
                        "marks": {name: real for name, _, real in panels_acc}},
                       {"title": "(b) Kendall tau", "xlabel": "random-label classes", "ylabel": "Kendall tau",
                        "series": {name: s for name, s, _ in panels_tau}, "marks": {name: real for name, _, real in panels_tau}}],
                      self.out / "figure1.png")
            write_csv(self.out / "figure1.csv", ["dataset", "num_classes", "test_acc", "tau"], rows)
            lines += ["## Figure 1", "", markdown_table(["dataset", "classes", "test acc (%)", "tau"], rows), "",
                      "![Figure 1](figure1.png) (dotted: the dataset's real number of classes)", ""]
        scatters = sorted(p.name for p in self.out.glob("angle_scatter_*.png"))
        lines += [f"![angle vs accuracy]({name})" for name in scatters]
        return lines



    def epochs_section(self, epochs: list[dict]) -> list[str]:
        """Tau of the angle at every saved epoch against the benchmark and against the previous epoch's
        ranking (stability), and what a stop on stability would have saved."""
        rc, csv_rows = self.rc, []
        series_bench, series_stable = {}, {}
        for t in epochs:
            per = {int(e): v for e, v in t["epochs"].items()}
            xs = sorted(per)
            name = f"{t['dataset']} {self.label(t['method'])} s{t['train_seed']}"
            series_bench[name] = (xs, [per[e][t["dataset"]] for e in xs])
            stable = [e for e in xs if per[e].get("consecutive") is not None]
            series_stable[name] = (stable, [per[e]["consecutive"] for e in stable])
            for e in xs:
                csv_rows.append([t["dataset"], t["method"], t["train_seed"], e, *(per[e][d] for d in DATASETS),
                                 per[e].get("consecutive")])
        write_csv(self.out / "tau_epochs.csv", ["dataset", "method", "train_seed", "epoch", *DATASETS, "consecutive"], csv_rows)
        line_plot([{"title": "tau of the angle vs benchmark test accuracy", "xlabel": "epoch", "ylabel": "Kendall tau",
                    "series": series_bench},
                   {"title": "ranking stability: tau vs previous epoch's angle ranking", "xlabel": "epoch",
                    "ylabel": "Kendall tau", "series": series_stable}], self.out / "tau_epochs.png")
        fmt = lambda v: "" if v is None else f"{v:.4f}"  # noqa: E731
        header = ["supernet", "epoch"] + [f"tau vs {DATASET_NAMES[d]}" for d in DATASETS] + ["tau vs previous epoch"]
        lines = ["## Kendall tau of the angle during training", "",
                 "Every saved checkpoint scored against the initial weights (all 15,625 architectures); the last "
                 "column is the tau between this epoch's and the previous saved epoch's angle rankings (needs no "
                 "benchmark):", "",
                 markdown_table(header, [[f"{r[0]} {self.label(r[1])} s{r[2]}", r[3], *(fmt(v) for v in r[4:])] for r in csv_rows]), "",
                 "![tau during training](tau_epochs.png)", ""]
        rows = []
        for threshold in rc.stability_thresholds:
            for t in epochs:
                per = {int(e): v for e, v in t["epochs"].items()}
                last, name = max(per), f"{t['dataset']} {self.label(t['method'])} s{t['train_seed']}"
                stop = stop_epoch({e: v.get("consecutive") for e, v in per.items()}, threshold, rc.stability_patience)
                final = per[last][t["dataset"]]
                if stop is None:
                    rows.append([f"{threshold:.2f}", name, last, "no stop", 0, f"{final:.4f}", "", ""])
                else:
                    at = per[stop][t["dataset"]]
                    rows.append([f"{threshold:.2f}", name, last, stop, last - stop, f"{final:.4f}", f"{at:.4f}", f"{final - at:+.4f}"])
        lines += [f"### A stop on ranking stability (patience {rc.stability_patience})", "",
                  "Simulated on the per-epoch angles above: training stops at the first epoch whose angle ranking has "
                  f"agreed with the previous epoch's with tau >= threshold for {rc.stability_patience} epochs in a row "
                  "(`train.stability` does this during training).", "",
                  markdown_table(["threshold", "supernet", "epochs run", "stop at epoch", "epochs saved", "final tau",
                                  "tau at the stop", "final tau minus tau at the stop"], rows), ""]
        return lines

    def training_section(self) -> list[str]:
        """Loss and accuracy on its own labels per epoch of every trained supernet, and for val_acc
        methods the mean held-out accuracy of the scored architectures (the final supernet)."""
        rows, seen = [], set()
        for t in self.taus:
            if not t.get("run_dir") or t["run_dir"] in seen or "training_free" in Path(t["run_dir"]).name:
                continue
            seen.add(t["run_dir"])
            curve = {int(e): v for e, v in t["training"].items()} if "training" in t else training_curve(t["run_dir"])
            for epoch in sorted(curve):
                c = curve[epoch]
                rows.append([f"{t['dataset']} {self.label(t['method'])} ({t['labels']}) s{t['train_seed']}", epoch,
                             f"{c.get('loss', float('nan')):.4f}",
                             f"{c.get('train_acc', float('nan')):.2f}", f"{c.get('images_per_s', float('nan')):.0f}"])
        if not rows:
            return []
        lines = ["## Supernet training", "",
                 "Per epoch (TensorBoard `epoch/*`): mean loss and accuracy on the run's own labels (true or random) "
                 "of the sampled paths as trained, and throughput on this machine:", "",
                 markdown_table(["supernet (first method using it, labels, seed)", "epoch", "loss", "accuracy on its labels (%)", "images/s"], rows), ""]
        held = [t for t in self.taus if t.get("mean_score") is not None and t["score"] == "val_acc"]
        if held:
            lines += ["Held-out accuracy of the final supernets (val_acc: inherited weights, BN re-calibrated), mean over "
                      "the scored architectures: " + "; ".join(
                          f"{self.label(t['method'])} s{t['train_seed']}: {t['mean_score']:.2f}% (n={t['n']}, "
                          f"range {t['min_score']:.2f}-{t['max_score']:.2f})" for t in held) + ".", ""]
        return lines
