"""Which implementation each device runs, for the ops where the CPU and a GPU want different ones.
Chosen here and nowhere else (docs/decisions.md items 25 and 83):

- NAS-Bench-201's 3x3 average pooling: PyTorch's pooling kernel (cuDNN on CUDA) off the CPU; on the
  CPU the same function as a depthwise convolution (``common.pooling``), up to 2.5x faster there;
- BatchNorm of NHWC training tensors: ``nn.BatchNorm2d`` off the CPU; on the CPU
  ``SoundBatchNorm2d`` (``common.bn``), whose batch statistics are as accurate as the NCHW kernel's.

Both CPU implementations are pure PyTorch operators: nothing is compiled, and a CUDA process never
runs them.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .bn import SoundBatchNorm2d
from .pooling import avg_pool_3x3_depthwise, avg_pool_3x3_reference


def avg_pool_3x3_for(device: torch.device | str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The 3x3 average pooling (stride 1, padding 1, ``count_include_pad=False``) ``device`` runs."""
    return avg_pool_3x3_depthwise if torch.device(device).type == "cpu" else avg_pool_3x3_reference


def avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """NAS-Bench-201's ``avg_pool_3x3`` of ``x``, by the implementation of ``x``'s device."""
    return avg_pool_3x3_for(x.device)(x)


def batchnorm_class_for(device: torch.device | str) -> type[nn.BatchNorm2d]:
    """The class a ``nn.BatchNorm2d`` computes as in a channels-last model on ``device``."""
    return SoundBatchNorm2d if torch.device(device).type == "cpu" else nn.BatchNorm2d


def to_channels_last(model: nn.Module, device: torch.device | str | None = None) -> nn.Module:
    """``model`` in NHWC memory format; on the CPU its ``nn.BatchNorm2d`` layers compute as
    ``SoundBatchNorm2d`` (a class swap: no new state, the same state-dict keys). ``device``: where the
    model trains (default: where its first parameter is)."""
    if device is None:
        device = next(model.parameters()).device
    norm = batchnorm_class_for(device)
    for module in model.modules():
        if type(module) in (nn.BatchNorm2d, SoundBatchNorm2d):
            module.__class__ = norm
    return model.to(memory_format=torch.channels_last)
