"""One scorer per ``search.score``, for any search space: the angle, inherited-weight validation
accuracy, or a zero-cost proxy.

Every scorer follows ``Scorer``: it maps a list of architectures to an array of scores (larger is
better) and has a ``fingerprint`` naming what the scores come from, so that a resumed evolution never
mixes scorers and a search and its workers meet on the same job (``common.evaluation``).
"""
from __future__ import annotations

import copy
import hashlib
import logging
import time
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
import torch

from .angle import AngleScorer, scorer_from_checkpoints
from .device_ops import to_channels_last
from .checkpoint import load_checkpoint
from .data import BatchAugment, build_datasets
from .errors import UserError
from .proxies import compute_proxies
from .search import checkpoints
from .seeding import derive_seed, torch_generator
from .space import SearchSpace
from .training import resolve_device
from .valacc import SubnetAccuracy

logger = logging.getLogger("rlnas")


class Scorer(Protocol):
    fingerprint: str

    def __call__(self, archs: Sequence) -> np.ndarray: ...


def angle_scorer(space: SearchSpace, init: Path, trained: Path, cfg=None) -> AngleScorer:
    """The angle of ``space``'s architectures between the supernet checkpoints ``init`` and ``trained``."""
    return scorer_from_checkpoints(space.name, space.title, init, trained, lambda model: space.angle_atoms(model, cfg))


class ProxyScorer:
    """Zero-cost proxies of freshly initialised standalone networks (``space.build_model`` with the
    experiment's ``model`` section).

    Every network is initialised from the same seed and sees the same batch of ``proxy_batch``
    training images with their true labels; all proxies of an architecture are computed together
    and memoised, so asking for a second proxy costs nothing.
    """

    def __init__(self, space: SearchSpace, cfg, name: str, datasets=None):
        self.space, self.cfg, self.name = space, cfg, name
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
        key = self.space.to_str(arch)
        if key not in self.cache:
            torch.manual_seed(derive_seed(self.cfg.seed, "proxy", "init"))
            model = self.space.build_model(arch, self.cfg.model, self.num_classes).to(self.device)
            self.cache[key] = compute_proxies(model, self.x, self.y)
            if len(self.cache) % 25 == 0:
                logger.info("proxies: %d architectures scored (%.1f s each)", len(self.cache),
                            (time.perf_counter() - self.started) / len(self.cache))
        return self.cache[key]

    def __call__(self, archs) -> np.ndarray:
        return np.array([self.all_proxies(arch)[self.name] for arch in archs], dtype=np.float64)


def validation_data(cfg, num_classes: int, device: torch.device, datasets=None):
    """``(bn_batches, valid_x, valid_y, description)`` for the val_acc score of experiment ``cfg``.

    The validation images are the held-out part of the training images (``data.valid_fraction`` or a
    split file), else the test set; ``search.val_acc.valid_images`` takes a seeded subset. BN is
    re-calibrated on ``search.val_acc.bn_batches`` augmented training batches (fixed, seeded).
    Labels: see ``common.valacc``.
    """
    vcfg = cfg.search.val_acc
    datasets = datasets if datasets is not None else build_datasets(cfg.data, cfg.seed)
    valid, source = (datasets.valid, "held-out training images") if datasets.valid is not None else (datasets.test, "test set")
    if valid is None or len(valid) == 0:
        raise UserError("search.score val_acc: no validation images (set data.valid_fraction or data.split_file)")
    if vcfg.valid_images is not None and vcfg.valid_images < len(valid):
        pick = torch.randperm(len(valid), generator=torch_generator(cfg.seed, "val_acc", "subset"))[: vcfg.valid_images]
        valid = valid.subset(pick.sort().values)
    labels = vcfg.labels
    if labels == "auto":
        labels = "true" if cfg.labels.mode == "ground_truth" else "random"
    if labels == "random":
        valid_y = torch.randint(num_classes, (len(valid),), generator=torch_generator(cfg.seed, "val_acc", "labels"))
    else:
        if num_classes != valid.num_classes:
            raise UserError(f"search.val_acc.labels: true labels need a {valid.num_classes}-class supernet, this one has {num_classes}")
        valid_y = valid.targets
    augment = BatchAugment(datasets.mean, datasets.std, cfg.data.augment.crop_padding, cfg.data.augment.flip)
    order = torch.randperm(len(datasets.train), generator=torch_generator(cfg.seed, "val_acc", "bn"))
    generator = torch_generator(cfg.seed, "val_acc", "bn_augment")
    size = vcfg.batch_size
    bn_batches = [augment(datasets.train.images[order[i:i + size]], generator).to(device)
                  for i in range(0, min(len(order), vcfg.bn_batches * size), size)]
    valid_x = BatchAugment(datasets.mean, datasets.std)(valid.images, None).to(device)
    description = f"{len(valid)} {source} with {labels} labels, BN re-calibrated on {len(bn_batches)} x {size} training images"
    return bn_batches, valid_x, valid_y.to(device), description


def valacc_scorer(space: SearchSpace, cfg, trained: Path, datasets=None, metric: str = "accuracy") -> SubnetAccuracy:
    """The val_acc scorer of the supernet in checkpoint ``trained`` (trained with config ``cfg``):
    each architecture runs in the supernet (``forward(x, arch)``) after BN re-calibration."""
    checkpoint = load_checkpoint(trained, space=space.name)
    num_classes = space.supernet_classes(checkpoint["model"])
    device = resolve_device(cfg.device)
    model = space.build_supernet(cfg, num_classes)
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError:
        raise UserError(f"{trained}: not a supernet of the configured shape (model/search.strategy)") from None
    model.to(device)
    bn_batches, valid_x, valid_y, description = validation_data(cfg, num_classes, device, datasets)
    if cfg.train.channels_last:  # as trained: NHWC, same scores to float rounding, faster on CPU
        model = to_channels_last(model, device)
        bn_batches = [batch.contiguous(memory_format=torch.channels_last) for batch in bn_batches]
        valid_x = valid_x.contiguous(memory_format=torch.channels_last)
    logger.info("val_acc: %s", description)
    scorer = SubnetAccuracy(model, lambda x, arch: model(x, arch), space.to_str, bn_batches, valid_x, valid_y,
                            cfg.search.val_acc.batch_size, metric)
    scorer.description = description
    return scorer


def build_scorer(space: SearchSpace, cfg, init: Path, trained: Path, datasets=None) -> Scorer:
    """The scorer of ``cfg.search.score`` for the supernet checkpoints ``init``/``trained``."""
    score = cfg.search.score
    if score == "angle":
        return angle_scorer(space, init, trained, cfg)
    if score == "val_acc":
        return valacc_scorer(space, cfg, trained, datasets)
    return ProxyScorer(space, cfg, score, datasets)


def scoring(space: SearchSpace, cfg, run_dir: Path) -> tuple[SearchSpace, Scorer, str]:
    """``(space, scorer, fingerprint)`` of the checkpoints the config names: what a search and an
    evaluation worker (``common.evaluation.worker.serve_main``) both build from the same config."""
    scorer = build_scorer(space, cfg, *checkpoints(cfg.search, Path(run_dir)))
    return space, scorer, scorer.fingerprint
