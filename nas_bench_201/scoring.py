"""One scorer per ``search.score``: the angle, inherited-weight validation accuracy, or a zero-cost proxy.

Every scorer maps a list of architectures to an array of scores (larger is better) and has a
``fingerprint`` naming what the scores come from (so a resumed evolution never mixes scorers).
"""
from __future__ import annotations

import copy
import hashlib
import logging
import time
from pathlib import Path

import numpy as np
import torch

from common.data import BatchAugment, build_datasets
from common.proxies import compute_proxies
from common.seeding import derive_seed, torch_generator
from common.training import resolve_device

from .angle import scorer_from_checkpoints
from .model import build_model
from .space import to_str

logger = logging.getLogger("rlnas")


class ProxyScorer:
    """Zero-cost proxies of freshly initialised standalone networks (``model.channels``/``cells_per_stage``).

    Every network is initialised from the same seed and sees the same batch of ``proxy_batch``
    training images with their true labels; all proxies of an architecture are computed together
    and memoised, so asking for a second proxy costs nothing.
    """

    def __init__(self, cfg, name: str, datasets=None):
        self.cfg, self.name = cfg, name
        self.device = resolve_device(cfg.device)
        datasets = datasets if datasets is not None else build_datasets(cfg.data, cfg.seed)
        pick = torch.randperm(len(datasets.train), generator=torch_generator(cfg.seed, "proxy", "batch"))[: cfg.search.proxy_batch]
        self.x = BatchAugment(datasets.mean, datasets.std)(datasets.train.images[pick], None).to(self.device)
        self.y = datasets.train.targets[pick].to(self.device)
        self.num_classes = datasets.num_classes
        self.cache: dict[str, dict[str, float]] = {}
        self.started = time.perf_counter()
        self._digest = hashlib.sha256(f"proxy|{cfg.seed}|{cfg.model}|{self.x.sum().item()!r}".encode()).hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        return f"{self._digest}-{self.name}"

    def for_proxy(self, name: str) -> "ProxyScorer":
        """The same networks and batch scored by another proxy (the memo is shared)."""
        view = copy.copy(self)
        view.name = name
        return view

    def all_proxies(self, arch) -> dict[str, float]:
        key = to_str(arch)
        if key not in self.cache:
            torch.manual_seed(derive_seed(self.cfg.seed, "proxy", "init"))
            model = build_model(arch, self.num_classes, self.cfg.model.channels, self.cfg.model.cells_per_stage).to(self.device)
            self.cache[key] = compute_proxies(model, self.x, self.y)
            if len(self.cache) % 25 == 0:
                logger.info("proxies: %d architectures scored (%.1f s each)", len(self.cache),
                            (time.perf_counter() - self.started) / len(self.cache))
        return self.cache[key]

    def __call__(self, archs) -> np.ndarray:
        return np.array([self.all_proxies(arch)[self.name] for arch in archs], dtype=np.float64)


def build_scorer(cfg, init: Path, trained: Path, datasets=None):
    """The scorer of ``cfg.search.score`` for the supernet checkpoints ``init``/``trained``."""
    score = cfg.search.score
    if score == "angle":
        return scorer_from_checkpoints(init, trained, cfg.angle.weights)
    if score == "val_acc":
        from .valacc import valacc_scorer

        return valacc_scorer(cfg, trained, datasets)
    return ProxyScorer(cfg, score, datasets)
