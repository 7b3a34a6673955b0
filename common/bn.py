"""BatchNorm: re-calibration and an accurate, fast NHWC training kernel for the CPU.

A supernet's BN running statistics average over every path trained; a single path needs its own.
``recalibrate_bn`` resets every BN layer's running mean/variance and re-estimates them as the exact
average over the given batches (``momentum=None``), with the weights untouched and no gradient
(the SPOS protocol for scoring a sub-network with inherited weights).

``SoundBatchNorm2d`` trains NHWC tensors on the CPU with batch statistics as accurate as PyTorch's
NCHW kernel (``common.device_ops`` swaps it in on the CPU only).
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


def channel_sums(rows: torch.Tensor) -> torch.Tensor:
    """Column sums of a row-major ``(M, C)`` tensor. PyTorch reduces over the rows of ``(M, C)``
    slowly when C is small (one short vector per row); over a ``(M/k, k*C)`` view of the same memory
    it runs on full vectors, still as cascade sums, and the k partial sums are added last."""
    count, channels = rows.shape
    k = 1
    while k < 64 and count % (2 * k) == 0:
        k *= 2
    return rows.view(count // k, k * channels).sum(0).view(k, channels).sum(0)


def strictly_nhwc(x: torch.Tensor) -> bool:
    """A 4-D tensor whose memory is NHWC and not also NCHW (as when C or H*W is 1)."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def _rows(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])  # a view of an NHWC tensor


def _torch_forward(x, weight, bias, eps):
    count = x.numel() // x.shape[1]
    mean = channel_sums(_rows(x)) / count
    out = x - mean.view(1, -1, 1, 1)  # centred, NHWC like x; normalised in place below
    var = channel_sums(_rows(out).square()) / count
    invstd = (var + eps).rsqrt_()
    out.mul_((invstd if weight is None else invstd * weight).view(1, -1, 1, 1))
    if bias is not None:
        out.add_(bias.view(1, -1, 1, 1))
    return out, mean, var, invstd


def _torch_backward(grad, x, weight, mean, invstd, needs):
    return torch.ops.aten.native_batch_norm_backward(grad, x, weight, None, None, mean, invstd, True, 0.0, needs)


class _ChannelsLastBatchNorm(torch.autograd.Function):
    """Training-mode batch normalisation of an NHWC (channels_last) tensor, as accurate as PyTorch's
    NCHW kernel. PyTorch's CPU channels-last kernel accumulates the batch statistics naively (~50x
    the NCHW error in float32). Here they are cascade sums of PyTorch operators (the mean, then the
    mean square of the centred values), the centred tensor is normalised in place, and the backward
    is PyTorch's kernel."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        out, mean, var, invstd = _torch_forward(x, weight, bias, eps)
        ctx.set_materialize_grads(False)  # the statistics take no gradient: no zero tensors for them
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    def backward(ctx, grad, _mean_grad, _var_grad):
        if grad is None:
            return None, None, None, None
        x, weight, mean, invstd = ctx.saved_tensors
        needs = [ctx.needs_input_grad[0], weight is not None and ctx.needs_input_grad[1],
                 weight is not None and ctx.needs_input_grad[2]]
        grad = grad.contiguous(memory_format=torch.channels_last)
        grad_x, grad_weight, grad_bias = _torch_backward(grad, x, weight, mean, invstd, needs)
        return grad_x, grad_weight, grad_bias, None


def sound_channels_last(module: nn.BatchNorm2d, x: torch.Tensor) -> bool:
    """Whether ``SoundBatchNorm2d`` takes its own kernel: training statistics of a float32/float64
    NHWC tensor on the CPU (elsewhere PyTorch's kernel is accurate or the only one)."""
    return ((module.training or not module.track_running_stats) and x.device.type == "cpu"
            and x.dtype in (torch.float32, torch.float64) and strictly_nhwc(x))


class SoundBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` (same state, same results to float rounding) with an accurate CPU kernel for
    NHWC batch statistics (``_ChannelsLastBatchNorm``); everything else goes to PyTorch's kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not sound_channels_last(self, x):
            return super().forward(x)
        self._check_input_dim(x)
        out, mean, var = _ChannelsLastBatchNorm.apply(x, self.weight, self.bias, self.eps)
        if self.training and self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                count = x.numel() // x.shape[1]
                self.running_mean.lerp_(mean, factor)
                self.running_var.lerp_(var * (count / (count - 1)), factor)  # the unbiased variance, as PyTorch
        return out
