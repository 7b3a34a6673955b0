"""Report rendering of a study: ``report.md`` (tables in the paper's layout beside the paper's numbers,
with scale and seeds), the CSVs behind them and PNG plots. ``StudyReport`` is mixed into the runner
and reads its ``rc``, ``methods``, ``records`` (one per search), ``taus`` (one per supernet) and
``table`` (the benchmark).

The statistics (``common.statistics``): the independent units are supernets (train seeds); the
search seeds of one supernet are averaged within it first. A cell over several supernets is the
mean, the sample SD (ddof 1) and the Student-t 95% interval of the mean. A tau over all 15,625
architectures samples nothing and gets no sampling error; it is also given over the 15,284 with a
surviving path (the 341 whose every path is cut tie at angle 0), recomputed from the supernet's
checkpoints while they exist (kept in ``results.json`` as ``tau_connected``). A tau over a sampled
subset gets a percentile bootstrap interval over its architectures (``tau_low``, ``tau_high``) when
the scores are at hand (the val_acc memo files, the proxies' memo).
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from common.checkpoint import atomic_write_text
from common.config import to_dict
from common.correlation import correlate
from common.report import UNITS_CELL, bar_plot, line_plot, markdown_table, mean_sd_ci, scatter_panels, write_csv
from common.stability import stop_epoch
from common.statistics import kendall_tau, summary, tau_interval

from ..benchmark import DATASETS
from ..encoding import all_paths_cut
from ..space import NUM_ARCHS, benchmark_archs, to_str
from .config import subset_order, tau_subset

logger = logging.getLogger("rlnas")
CONNECTED = "15,284 with a path"  # the architectures with at least one input-to-output path
TOLERANCE = 1e-9  # a recomputed tau must equal the runner's to this before it is reported beside it


@lru_cache(maxsize=1)
def connected_mask() -> np.ndarray:
    """``(15625,)`` bool: the architectures with a surviving path (not all paths cut)."""
    return ~all_paths_cut(benchmark_archs())

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


def supernet_means(records: list[dict], key: str) -> dict[int, list[float]]:
    """``{train seed: [value per search seed]}`` of one method's search records: the supernet is the unit."""
    per: dict[int, list[float]] = defaultdict(list)
    for r in records:
        if r.get(key) is not None:
            per[r["train_seed"]].append(float(r[key]))
    return dict(per)


def sd_of(values) -> float:
    """The sample SD (ddof 1) over units, nan for fewer than two."""
    values = [v for v in values if v is not None and np.isfinite(v)]
    return summary(values).sd if len(values) > 1 else float("nan")


class StudyReport:
    def scatter(self, dataset: str, name: str, scores: np.ndarray) -> None:
        alive = connected_mask()
        panels = []
        for d in DATASETS:
            truth = self.table.metric(f"{d}_test")
            panels.append({"x": scores[alive], "y": truth[alive], "ylabel": f"{d}_test (%)",
                           "title": f"{self.label(name)}: tau {kendall_tau(scores[alive], truth[alive]):.3f} over the "
                                    f"{CONNECTED} (plotted); {correlate(scores, truth).kendall_tau:.3f} over all 15,625"})
        scatter_panels(panels, self.out / f"angle_scatter_{dataset}_{name}.png",
                       xlabel=f"angle (rad), supernet trained on {dataset}; the 341 all-cut archs (angle 0) not plotted")

    # ------------------------------------------------------------ derived statistics

    def truth(self, dataset: str) -> np.ndarray:
        return self.table.metric(f"{dataset}_test")

    def checkpoints_of(self, t: dict) -> tuple[Path, Path] | None:
        """The two checkpoints a whole-space angle tau was computed from, when they still exist."""
        run_dir = Path(t.get("run_dir") or "")
        method = self.methods.get(t["method"])
        if not t.get("run_dir") or method is None or not (run_dir / "checkpoints").is_dir():
            return None
        if method.training_free:
            pair = run_dir / "checkpoints" / "init_a.pt", run_dir / "checkpoints" / "init_b.pt"
        else:
            from common.training import checkpoint_path

            pair = checkpoint_path(run_dir, 0), checkpoint_path(run_dir, "last")
        return pair if all(Path(p).is_file() for p in pair) else None

    def angle_weights(self, t: dict) -> str:
        method = self.methods[t["method"]]
        return next((a.split("=", 1)[1] for a in [*self.rc.set, *method.set] if a.startswith("angle.weights=")), "all")

    def complete_angle_tau(self, t: dict) -> None:
        """For a tau over all 15,625: the tau over the 15,284 with a path, and the tau of the angle
        against the architectures' parameter count (is the angle a size proxy?), from the checkpoints."""
        if "tau_connected" in t or t["score"] != "angle" or t["n"] != NUM_ARCHS or self.table is None:
            return
        pair = self.checkpoints_of(t)
        if pair is None:
            return
        from ..angle import scorer_from_checkpoints

        angles = scorer_from_checkpoints(*pair, self.angle_weights(t))(benchmark_archs())
        truth, alive = self.truth(t["dataset"]), connected_mask()
        if abs(kendall_tau(angles, truth) - t["tau"]) > TOLERANCE:  # not the checkpoints the tau came from
            logger.warning("%s: the recomputed angle does not give the study's tau; no tau over the %s", t["run_dir"], CONNECTED)
            return
        t["tau_connected"] = kendall_tau(angles[alive], truth[alive])
        t["tau_params"] = kendall_tau(angles, self.table.metric(f"params_{t['dataset']}_M"))

    def score_sources(self, t: dict) -> list[dict]:
        """Candidate ``{arch string: score}`` maps of a subset tau: val_acc memo files (beside the
        supernet, in this report, in ``--scores`` folders) and the scorers this study holds in memory."""
        found, folders = [], []
        if t.get("run_dir"):
            folders.append(Path(t["run_dir"]) / "scores")
        folders += [self.out / "val_acc_scores", *getattr(self, "score_dirs", ())]
        for folder in folders:
            for path in sorted(Path(folder).glob("val_acc-*.json")) if Path(folder).is_dir() else ():
                try:
                    found.append({str(k): float(v) for k, v in json.loads(path.read_text()).items()})
                except (OSError, ValueError, TypeError, AttributeError):
                    continue
        for scorer in getattr(self, "scorers", {}).values():
            cache = getattr(scorer, "cache", None)
            if not isinstance(cache, dict) or not cache:
                continue
            first = next(iter(cache.values()), None)
            if isinstance(first, dict):  # the proxies' memo: {arch: {proxy: value}}
                found.append({k: v[t["score"]] for k, v in cache.items() if t["score"] in v})
            elif first is not None:
                found.append(dict(cache))
        return found

    def complete_subset_tau(self, t: dict) -> None:
        """For a tau over a sampled subset: its percentile bootstrap 95% interval over the architectures,
        and for a search on the subset the architectures tied at the best score."""
        if "tau_low" in t or t["n"] >= NUM_ARCHS or self.table is None:
            return
        order = subset_order(t["n"], self.rc.tau_seed)
        archs = benchmark_archs()
        keys = [to_str(archs[i]) for i in order]
        truth = self.truth(t["dataset"])[order]
        for source in self.score_sources(t):
            if not all(k in source for k in keys):
                continue
            scores = np.array([source[k] for k in keys])
            if abs(kendall_tau(scores, truth) - t["tau"]) > TOLERANCE:
                continue
            interval = tau_interval(scores, truth)
            t["tau_low"], t["tau_high"] = interval.low, interval.high
            best = np.flatnonzero(scores == scores.max())
            t["best_tied"] = [[int(order[i]), float(truth[i])] for i in best]  # benchmark index, test accuracy
            return

    def complete(self) -> None:
        for t in self.taus:
            self.complete_angle_tau(t)
            self.complete_subset_tau(t)

    def label(self, name: str) -> str:
        return self.methods[name].label or name

    def write_report(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.complete()
        atomic_write_text(self.out / "results.json", json.dumps({"config": to_dict(self.rc), "preset": self.preset,
                                                                  "search": self.records, "tau": self.taus}, indent=2))
        self.render()

    def render(self) -> None:
        """Everything but ``results.json``: the CSVs, ``report.md`` and the plots (a kept report can be
        rendered again from its ``results.json``: ``scripts/studies/nb201_rerender.py``)."""
        rc, out = self.rc, self.out
        write_csv(out / "search.csv", ["dataset", "method", "train_seed", "search_seed", "arch_str", "index", "score",
                                       "evaluated", "valid", "test", "seconds"],
                  [[r[k] for k in ("dataset", "method", "train_seed", "search_seed", "arch_str", "index", "score",
                                   "evaluated", "valid", "test", "seconds")] for r in self.records])
        tau_columns = ["dataset", "method", "train_seed", "score", "labels", "num_classes", "tau", "n", "tau_connected",
                       "tau_params", "tau_low", "tau_high", "tau_subset", "n_subset", "angle_tau_subset", "accuracy_se",
                       "prepare_seconds", "seconds", "run_dir"]
        write_csv(out / "tau.csv", tau_columns, [[t.get(k) for k in tau_columns] for t in self.taus])
        lines = [f"# {paper()['titles'][rc.experiment]}", "",
                 f"Preset `{self.preset}` (`{_shown(self.config_path)}`). {rc.scale}".strip(), "",
                 f"Train seeds {rc.train_seeds}, search seeds {rc.search_seeds}. **The independent units are the "
                 "supernets** (one per train seed, or per initialisation seed pair for the training-free angle); the "
                 "search seeds of one supernet are not independent of each other and are averaged within it first. A "
                 f"cell over several supernets reads {UNITS_CELL}: the mean over supernets, the sample standard "
                 "deviation (ddof 1) and the Student-t 95% interval of the mean; one supernet shows its value and "
                 "n=1, with no spread. Accuracies are the NAS-Bench-201 200-epoch accuracies (%) of the architecture "
                 "each search returns; tau is Kendall's tau-b of the score against the benchmark's test accuracy.", ""]
        lines += self.search_section() + self.tau_section() + self.extra_sections()
        atomic_write_text(out / "report.md", "\n".join(lines) + "\n")

    def cell(self, dataset: str, name: str, key: str) -> str:
        """Mean over supernets (search seeds averaged within each) with sample SD and t-interval; for one
        supernet whose search seeds disagree, their range."""
        per = supernet_means([r for r in self.records if r["dataset"] == dataset and r["method"] == name], key)
        text = mean_sd_ci([float(np.mean(v)) for v in per.values()])
        if len(per) == 1:
            (values,) = per.values()
            if len(values) > 1 and max(values) > min(values):
                text += f"; its {len(values)} searches {min(values):.2f} to {max(values):.2f}"
        return text

    def search_section(self) -> list[str]:
        if not self.records:
            return []
        rc = self.rc
        paper_rows = paper()["search"].get(rc.experiment, {})
        header, rows = ["method", "score", "labels", "evaluated / search", "supernets x searches",
                        "architectures found (distinct)"], []
        both = rc.experiment == "table12"
        for d in rc.datasets:
            header += ([f"{DATASET_NAMES[d]} valid: {UNITS_CELL}", f"{DATASET_NAMES[d]} test: {UNITS_CELL}"] if both
                       else [f"{DATASET_NAMES[d]} test: {UNITS_CELL}"])
        if paper_rows:
            header += ["paper " + ("valid / test" if both else "test") + f" ({DATASET_NAMES[d]})" for d in rc.datasets]
        for name in self.methods:
            mine = [r for r in self.records if r["method"] == name]
            if not mine:
                continue
            taus = [t for t in self.taus if t["method"] == name]
            supernets = {(r["dataset"], r["train_seed"]) for r in mine}
            row = [self.label(name), taus[0]["score"] if taus else "", taus[0]["labels"] if taus else "",
                   int(np.mean([r["evaluated"] for r in mine])), f"{len(supernets)} x {len(mine) // max(len(supernets), 1)}",
                   f"{len({(r['dataset'], r['index']) for r in mine})} of {len(mine)}"]
            for d in rc.datasets:
                row += [self.cell(d, name, "valid"), self.cell(d, name, "test")] if both else [self.cell(d, name, "test")]
            for d in rc.datasets if paper_rows else ():
                valid, test = paper_rows.get(name, {}).get(d, (None, None))
                row.append(f"{valid} / {test}" if both and valid else (test or ""))
            rows.append(row)
        ties = []
        for t in self.taus:
            if len(t.get("best_tied") or []) > 1:
                found = [r for r in self.records if (r["dataset"], r["method"], r["train_seed"]) == (t["dataset"], t["method"], t["train_seed"])]
                ties.append(f"{self.label(t['method'])} s{t['train_seed']}: {len(t['best_tied'])} architectures share the best "
                            f"score (test accuracies {', '.join(f'{a:.2f}' for _, a in t['best_tied'])}); the search returns "
                            f"the first in the subset's order" + (f" ({found[0]['test']:.2f})" if found else ""))
        return ["## Search results (accuracy of the architecture found)", "", markdown_table(header, rows), "",
                "Per run: `search.csv` (architecture, benchmark index, score, time)."
                + (" Ties at the best score: " + "; ".join(ties) + "." if ties else ""), ""]

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
            name = DATASET_NAMES[d]
            header += [f"{name} tau over", f"{name} tau: {UNITS_CELL}", f"{name} tau, {CONNECTED}: {UNITS_CELL}",
                       f"{name} tau of a sampled subset: bootstrap 95% CI over its architectures"]
            header += [f"{name} tau, common subset of {n_subset}: {UNITS_CELL}",
                       f"{name} angle of the same supernets, common subset of {n_subset}"] if subset else []
        header += [f"paper ({DATASET_NAMES[d]})" for d in rc.datasets] if paper_tau else []
        rows = []
        bars: dict[str, dict[str, float]] = {}
        errors: dict[str, dict[str, float]] = {}

        def bar(group: str, label: str, values: list) -> None:
            values = [v for v in values if v is not None]
            if values:
                bars.setdefault(group, {})[label] = float(np.mean(values))
                errors.setdefault(group, {})[label] = sd_of(values)

        for name in self.methods:
            mine = [t for t in self.taus if t["method"] == name]
            if not mine:
                continue
            row = [self.label(name), mine[0]["score"]]
            for d in rc.datasets:
                here = [t for t in mine if t["dataset"] == d]
                ns = sorted({t["n"] for t in here})
                whole = ns == [NUM_ARCHS]
                row += [("all 15,625" if whole else f"{', '.join(map(str, ns))} sampled") if here else "",
                        mean_sd_ci([t["tau"] for t in here], 4) if here else ""]
                connected = [t.get("tau_connected") for t in here]
                row += [(mean_sd_ci(connected, 4) if all(v is not None for v in connected)
                         else "not computed (no checkpoints)") if here and whole else ""]
                intervals = [f"{t['tau_low']:.3f} to {t['tau_high']:.3f}" + (f" (s{t['train_seed']})" if len(here) > 1 else "")
                             for t in here if t.get("tau_low") is not None]
                row += ["; ".join(intervals) if intervals else ("" if whole or not here else "scores not at hand")]
                row += [mean_sd_ci([common(t, "tau_subset") for t in here], 4),
                        mean_sd_ci([common(t, "angle_tau_subset") for t in here], 4)] if subset else []
                if here:
                    bar(f"{DATASET_NAMES[d]}: all 15,625 (angle) or the sampled subset",
                        self.label(name), [t["tau"] for t in here])
                    if whole and all(v is not None for v in connected):
                        bar(f"{DATASET_NAMES[d]}: the {CONNECTED} (angle)", self.label(name), connected)
            row += [paper_tau.get(name, {}).get(d, "") for d in rc.datasets] if paper_tau else []
            rows.append(row)
        bar_plot(bars, self.out / "tau_per_method.png", "Kendall tau vs test accuracy",
                 "Kendall tau per method: mean over supernets, error bars the sample SD over supernets (none for one "
                 "supernet); angle taus over all 15,625 (the 341 all-cut included) and, where recomputed, over the "
                 f"{CONNECTED}", errors)
        note = (f"The common subset is {n_subset} architectures drawn with seed {rc.tau_seed}. " if subset else "")
        if any(t["n_subset"] != n_subset for t in self.taus):
            note += ("Supernets kept from an earlier study over another subset size are left out of the common-subset "
                     "columns. ")
        note += ("**A tau over all 15,625 architectures samples nothing**: it has no sampling error, and the only "
                 "uncertainty shown for it is its spread over supernets (SD, interval). The 341 architectures whose every "
                 "path is cut tie at angle 0 at the bottom of the ranking (and of the benchmark), which raises a tau; the "
                 f"column 'tau, {CONNECTED}' leaves them out (recomputed from the supernet's checkpoints, 'not computed' "
                 "where they were gone). A tau over a sampled subset of architectures gets a percentile bootstrap 95% "
                 "interval over those architectures (1,000 resamples; `common.statistics.tau_interval`) where its scores "
                 "are at hand. ")
        per_seed = ["supernet", "score", "tau", "n", f"tau, {CONNECTED}", "tau of the angle vs parameter count",
                    "bootstrap 95% CI (sampled subset)", "val_acc: s.e. of one accuracy (points)",
                    "val_acc: validation / BN images", "prepare (s)", "scoring (s)"]
        fmt = lambda t, key: f"{t[key]:.4f}" if t.get(key) is not None else ""  # noqa: E731
        per_rows = [[f"{t['dataset']} {self.label(t['method'])} s{t['train_seed']}", t["score"], f"{t['tau']:.4f}", t["n"],
                     fmt(t, "tau_connected"), fmt(t, "tau_params"),
                     f"{t['tau_low']:.4f} to {t['tau_high']:.4f}" if t.get("tau_low") is not None else "",
                     f"{t['accuracy_se']:.2f}" if t.get("accuracy_se") is not None else "",
                     f"{t['valid_images']} / {t['bn_images']}" if t.get("valid_images") else "",
                     f"{t['prepare_seconds']:.0f}" if t.get("prepare_seconds") is not None else "",
                     f"{t['seconds']:.1f}" if t.get("seconds") is not None else ""] for t in self.taus]
        size = ""
        if self.table is not None and any(t.get("tau_params") is not None for t in self.taus):
            d = next(t["dataset"] for t in self.taus if t.get("tau_params") is not None)
            params, truth, alive = self.table.metric(f"params_{d}_M"), self.truth(d), connected_mask()
            size = (f"For scale, the parameter count alone ranks {DATASET_NAMES[d]} at tau {kendall_tau(params, truth):.4f} "
                    f"(all 15,625; {kendall_tau(params[alive], truth[alive]):.4f} over the {CONNECTED}). ")
        return ["## Ranking correlation (Kendall tau vs benchmark test accuracy)", "", markdown_table(header, rows), "",
                note + "Per supernet: `tau.csv`. Plot: `tau_per_method.png`.", "",
                "### Per supernet", "", markdown_table(per_seed, per_rows), "",
                "The s.e. of one accuracy is the binomial sqrt(p(1-p)/n_valid), averaged over the scored architectures. "
                "The tau of the angle against the parameter count (all 15,625) asks whether the angle is a size proxy. "
                + size + "Prepare: training (0 when reused) or initialisation; scoring: the tau's scores.", ""]

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
            lines += ["## Figure 1", "", markdown_table(["dataset", "classes", "test acc (%), mean over search seeds",
                                                          "tau (all 15,625)"], rows), "",
                      "![Figure 1](figure1.png) (dotted: the dataset's real number of classes). Each point is one "
                      f"supernet (train seeds {self.rc.train_seeds}): a difference between points is within the spread "
                      "of supernet seeds unless several seeds per point show otherwise.", ""]
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
        line_plot([{"title": "tau of the angle vs benchmark test accuracy (all 15,625, the 341 all-cut included)",
                    "xlabel": "epoch", "ylabel": "Kendall tau", "series": series_bench},
                   {"title": "ranking stability: tau vs the previous saved epoch's angle ranking", "xlabel": "epoch",
                    "ylabel": "Kendall tau", "series": series_stable}], self.out / "tau_epochs.png")
        fmt = lambda v: "" if v is None else f"{v:.4f}"  # noqa: E731
        header = ["supernet", "epoch"] + [f"tau vs {DATASET_NAMES[d]}" for d in DATASETS] + ["tau vs previous epoch"]
        lines = ["## Kendall tau of the angle during training", "",
                 "Every saved checkpoint scored against the initial weights (all 15,625 architectures, the 341 "
                 "all-cut ones included); the last "
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
                  "(`train.stability` does this during training; it ranks `train.stability.archs` architectures, a "
                  "seeded sample of 1,000 by default, so it stops exactly as simulated here only with archs >= 15,625). "
                  "The thresholds are judged here on the same supernets they are shown for, and the search is not rerun "
                  "at the stop: whether its result changes there is not measured by this table.", "",
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
