"""THE retraining loop for standalone networks (the evaluation stage of the DARTS and MobileNet spaces).

A space builds its network; this module trains it from scratch with the true labels and evaluates
it after every epoch. What it handles:

- SGD with the schedules of ``common.training.learning_rate`` (cosine, linear, constant; per epoch
  or per step; linear warm-up) and the weight-decay groups of ``build_optimizer``;
- label smoothing; a model returning ``(logits, aux_logits)`` in training adds
  ``aux_weight * loss(aux_logits)``; in eval mode it must return the logits alone;
- drop path: when the model has a ``drop_path_prob`` attribute it is set to
  ``drop_path * epoch / epochs`` before each epoch (0-based epoch, the DARTS schedule); dropout is
  the model's business;
- Cutout (``cutout`` > 0: one ``cutout`` x ``cutout`` square per image zeroed after normalisation,
  drawn batched on the device, see ``cutout``);
- gradient clipping by norm and/or value;
- top-1/top-5 on the evaluation set after every epoch (in percent), TensorBoard (``tb/``),
  ``metrics.json`` (every epoch, best top-1), progress bar or log lines;
- atomic checkpoints (``checkpoints/last.pt`` every epoch, ``epoch_NNNN.pt`` every ``save_every``)
  and exact resume: every random stream of epoch ``e`` (order, augmentation, cutout) is derived
  from ``(seed, e)`` and torch's own RNG (drop path, dropout) is checkpointed, so an interrupted and
  resumed run ends bit-identical to an uninterrupted one;
- DDP under ``torchrun``: ``batch_size`` is the global batch, split over ``world_size`` ranks; only
  rank 0 writes; evaluation counts are summed over ranks.

Loaders are anything with ``len(loader)`` (steps per epoch) and ``loader.epoch(index)`` yielding
``(images, labels)`` on the device, as ``common.data.InMemoryLoader``.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from .checkpoint import (FORMAT_VERSION, atomic_write_text, load_checkpoint, restore_rng_states, rng_states,
                         save_checkpoint)
from .config import dump_config, to_dict
from .errors import UserError
from .seeding import torch_generator
from .threads import configure_threads, loader_workers
from .training import TrainConfig, _Progress, build_optimizer, check_same_run, checkpoint_path, learning_rate

logger = logging.getLogger("rlnas")


@dataclass
class RetrainConfig(TrainConfig):
    """``TrainConfig`` plus the retraining extras; defaults are the DARTS CIFAR-10 recipe."""

    epochs: int = 600
    batch_size: int = 96  # global batch (split over the DDP ranks)
    lr: float = 0.025
    min_lr: float = 0.0
    nesterov: bool = False
    weight_decay: float = 3e-4
    grad_clip_norm: Optional[float] = 5.0
    aux_weight: float = 0.4  # weight of the auxiliary head's loss (used when the model returns two outputs)
    drop_path: float = 0.0  # final drop-path probability (linear from 0 over the epochs)
    cutout: int = 0  # Cutout square side in pixels; 0 = off
    eval_batch_size: int = 256
    save_every: int = 10

    def __post_init__(self):
        super().__post_init__()
        if self.aux_weight < 0 or not 0.0 <= self.drop_path < 1.0 or self.cutout < 0 or self.eval_batch_size < 1:
            raise ValueError("need aux_weight >= 0, 0 <= drop_path < 1, cutout >= 0, eval_batch_size >= 1")


def cutout(images: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    """Cutout (DeVries & Taylor; as in DARTS): per image, the square of side ``length`` centred on a
    uniform pixel (clipped at the border) is set to 0. Centres come from ``generator`` (CPU)."""
    n, _, h, w = images.shape
    centre = torch.stack([torch.randint(0, h, (n,), generator=generator),
                          torch.randint(0, w, (n,), generator=generator)], dim=1).to(images.device, non_blocking=True)
    half = length // 2
    rows = torch.arange(h, device=images.device)[None, :]
    cols = torch.arange(w, device=images.device)[None, :]
    in_rows = (rows >= centre[:, :1] - half) & (rows < centre[:, :1] + half)  # n x h
    in_cols = (cols >= centre[:, 1:] - half) & (cols < centre[:, 1:] + half)  # n x w
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
    return images * keep[:, None].to(images.dtype)


def drop_path_probability(cfg: RetrainConfig, epoch_index: int) -> float:
    return cfg.drop_path * epoch_index / cfg.epochs


@torch.no_grad()
def evaluate_top_k(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    """Top-1 / top-5 accuracy (percent) and mean loss of ``model`` on every batch of ``loader``,
    summed over the DDP ranks (each reads its own shard). Give the plain model, not its DDP wrapper:
    ranks may hold different numbers of evaluation batches."""
    was_training = model.training
    model.eval()
    totals = torch.zeros(4, dtype=torch.float64, device=device)  # top1, top5, loss sum, count
    for images, labels in loader.epoch(0):
        logits = model(images)
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices
        hit = top == labels[:, None]
        totals += torch.stack([hit[:, 0].sum(), hit.any(dim=1).sum(),
                               F.cross_entropy(logits, labels, reduction="sum"),
                               torch.tensor(len(labels), device=device)]).to(totals)
    distributed.all_reduce_sum(totals)
    model.train(was_training)
    count = max(float(totals[3]), 1.0)
    return {"top1": 100.0 * float(totals[0]) / count, "top5": 100.0 * float(totals[1]) / count,
            "loss": float(totals[2]) / count, "images": int(totals[3])}


class Retrainer:
    """Trains ``model`` on ``train_loader`` (true labels) and evaluates it on ``eval_loader`` each epoch."""

    def __init__(self, *, model: nn.Module, train_loader, eval_loader, cfg: RetrainConfig, config: object, space: str,
                 seed: int, run_dir: Path, device: torch.device, rank: int = 0, world_size: int = 1,
                 writer_factory: Optional[Callable[[Path], object]] = None):
        self.model = model
        self.train_loader = train_loader
        self.eval_loader = eval_loader
        self.cfg = cfg
        self.config = to_dict(config)
        self.space = space
        self.seed = seed
        self.run_dir = Path(run_dir)
        self.device = device
        self.rank, self.world_size = rank, world_size
        self.optimizer = build_optimizer(model, cfg)
        self.steps_per_epoch = len(train_loader) if cfg.max_steps_per_epoch is None else min(len(train_loader), cfg.max_steps_per_epoch)
        if self.steps_per_epoch == 0:
            raise UserError(f"train.batch_size={cfg.batch_size}: no full batch in the training set")
        self.writer_factory = writer_factory if rank == 0 else None
        self.writer = None
        self.global_step = 0
        self.history: list[dict] = []
        # The network under DDP when distributed; ``self.model`` stays the plain module (state dicts, drop path).
        self.net = distributed.wrap(model)

    # ------------------------------------------------------------------ checkpoints

    def _payload(self, epoch: int) -> dict:
        return {"format": FORMAT_VERSION, "space": self.space, "config": self.config, "epoch": epoch,
                "global_step": self.global_step, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": {"schedule": self.cfg.schedule, "lr": self.optimizer.param_groups[0]["lr"]},
                "rng": rng_states(), "history": json.dumps(self.history)}

    def _save(self, epoch: int) -> None:
        if self.rank != 0:
            distributed.barrier()  # wait until rank 0 has written
            return
        payload = self._payload(epoch)
        if epoch % self.cfg.save_every == 0 or epoch == self.cfg.epochs:
            save_checkpoint(checkpoint_path(self.run_dir, epoch), payload)
        save_checkpoint(checkpoint_path(self.run_dir, "last"), payload)
        best = max(self.history, key=lambda h: h["top1"]) if self.history else None
        atomic_write_text(self.run_dir / "metrics.json",
                          json.dumps({"epochs_done": epoch, "best": best, "history": self.history}, indent=1))
        distributed.barrier()

    def _resume(self) -> int:
        path = checkpoint_path(self.run_dir, "last")
        if not path.exists():
            return 0
        payload = load_checkpoint(path, space=self.space, map_location=self.device)
        check_same_run(payload["config"], self.config, self.run_dir)
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        restore_rng_states(payload.get("rng", {}))
        self.global_step = int(payload.get("global_step", 0))
        self.history = json.loads(payload.get("history", "[]"))
        return int(payload["epoch"])

    # ------------------------------------------------------------------ loop

    def fit(self, stop_after_epoch: Optional[int] = None) -> dict:
        """Train to ``cfg.epochs`` (or stop after ``stop_after_epoch``); return the last evaluation."""
        done = self._resume()
        if self.rank == 0:
            dump_config(self.config, self.run_dir / "config.yaml")
        if done:
            logger.info("resuming after epoch %d", done)
        if self.writer_factory is not None:
            self.writer = self.writer_factory(self.run_dir / "tb")
        last = self.cfg.epochs if stop_after_epoch is None else min(self.cfg.epochs, stop_after_epoch)
        try:
            for epoch in range(done + 1, last + 1):
                train = self._train_epoch(epoch)
                metrics = evaluate_top_k(self.model, self.eval_loader, self.device)
                self.history.append({"epoch": epoch, **train, "top1": metrics["top1"], "top5": metrics["top5"],
                                     "eval_loss": metrics["loss"], "eval_images": metrics["images"]})
                logger.info("epoch %d/%d: train loss %.4f, eval top-1 %.2f%% top-5 %.2f%% (%d images)", epoch,
                            self.cfg.epochs, train["train_loss"], metrics["top1"], metrics["top5"], metrics["images"])
                if self.writer is not None:
                    for key in ("top1", "top5", "loss"):
                        self.writer.add_scalar(f"eval/{key}", metrics[key], epoch)
                    self.writer.flush()
                self._save(epoch)
        finally:
            if self.writer is not None:
                self.writer.close()
        return self.history[-1] if self.history else {}

    def _train_epoch(self, epoch: int) -> dict:
        index, cfg = epoch - 1, self.cfg
        if hasattr(self.model, "drop_path_prob"):
            self.model.drop_path_prob = drop_path_probability(cfg, index)
        cut = torch_generator(self.seed, "cutout", index, self.rank) if cfg.cutout > 0 else None
        self.net.train()
        progress = _Progress(self.steps_per_epoch, f"epoch {epoch}/{cfg.epochs}", cfg.log_every) if self.rank == 0 else None
        loss_sum = torch.zeros((), device=self.device)
        seen, started, lr = 0, time.perf_counter(), cfg.lr
        for step, (images, labels) in enumerate(self.train_loader.epoch(index)):
            if step == self.steps_per_epoch:
                break
            lr = learning_rate(cfg, index, step, self.steps_per_epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            if cut is not None:
                images = cutout(images, cfg.cutout, cut)
            out = self.net(images)
            logits, aux = out if isinstance(out, tuple) else (out, None)
            loss = F.cross_entropy(logits, labels, label_smoothing=cfg.label_smoothing)
            if aux is not None and cfg.aux_weight > 0:
                loss = loss + cfg.aux_weight * F.cross_entropy(aux, labels, label_smoothing=cfg.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip_norm is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip_norm)
            if cfg.grad_clip_value is not None:
                nn.utils.clip_grad_value_(self.model.parameters(), cfg.grad_clip_value)
            self.optimizer.step()
            self.global_step += 1
            loss_sum += loss.detach() * len(labels)
            seen += len(labels)
            if progress is not None:
                text = ""
                if (step + 1) % cfg.log_every == 0 or step + 1 == self.steps_per_epoch:
                    text = f"loss {float(loss_sum) / seen:.4f} lr {lr:.5f}"
                    if self.writer is not None:
                        self.writer.add_scalar("train/loss", float(loss_sum) / seen, self.global_step)
                        self.writer.add_scalar("train/lr", lr, self.global_step)
                progress.update(step + 1, text)
        if progress is not None:
            progress.close()
        elapsed = time.perf_counter() - started
        if self.writer is not None:
            self.writer.add_scalar("epoch/drop_path_prob", getattr(self.model, "drop_path_prob", 0.0), epoch)
            self.writer.add_scalar("epoch/images_per_s", seen * self.world_size / elapsed, epoch)
        return {"train_loss": float(loss_sum) / max(seen, 1), "lr": lr,
                "drop_path_prob": float(getattr(self.model, "drop_path_prob", 0.0))}


def retrain(config, space: str, build_model: Callable[[int], nn.Module], run_dir: Path,
            stop_after_epoch: Optional[int] = None) -> dict:
    """Build data and network from an experiment config and retrain (or resume) in ``run_dir``.

    ``config`` has ``seed``, ``device``, ``data`` (a ``common.data.DataConfig``) and ``train`` (a
    ``RetrainConfig``); ``build_model(num_classes)`` returns the network. The evaluation set is the
    dataset's test split (else its held-out validation split). Returns the last evaluation.
    Under ``torchrun`` it joins the process group and trains with DDP (``common.distributed``).
    """
    distributed.init()
    configure_threads(config.train.threads, loader_workers(config.data))
    try:
        return _retrain(config, space, build_model, Path(run_dir), stop_after_epoch)
    finally:
        distributed.cleanup()


def _retrain(config, space, build_model, run_dir: Path, stop_after_epoch) -> dict:
    from torch.utils.tensorboard import SummaryWriter

    from .data import build_loaders
    from .seeding import derive_seed

    device = distributed.device(config.device)
    rank, world_size = distributed.rank(), distributed.world_size()
    if world_size > 1:
        from .cli import setup_logging

        setup_logging(run_dir, rank)  # only rank 0 logs INFO lines and writes log.txt
    # Under DDP every rank must take the same number of steps: the last partial batch is dropped.
    loaders = build_loaders(config.data, config.seed, distributed.per_rank(config.train.batch_size),
                            eval_batch_size=config.train.eval_batch_size, device=device,
                            drop_last=config.train.drop_last or world_size > 1, rank=rank, world_size=world_size)
    train_loader, eval_loader, num_classes = loaders.train, loaders.evaluation, loaders.num_classes
    sizes = len(train_loader.data), len(eval_loader.data)
    torch.manual_seed(derive_seed(config.seed, "init"))
    model = build_model(num_classes).to(device)
    logger.info("retrain: %d process(es), %s, %d training / %d evaluation images, %.2fM parameters, device %s",
                world_size, config.data.dataset, *sizes, sum(p.numel() for p in model.parameters()) / 1e6, device)
    trainer = Retrainer(model=model, train_loader=train_loader, eval_loader=eval_loader, cfg=config.train,
                        config=config, space=space, seed=config.seed, run_dir=run_dir, device=device,
                        rank=rank, world_size=world_size, writer_factory=lambda path: SummaryWriter(str(path)))
    return trainer.fit(stop_after_epoch)
