"""Supernet training (SPOS, random labels), shared by every search space; the loop is ``common.trainer``.

Each step samples one path (``model.sample_path(rng)``), trains it on one batch with the labels
of the run (random by default) and takes one optimizer step. The weights before the first step are
saved as ``checkpoints/epoch_0000.pt`` (the angle needs them) and never rewritten; every
``save_every`` epochs and at the end ``epoch_NNNN.pt`` is written, and ``last.pt`` after every
epoch. A run directory holding ``last.pt`` resumes from it, and the resumed run ends bit-identical
to an uninterrupted one: every random stream of epoch ``e`` is derived from ``(seed, e)``.

Distributed: under ``torchrun --nproc_per_node=N`` every rank samples the same path from the same
``(seed, epoch)`` generator, reads its part of each global batch of ``train.batch_size`` images
(with the labels a single process would give those images), gradients are averaged by DDP, and only
rank 0 writes checkpoints, ``config.yaml``, logs and TensorBoard. Resume works the same way.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from . import distributed, masked_step, stability
from .data import build_loaders
from .errors import UserError
from .seeding import derive_seed
from .trainer import (Trainer, TrainConfig, autocast, build_optimizer, check_run_directory, check_same_run,  # noqa: F401
                      checkpoint_path, grad_scaler, learning_rate, resolve_device, run_training, train_step)

logger = logging.getLogger("rlnas")


class SupernetTrainer(Trainer):
    """Trains a supernet (``sample_path(rng)`` and ``forward(x, path)``): one sampled path per step."""

    save_initial = True  # the angle needs the weights before the first step
    find_unused_parameters = True  # each step trains one path's weights

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stability = stability.tracker(kwargs["config"], self.space, self.run_dir)

    def sample_path(self, rng: np.random.Generator):
        return self.model.sample_path(rng)

    def build_runner(self):
        """``train.step_mode``: the single-path step (None), or the masked step, eager or captured."""
        mode = self.cfg.step_mode
        why_not = masked_step.supports(self.model, self.cfg, distributed.world_size())
        if mode == "auto":
            mode = "captured" if self.device.type == "cuda" and why_not is None else "single_path"
        elif mode != "single_path" and why_not is not None:
            raise UserError(f"train.step_mode={mode}: not for this run: {why_not}")
        logger.info("training step: %s", {"single_path": "single path (the sampled ops only)",
                                          "masked": "masked (every op, the path as masks)",
                                          "captured": "masked, captured in a CUDA graph"}[mode])
        if mode == "single_path":
            return None
        runner = masked_step.MaskedStep(self.model, self.optimizer, self.cfg)
        return masked_step.CapturedStep(runner) if mode == "captured" else runner

    def stop_requested(self) -> bool:
        return self.stability.stop_requested()  # a run stopped on ranking stability stays stopped when resumed

    def after_epoch(self, epoch: int) -> None:
        self.stability.after_epoch(epoch, self.model, self.writer)

    def end_epoch(self, epoch: int, stats: dict) -> None:
        if self.writer is not None:
            self.writer.flush()
        logger.info("epoch %d/%d: loss %.4f, accuracy on its labels %.2f%%, %.0f images/s%s",
                    epoch, self.cfg.epochs, stats["train_loss"], stats["train_acc"], stats["images_per_s"],
                    f" ({distributed.world_size()} processes)" if distributed.is_distributed() else "")


def train_supernet(config, space: str, build_supernet: Callable[[int], nn.Module], run_dir: Path,
                   stop_after_epoch: Optional[int] = None) -> int:
    """Build data, labels and supernet from an experiment config and train (or resume) in ``run_dir``.

    ``config`` has ``seed``, ``device``, ``data``, ``labels`` and ``train`` sections;
    ``build_supernet(num_classes)`` returns the space's supernet. Returns the last epoch done.
    Started by torchrun, it trains with DDP over all processes (``train.batch_size`` is the global batch).
    """
    from torch.utils.tensorboard import SummaryWriter  # seconds to import: only when training

    def build(device: torch.device) -> SupernetTrainer:
        rank, world = distributed.rank(), distributed.world_size()
        loaders = build_loaders(config.data, config.seed, distributed.per_rank(config.train.batch_size), labels=config.labels,
                                device=device, drop_last=config.train.drop_last, rank=rank, world_size=world)
        loader, labels = loaders.train, loaders.labels
        logger.info("data: %s, %d training images, labels '%s' over %d classes, device %s%s", config.data.dataset,
                    len(labels), config.labels.mode, labels.num_classes, device,
                    f", {world} processes (global batch {config.train.batch_size})" if world > 1 else "")
        torch.manual_seed(derive_seed(config.seed, "init"))
        model = build_supernet(labels.num_classes).to(device)
        return SupernetTrainer(model=model, loader=loader, cfg=config.train, config=config, space=space,
                               seed=config.seed, run_dir=Path(run_dir), device=device,
                               writer_factory=lambda path: SummaryWriter(str(path)))

    return run_training(config, Path(run_dir), build, lambda trainer, done: done, stop_after_epoch)
