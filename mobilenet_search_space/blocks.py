"""Building blocks shared by the supernet and the standalone network (docs/reference.md §5.1).

Module layouts follow the released code, so state-dict keys mean the same thing: an inverted
residual keeps its layers in ``conv`` (``conv.0`` pw expand, ``conv.3`` depthwise, ``conv.6``
pw-linear and their BNs ``conv.1/4/7``); the expand-1 block has ``conv.0`` depthwise, ``conv.3``
pointwise.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .encoding import FIRST_CHANNELS, HEAD_CHANNELS, STEM_CHANNELS, scale


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (skipped for expansion 1), kxk depthwise, 1x1 linear projection,
    with a residual connection when the shape is kept."""

    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int, expansion: int):
        super().__init__()
        hidden = c_in * expansion
        self.residual = stride == 1 and c_in == c_out
        depthwise = [nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
                     nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        project = [nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        if expansion == 1:
            layers = depthwise + project
        else:
            layers = [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
            layers += depthwise + project
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU6(inplace=True))


def stem(width_mult: float) -> tuple[nn.Module, nn.Module]:
    """The fixed ``conv_bn`` (3 -> 40, stride 2) and the expand-1 block (40 -> 24)."""
    c_stem = scale(STEM_CHANNELS, width_mult)
    return conv_bn(3, c_stem, 3, 2), InvertedResidual(c_stem, scale(FIRST_CHANNELS, width_mult), 1, 3, 1)


def head_conv(c_in: int, width_mult: float) -> nn.Sequential:
    """The fixed 1x1 conv to 1728 channels before pooling."""
    return conv_bn(c_in, scale(HEAD_CHANNELS, width_mult), 1, 1)


def init_supernet_weights(model: nn.Module) -> None:
    """The released supernet's init: convs N(0, sqrt(2 / (k*k*C_out))), BN gamma 1 beta 0, Linear default."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
            nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
