"""The SPOS supernet training loop shared by every search space.

Each step samples one path (``model.sample_path(rng)``), trains it on one batch with the labels
of the run (random by default) and takes one optimizer step. The weights before the first step are
saved as ``checkpoints/epoch_0000.pt`` (the angle needs them) and never rewritten; every
``save_every`` epochs and at the end ``epoch_NNNN.pt`` is written, and ``last.pt`` after every
epoch. A run directory holding ``last.pt`` resumes from it, and the resumed run ends bit-identical
to an uninterrupted one: every random stream of epoch ``e`` is derived from ``(seed, e)``.

Speed: ``train.channels_last`` (off by default, see ``TrainConfig``) keeps activations in NHWC;
``train.amp`` (``bf16`` or ``fp16`` with a GradScaler, off by default) runs the forward
pass under autocast while the weights, the optimizer and the checkpoints (hence the angle) stay
float32. Neither changes what a step computes beyond float rounding.

Distributed: under ``torchrun --nproc_per_node=N`` every rank samples the same path from the same
``(seed, epoch)`` generator, reads its part of each global batch of ``train.batch_size`` images
(with the labels a single process would give those images), gradients are averaged by DDP, and only
rank 0 writes checkpoints, ``config.yaml``, logs and TensorBoard. Resume works the same way.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed, stability
from .checkpoint import FORMAT_VERSION, load_checkpoint, restore_rng_states, rng_states, save_checkpoint
from .cli import parse_stage, stage_parser
from .config import dump_config, from_dict, to_dict
from .errors import UserError
from .seeding import numpy_rng

logger = logging.getLogger("rlnas")


@dataclass
class TrainConfig:
    epochs: int = 250
    batch_size: int = 64
    lr: float = 0.025
    min_lr: float = 0.001
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    schedule_per: Literal["epoch", "step"] = "epoch"  # the released NB201 code changes the LR once per epoch
    warmup_epochs: int = 0
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    weight_decay_on: Literal["all", "conv_linear", "conv"] = "all"  # which parameters get weight decay
    label_smoothing: float = 0.0
    grad_clip_norm: Optional[float] = None
    grad_clip_value: Optional[float] = None
    drop_last: bool = False
    max_steps_per_epoch: Optional[int] = None  # shorten epochs (quick runs); None = the whole training set
    save_every: int = 1  # epoch checkpoints every N epochs; epoch 0 and the last epoch are always kept
    log_every: int = 50  # steps between log lines and TensorBoard points
    amp: Literal["none", "bf16", "fp16"] = "none"  # autocast of the forward pass; fp16 adds a GradScaler
    # NHWC activations and weights: 1.1-1.25x faster steps on CPU, but PyTorch's CPU channels-last BatchNorm
    # is ~10x less accurate in float32 (gradients 2% off on the NB201 supernet), so off by default
    channels_last: bool = False
    stability: stability.StabilityConfig = field(default_factory=stability.StabilityConfig)  # common/stability.py

    # Keys that change how fast or what is written, not what is computed: they may differ on resume.
    RESUME_FREE = ("save_every", "log_every", "channels_last", "stability")

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.save_every < 1 or self.log_every < 1:
            raise ValueError("epochs, batch_size, save_every and log_every must be positive")
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ValueError(f"need 0 <= min_lr <= lr and lr > 0, got lr={self.lr}, min_lr={self.min_lr}")


def learning_rate(cfg: TrainConfig, epoch: int, step: int, steps_per_epoch: int) -> float:
    """LR at ``step`` of 0-based ``epoch``; per-epoch schedules ignore ``step``."""
    if epoch < cfg.warmup_epochs:
        return cfg.lr * (epoch * steps_per_epoch + step + 1) / (cfg.warmup_epochs * steps_per_epoch)
    progress = epoch - cfg.warmup_epochs
    if cfg.schedule_per == "step":
        progress += step / steps_per_epoch
    t = progress / max(1, cfg.epochs - cfg.warmup_epochs)
    if cfg.schedule == "cosine":
        return cfg.min_lr + (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t)) / 2
    if cfg.schedule == "linear":
        return cfg.lr - (cfg.lr - cfg.min_lr) * t
    return cfg.lr


def build_optimizer(model: nn.Module, cfg: TrainConfig, foreach: bool = True) -> torch.optim.Optimizer:
    """SGD with ``cfg``'s weight decay on the chosen parameters. ``foreach``: multi-tensor updates (the
    same arithmetic per element as the per-parameter loop, in a few kernels instead of hundreds)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if cfg.weight_decay_on == "all":
            wanted = True
        else:
            wanted = param.dim() == 4 or (cfg.weight_decay_on == "conv_linear" and name.startswith("classifier"))
        (decay if wanted else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, foreach=foreach)


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available; under torchrun each process gets GPU ``LOCAL_RANK``."""
    return distributed.device(name)


def autocast(device: torch.device, amp: str):
    """The autocast context of ``train.amp`` (a no-op for ``none``)."""
    if amp == "none":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def grad_scaler(device: torch.device, amp: str) -> torch.amp.GradScaler:
    """Loss scaling for fp16 (disabled, and free, otherwise)."""
    return torch.amp.GradScaler(device.type, enabled=amp == "fp16")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor,
               path, cfg: TrainConfig, scaler: Optional[torch.amp.GradScaler] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One SPOS step on ``path``: forward (under ``cfg.amp``), cross-entropy, backward, clipping, SGD.

    ``model`` may be DDP-wrapped. Returns the detached loss and logits; nothing waits for the device.
    """
    if cfg.channels_last and images.dim() == 4:
        images = images.contiguous(memory_format=torch.channels_last)
    with autocast(images.device, cfg.amp):
        logits = model(images, path)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # the loss of an autocast forward in float32
    loss = F.cross_entropy(logits, labels, label_smoothing=cfg.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        if cfg.grad_clip_norm is not None or cfg.grad_clip_value is not None:
            scaler.unscale_(optimizer)
    else:
        loss.backward()
    if cfg.grad_clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip_norm)
    if cfg.grad_clip_value is not None:
        nn.utils.clip_grad_value_(model.parameters(), cfg.grad_clip_value)
    if scaler is not None and scaler.is_enabled():
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return loss.detach(), logits.detach()


def checkpoint_path(run_dir: Path, epoch: int | str) -> Path:
    name = "last" if epoch == "last" else f"epoch_{int(epoch):04d}"
    return Path(run_dir) / "checkpoints" / f"{name}.pt"


def _training_signature(config: dict, schema: Optional[type] = None) -> dict:
    """The parts of a config that determine the trained weights (keys added to the schema since a
    checkpoint was written take their defaults, so that older runs still resume)."""
    if schema is not None:
        with contextlib.suppress(UserError):
            config = to_dict(from_dict(schema, config))
    signature = {key: config.get(key) for key in ("seed", "data", "labels", "model", "train")}
    signature["train"] = {k: v for k, v in (signature["train"] or {}).items() if k not in TrainConfig.RESUME_FREE}
    return signature


def check_same_run(saved_config: dict, config: dict, run_dir: Path, schema: Optional[type] = None) -> None:
    """Refuse to resume a run directory that holds a run of another training config."""
    if _training_signature(saved_config, schema) != _training_signature(config, schema):
        raise UserError(f"{run_dir}: holds a run with a different training config; "
                        "use another --run-dir (nothing was changed)")


class _Progress:
    """tqdm on a terminal, periodic log lines otherwise."""

    def __init__(self, total: int, description: str, log_every: int):
        self.total, self.description, self.log_every = total, description, log_every
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=description, leave=False, dynamic_ncols=True)

    def update(self, step: int, text: str) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(text, refresh=False)
        elif step % self.log_every == 0 or step == self.total:
            logger.info("%s step %d/%d %s", self.description, step, self.total, text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class SupernetTrainer:
    """Trains ``model`` (with ``sample_path(rng)`` and ``forward(x, path)``) on ``loader``'s batches.

    Under torchrun (``common.distributed.init()`` done) ``model`` is wrapped in DDP here; ``loader``
    must then yield this rank's part of each global batch, the same number of batches on every rank.
    """

    def __init__(self, *, model: nn.Module, loader, cfg: TrainConfig, config: object, space: str, seed: int,
                 run_dir: Path, device: torch.device, writer_factory: Optional[Callable[[Path], object]] = None):
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.ddp = distributed.wrap(model, find_unused_parameters=True)  # each step trains one path's weights
        self.loader = loader
        self.cfg = cfg
        self.schema = type(config) if not isinstance(config, dict) else None
        self.config = to_dict(config)
        self.space = space
        self.seed = seed
        self.run_dir = Path(run_dir)
        self.device = device
        self.main = distributed.is_main()
        self.optimizer = build_optimizer(model, cfg)
        self.scaler = grad_scaler(device, cfg.amp)
        self.steps_per_epoch = len(loader) if cfg.max_steps_per_epoch is None else min(len(loader), cfg.max_steps_per_epoch)
        if self.steps_per_epoch == 0:
            raise UserError(f"train.batch_size={cfg.batch_size}: no batch for every process in {len(loader.data)} training images")
        self.writer_factory = writer_factory if self.main else None
        self.writer = None
        self.global_step = 0
        self.stability = stability.tracker(config, space, self.run_dir)

    # ------------------------------------------------------------------ checkpoints

    def _payload(self, epoch: int) -> dict:
        payload = {
            "format": FORMAT_VERSION, "space": self.space, "config": self.config, "epoch": epoch,
            "global_step": self.global_step, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"schedule": self.cfg.schedule, "lr": self.optimizer.param_groups[0]["lr"]},
            "rng": rng_states(),
        }
        if self.scaler.is_enabled():
            payload["scaler"] = self.scaler.state_dict()
        return payload

    def _save(self, epoch: int) -> None:
        """Rank 0 writes; the others wait, so that no rank runs ahead of a checkpoint being written."""
        if self.main:
            payload = self._payload(epoch)
            if epoch == 0 or epoch % self.cfg.save_every == 0 or epoch == self.cfg.epochs:
                if not (epoch == 0 and checkpoint_path(self.run_dir, 0).exists()):
                    save_checkpoint(checkpoint_path(self.run_dir, epoch), payload)
            save_checkpoint(checkpoint_path(self.run_dir, "last"), payload)
        distributed.barrier()

    def _resume(self) -> int:
        """Load the latest checkpoint of this run directory; return the epoch to continue after (-1: fresh).

        Every rank reads the file (the run directory must be visible to all of them, as it is on one machine).
        """
        for candidate in (checkpoint_path(self.run_dir, "last"), checkpoint_path(self.run_dir, 0)):
            if candidate.exists():
                break
        else:
            return -1
        payload = load_checkpoint(candidate, space=self.space, map_location=self.device)
        check_same_run(payload["config"], self.config, self.run_dir, self.schema)
        self.model.load_state_dict(payload["model"])
        if payload.get("optimizer"):
            self.optimizer.load_state_dict(payload["optimizer"])
        if payload.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(payload["scaler"])
        restore_rng_states(payload.get("rng", {}))
        self.global_step = int(payload.get("global_step", 0))
        return int(payload["epoch"])

    # ------------------------------------------------------------------ loop

    def fit(self, stop_after_epoch: Optional[int] = None) -> int:
        """Train to ``cfg.epochs`` (or stop after ``stop_after_epoch``); return the last epoch done."""
        done = self._resume()
        if self.main:
            dump_config(self.config, self.run_dir / "config.yaml")
        if done < 0:
            self._save(0)
            done = 0
        elif done >= self.cfg.epochs:
            logger.info("training already complete (%d epochs) in %s", done, self.run_dir)
            return done
        else:
            logger.info("resuming after epoch %d", done)
        if self.writer_factory is not None:
            self.writer = self.writer_factory(self.run_dir / "tb")
        last = self.cfg.epochs if stop_after_epoch is None else min(self.cfg.epochs, stop_after_epoch)
        try:
            for epoch in range(done + 1, last + 1):
                if self.stability.stop_requested():  # stopped on ranking stability: a resumed run stays stopped
                    break
                self._train_epoch(epoch)
                self._save(epoch)
                done = epoch
                self.stability.after_epoch(epoch, self.model, self.writer)
        finally:
            if self.writer is not None:
                self.writer.close()
        return done

    def _train_epoch(self, epoch: int) -> None:
        """Train epoch ``epoch`` (1-based: afterwards the weights are those after ``epoch`` epochs)."""
        index = epoch - 1
        cfg = self.cfg
        path_rng = numpy_rng(self.seed, "paths", index)  # the same on every rank: all train the same path
        self.model.train()
        progress = _Progress(self.steps_per_epoch, f"epoch {epoch}/{cfg.epochs}", cfg.log_every) if self.main else None
        totals = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss sum, correct, seen (no sync per step)
        started = time.perf_counter()
        for step, (images, labels) in enumerate(self.loader.epoch(index)):
            if step == self.steps_per_epoch:
                break
            lr = learning_rate(cfg, index, step, self.steps_per_epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            path = self.model.sample_path(path_rng)
            loss, logits = train_step(self.ddp, self.optimizer, images, labels, path, cfg, self.scaler)
            self.global_step += 1
            totals[0] += loss * len(labels)
            totals[1] += (logits.argmax(1) == labels).sum()
            totals[2] += len(labels)
            if progress is None:
                continue
            if (step + 1) % cfg.log_every == 0 or step + 1 == self.steps_per_epoch:
                mean_loss = float(totals[0] / totals[2])  # this rank's batches; the epoch line has all ranks
                if self.writer is not None:
                    self.writer.add_scalar("train/loss", mean_loss, self.global_step)
                    self.writer.add_scalar("train/lr", lr, self.global_step)
                progress.update(step + 1, f"loss {mean_loss:.4f} lr {lr:.5f}")
            else:
                progress.update(step + 1, "")
        if progress is not None:
            progress.close()
        loss_sum, correct, seen = distributed.all_reduce_sum(totals).tolist()
        elapsed = time.perf_counter() - started
        mean_loss, accuracy = loss_sum / max(seen, 1), 100.0 * correct / max(seen, 1)
        if self.writer is not None:
            self.writer.add_scalar("epoch/loss", mean_loss, epoch)
            self.writer.add_scalar("epoch/train_acc", accuracy, epoch)
            self.writer.add_scalar("epoch/images_per_s", seen / elapsed, epoch)
            self.writer.flush()
        logger.info("epoch %d/%d: loss %.4f, accuracy on its labels %.2f%%, %.0f images/s%s",
                    epoch, cfg.epochs, mean_loss, accuracy, seen / elapsed,
                    f" ({distributed.world_size()} processes)" if distributed.is_distributed() else "")


def train_supernet(config, space: str, build_supernet: Callable[[int], nn.Module], run_dir: Path,
                   stop_after_epoch: Optional[int] = None) -> int:
    """Build data, labels and supernet from an experiment config and train (or resume) in ``run_dir``.

    ``config`` has ``seed``, ``device``, ``data``, ``labels`` and ``train`` sections;
    ``build_supernet(num_classes)`` returns the space's supernet. Returns the last epoch done.
    Started by torchrun, it trains with DDP over all processes (``train.batch_size`` is the global batch).
    """
    from torch.utils.tensorboard import SummaryWriter

    from .data import build_loaders
    from .seeding import derive_seed

    started_here = distributed.init()
    trainer, finished = None, False
    try:
        device = resolve_device(config.device)
        rank, world = distributed.rank(), distributed.world_size()
        if world > 1:
            from .cli import setup_logging

            setup_logging(Path(run_dir), rank)  # only rank 0 logs INFO lines and writes log.txt
        loaders = build_loaders(config.data, config.seed, distributed.per_rank(config.train.batch_size), labels=config.labels,
                                device=device, drop_last=config.train.drop_last, rank=rank, world_size=world)
        loader, labels = loaders.train, loaders.labels
        logger.info("data: %s, %d training images, labels '%s' over %d classes, device %s%s", config.data.dataset,
                    len(labels), config.labels.mode, labels.num_classes, device,
                    f", {world} processes (global batch {config.train.batch_size})" if world > 1 else "")
        torch.manual_seed(derive_seed(config.seed, "init"))
        model = build_supernet(labels.num_classes).to(device)
        trainer = SupernetTrainer(model=model, loader=loader, cfg=config.train, config=config, space=space,
                                  seed=config.seed, run_dir=Path(run_dir), device=device,
                                  writer_factory=lambda path: SummaryWriter(str(path)))
        done = trainer.fit(stop_after_epoch)
        finished = True
        return done
    finally:
        if started_here:
            trainer = None  # the DDP wrapper must go before its process group (else gloo may abort at exit)
            gc.collect()
            distributed.cleanup(wait=finished)


def supernet_stage(prog: str, description: str, schema: type, space: str,
                   build_supernet: Callable[[object, int], nn.Module], argv=None) -> int:
    """The ``train_supernet`` entry point of a space: parse ``--config``/``--set``/``--run-dir``, train.

    ``build_supernet(cfg, num_classes)`` returns the space's supernet for the parsed config.
    """
    parser = stage_parser(prog, description)
    parser.add_argument("--stop-after-epoch", type=int, default=None,
                        help="stop after this epoch (resume later with the same command)")
    args, cfg, run_dir = parse_stage(parser, schema, argv)
    return train_supernet(cfg, space, lambda num_classes: build_supernet(cfg, num_classes), run_dir,
                          args.stop_after_epoch)

