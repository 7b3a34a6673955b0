"""BatchNorm: re-calibration and an accurate, fast NHWC training kernel for the CPU.

A supernet's BN running statistics average over every path trained; a single path needs its own.
``recalibrate_bn`` resets every BN layer's running mean/variance and re-estimates them as the exact
average over the given batches (``momentum=None``), with the weights untouched and no gradient
(the SPOS protocol for scoring a sub-network with inherited weights).

``SoundBatchNorm2d`` (``to_channels_last`` swaps it in) trains NHWC tensors on the CPU with batch
statistics as accurate as PyTorch's NCHW kernel: in a compiled kernel (``native/batchnorm_nhwc.cpp``)
where one can be built, else with PyTorch operators.
"""
from __future__ import annotations

import ctypes
from functools import lru_cache
from typing import Callable, Iterable

import torch
from torch import nn

from . import native


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


def _rows(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])  # a view of an NHWC tensor


_FORWARD = [native.POINTER] * 2 + [native.INT64] * 2 + [ctypes.c_double] + [native.POINTER] * 5 + [ctypes.c_int]
_BACKWARD = [native.POINTER] * 8 + [native.INT64] * 2 + [ctypes.c_int]


@lru_cache(maxsize=None)
def native_kernels() -> dict | None:
    """``{dtype: (forward, backward)}`` of the compiled kernels (``native/batchnorm_nhwc.cpp``), or
    ``None`` where they cannot be built (``common.native``)."""
    signatures = {f"rlnas_bn_{way}_{suffix}": types for suffix in ("f32", "f64")
                  for way, types in (("forward", _FORWARD), ("backward", _BACKWARD))}
    found = native.functions("batchnorm_nhwc", signatures)
    if found is None:
        return None
    return {dtype: (found[f"rlnas_bn_forward_{suffix}"], found[f"rlnas_bn_backward_{suffix}"])
            for dtype, suffix in ((torch.float32, "f32"), (torch.float64, "f64"))}


def _native_forward(kernel, x, weight, bias, eps):
    channels = x.shape[1]
    out = torch.empty_like(x)
    mean, var, invstd = x.new_empty(3, channels)
    with native.profiled("batch_norm_nhwc"):
        kernel(x.data_ptr(), out.data_ptr(), x.numel() // channels, channels, eps, native.address(weight),
               native.address(bias), mean.data_ptr(), var.data_ptr(), invstd.data_ptr(), torch.get_num_threads())
    return out, mean, var, invstd


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


def _native_backward(kernel, grad, x, weight, mean, invstd, needs):
    channels = x.shape[1]
    grad_x = torch.empty_like(x) if needs[0] else None
    grad_weight, grad_bias = (torch.empty_like(weight) if need else None for need in needs[1:])
    with native.profiled("batch_norm_nhwc_backward"):
        kernel(grad.data_ptr(), x.data_ptr(), mean.data_ptr(), invstd.data_ptr(), native.address(weight),
               native.address(grad_x), native.address(grad_weight), native.address(grad_bias),
               x.numel() // channels, channels, torch.get_num_threads())
    return grad_x, grad_weight, grad_bias


def _torch_backward(grad, x, weight, mean, invstd, needs):
    return torch.ops.aten.native_batch_norm_backward(grad, x, weight, None, None, mean, invstd, True, 0.0, needs)


class _ChannelsLastBatchNorm(torch.autograd.Function):
    """Training-mode batch normalisation of an NHWC (channels_last) tensor, as accurate as PyTorch's
    NCHW kernel. PyTorch's CPU channels-last kernel accumulates the batch statistics naively (~50x
    the NCHW error in float32); its backward, given the statistics, is accurate but slow. So both
    directions run in a compiled kernel (``native/batchnorm_nhwc.cpp``: blocked sums in double, one
    pass per sum); without one, the statistics are cascade sums of PyTorch operators (the mean, then
    the mean square of the centred values), the centred tensor is normalised in place, and the
    backward is PyTorch's kernel."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        kernels = native_kernels()
        if kernels is not None and all(t is None or t.dtype == x.dtype for t in (weight, bias)):
            forward_kernel, ctx.backward_kernel = kernels[x.dtype]
            out, mean, var, invstd = _native_forward(forward_kernel, x, weight, bias, eps)
        else:
            ctx.backward_kernel = None
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
        if ctx.backward_kernel is not None:
            grad_x, grad_weight, grad_bias = _native_backward(ctx.backward_kernel, grad, x, weight, mean, invstd, needs)
        else:
            grad_x, grad_weight, grad_bias = _torch_backward(grad, x, weight, mean, invstd, needs)
        return grad_x, grad_weight, grad_bias, None


def sound_channels_last(module: nn.BatchNorm2d, x: torch.Tensor) -> bool:
    """Whether ``SoundBatchNorm2d`` takes its own kernel: training statistics of a float32/float64
    NHWC tensor on the CPU (elsewhere PyTorch's kernel is accurate or the only one)."""
    return ((module.training or not module.track_running_stats) and x.device.type == "cpu"
            and x.dtype in (torch.float32, torch.float64) and native.strictly_nhwc(x))


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


def to_channels_last(model: nn.Module) -> nn.Module:
    """``model`` in NHWC memory format with its ``nn.BatchNorm2d`` layers computing as
    ``SoundBatchNorm2d`` (a class swap: no new state, the same state-dict keys)."""
    for module in model.modules():
        if type(module) is nn.BatchNorm2d:
            module.__class__ = SoundBatchNorm2d
    return model.to(memory_format=torch.channels_last)
