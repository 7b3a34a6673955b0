"""3x3 average pooling, stride 1, padding 1, ``count_include_pad=False`` (NAS-Bench-201's
``avg_pool_3x3``): PyTorch's pooling kernel, and the same function as a depthwise convolution, which
is faster on the CPU (docs/decisions.md item 25). ``common.device_ops`` chooses between them."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .bn import strictly_nhwc

_POOL_CONSTANTS: dict = {}


def _pool_constants(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ones, reciprocal)`` for a 4-D input like ``like``: the ``(C, 1, 3, 3)`` all-ones depthwise
    kernel and ``1 / (number of in-image pixels of each 3x3 window)`` as a ``(1, C, H, W)`` tensor,
    both in ``like``'s memory format (a product with an ``(H, W)`` factor broadcast over an NHWC
    tensor is several times slower); cached per shape, device, dtype and format."""
    channels, height, width = like.shape[1:]
    last = strictly_nhwc(like)
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


def avg_pool_3x3_depthwise(x: torch.Tensor) -> torch.Tensor:
    """``avg_pool_3x3_reference(x)`` to float rounding: the zero-padded 3x3 window sums as a depthwise
    convolution with an all-ones kernel, times the reciprocal window sizes (up to 2.5x faster than
    PyTorch's pooling kernel forward and backward on the CPU)."""
    ones, reciprocal = _pool_constants(x)
    return F.conv2d(x, ones, padding=1, groups=x.shape[1]) * reciprocal


def avg_pool_3x3_reference(x: torch.Tensor) -> torch.Tensor:
    """PyTorch's (on CUDA cuDNN's) pooling kernel."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
