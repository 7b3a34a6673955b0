"""BatchNorm re-calibration: the SPOS protocol for scoring a sub-network with inherited weights.

A supernet's BN running statistics average over every path trained; a single path needs its own.
``recalibrate_bn`` resets every BN layer's running mean/variance and re-estimates them as the exact
average over the given batches (``momentum=None``), with the weights untouched and no gradient.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn


def batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[torch.Tensor], forward: Callable[[torch.Tensor], object] | None = None) -> int:
    """Re-estimate the running statistics of every BN of ``model`` on ``batches``; returns the batch count.

    ``forward(x)`` runs the model (e.g. ``lambda x: supernet(x, path)``); default ``model(x)``. Only
    buffers of BN layers change: parameters, the model's train/eval mode and the BN momenta are restored.
    """
    layers = batchnorms(model)
    momenta = [layer.momentum for layer in layers]
    modes = {m: m.training for m in model.modules()}
    forward = forward if forward is not None else model
    count = 0
    try:
        for layer in layers:
            layer.reset_running_stats()
            layer.momentum = None  # cumulative moving average: the exact mean over the batches
        model.train()
        for images in batches:
            forward(images)
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        for module, training in modes.items():
            module.training = training
    return count
