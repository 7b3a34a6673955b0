"""The encoding (codec and sampling; the space object is ``space.SPACE``) of the MobileNet-like
(ProxylessNAS) search space of the paper (section 4.2.3, ref §5.1).

A fixed stem (conv 3x3 stride 2 to 40 channels, an expand-1 inverted residual to 24), 21 searchable
layers and a fixed head (1x1 conv to 1728, global pooling, classifier). Each layer picks one of 6
inverted-residual blocks (kernel 3/5/7 x expansion 3/6, codes 0..5) or, where the layer keeps its
shape (not the first layer of a stage), the identity (code -1): 7^15 * 6^6 architectures.

An architecture is a tuple of 21 ints; its canonical string is the ints separated by single spaces,
``"2 0 -1 2 2 0 2 4 0 4 4 2 4 2 4 2 0 0 0 2 2"``, the released retrain's ``--model_id``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from common.errors import UserError

NAME = "mobilenet"
IDENTITY = -1
BLOCKS = ((3, 3), (3, 6), (5, 3), (5, 6), (7, 3), (7, 6))  # code -> (kernel, expansion)
BLOCK_NAMES = tuple(f"k{k}_e{e}" for k, e in BLOCKS)
NUM_BLOCKS = len(BLOCKS)
# (output channels, stride of the first layer, layers) per stage; the stem ends at 24 channels, stride 2
STAGES = ((32, 2, 4), (56, 2, 4), (112, 2, 4), (128, 1, 4), (256, 2, 4), (432, 1, 1))
STEM_CHANNELS, FIRST_CHANNELS, HEAD_CHANNELS = 40, 24, 1728
NUM_LAYERS = sum(n for _, _, n in STAGES)
PAPER_ARCH = (2, 0, -1, 2, 2, 0, 2, 4, 0, 4, 4, 2, 4, 2, 4, 2, 0, 0, 0, 2, 2)  # the paper's Table 5 network

Arch = tuple  # 21 ints in -1..5


def scale(channels: int, width_mult: float) -> int:
    """Channels of a network ``width_mult`` times as wide (1.0: the paper's)."""
    return max(1, int(round(channels * width_mult)))


@dataclass(frozen=True)
class LayerSpec:
    index: int
    c_in: int
    c_out: int
    stride: int
    identity_allowed: bool  # the layer keeps shape: stride 1 and c_in == c_out


@lru_cache(maxsize=None)
def layer_specs(width_mult: float = 1.0) -> tuple[LayerSpec, ...]:
    specs, c_in = [], scale(FIRST_CHANNELS, width_mult)
    for c_out, first_stride, layers in STAGES:
        c_out = scale(c_out, width_mult)
        for position in range(layers):
            stride = first_stride if position == 0 else 1
            specs.append(LayerSpec(len(specs), c_in, c_out, stride, position > 0))
            c_in = c_out
    return tuple(specs)


# Legal codes per layer, and the identity mask (the same for every width).
IDENTITY_ALLOWED = np.array([spec.identity_allowed for spec in layer_specs()])
CHOICES = tuple(((IDENTITY,) if allowed else ()) + tuple(range(NUM_BLOCKS)) for allowed in IDENTITY_ALLOWED)
NUM_CHOICES = np.array([len(c) for c in CHOICES])
SIZE = int(np.prod(NUM_CHOICES.astype(object)))


def to_str(arch: Sequence[int]) -> str:
    return " ".join(str(int(code)) for code in arch)


def check(arch: Sequence[int]) -> Arch:
    """``arch`` as a tuple of ints, or a UserError that names the first problem."""
    try:
        codes = tuple(int(code) for code in arch)
    except (TypeError, ValueError):
        raise UserError(f"bad MobileNet architecture {arch!r}: expected {NUM_LAYERS} integers") from None
    if len(codes) != NUM_LAYERS:
        raise UserError(f"bad MobileNet architecture {to_str(codes)!r}: {len(codes)} layers, expected {NUM_LAYERS}")
    for layer, code in enumerate(codes):
        if code not in CHOICES[layer]:
            why = ("identity (-1) is not allowed at the first layer of a stage" if code == IDENTITY
                   else f"codes are -1 (identity) or 0..{NUM_BLOCKS - 1}")
            raise UserError(f"bad MobileNet architecture {to_str(codes)!r}: layer {layer} has {code}; {why}")
    return codes


def from_str(text: str) -> Arch:
    """Parse ``"2 0 -1 ..."`` (commas and brackets, as in a printed list, are accepted too)."""
    if not isinstance(text, str):
        raise UserError(f"bad MobileNet architecture {text!r}: expected a string of {NUM_LAYERS} integers")
    return _parse(text)


_INTEGER = re.compile(r"-?\d+")


@lru_cache(maxsize=65536)  # evolution parses its top-k parents over and over
def _parse(text: str) -> Arch:
    tokens = re.sub(r"[\[\](),]", " ", text).split()
    if not all(_INTEGER.fullmatch(token) for token in tokens):
        raise UserError(f"bad MobileNet architecture {text!r}: expected {NUM_LAYERS} integers separated by spaces")
    return check(tokens)


def is_legal(arch: Sequence[int]) -> bool:
    try:
        check(arch)
    except UserError:
        return False
    return True


def describe(arch: Sequence[int]) -> list[str]:
    """Per layer ``"K5 E3"`` or ``"Identity"``."""
    return ["Identity" if code == IDENTITY else "K{} E{}".format(*BLOCKS[code]) for code in arch]


def random_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 21)`` codes, each layer uniform over its legal choices (identity included where legal)."""
    picks = (rng.random((n, NUM_LAYERS)) * NUM_CHOICES).astype(np.int64)  # floor(u * k): uniform over k
    return picks - IDENTITY_ALLOWED.astype(np.int64)  # pick 0 is identity where allowed


class MobileNetCodec:
    """Codec and sampling of the space: what the search, the supernet's sampler and the workers use.

    With a FLOPs table and limit, ``random`` samples uniformly among the legal architectures within
    the limit, as the released search did (per-layer uniform draws, rejected when over the limit),
    but in vectorised batches: at the paper's 475M only about 1 in 300 draws qualifies.
    """

    name = NAME
    size = SIZE
    BATCH, MAX_BATCHES = 1024, 100

    def __init__(self, flops_table=None, max_flops_m: float | None = None):
        self.table = flops_table
        self.max_flops = None if max_flops_m is None else max_flops_m * 1e6
        if self.max_flops is not None:
            if flops_table is None:
                raise ValueError("a FLOPs limit needs a FLOPs table")
            cheapest = flops_table.min_flops()
            if cheapest > self.max_flops:
                raise UserError(f"flops limit {max_flops_m}M is below the cheapest architecture ({cheapest / 1e6:.1f}M)")

    def random(self, rng: np.random.Generator) -> Arch:
        if self.max_flops is None:
            return tuple(int(code) for code in random_codes(rng, 1)[0])
        for _ in range(self.MAX_BATCHES):
            codes = random_codes(rng, self.BATCH)
            within = np.flatnonzero(self.table.flops(codes) <= self.max_flops)
            if within.size:
                return tuple(int(code) for code in codes[within[0]])
        raise UserError(f"no architecture within {self.max_flops / 1e6:g}M FLOPs in {self.MAX_BATCHES * self.BATCH} "
                        "random draws: the limit is too tight for random sampling")

    def mutate(self, arch: Arch, prob: float, rng: np.random.Generator) -> Arch:
        # As released: each layer with probability `prob` is redrawn from its legal choices.
        flips = rng.random(NUM_LAYERS) < prob
        new = random_codes(rng, 1)[0]
        return tuple(int(n) if f else int(o) for o, f, n in zip(arch, flips, new))

    def crossover(self, a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
        take_b = rng.random(NUM_LAYERS) < 0.5
        return tuple(int(y) if t else int(x) for x, y, t in zip(a, b, take_b))

    is_legal = staticmethod(is_legal)
    to_str = staticmethod(to_str)
    from_str = staticmethod(from_str)
