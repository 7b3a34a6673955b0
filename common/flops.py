"""FLOPs and parameter counting in the paper's convention: multiply-adds of convolutions and linear
layers (torch's flop counter reports 2 FLOPs per multiply-add), 'M' = 1e6.

Spaces use these to build per-op lookup tables and to check their analytic counts; a search never
builds a model per candidate.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@torch.no_grad()
def count_macs(module: nn.Module, *inputs, **kwargs) -> int:
    """Multiply-adds of one forward pass of ``module(*inputs, **kwargs)`` (convolutions and matmuls)."""
    was_training = module.training
    module.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            module(*inputs, **kwargs)
    finally:
        module.train(was_training)
    return counter.get_total_flops() // 2


def count_params(module: nn.Module, exclude: Iterable[str] = ()) -> int:
    """Parameters of ``module``, leaving out those whose name starts with any prefix in ``exclude``."""
    prefixes = tuple(exclude)
    return sum(p.numel() for name, p in module.named_parameters() if not (prefixes and name.startswith(prefixes)))


def count_flops_released(module: nn.Module, *inputs, **kwargs) -> int:
    """FLOPs as the released code's counter (its vendored thop) reports them, which the paper's tables use:
    convolution multiply-adds (+1 per output element with a bias), linear layers ``(2*in - 1)`` per
    output element (multiplies and adds). Equals ``count_macs`` plus those extra terms."""
    extra = 0

    def hook(layer: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal extra
        if isinstance(layer, nn.Linear):
            extra += (layer.in_features - 1) * output.numel()
        elif layer.bias is not None:
            extra += output.numel()

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    try:
        macs = count_macs(module, *inputs, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return macs + extra
