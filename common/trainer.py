"""THE training loop, shared by supernet training (``common.training``) and retraining (``common.retrain``).

``Trainer`` owns everything the two have in common: SGD with the schedule of ``learning_rate``,
``train_step`` (forward under ``train.amp``, ``train.channels_last``, loss, backward, clipping),
checkpoints (``epoch_NNNN.pt`` every ``save_every`` epochs and at the end, ``last.pt`` after every
epoch, only rank 0 writes), exact resume (every random stream of epoch ``e`` is derived from
``(seed, e)``; torch's RNG, the optimizer and the loss scaler are checkpointed), progress, TensorBoard
and DDP (``common.distributed``). A subclass says what differs through a few hooks: the path of a
step (``sample_path``: a supernet samples one, a standalone network has none), what an epoch does
before and after its steps (``begin_epoch``/``end_epoch``), what the checkpoints add (``payload``/
``restore``) and what is written beside them (``after_save``).

Speed: ``train.channels_last`` (see ``TrainConfig``) keeps activations in NHWC;
``train.amp`` (``bf16`` or ``fp16`` with a GradScaler, off by default) runs the forward
pass under autocast while the weights, the optimizer and the checkpoints (hence the angle) stay
float32. Neither changes what a step computes beyond float rounding.
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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from .device_ops import to_channels_last
from .checkpoint import (FORMAT_VERSION, RUN_KEYS, UnreadableCheckpoint, checkpoint_record, load_checkpoint, restore_rng_states,
                         rng_states, save_checkpoint)
from .config import config_differences, differences_text, dump_config, from_dict, parse_yaml, to_dict
from .errors import UserError
from .kernels import fill_momentum_buffers, load_optimizer_state, sgd_kernels
from .seeding import numpy_rng
from .stability import StabilityConfig

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
    # Gradients between steps. drop: set to None (PyTorch 2), so a weight off this step's path is not
    # updated at all. zero: zeroed in place, as PyTorch 1.4's Module.zero_grad() did for the released
    # code: once a weight has been on a path, weight decay and momentum keep moving it on every later
    # step (docs/decisions.md, "Gradients of unsampled weights").
    zero_grad: Literal["drop", "zero"] = "drop"
    grad_clip_norm: Optional[float] = None
    grad_clip_value: Optional[float] = None
    drop_last: bool = False
    max_steps_per_epoch: Optional[int] = None  # shorten epochs (quick runs); None = the whole training set
    save_every: int = 1  # epoch checkpoints every N epochs; epoch 0 and the last epoch are always kept
    log_every: int = 50  # steps between log lines and TensorBoard points
    amp: Literal["none", "bf16", "fp16"] = "none"  # autocast of the forward pass; fp16 adds a GradScaler
    # NHWC activations and weights, with an accurate CPU BatchNorm (common.device_ops.to_channels_last); on in the
    # NB201 configs (faster there), off by default (not measured for the other spaces)
    channels_last: bool = False
    # supernet training: single_path runs the sampled path's ops only (the released step); masked computes
    # every op and applies the path as masks (the same result to float rounding, common/masked_step.py);
    # captured replays the masked step as one CUDA graph (CUDA only); auto: captured on CUDA where the
    # masked step applies, else single_path
    step_mode: Literal["auto", "single_path", "masked", "captured"] = "auto"
    threads: Optional[int] = None  # CPU compute threads per process; None: OMP_NUM_THREADS or the cores' share
    # supernet training: log the ranking's stability each epoch, optionally stop on it (common/stability.py)
    stability: StabilityConfig = field(default_factory=StabilityConfig)

    # Keys that change how fast or what is written, not what is computed: they may differ on resume.
    RESUME_FREE = ("save_every", "log_every", "channels_last", "threads", "stability", "step_mode")

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.save_every < 1 or self.log_every < 1:
            raise ValueError("epochs, batch_size, save_every and log_every must be positive")
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise ValueError(f"need 0 <= min_lr <= lr and lr > 0, got lr={self.lr}, min_lr={self.min_lr}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be positive (or null for the default), got {self.threads}")


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
    optimizer = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                                **sgd_kernels(model.parameters(), foreach))
    fill_momentum_buffers(optimizer)
    return optimizer


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
               path, cfg: TrainConfig, scaler: Optional[torch.amp.GradScaler] = None,
               aux_weight: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One step: zero the gradients (``cfg.zero_grad``), forward (under ``cfg.amp``), cross-entropy,
    backward, clipping, SGD.

    ``path``: the supernet path to train (``model(images, path)``), or None for a standalone network
    (``model(images)``). A model returning ``(logits, aux_logits)`` adds ``aux_weight`` times the
    auxiliary head's loss. ``model`` may be DDP-wrapped. Returns the detached loss and logits;
    nothing waits for the device.
    """
    if cfg.channels_last and images.dim() == 4:
        images = images.contiguous(memory_format=torch.channels_last)
    with autocast(images.device, cfg.amp):
        out = model(images) if path is None else model(images, path)
    logits, aux = out if isinstance(out, tuple) else (out, None)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # the loss of an autocast forward in float32
    loss = F.cross_entropy(logits, labels, label_smoothing=cfg.label_smoothing)
    if aux is not None and aux_weight > 0:
        loss = loss + aux_weight * F.cross_entropy(aux.float(), labels, label_smoothing=cfg.label_smoothing)
    optimizer.zero_grad(set_to_none=cfg.zero_grad == "drop")
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
    signature = {key: config.get(key) for key in RUN_KEYS}
    signature["train"] = {k: v for k, v in (signature["train"] or {}).items() if k not in TrainConfig.RESUME_FREE}
    return signature


def check_same_run(saved_config: dict, config: dict, run_dir: Path, schema: Optional[type] = None) -> None:
    """Refuse to resume a run directory that holds a run of another training config (naming the keys)."""
    differences = config_differences(_training_signature(saved_config, schema), _training_signature(config, schema))
    if differences:
        raise UserError(f"{run_dir}: holds a run with another training config (saved -> given: "
                        f"{differences_text(differences)}); use another --run-dir (nothing was changed)")


def check_run_directory(run_dir: Path, config) -> None:
    """Before any data are read or logged: refuse a run directory whose checkpoints belong to another
    config (the run's ``config.yaml`` says which), so that a refused run leaves no trace in it."""
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    if not saved.is_file() or not any((run_dir / "checkpoints").glob("*.pt")):
        return
    try:
        saved_config = parse_yaml(saved.read_text())
    except Exception:  # an unreadable config.yaml: the checkpoint check in ``resume`` decides
        return
    if isinstance(saved_config, dict):
        schema = type(config) if not isinstance(config, dict) else None
        check_same_run(saved_config, to_dict(config), run_dir, schema)


def check_trained_with(config, payload: dict, path: Path) -> None:
    """Refuse to use checkpoint ``payload`` (file ``path``) with a config its run was not trained with
    (the seed may differ: it also seeds the search); warn when its training had not finished."""
    schema = type(config) if not isinstance(config, dict) else None
    saved, given = (_training_signature(c, schema) for c in (payload["config"], to_dict(config)))
    saved.pop("seed"), given.pop("seed")
    differences = config_differences(saved, given)
    if differences:
        raise UserError(f"{path}: trained with another config (trained -> given: {differences_text(differences)}); "
                        "use the run's own config (its config.yaml)")
    epochs = (payload["config"].get("train") or {}).get("epochs")
    if isinstance(epochs, int) and int(payload["epoch"]) < epochs:
        logger.warning("warning: %s holds the weights after epoch %d of %d: training has not finished",
                       path, int(payload["epoch"]), epochs)


def run_training(config, run_dir: Path, build: Callable[[torch.device], "Trainer"],
                 result: Callable[["Trainer", int], object], stop_after_epoch: Optional[int] = None):
    """Set-up, DDP and teardown of a training run, shared by supernet training and retraining.

    Joins the process group under torchrun (``common.distributed``), gives each rank its logging,
    refuses a run directory of another config before anything is read, sets the compute threads,
    builds the trainer with ``build(device)``, trains (or resumes) and returns ``result(trainer, last
    epoch done)``.
    On the way out the DDP wrapper goes first, then the process group: after a success every rank
    waits for the others; after an error it leaves at once (the others may never reach the barrier;
    torchrun stops them), so a failure on one rank ends the run instead of waiting for a timeout.
    """
    from .cli import setup_logging
    from .threads import configure_threads, loader_workers

    started_here = distributed.init()
    trainer, finished = None, False
    try:
        if distributed.world_size() > 1:
            setup_logging(Path(run_dir), distributed.rank())  # only rank 0 logs INFO lines and writes log.txt
        check_run_directory(Path(run_dir), config)
        configure_threads(config.train.threads, loader_workers(config.data))
        trainer = build(distributed.device(config.device))
        value = result(trainer, trainer.fit(stop_after_epoch))
        finished = True
        return value
    finally:
        if started_here:
            trainer = None  # the DDP wrapper must go before its process group (else gloo may abort at exit)
            gc.collect()
            distributed.cleanup(wait=finished)


class Progress:
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




class Trainer:
    """Trains ``model`` on ``loader``'s batches; subclasses set the hooks (see the module docstring).

    Under torchrun (``common.distributed.init()`` done) ``model`` is wrapped in DDP here; ``loader``
    must then yield this rank's part of each global batch, the same number of batches on every rank.
    ``loader`` is anything with ``len(loader)`` (steps per epoch) and ``loader.epoch(index)`` yielding
    ``(images, labels)`` on the device, as ``common.data.InMemoryLoader``.
    """

    save_initial = False  # write epoch_0000.pt (the weights before any step) on a fresh start
    find_unused_parameters = False  # DDP: True when a step trains only part of the weights
    aux_weight = 0.0  # weight of an auxiliary head's loss (see ``train_step``)

    def __init__(self, *, model: nn.Module, loader, cfg: TrainConfig, config: object, space: str, seed: int,
                 run_dir: Path, device: torch.device, writer_factory: Optional[Callable[[Path], object]] = None):
        if cfg.channels_last:
            model = to_channels_last(model, device)  # the device's BatchNorm (common.device_ops)
        self.model = model  # the plain module (state dicts, hooks); ``self.ddp`` runs the steps
        self.ddp = distributed.wrap(model, find_unused_parameters=self.find_unused_parameters)
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
        self.runner = None  # set by fit (build_runner)
        self.resumed_from: Optional[dict] = None  # the checkpoint this process resumed from (path, epoch, sha256)

    # ------------------------------------------------------------------ hooks

    def sample_path(self, rng: np.random.Generator):
        """The path a step trains (None: the whole network)."""
        return None

    def build_runner(self):
        """After resume: an object whose ``step(images, labels, codes)`` replaces ``train_step`` (with
        ``set_lr``, ``epoch_codes(paths)`` and ``zeroed_grads()``), or None for ``train_step``."""
        return None

    def begin_epoch(self, index: int) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
        """Called before epoch ``index`` (0-based); may return a transform of each batch's images."""
        return None

    def end_epoch(self, epoch: int, stats: dict) -> None:
        """Called after epoch ``epoch``'s steps (1-based) with its training statistics, before saving."""

    def payload(self, epoch: int) -> dict:
        """What a checkpoint holds."""
        payload = {
            "format": FORMAT_VERSION, "space": self.space, "config": self.config, "epoch": epoch,
            "global_step": self.global_step, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"schedule": self.cfg.schedule, "lr": self.optimizer.param_groups[0]["lr"]},
            "rng": rng_states(),
        }
        if self.scaler.is_enabled():
            payload["scaler"] = self.scaler.state_dict()
        if self.cfg.zero_grad == "zero":  # which weights hold a (zeroed) gradient and so keep moving off the path
            payload["zeroed_grads"] = (self.runner.zeroed_grads() if self.runner is not None else
                                       [name for name, p in self.model.named_parameters() if p.grad is not None])
        return payload

    def restore(self, payload: dict) -> None:
        """Restore what ``payload`` added beyond the base checkpoint."""

    def after_save(self, epoch: int) -> None:
        """Rank 0, after the checkpoints of ``epoch`` are written."""

    def after_epoch(self, epoch: int) -> None:
        """Every rank, after epoch ``epoch`` is trained and saved."""

    def stop_requested(self) -> bool:
        """True to end training before the next epoch (e.g. once the ranking is stable)."""
        return False

    # ------------------------------------------------------------------ checkpoints

    def save(self, epoch: int) -> None:
        """Rank 0 writes; the others wait, so that no rank runs ahead of a checkpoint being written.
        Weights that are not finite are never written."""
        bad = next((name for name, tensor in self.model.state_dict().items()
                    if tensor.is_floating_point() and not torch.isfinite(tensor).all()), None)
        if bad is not None:
            raise UserError(f"epoch {epoch}: {bad} holds NaN or inf; training stopped, and no checkpoint of "
                            f"epoch {epoch} was written")
        if self.main:
            payload = self.payload(epoch)
            if epoch % self.cfg.save_every == 0 or epoch == self.cfg.epochs:
                if not (epoch == 0 and checkpoint_path(self.run_dir, 0).exists()):
                    save_checkpoint(checkpoint_path(self.run_dir, epoch), payload)
            save_checkpoint(checkpoint_path(self.run_dir, "last"), payload)
            self.after_save(epoch)
        distributed.barrier()

    def latest_checkpoint(self) -> tuple[Optional[Path], Optional[dict]]:
        """``(path, payload)`` of the newest readable checkpoint (``last.pt``, else the newest
        ``epoch_NNNN.pt``, with a warning), or ``(None, None)`` in a fresh run directory."""
        epochs = sorted(self.run_dir.glob("checkpoints/epoch_[0-9][0-9][0-9][0-9].pt"), reverse=True)
        candidates = [path for path in (checkpoint_path(self.run_dir, "last"), *epochs) if path.is_file()]
        first_error = None
        for path in candidates:
            try:
                payload = load_checkpoint(path, space=self.space, map_location=self.device)
            except UnreadableCheckpoint as error:
                first_error = first_error or error
                logger.warning("warning: %s; trying the newest epoch checkpoint", error)
                continue
            if first_error is not None:
                logger.warning("warning: resuming from %s (epoch %d) instead", path, int(payload["epoch"]))
            return path, payload
        if first_error is not None:
            raise first_error
        return None, None

    def resume(self) -> int:
        """Load the latest checkpoint of this run directory; return the epoch to continue after (-1: fresh).

        Every rank reads the file (the run directory must be visible to all of them, as it is on one machine).
        """
        candidate, payload = self.latest_checkpoint()
        if candidate is None:
            return -1
        check_same_run(payload["config"], self.config, self.run_dir, self.schema)
        self.resumed_from = checkpoint_record(candidate, payload)
        self.model.load_state_dict(payload["model"])
        if payload.get("optimizer"):
            load_optimizer_state(self.optimizer, payload["optimizer"])
        if payload.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(payload["scaler"])
        restore_rng_states(payload.get("rng", {}))
        if self.cfg.zero_grad == "zero":
            params = dict(self.model.named_parameters())
            for name in payload.get("zeroed_grads", []):
                params[name].grad = torch.zeros_like(params[name])
        self.global_step = int(payload.get("global_step", 0))
        self.restore(payload)
        return int(payload["epoch"])

    # ------------------------------------------------------------------ loop

    def fit(self, stop_after_epoch: Optional[int] = None) -> int:
        """Train to ``cfg.epochs`` (or stop after ``stop_after_epoch``); return the last epoch done."""
        done = self.resume()
        if self.main:
            dump_config(self.config, self.run_dir / "config.yaml")
        if done < 0:
            if self.save_initial:
                self.save(0)
            done = 0
        elif done >= self.cfg.epochs:
            logger.info("training already complete (%d epochs) in %s", done, self.run_dir)
            return done
        else:
            logger.info("resuming after epoch %d", done)
        self.runner = self.build_runner()
        if self.writer_factory is not None:
            self.writer = self.writer_factory(self.run_dir / "tb")
        last = self.cfg.epochs if stop_after_epoch is None else min(self.cfg.epochs, stop_after_epoch)
        try:
            for epoch in range(done + 1, last + 1):
                if self.stop_requested():
                    break
                self.end_epoch(epoch, self.train_epoch(epoch))
                self.save(epoch)
                self.after_epoch(epoch)
                done = epoch
        finally:
            if self.writer is not None:
                self.writer.close()
        return done

    def train_epoch(self, epoch: int) -> dict:
        """Train epoch ``epoch`` (1-based: afterwards the weights are those after ``epoch`` epochs);
        return its mean loss, accuracy (on the labels trained with), last LR and images per second."""
        index = epoch - 1
        cfg = self.cfg
        transform = self.begin_epoch(index)
        path_rng = numpy_rng(self.seed, "paths", index)  # the same on every rank: all train the same path
        self.ddp.train()
        progress = Progress(self.steps_per_epoch, f"epoch {epoch}/{cfg.epochs}", cfg.log_every) if self.main else None
        # loss sum, correct, seen, non-finite losses; and the first step whose loss was not finite (no sync per step)
        totals = torch.zeros(4, dtype=torch.float64, device=self.device)
        first_bad = torch.full((), -1, dtype=torch.int64, device=self.device)
        started, lr = time.perf_counter(), cfg.lr
        codes = None
        if self.runner is not None:  # the epoch's paths drawn up front (the same stream) and moved once
            codes = self.runner.epoch_codes([self.sample_path(path_rng) for _ in range(self.steps_per_epoch)])
        for step, (images, labels) in enumerate(self.loader.epoch(index)):
            if step == self.steps_per_epoch:
                break
            lr = learning_rate(cfg, index, step, self.steps_per_epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            if transform is not None:
                images = transform(images)
            if self.runner is None:
                path = self.sample_path(path_rng)
                loss, logits = train_step(self.ddp, self.optimizer, images, labels, path, cfg, self.scaler, self.aux_weight)
            else:
                self.runner.set_lr(lr)
                loss, logits = self.runner.step(images, labels, codes[step])
            self.global_step += 1
            finite = torch.isfinite(loss)
            first_bad = torch.where(finite | (first_bad >= 0), first_bad, step + 1)
            totals[3] += ~finite
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
        loss_sum, correct, seen, non_finite = distributed.all_reduce_sum(totals).tolist()
        if non_finite:
            step = int(first_bad)
            where = f"at step {step}/{self.steps_per_epoch}" if step > 0 else "on another process"
            raise UserError(f"epoch {epoch}: the training loss became NaN or infinite {where}; training stopped, "
                            f"and no checkpoint of epoch {epoch} was written (lower train.lr, or set "
                            "train.grad_clip_norm)")
        elapsed = time.perf_counter() - started
        stats = {"train_loss": loss_sum / max(seen, 1), "train_acc": 100.0 * correct / max(seen, 1), "lr": lr,
                 "images_per_s": seen / elapsed}
        if self.writer is not None:
            self.writer.add_scalar("epoch/loss", stats["train_loss"], epoch)
            self.writer.add_scalar("epoch/train_acc", stats["train_acc"], epoch)
            self.writer.add_scalar("epoch/images_per_s", stats["images_per_s"], epoch)
        return stats
