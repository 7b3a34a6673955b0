"""3x3 average pooling, stride 1, padding 1, ``count_include_pad=False`` (NAS-Bench-201's
``avg_pool_3x3``), fast on the CPU: a native NHWC kernel (``native/avgpool3x3_nhwc.cpp``) where
one can be built, else a depthwise convolution."""
from __future__ import annotations

import ctypes
from functools import lru_cache

import torch
import torch.nn.functional as F

from . import native


@lru_cache(maxsize=None)
def native_kernels() -> dict | None:
    """``{dtype: kernel}`` of ``native/avgpool3x3_nhwc.cpp``, or ``None`` where it cannot be built."""
    types = [native.POINTER] * 2 + [native.INT64] * 4 + [ctypes.c_int] * 2
    found = native.functions("avgpool3x3_nhwc", {"rlnas_avgpool3x3_f32": types, "rlnas_avgpool3x3_f64": types})
    if found is None:
        return None
    return {torch.float32: found["rlnas_avgpool3x3_f32"], torch.float64: found["rlnas_avgpool3x3_f64"]}


def _box(kernel, source: torch.Tensor, backward: bool) -> torch.Tensor:
    out = torch.empty_like(source)
    batch, channels, height, width = source.shape
    with native.profiled("avg_pool_3x3_nhwc" + ("_backward" if backward else "")):
        kernel(source.data_ptr(), out.data_ptr(), batch, height, width, channels, int(backward),
               torch.get_num_threads())
    return out


class _NativeAvgPool3x3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel):
        ctx.kernel = kernel
        return _box(kernel, x, backward=False)

    @staticmethod
    def backward(ctx, grad):
        return _box(ctx.kernel, grad.contiguous(memory_format=torch.channels_last), backward=True), None


_POOL_CONSTANTS: dict = {}


def _pool_constants(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ones, reciprocal)`` for a 4-D input like ``like``: the ``(C, 1, 3, 3)`` all-ones depthwise
    kernel and ``1 / (number of in-image pixels of each 3x3 window)`` as a ``(1, C, H, W)`` tensor,
    both in ``like``'s memory format (a product with an ``(H, W)`` factor broadcast over an NHWC
    tensor is several times slower); cached per shape, device, dtype and format."""
    channels, height, width = like.shape[1:]
    last = native.strictly_nhwc(like)
    key = (channels, height, width, like.device, like.dtype, last)
    if key not in _POOL_CONSTANTS:
        def counts(n: int) -> torch.Tensor:
            c = torch.full((n,), 3.0, dtype=torch.float64)
            c[0] -= 1
            c[-1] -= 1
            return c.clamp_(min=1)  # a 1-pixel side has one pixel per window
        layout = torch.channels_last if last else torch.contiguous_format
        reciprocal = (1.0 / torch.outer(counts(height), counts(width))).expand(1, channels, height, width)
        ones = torch.ones(channels, 1, 3, 3, dtype=like.dtype, device=like.device)
        _POOL_CONSTANTS[key] = (ones.contiguous(memory_format=layout),
                                reciprocal.to(like.device, like.dtype).contiguous(memory_format=layout))
    return _POOL_CONSTANTS[key]


def avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """``nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)(x)`` for a 4-D ``x``, the same
    numbers up to float rounding. An NHWC float32/float64 tensor on the CPU takes the native kernel
    where it can be built; otherwise the zero-padded 3x3 window sums are a depthwise convolution
    with an all-ones kernel, times the reciprocal window sizes: up to 2.5x faster than PyTorch's
    pooling kernel forward and backward on CPU (docs/decisions.md item 25), and the native kernel
    1.6-2.3x faster again in NHWC."""
    kernels = native_kernels()
    if kernels is not None and x.dtype in kernels and x.device.type == "cpu" and native.strictly_nhwc(x):
        return _NativeAvgPool3x3.apply(x, kernels[x.dtype])
    ones, reciprocal = _pool_constants(x)
    return F.conv2d(x, ones, padding=1, groups=x.shape[1]) * reciprocal


def avg_pool_3x3_reference(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
