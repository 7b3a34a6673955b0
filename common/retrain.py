"""Retraining of standalone networks (the evaluation stage of every space); the loop is ``common.trainer``.

A space builds its network; this module trains it from scratch with the true labels and evaluates
it after every epoch. What it handles (beyond the shared loop: ``train.amp``, ``train.channels_last``,
schedules, clipping, checkpoints, resume, DDP):

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from .checkpoint import atomic_write_text
from .data import DataConfig, build_loaders
from .seeding import derive_seed, torch_generator
from .trainer import TrainConfig, Trainer, run_training

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


@dataclass
class RetrainExperiment:
    """The sections every retraining config has; a space adds its ``model`` (the network to build)."""

    seed: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    train: RetrainConfig = field(default_factory=RetrainConfig)


class Retrainer(Trainer):
    """Trains a standalone network (true labels) and evaluates it on ``eval_loader`` after every epoch."""

    def __init__(self, *, eval_loader, **kwargs):
        super().__init__(**kwargs)
        self.eval_loader = eval_loader
        self.aux_weight = self.cfg.aux_weight
        self.history: list[dict] = []
        self.resumes: list[dict] = []  # every checkpoint this run resumed from, oldest first

    def begin_epoch(self, index: int):
        if hasattr(self.model, "drop_path_prob"):
            self.model.drop_path_prob = drop_path_probability(self.cfg, index)
        if self.cfg.cutout <= 0:
            return None
        generator = torch_generator(self.seed, "cutout", index, distributed.rank())
        return lambda images: cutout(images, self.cfg.cutout, generator)

    def end_epoch(self, epoch: int, stats: dict) -> None:
        metrics = evaluate_top_k(self.model, self.eval_loader, self.device)
        drop_path_prob = float(getattr(self.model, "drop_path_prob", 0.0))
        self.history.append({"epoch": epoch, "train_loss": stats["train_loss"], "lr": stats["lr"],
                             "drop_path_prob": drop_path_prob, "top1": metrics["top1"], "top5": metrics["top5"],
                             "eval_loss": metrics["loss"], "eval_images": metrics["images"]})
        logger.info("epoch %d/%d: train loss %.4f, eval top-1 %.2f%% top-5 %.2f%% (%d images)", epoch,
                    self.cfg.epochs, stats["train_loss"], metrics["top1"], metrics["top5"], metrics["images"])
        if self.writer is not None:
            self.writer.add_scalar("epoch/drop_path_prob", drop_path_prob, epoch)
            for key in ("top1", "top5", "loss"):
                self.writer.add_scalar(f"eval/{key}", metrics[key], epoch)
            self.writer.flush()

    def payload(self, epoch: int) -> dict:
        return {**super().payload(epoch), "history": json.dumps(self.history), "resumes": json.dumps(self.resumes)}

    def restore(self, payload: dict) -> None:
        self.history = json.loads(payload.get("history", "[]"))
        self.resumes = json.loads(payload.get("resumes", "[]")) + [self.resumed_from]

    def after_save(self, epoch: int) -> None:
        best = max(self.history, key=lambda h: h["top1"]) if self.history else None
        atomic_write_text(self.run_dir / "metrics.json",
                          json.dumps({"epochs_done": epoch, "best": best, "history": self.history,
                                      "config": self.config, "resumed_from": self.resumes}, indent=1))


def retrain(config, space: str, build_model: Callable[[int], nn.Module], run_dir: Path,
            stop_after_epoch: Optional[int] = None) -> dict:
    """Build data and network from an experiment config and retrain (or resume) in ``run_dir``.

    ``config`` has ``seed``, ``device``, ``data`` (a ``common.data.DataConfig``) and ``train`` (a
    ``RetrainConfig``); ``build_model(num_classes)`` returns the network. The evaluation set is the
    dataset's test split (else its held-out validation split). Returns the last evaluation.
    Under ``torchrun`` it joins the process group and trains with DDP (``common.distributed``).
    """
    from torch.utils.tensorboard import SummaryWriter  # seconds to import: only when training

    def build(device: torch.device) -> Retrainer:
        rank, world_size = distributed.rank(), distributed.world_size()
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
        return Retrainer(model=model, loader=train_loader, eval_loader=eval_loader, cfg=config.train, config=config,
                         space=space, seed=config.seed, run_dir=Path(run_dir), device=device,
                         writer_factory=lambda path: SummaryWriter(str(path)))

    return run_training(config, Path(run_dir), build, lambda trainer, _: trainer.history[-1] if trainer.history else {},
                        stop_after_epoch)
