"""Validation accuracy of sub-networks with weights inherited from a supernet (the SPOS fitness).

For every architecture: re-calibrate the BN statistics on a fixed set of training batches
(``common.bn``), then classify the validation images in eval mode. The batches and the validation
images are drawn once (seeded), so every architecture is scored on exactly the same data and a
score depends on nothing but the architecture. Scores are memoised by canonical string: an evolution
and a correlation over the same supernet never pay twice for one architecture.

Which labels the validation images carry (``labels``): ``true`` uses the real classes; ``random``
draws one uniform label per validation image (seeded, over the classes the supernet was trained
on), which is all a user without labels has; ``auto`` (default) takes ``true`` when the supernet
trained on ground truth and ``random`` otherwise (the paper's method C).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Callable, Literal, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .bn import recalibrate_bn

logger = logging.getLogger("rlnas")


@dataclass
class ValAccConfig:
    bn_batches: int = 10  # training batches for BN re-calibration; 0 keeps the supernet's running statistics
    batch_size: int = 256  # for re-calibration and validation
    valid_images: Optional[int] = None  # a seeded subset of the validation images; None: all of them
    labels: Literal["auto", "true", "random"] = "auto"

    def __post_init__(self):
        if self.bn_batches < 0 or self.batch_size < 1:
            raise ValueError("val_acc.bn_batches must be >= 0 and val_acc.batch_size positive")
        if self.valid_images is not None and self.valid_images < 1:
            raise ValueError("val_acc.valid_images must be positive")


class SubnetAccuracy:
    """Scores architectures by inherited-weight validation accuracy (percent) or loss.

    ``forward(x, arch)`` runs the supernet on one architecture; ``bn_batches`` are normalised
    training batches; ``valid_x``/``valid_y`` the normalised validation images and their labels.
    """

    def __init__(self, model: nn.Module, forward: Callable[[torch.Tensor, object], torch.Tensor],
                 to_str: Callable[[object], str], bn_batches: Sequence[torch.Tensor], valid_x: torch.Tensor,
                 valid_y: torch.Tensor, batch_size: int = 256, metric: Literal["accuracy", "neg_loss"] = "accuracy"):
        self.model = model
        self.forward = forward
        self.to_str = to_str
        self.bn_batches = list(bn_batches)
        self.valid_x, self.valid_y = valid_x, valid_y
        self.batch_size = batch_size
        self.metric = metric
        self.cache: dict[str, float] = {}
        self.evaluated = 0
        digest = hashlib.sha256()
        for tensor in model.state_dict().values():
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        digest.update(valid_y.cpu().numpy().tobytes())
        digest.update(f"{len(self.bn_batches)}|{len(valid_y)}|{metric}".encode())
        self.fingerprint = digest.hexdigest()[:16]

    @torch.no_grad()
    def evaluate(self, arch) -> tuple[float, float]:
        """``(accuracy %, mean cross-entropy)`` of ``arch`` on the validation images."""
        if self.bn_batches:
            recalibrate_bn(self.model, self.bn_batches, lambda x: self.forward(x, arch))
        self.model.eval()
        correct, loss = 0, 0.0
        for start in range(0, len(self.valid_y), self.batch_size):
            x = self.valid_x[start:start + self.batch_size]
            y = self.valid_y[start:start + self.batch_size]
            logits = self.forward(x, arch)
            correct += int((logits.argmax(1) == y).sum())
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
        n = max(len(self.valid_y), 1)
        return 100.0 * correct / n, loss / n

    def score(self, arch) -> float:
        key = self.to_str(arch)
        if key not in self.cache:
            accuracy, loss = self.evaluate(arch)
            self.cache[key] = accuracy if self.metric == "accuracy" else -loss
            self.evaluated += 1
            if self.evaluated % 25 == 0:  # long scorings (a tau over many architectures) show progress
                logger.info("val_acc: %d architectures evaluated", self.evaluated)
        return self.cache[key]

    def __call__(self, archs) -> np.ndarray:
        return np.array([self.score(arch) for arch in archs], dtype=np.float64)
