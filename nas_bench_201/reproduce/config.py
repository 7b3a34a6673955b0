"""The study config of ``nas_bench_201.reproduce``: datasets, methods (overrides), seeds, subsets."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import numpy as np

from common.errors import UserError
from common.seeding import derive_seed

from ..benchmark import DATASETS
from ..space import NUM_ARCHS

EXPERIMENTS = ("table12", "table6", "table7", "figure1", "proxies", "eps")
PRESETS = ("cpu", "cpu_long", "paper")
EXPERIMENT_DIR = Path(__file__).resolve().parent / "experiments"  # <experiment>_<preset>.yaml


@dataclass
class MethodConfig:
    set: list[str] = field(default_factory=list)  # overrides of the experiment config (key=value)
    label: str = ""  # how the report names the method; default: its key
    search: bool = True  # run the search (False: only correlate the score, e.g. proxies)
    # The search returns the best-scored architecture of the common tau subset (a random search of
    # tau_archs architectures that shares its scores with the tau: costly scores are paid once).
    search_on_subset: bool = False
    training_free: Optional[Literal["normal", "uniform"]] = None  # no training: angle between two initialisations
    # training_free: which parameters the distribution draws. conv_linear: conv and linear weights
    # (BN affine and biases keep PyTorch's defaults, shared by both initialisations); all: every
    # parameter, so the two initialisations share nothing.
    training_free_init: Literal["conv_linear", "all"] = "conv_linear"
    train_seeds: Optional[list[int]] = None  # this method's supernet seeds (e.g. fewer for costly scores); None: the study's


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
    # ranking-stability stop simulated on the per-epoch angles (tau_epochs), for each threshold: stop
    # once the tau between consecutive epochs' angle rankings is >= threshold for patience epochs in a row
    stability_thresholds: list[float] = field(default_factory=lambda: [0.9, 0.95, 0.98])
    stability_patience: int = 2
    run_order: Optional[list[str]] = None  # methods in the order to run (e.g. cheap ones first); None: as listed
    seed_order: Literal["method", "seed"] = "method"  # seed: every method of seed 0 before seed 1 (seeds first)

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
        if self.stability_patience < 1:
            raise ValueError("stability_patience must be >= 1")


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


def subset_order(n: Optional[int], seed: int) -> np.ndarray:
    """The seeded subset of ``n`` benchmark indices in the order to score them (all of them when ``n``
    is None): the first ``n`` of one seeded permutation, so subsets are nested and a study cut short
    after k scores holds exactly the subset of size k; growing ``tau_archs`` reuses every score."""
    if n is None or n >= NUM_ARCHS:
        return np.arange(NUM_ARCHS)
    return np.random.default_rng(derive_seed(seed, "tau_subset")).permutation(NUM_ARCHS)[:n]


def tau_subset(n: Optional[int], seed: int) -> np.ndarray:
    """Benchmark indices of the seeded subset (sorted), or all of them."""
    return np.sort(subset_order(n, seed))
