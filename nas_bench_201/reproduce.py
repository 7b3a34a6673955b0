"""Reproduce the paper's NAS-Bench-201 study: Tables 1-2, 6, 7, Figure 1, zero-cost proxies and EPS.

    python -m nas_bench_201.reproduce EXPERIMENT --preset {cpu,paper} [--config FILE] [--set key=value ...]
                                      [--runs DIR] [--out DIR]

EXPERIMENT is one of table12, table6, table7, figure1, proxies, eps; the preset names the study
config ``configs/nas_bench_201/reproduce/<experiment>_<preset>.yaml`` (or give ``--config``).
A study config lists the datasets (each an experiment config) and the methods (each a list of
``--set`` overrides on top of it): every method runs through the same stages, so methods differ
only by configuration. For each dataset, method and training seed a supernet is trained (or reused:
run directories are keyed by the training config, so methods that share a supernet share its run)
under ``--runs`` (default ``runs/reproduce``); each search seed runs the configured search, and the
method's score is correlated with the benchmark's test accuracies. Writes ``--out`` (default
``reports/nb201_<experiment>``): ``report.md`` (tables in the paper's layout beside the paper's
numbers, with scale and seeds), the CSVs behind them and PNG plots.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np
import torch

from common.checkpoint import FORMAT_VERSION, atomic_write_text, save_checkpoint
from common.cli import ArgumentParser, run, setup_logging
from common.config import load_config, to_dict
from common.correlation import correlate
from common.proxies import PROXIES
from common.errors import UserError
from common.seeding import derive_seed
from common.report import bar_plot, line_plot, markdown_table, mean_std, scatter_panels, write_csv
from common.training import checkpoint_path, train_supernet

from .angle import scorer_from_checkpoints
from .benchmark import DATASETS, BenchmarkTable
from .config import NB201Config
from .correlation import tau_by_epoch
from .eps import build_training_supernet
from .scoring import build_scorer
from .search import load_table, search
from .space import NAME, NUM_ARCHS, benchmark_archs
from .supernet import build_supernet

logger = logging.getLogger("rlnas")
EXPERIMENTS = ("table12", "table6", "table7", "figure1", "proxies", "eps")
PROXY_NAMES = PROXIES
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "nas_bench_201" / "reproduce"
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16": "ImageNet16-120"}

# The paper's numbers (papers/rlnas-paper.txt): search results (valid, test) or test "mean+-std", and tau.
PAPER_SEARCH = {
    "table12": {
        "A": {"cifar10": ("88.49", "92.11"), "cifar100": ("66.51", "66.89"), "imagenet16": ("40.16", "40.80")},
        "B": {"cifar10": ("90.20", "93.76"), "cifar100": ("70.71", "71.11"), "imagenet16": ("40.78", "41.44")},
        "C": {"cifar10": ("76.47", "80.60"), "cifar100": ("52.48", "52.84"), "imagenet16": ("29.58", "28.37")},
        "D": {"cifar10": ("89.94", "93.45"), "cifar100": ("70.98", "70.71"), "imagenet16": ("43.86", "43.70")},
    },
    "table6": {
        "uniform_once": {"cifar10": (None, "93.45+-0.11"), "cifar100": (None, "70.71+-0.36"), "imagenet16": (None, "43.70+-1.25")},
        "shuffle_once": {"cifar10": (None, "93.52+-0.27"), "cifar100": (None, "70.25+-0.25"), "imagenet16": (None, "43.81+-1.12")},
        "uniform_per_iter": {"cifar10": (None, "92.85+-0.46"), "cifar100": (None, "61.59+-6.57"), "imagenet16": (None, "27.51+-1.04")},
        "shuffle_per_iter": {"cifar10": (None, "93.65+-0.07"), "cifar100": (None, "71.45+-0.42"), "imagenet16": (None, "27.51+-1.04")},
    },
    "table7": {
        "training_free_normal": {"cifar10": (None, "90.74+-1.39"), "cifar100": (None, "66.97+-1.86"), "imagenet16": (None, "38.54+-2.86")},
        "training_free_uniform": {"cifar10": (None, "91.55+-1.34"), "cifar100": (None, "66.59+-2.10"), "imagenet16": (None, "39.03+-3.91")},
        "random_search": {"cifar10": (None, "92.09+-0.21"), "cifar100": (None, "67.27+-1.28"), "imagenet16": (None, "40.77+-3.64")},
        "rlnas": {"cifar10": (None, "93.45+-0.11"), "cifar100": (None, "70.71+-0.36"), "imagenet16": (None, "43.70+-1.25")},
    },
}
PAPER_TAU = {"table12": {"A": {"cifar10": 0.4239, "cifar100": 0.4832, "imagenet16": 0.4322},
                         "B": {"cifar10": 0.6671, "cifar100": 0.6942, "imagenet16": 0.6342},
                         "C": {"cifar10": 0.0874, "cifar100": -0.0195, "imagenet16": -0.0262},
                         "D": {"cifar10": 0.5059, "cifar100": 0.5097, "imagenet16": 0.4716}}}
PAPER_TITLES = {
    "table12": "Tables 1 and 2: labels (true | random) x score (val_acc | angle)",
    "table6": "Table 6: the four random-label generation modes",
    "table7": "Table 7: bias of the angle (training-free angle, random search, RLNAS)",
    "figure1": "Figure 1: number of random-label classes",
    "proxies": "Zero-cost proxies beside the angle (Kendall tau)",
    "eps": "EPS (evolving proxy search space) beside SPOS and RLNAS",
}


@dataclass
class MethodConfig:
    set: list[str] = field(default_factory=list)  # overrides of the experiment config (key=value)
    label: str = ""  # how the report names the method; default: its key
    search: bool = True  # run the search (False: only correlate the score, e.g. proxies)
    training_free: Optional[Literal["normal", "uniform"]] = None  # no training: angle between two initialisations


@dataclass
class ReproduceConfig:
    experiment: Literal["table12", "table6", "table7", "figure1", "proxies", "eps"]
    datasets: dict[str, str]  # benchmark dataset (cifar10, cifar100, imagenet16) -> experiment config file
    methods: dict[str, MethodConfig]
    scale: str = ""  # one line on the scale of the study, quoted in the report
    set: list[str] = field(default_factory=list)  # overrides applied to every method
    train_seeds: list[int] = field(default_factory=lambda: [0])  # one supernet per seed
    search_seeds: list[int] = field(default_factory=lambda: [0])  # searches per supernet
    tau_archs: Optional[int] = None  # scores other than the angle: tau on a seeded subset of n architectures
    tau_seed: int = 0
    class_range: Optional[list[int]] = None  # figure1: [start, stop, step] of labels.num_classes (stop included)
    transfer: bool = False  # table12: tau of each angle supernet against all three datasets
    tau_epochs: bool = False  # tau at every saved checkpoint of the angle supernets
    run_order: Optional[list[str]] = None  # methods in the order to run (e.g. cheap ones first); None: as listed

    def __post_init__(self):
        for name in self.datasets:
            if name not in DATASETS:
                raise ValueError(f"datasets: unknown benchmark dataset '{name}' (choose from {', '.join(DATASETS)})")
        if not self.methods or not self.train_seeds:
            raise ValueError("need at least one method and one train seed")
        if self.class_range is not None and (len(self.class_range) != 3 or min(self.class_range) < 1):
            raise ValueError("class_range: expected [start, stop, step] of positive ints")
        if self.tau_archs is not None and not 2 <= self.tau_archs <= NUM_ARCHS:
            raise ValueError(f"tau_archs must be in 2..{NUM_ARCHS}")


def expand_methods(rc: ReproduceConfig) -> dict[str, MethodConfig]:
    """Figure 1: one method per class count, made from the (single) configured method."""
    if rc.class_range is None:
        return rc.methods
    start, stop, step = rc.class_range
    (base,) = rc.methods.values() if len(rc.methods) == 1 else (None,)
    if base is None:
        raise UserError("class_range: give exactly one method to vary")
    return {f"{n}": MethodConfig(set=[*base.set, f"labels.num_classes={n}"], label=f"{n} classes", search=base.search)
            for n in range(start, stop + 1, step)}


def tau_subset(n: Optional[int], seed: int) -> np.ndarray:
    """Benchmark indices of the seeded subset (sorted), or all of them."""
    if n is None or n >= NUM_ARCHS:
        return np.arange(NUM_ARCHS)
    return np.sort(np.random.default_rng(derive_seed(seed, "tau_subset")).choice(NUM_ARCHS, n, replace=False))


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (reports stay portable)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:10]


def init_supernet_checkpoint(cfg: NB201Config, scheme: str, seed: int, path: Path, num_classes: int) -> None:
    """An untrained supernet whose conv/linear weights are drawn by ``scheme`` (Kaiming normal or uniform)."""
    torch.manual_seed(derive_seed(seed, "training_free", scheme))
    model = build_supernet(cfg.model, num_classes)
    init = torch.nn.init.kaiming_normal_ if scheme == "normal" else torch.nn.init.kaiming_uniform_
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            init(module.weight, nonlinearity="relu")
    save_checkpoint(path, {"format": FORMAT_VERSION, "space": NAME, "config": to_dict(cfg), "epoch": 0,
                           "model": model.state_dict()})


class Study:
    def __init__(self, rc: ReproduceConfig, config_path: Path, runs: Path, out: Path, preset: str):
        self.rc, self.config_path, self.runs, self.out, self.preset = rc, config_path, runs, out, preset
        self.methods = expand_methods(rc)
        self.table: BenchmarkTable | None = None
        self.scorers: dict[tuple, object] = {}
        self.records: list[dict] = []  # one per (dataset, method, train seed, search seed)
        self.taus: list[dict] = []  # one per (dataset, method, train seed)

    # ------------------------------------------------------------------ runs

    def experiment_config(self, dataset: str, method: MethodConfig, seed: int) -> NB201Config:
        path = (self.config_path.parent / self.rc.datasets[dataset]).resolve()
        cfg = load_config(path, NB201Config, [*self.rc.set, *method.set, f"seed={seed}"])
        if cfg.benchmark.dataset != dataset:
            raise UserError(f"datasets.{dataset}: {path} is a config for benchmark.dataset {cfg.benchmark.dataset}")
        return cfg

    def prepare(self, dataset: str, method: MethodConfig, cfg: NB201Config) -> tuple[Path | None, Path | None, Path | None]:
        """Train (or reuse) the method's supernet; ``(run dir, initial checkpoint, trained checkpoint)``.
        Zero-cost proxies need no supernet: ``(None, None, None)``."""
        if cfg.search.score in PROXIES:
            return None, None, None
        if method.training_free:
            run_dir = self.runs / dataset / f"training_free-{method.training_free}-s{cfg.seed}-{_digest(to_dict(cfg.model))}"
            init, other = run_dir / "checkpoints" / "init_a.pt", run_dir / "checkpoints" / "init_b.pt"
            classes = cfg.labels.num_classes or {"cifar10": 10, "cifar100": 100, "imagenet16": 120}[dataset]
            for path, part in ((init, "a"), (other, "b")):
                if not path.exists():
                    init_supernet_checkpoint(cfg, method.training_free, derive_seed(cfg.seed, part), path, classes)
            return run_dir, init, other
        signature = {k: to_dict(getattr(cfg, k)) for k in ("seed", "data", "labels", "model", "train")}
        if cfg.search.strategy == "eps":
            signature["eps"] = to_dict(cfg.search.eps)
        run_dir = self.runs / dataset / f"{cfg.labels.mode}-{cfg.labels.num_classes or 'C'}-s{cfg.seed}-{_digest(signature)}"
        if cfg.search.strategy == "eps":
            run_dir = run_dir.with_name("eps-" + run_dir.name)
        started = time.perf_counter()
        train_supernet(cfg, NAME, lambda num_classes: build_training_supernet(cfg, num_classes), run_dir)
        logger.info("supernet %s ready (%.0f s)", run_dir, time.perf_counter() - started)
        return run_dir, checkpoint_path(run_dir, 0), checkpoint_path(run_dir, "last")

    def scorer(self, cfg: NB201Config, run_dir: Path | None, init: Path | None, trained: Path | None):
        """Scorers are kept for the whole study: val_acc memoises its scores, the proxies share one memo."""
        if cfg.search.score in PROXIES:
            key = ("proxies", _digest([to_dict(cfg.data), to_dict(cfg.model), cfg.seed, cfg.search.proxy_batch]))
            if key not in self.scorers:
                self.scorers[key] = build_scorer(cfg, init, trained)
            return self.scorers[key].for_proxy(cfg.search.score)
        key = (str(run_dir), cfg.search.score, repr(cfg.search.val_acc))
        if key not in self.scorers:
            scorer = self.scorers[key] = build_scorer(cfg, init, trained)
            memo = self.memo_path(run_dir, cfg, scorer)
            if memo is not None and memo.is_file():  # val_acc scores of an earlier (or parallel) run
                scorer.cache.update({k: float(v) for k, v in json.loads(memo.read_text()).items()})
        return self.scorers[key]

    @staticmethod
    def memo_path(run_dir: Path | None, cfg: NB201Config, scorer) -> Path | None:
        """Where the val_acc scores of one supernet and one validation setting are kept between runs."""
        if run_dir is None or not hasattr(scorer, "cache") or cfg.search.score != "val_acc":
            return None
        return run_dir / "scores" / f"val_acc-{scorer.fingerprint}-{_digest(to_dict(cfg.search.val_acc))}.json"

    def save_memo(self, run_dir: Path | None, cfg: NB201Config, scorer) -> None:
        memo = self.memo_path(run_dir, cfg, scorer)
        if memo is not None:
            atomic_write_text(memo, json.dumps(scorer.cache, sort_keys=True))

    def run(self) -> None:
        first = next(iter(self.rc.datasets))
        self.table = load_table(self.experiment_config(first, next(iter(self.methods.values())), self.rc.train_seeds[0]))
        if self.table is None:
            raise UserError("no NAS-Bench-201 table: set RLNAS_NB201_TABLE or RLNAS_DATA (or benchmark.table)")
        for dataset in self.rc.datasets:
            for name in self.rc.run_order or list(self.methods):
                if name not in self.methods:
                    raise UserError(f"run_order: unknown method '{name}'")
                for seed in self.rc.train_seeds:
                    self.run_method(dataset, name, self.methods[name], seed)
                    self.write_report()  # a partial report after every method: long studies show progress

    def run_method(self, dataset: str, name: str, method: MethodConfig, seed: int) -> None:
        cfg = self.experiment_config(dataset, method, seed)
        if method.training_free:
            cfg.search.score = "angle"
        logger.info("=== %s / %s / train seed %d: labels %s, score %s, strategy %s", dataset, name, seed,
                    cfg.labels.mode, cfg.search.score, cfg.search.strategy)
        run_dir, init, trained = self.prepare(dataset, method, cfg)
        if run_dir is not None:
            cfg.search.init_checkpoint, cfg.search.trained_checkpoint = str(init), str(trained)
        scorer = self.scorer(cfg, run_dir, init, trained)
        if method.search:
            for search_seed in self.rc.search_seeds:
                started = time.perf_counter()
                where = run_dir if run_dir is not None else self.runs / dataset / "proxies"
                out_dir = where / "search" / f"{self.rc.experiment}-{name}-{cfg.search.score}-{cfg.search.strategy}-s{search_seed}"
                document = search(cfg, where, scorer, self.table, seed=search_seed, out_dir=out_dir)
                self.save_memo(run_dir, cfg, scorer)
                index = document["best"]["index"]
                self.records.append({
                    "dataset": dataset, "method": name, "train_seed": seed, "search_seed": search_seed,
                    "arch_str": document["best"]["arch_str"], "index": index, "score": document["best"]["score"],
                    "evaluated": document["evaluated"], "seconds": round(time.perf_counter() - started, 1),
                    "valid": float(self.table.metric(f"{dataset}_valid")[index]),
                    "test": float(self.table.metric(f"{dataset}_test")[index]),
                })
        # Kendall tau against the benchmark's test accuracies (as the released code), over the whole
        # space for the angle and over the seeded subset for costly scores; the angle of the same
        # supernet on that subset is reported beside them.
        subset = tau_subset(self.rc.tau_archs, self.rc.tau_seed)
        archs = benchmark_archs()
        full = cfg.search.score == "angle"
        indices = np.arange(NUM_ARCHS) if full else subset
        started = time.perf_counter()
        scores = scorer(archs[indices])
        truth = self.table.metric(f"{dataset}_test")
        corr = correlate(scores, truth[indices])
        entry = {"dataset": dataset, "method": name, "train_seed": seed, "score": cfg.search.score,
                 "labels": cfg.labels.mode, "num_classes": cfg.labels.num_classes, "tau": corr.kendall_tau,
                 "n": corr.n, "n_subset": len(subset), "angle_tau_subset": None,
                 "seconds": round(time.perf_counter() - started, 1), "run_dir": str(run_dir or "")}
        entry["tau_subset"] = correlate(scores[subset], truth[subset]).kendall_tau if full else corr.kendall_tau
        if run_dir is not None:  # a supernet: its angle on the common subset, beside the score
            angle_scores = scores[subset] if full else scorer_from_checkpoints(init, trained)(archs[subset])
            entry["angle_tau_subset"] = correlate(angle_scores, truth[subset]).kendall_tau
        if full and self.rc.transfer:
            entry["transfer"] = {d: correlate(scores, self.table.metric(f"{d}_test")).kendall_tau for d in DATASETS}
        if full and self.rc.tau_epochs and not method.training_free:
            entry["epochs"] = tau_by_epoch(run_dir, init, self.table)
        if full and not method.training_free and seed == self.rc.train_seeds[0]:
            self.scatter(dataset, name, scores)
        self.taus.append(entry)
        self.save_memo(run_dir, cfg, scorer)
        logger.info("%s / %s: Kendall tau %.4f (n=%d)", dataset, name, corr.kendall_tau, corr.n)

    def scatter(self, dataset: str, name: str, scores: np.ndarray) -> None:
        alive = scores > 0
        scatter_panels([{"x": scores[alive], "y": self.table.metric(f"{d}_test")[alive], "ylabel": f"{d}_test (%)",
                         "title": f"{self.label(name)}: tau {correlate(scores, self.table.metric(f'{d}_test')).kendall_tau:.3f}"}
                        for d in DATASETS], self.out / f"angle_scatter_{dataset}_{name}.png",
                       xlabel=f"angle (rad), supernet trained on {dataset}; all-cut archs omitted")

    # ------------------------------------------------------------------ report

    def label(self, name: str) -> str:
        return self.methods[name].label or name

    def write_report(self) -> None:
        rc, out = self.rc, self.out
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "search.csv", ["dataset", "method", "train_seed", "search_seed", "arch_str", "index", "score",
                                       "evaluated", "valid", "test", "seconds"],
                  [[r[k] for k in ("dataset", "method", "train_seed", "search_seed", "arch_str", "index", "score",
                                   "evaluated", "valid", "test", "seconds")] for r in self.records])
        write_csv(out / "tau.csv", ["dataset", "method", "train_seed", "score", "labels", "num_classes", "tau", "n",
                                    "tau_subset", "n_subset", "angle_tau_subset", "run_dir"],
                  [[t[k] for k in ("dataset", "method", "train_seed", "score", "labels", "num_classes", "tau", "n",
                                   "tau_subset", "n_subset", "angle_tau_subset", "run_dir")] for t in self.taus])
        atomic_write_text(out / "results.json", json.dumps({"config": to_dict(rc), "preset": self.preset,
                                                             "search": self.records, "tau": self.taus}, indent=2))
        lines = [f"# {PAPER_TITLES[rc.experiment]}", "",
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
        paper = PAPER_SEARCH.get(rc.experiment, {})
        header, rows = ["method", "score", "labels", "evaluated / search"], []
        both = rc.experiment == "table12"
        for d in rc.datasets:
            header += [f"{DATASET_NAMES[d]} valid", f"{DATASET_NAMES[d]} test"] if both else [f"{DATASET_NAMES[d]} test"]
        if paper:
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
            for d in rc.datasets if paper else ():
                valid, test = paper.get(name, {}).get(d, (None, None))
                row.append(f"{valid} / {test}" if both and valid else (test or ""))
            rows.append(row)
        return ["## Search results (accuracy of the architecture found)", "", markdown_table(header, rows), "",
                "Per run: `search.csv` (architecture, benchmark index, score, time).", ""]

    def tau_section(self) -> list[str]:
        rc = self.rc
        if not self.taus:
            return []
        paper = PAPER_TAU.get(rc.experiment, {})
        n_subset = self.taus[0]["n_subset"]
        subset = n_subset < NUM_ARCHS  # costly scores on a subset: show every method on it too
        header = ["method", "score"]
        for d in rc.datasets:
            header += [f"{DATASET_NAMES[d]} tau (n)"]
            header += [f"{DATASET_NAMES[d]} tau, common subset",
                       f"{DATASET_NAMES[d]} angle of the same supernet, common subset"] if subset else []
        header += [f"paper ({DATASET_NAMES[d]})" for d in rc.datasets] if paper else []
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
                row += [mean_std([t["tau_subset"] for t in here], 4),
                        mean_std([t["angle_tau_subset"] for t in here], 4)] if subset else []
                if here:
                    bars[DATASET_NAMES[d]][self.label(name)] = float(np.mean([t["tau"] for t in here]))
            row += [paper.get(name, {}).get(d, "") for d in rc.datasets] if paper else []
            rows.append(row)
        bar_plot(bars, self.out / "tau_per_method.png", "Kendall tau", "Kendall tau per method")
        note = (f"The common subset is {n_subset} architectures drawn with seed {rc.tau_seed}; angle taus are over "
                "the whole space. " if subset else "Over all 15,625 architectures. ")
        return ["## Ranking correlation (Kendall tau vs benchmark test accuracy)", "", markdown_table(header, rows), "",
                note + "Per supernet: `tau.csv`. Plot: `tau_per_method.png`.", ""]

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
            csv_rows, panels = [], []
            for d in DATASETS:
                series = {}
                for t in epochs:
                    xs = sorted(t["epochs"])
                    series[f"{t['dataset']} {self.label(t['method'])} s{t['train_seed']}"] = (xs, [t["epochs"][e][d] for e in xs])
                panels.append({"title": f"vs {DATASET_NAMES[d]} test accuracy", "xlabel": "epoch", "ylabel": "Kendall tau",
                               "series": series})
            for t in epochs:
                for e in sorted(t["epochs"]):
                    csv_rows.append([t["dataset"], t["method"], t["train_seed"], e, *(t["epochs"][e][d] for d in DATASETS)])
            write_csv(self.out / "tau_epochs.csv", ["dataset", "method", "train_seed", "epoch", *DATASETS], csv_rows)
            line_plot(panels, self.out / "tau_epochs.png")
            header = ["supernet", "epoch"] + [f"tau vs {DATASET_NAMES[d]}" for d in DATASETS]
            lines += ["## Kendall tau of the angle during training", "",
                      "Every saved checkpoint scored against the initial weights (all 15,625 architectures):", "",
                      markdown_table(header, [[f"{r[0]} {self.label(r[1])} s{r[2]}", r[3], *r[4:]] for r in csv_rows]), "",
                      "![tau during training](tau_epochs.png)", ""]
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


def main(argv=None) -> None:
    parser = ArgumentParser(prog="python -m nas_bench_201.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=EXPERIMENTS, help="which table or figure")
    parser.add_argument("--preset", choices=("cpu", "paper"), default="cpu",
                        help="cpu: reduced scale for a CPU (about an hour); paper: the paper's scale (GPU)")
    parser.add_argument("--config", default=None, help="study config (default: configs/nas_bench_201/reproduce/<experiment>_<preset>.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a study config value, e.g. --set 'train_seeds=[0,1]' (repeatable)")
    parser.add_argument("--runs", default="runs/reproduce", help="where supernet runs live (shared between studies)")
    parser.add_argument("--out", default=None, help="report folder (default: reports/nb201_<experiment>)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    config_path = Path(args.config) if args.config else CONFIG_DIR / f"{args.experiment}_{args.preset}.yaml"
    rc = load_config(config_path, ReproduceConfig, args.overrides)
    if rc.experiment != args.experiment:
        raise UserError(f"{config_path}: a study config for '{rc.experiment}', not '{args.experiment}'")
    out = Path(args.out) if args.out else Path("reports") / f"nb201_{args.experiment}"
    setup_logging(Path(args.runs) / f"{args.experiment}_{args.preset}")
    study = Study(rc, config_path, Path(args.runs), out, "custom" if args.config else args.preset)
    started = time.perf_counter()
    study.run()
    study.write_report()
    logger.info("report written to %s (%.1f min)", out / "report.md", (time.perf_counter() - started) / 60)
    print((out / "report.md").read_text())


if __name__ == "__main__":
    sys.exit(run(main))
