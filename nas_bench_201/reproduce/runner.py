"""The study runner: trains (or reuses) each method's supernet, searches and correlates.

For each dataset, method and training seed a supernet is trained (or reused: run directories are
keyed by the training config, so methods that share a supernet share its run) under ``runs``; each
search seed runs the configured search, and the method's score is correlated with the benchmark's
test accuracies. Everything resumes: supernets from their last epoch, val_acc scores from their memo
(saved every few architectures), training-free initialisations from their checkpoints.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from common.checkpoint import FORMAT_VERSION, atomic_write_text, save_checkpoint
from common.config import load_config, to_dict
from common.correlation import correlate
from common.errors import UserError
from common.proxies import PROXIES
from common.seeding import derive_seed
from common.training import checkpoint_path, train_supernet

from ..angle import scorer_from_checkpoints
from ..angles import angles_by_epoch
from ..benchmark import DATASETS, BenchmarkTable
from ..config import NB201Config
from ..eps import build_training_supernet
from ..scoring import build_scorer
from ..search import load_table, search
from ..space import NAME, NUM_ARCHS, benchmark_archs, to_str
from ..supernet import build_supernet
from .config import MethodConfig, ReproduceConfig, expand_methods, subset_order, tau_subset
from .report import StudyReport, training_curve

logger = logging.getLogger("rlnas")
MEMO_EVERY = 10  # val_acc scores are saved every this many architectures (a long scoring resumes)


def _digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _supernet(entry: dict) -> tuple[str, str, int]:
    """The supernet a result belongs to: ``(dataset, method, train seed)``."""
    return entry["dataset"], entry["method"], entry["train_seed"]


def read_scores(path: Path) -> dict[str, float]:
    """A val_acc score file: ``{architecture string: score}``."""
    try:
        scores = json.loads(path.read_text())
        return {str(arch): float(score) for arch, score in scores.items()}
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise UserError(f"{path}: not a val_acc score file ({error})") from None


def init_supernet_checkpoint(cfg: NB201Config, scheme: str, seed: int, path: Path, num_classes: int,
                             params: str = "conv_linear") -> None:
    """An untrained supernet whose conv/linear weights are drawn by ``scheme`` (Kaiming normal or uniform).

    ``params="all"`` also draws every other parameter (BN affine weights and biases, linear biases)
    with unit variance from the same family (N(0, 1) or U(-sqrt 3, sqrt 3)), so that two
    initialisations share nothing; by default they keep PyTorch's constants (BN 1 and 0)."""
    torch.manual_seed(derive_seed(seed, "training_free", scheme))
    model = build_supernet(cfg.model, num_classes)
    init = torch.nn.init.kaiming_normal_ if scheme == "normal" else torch.nn.init.kaiming_uniform_
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            init(module.weight, nonlinearity="relu")
    if params == "all":
        with torch.no_grad():
            for name, tensor in model.named_parameters():
                if tensor.dim() == 1:
                    if scheme == "normal":
                        tensor.normal_(0.0, 1.0)
                    else:
                        tensor.uniform_(-3 ** 0.5, 3 ** 0.5)
    save_checkpoint(path, {"format": FORMAT_VERSION, "space": NAME, "config": to_dict(cfg), "epoch": 0,
                           "model": model.state_dict()})


def angle_by_epoch(run_dir: Path, init: Path, table: BenchmarkTable, weights: str = "all") -> dict[int, dict]:
    """At every saved epoch checkpoint: the Kendall tau of the angle of all 15,625 architectures
    against each dataset's test accuracy, and (``consecutive``) against the angle ranking of the
    previous saved epoch (None for the first): the ranking-stability curve, which needs no benchmark."""
    result, previous = {}, None
    for epoch, angles in angles_by_epoch(run_dir, init, weights):
        result[epoch] = {d: correlate(angles, table.metric(f"{d}_test")).kendall_tau for d in DATASETS}
        result[epoch]["consecutive"] = None if previous is None else correlate(angles, previous).kendall_tau
        previous = angles
    return result


class Study(StudyReport):
    def __init__(self, rc: ReproduceConfig, config_path: Path, runs: Path, out: Path, preset: str,
                 score_dirs=()):
        self.rc, self.config_path, self.runs, self.out, self.preset = rc, config_path, runs, out, preset
        # val_acc scores kept elsewhere (e.g. an earlier report's val_acc_scores/): used for a supernet
        # whose weights digest (in the file name) matches, so a retrained identical supernet resumes
        self.score_dirs = tuple(Path(d) for d in score_dirs)
        self.methods = expand_methods(rc)
        self.table: BenchmarkTable | None = None
        self.scorers: dict[tuple, object] = {}
        self.records: list[dict] = []  # one per (dataset, method, train seed, search seed)
        self.taus: list[dict] = []  # one per (dataset, method, train seed)

    def jobs(self, dataset: str) -> list[tuple[str, int]]:
        """``(method, train seed)`` in the order this study runs them on ``dataset``."""
        order = self.rc.run_order or list(self.methods)
        for name in order:
            if name not in self.methods:
                raise UserError(f"run_order: unknown method '{name}'")
        seeds = {name: self.methods[name].train_seeds or self.rc.train_seeds for name in order}
        if self.rc.seed_order == "seed":
            return [(name, seed) for seed in self.rc.train_seeds for name in order if seed in seeds[name]]
        return [(name, seed) for name in order for seed in seeds[name]]

    def keep(self, results: Path) -> int:
        """Take over an earlier study's results (its ``results.json``) for every (dataset, method,
        train seed) this study does not run, e.g. to rerun one method and report it with the rest.
        The earlier study must have the same experiment, datasets and settings; returns the supernets kept."""
        try:
            earlier = json.loads(Path(results).read_text())
            config, records, taus = earlier["config"], earlier["search"], earlier["tau"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"--keep {results}: not a study's results.json ({error})") from None
        mine = to_dict(self.rc)
        for key in ("experiment", "datasets", "set", "scale"):
            if config.get(key) != mine[key]:
                raise UserError(f"--keep {results}: a study with another '{key}' ({config.get(key)!r}), not this one's")
        for name, method in config.get("methods", {}).items():
            if name in mine["methods"] and method.get("set") != mine["methods"][name]["set"]:
                raise UserError(f"--keep {results}: method {name} had other settings ({method.get('set')})")
        planned = {(d, name, seed) for d in self.rc.datasets for name, seed in self.jobs(d)}
        kept = [t for t in taus if _supernet(t) not in planned and t["method"] in self.methods]
        keys = set(map(_supernet, kept))
        self.taus += kept
        self.records += [r for r in records if _supernet(r) in keys]
        return len(kept)

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
            variant = method.training_free + ("" if method.training_free_init == "conv_linear" else f"-{method.training_free_init}")
            run_dir = self.runs / dataset / f"training_free-{variant}-s{cfg.seed}-{_digest(to_dict(cfg.model))}"
            init, other = run_dir / "checkpoints" / "init_a.pt", run_dir / "checkpoints" / "init_b.pt"
            classes = cfg.labels.num_classes or {"cifar10": 10, "cifar100": 100, "imagenet16": 120}[dataset]
            for path, part in ((init, "a"), (other, "b")):
                if not path.exists():
                    init_supernet_checkpoint(cfg, method.training_free, derive_seed(cfg.seed, part), path, classes,
                                             method.training_free_init)
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
        key = (str(run_dir), cfg.search.score, repr(cfg.search.val_acc), repr(cfg.angle))
        if key not in self.scorers:
            scorer = self.scorers[key] = build_scorer(cfg, init, trained)
            memo = self.memo_path(run_dir, cfg, scorer)
            # val_acc scores of an earlier (or parallel) run of this supernet, then of the same weights elsewhere
            for path in (memo, *(d / memo.name for d in self.score_dirs)) if memo is not None else ():
                if path.is_file():
                    for arch, score in read_scores(path).items():
                        scorer.cache.setdefault(arch, score)
        return self.scorers[key]

    @staticmethod
    def memo_path(run_dir: Path | None, cfg: NB201Config, scorer) -> Path | None:
        """Where the val_acc scores of one supernet and one validation setting are kept between runs."""
        if run_dir is None or not hasattr(scorer, "cache") or cfg.search.score != "val_acc":
            return None
        return run_dir / "scores" / f"val_acc-{scorer.fingerprint}-{_digest(to_dict(cfg.search.val_acc))}.json"

    def save_memo(self, run_dir: Path | None, cfg: NB201Config, scorer) -> None:
        memo = self.memo_path(run_dir, cfg, scorer)
        if memo is not None:  # beside the supernet, and in the report (whose folder outlives the runs)
            text = json.dumps(scorer.cache, sort_keys=True)
            for path in (memo, self.out / "val_acc_scores" / memo.name):
                atomic_write_text(path, text)

    def run(self) -> None:
        first = next(iter(self.rc.datasets))
        self.table = load_table(self.experiment_config(first, next(iter(self.methods.values())), self.rc.train_seeds[0]))
        if self.table is None:
            raise UserError("no NAS-Bench-201 table: set RLNAS_NB201_TABLE or RLNAS_DATA (or benchmark.table)")
        for dataset in self.rc.datasets:
            for name, seed in self.jobs(dataset):
                started = time.perf_counter()
                self.run_method(dataset, name, self.methods[name], seed)
                self.taus[-1]["total_seconds"] = round(time.perf_counter() - started, 1)
                self.write_report()  # a partial report after every method: long studies show progress

    def run_method(self, dataset: str, name: str, method: MethodConfig, seed: int) -> None:
        cfg = self.experiment_config(dataset, method, seed)
        if method.training_free:
            cfg.search.score = "angle"
        logger.info("=== %s / %s / train seed %d: labels %s, score %s, strategy %s", dataset, name, seed,
                    cfg.labels.mode, cfg.search.score, cfg.search.strategy)
        started = time.perf_counter()
        run_dir, init, trained = self.prepare(dataset, method, cfg)
        prepare_seconds = round(time.perf_counter() - started, 1)
        if run_dir is not None:
            cfg.search.init_checkpoint, cfg.search.trained_checkpoint = str(init), str(trained)
        scorer = self.scorer(cfg, run_dir, init, trained)
        subset = tau_subset(self.rc.tau_archs, self.rc.tau_seed)
        archs = benchmark_archs()
        full = cfg.search.score == "angle"
        indices = np.arange(NUM_ARCHS) if full else subset_order(self.rc.tau_archs, self.rc.tau_seed)
        # Kendall tau against the benchmark's test accuracies (as the released code), over the whole
        # space for the angle and over the seeded subset for costly scores, which are scored in
        # chunks and memoised after each one (an interrupted study resumes where it stopped).
        started = time.perf_counter()
        if full:
            scores = scorer(archs[indices])
        else:
            parts = []
            for start in range(0, len(indices), MEMO_EVERY):
                parts.append(scorer(archs[indices[start:start + MEMO_EVERY]]))
                self.save_memo(run_dir, cfg, scorer)
            scores = np.concatenate(parts)
        score_seconds = round(time.perf_counter() - started, 1)
        if method.search and method.search_on_subset:
            best = int(np.argmax(scores))
            index = int(indices[best])
            self.records.append({
                "dataset": dataset, "method": name, "train_seed": seed, "search_seed": "subset",
                "arch_str": to_str(archs[index]),
                "index": index, "score": float(scores[best]), "evaluated": len(indices), "seconds": score_seconds,
                "valid": float(self.table.metric(f"{dataset}_valid")[index]),
                "test": float(self.table.metric(f"{dataset}_test")[index]),
            })
        elif method.search:
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
        truth = self.table.metric(f"{dataset}_test")
        corr = correlate(scores, truth[indices])
        entry = {"dataset": dataset, "method": name, "train_seed": seed, "score": cfg.search.score,
                 "labels": cfg.labels.mode, "num_classes": cfg.labels.num_classes, "tau": corr.kendall_tau,
                 "n": corr.n, "n_subset": len(subset), "angle_tau_subset": None, "seconds": score_seconds,
                 "prepare_seconds": prepare_seconds, "run_dir": str(run_dir or ""), "accuracy_se": None}
        entry["tau_subset"] = correlate(scores[subset], truth[subset]).kendall_tau if full else corr.kendall_tau
        if cfg.search.score == "val_acc":
            # binomial standard error of one architecture's accuracy on the n validation images,
            # averaged over the scored architectures; and the tau's own spread (its standard error
            # under independence, sqrt(2 (2n + 5) / (9 n (n - 1)))).
            p = np.clip(scores / 100.0, 0.0, 1.0)
            entry["accuracy_se"] = float(100.0 * np.mean(np.sqrt(p * (1 - p) / len(scorer.valid_y))))
            entry["valid_images"] = int(len(scorer.valid_y))
            entry["bn_images"] = int(sum(len(b) for b in scorer.bn_batches))
            entry["mean_score"], entry["min_score"], entry["max_score"] = float(scores.mean()), float(scores.min()), float(scores.max())
        n = corr.n
        entry["tau_se"] = float(np.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1)))) if n > 1 else None
        if run_dir is not None:  # a supernet: its angle on the common subset, beside the score
            angle_scores = scores[subset] if full else scorer_from_checkpoints(init, trained)(archs[subset])
            entry["angle_tau_subset"] = correlate(angle_scores, truth[subset]).kendall_tau
        if full and self.rc.transfer:
            entry["transfer"] = {d: correlate(scores, self.table.metric(f"{d}_test")).kendall_tau for d in DATASETS}
        if full and self.rc.tau_epochs and not method.training_free:
            entry["epochs"] = angle_by_epoch(run_dir, init, self.table, cfg.angle.weights)
        if run_dir is not None and not method.training_free:  # kept in results.json: a report outlives the runs
            entry["training"] = {str(e): v for e, v in training_curve(str(run_dir)).items()}
        if full and not method.training_free and seed == self.rc.train_seeds[0]:
            self.scatter(dataset, name, scores)
        self.taus.append(entry)
        self.save_memo(run_dir, cfg, scorer)
        logger.info("%s / %s: Kendall tau %.4f (n=%d)", dataset, name, corr.kendall_tau, corr.n)
