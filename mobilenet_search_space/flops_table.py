"""The FLOPs lookup table (docs/reference.md §5.5): the cost of every block at every layer, counted once.

Each of the 6 blocks is built on its own at each of the 21 layers' input shape and counted with
``common.flops.count_flops_released`` (the released counter's convention: convolution multiply-adds,
a linear layer ``(2*in - 1)`` per output); so are the fixed parts before (stem) and after (head,
pooling, classifier) the searchable layers. An architecture's FLOPs are then a sum:
``fixed + sum over non-identity layers of table[layer, block]`` (identity costs nothing), for any
number of architectures in one vectorised step. Parameters (every weight, BN included) likewise.

The table for the paper's setting (224x224, 1000 classes, width 1.0) ships as ``flops_table_224.json``;
tables for other settings are counted on demand, on the meta device (shapes only, a few seconds).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from common.checkpoint import atomic_write_text
from common.errors import UserError
from common.flops import count_flops_released, count_params

from .blocks import InvertedResidual, head_conv, stem
from .encoding import BLOCK_NAMES, BLOCKS, HEAD_CHANNELS, IDENTITY_ALLOWED, NAME, NUM_BLOCKS, NUM_LAYERS, layer_specs, scale

FORMAT_VERSION = 1
DEFAULT_PATH = Path(__file__).with_name("flops_table_224.json")
_OFFSETS = np.arange(NUM_LAYERS) * (NUM_BLOCKS + 1) + 1  # column of code c at layer i: i * 7 + c + 1
CONVENTION = "multiply-adds of convolutions; linear layers (2*in-1) per output (the released thop counter)"


def downsample(resolution: int, stride: int) -> int:
    """Output size of a 'same'-padded odd-kernel convolution with ``stride``."""
    return (resolution - 1) // stride + 1


def layer_resolutions(input_size: int) -> list[int]:
    """Input height (= width) of each searchable layer."""
    resolutions, r = [], downsample(input_size, 2)
    for spec in layer_specs():
        resolutions.append(r)
        r = downsample(r, spec.stride)
    return resolutions


@dataclass(frozen=True)
class FlopsTable:
    input_size: int
    num_classes: int
    width_mult: float
    pre: tuple[int, int]  # (flops, params) of stem + expand-1 block
    post: tuple[int, int]  # (flops, params) of head conv + pooling + classifier
    block_flops: np.ndarray  # (21, 6) int64
    block_params: np.ndarray  # (21, 6) int64

    # --------------------------------------------------------------------- lookups

    def __post_init__(self):
        # Flat (layer, code + 1) lookups with identity (code -1) costing 0: one gather per architecture batch.
        for name, values in (("_flat_flops", self.block_flops), ("_flat_params", self.block_params)):
            flat = np.concatenate([np.zeros((NUM_LAYERS, 1), np.int64), values], axis=1).ravel()
            object.__setattr__(self, name, flat)

    @staticmethod
    def _sum(archs, flat: np.ndarray, fixed: int) -> np.ndarray:
        codes = np.asarray(archs, dtype=np.int64).reshape(-1, NUM_LAYERS)
        return fixed + flat[codes + _OFFSETS].sum(axis=1)

    def flops(self, archs: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
        """FLOPs of each architecture (int64), identity layers costing 0."""
        return self._sum(archs, self._flat_flops, self.pre[0] + self.post[0])

    def params(self, archs: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
        return self._sum(archs, self._flat_params, self.pre[1] + self.post[1])

    def costs(self, archs) -> tuple[np.ndarray, np.ndarray]:
        """``(flops, params)`` of each architecture (the ``CostModel`` of ``common.space``)."""
        return self.flops(archs), self.params(archs)

    def min_flops(self) -> int:
        """FLOPs of the cheapest architecture (identity wherever legal, else the cheapest block)."""
        cheapest = np.where(IDENTITY_ALLOWED, 0, self.block_flops.min(axis=1))
        return int(self.pre[0] + self.post[0] + cheapest.sum())

    def flops_m(self, archs) -> np.ndarray:
        return self.flops(archs) / 1e6

    def params_m(self, archs) -> np.ndarray:
        return self.params(archs) / 1e6

    def matches(self, input_size: int, num_classes: int, width_mult: float) -> bool:
        return (self.input_size, self.num_classes, self.width_mult) == (input_size, num_classes, float(width_mult))

    # --------------------------------------------------------------------- JSON

    def to_json(self) -> dict:
        resolutions = layer_resolutions(self.input_size)
        layers = [{"layer": s.index, "c_in": s.c_in, "c_out": s.c_out, "stride": s.stride, "resolution": resolutions[s.index],
                   "blocks": {name: {"flops": int(self.block_flops[s.index, b]), "params": int(self.block_params[s.index, b])}
                              for b, name in enumerate(BLOCK_NAMES)}}
                  for s in layer_specs(self.width_mult)]
        return {"format": FORMAT_VERSION, "space": NAME, "convention": CONVENTION, "input_size": self.input_size,
                "num_classes": self.num_classes, "width_mult": self.width_mult,
                "pre": {"flops": self.pre[0], "params": self.pre[1]},
                "post": {"flops": self.post[0], "params": self.post[1]}, "layers": layers}

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def from_json(cls, data: dict, where: str = "FLOPs table") -> "FlopsTable":
        try:
            if data["format"] != FORMAT_VERSION or data["space"] != NAME:
                raise UserError(f"{where}: not a MobileNet FLOPs table of format {FORMAT_VERSION}")
            layers = data["layers"]
            if len(layers) != NUM_LAYERS:
                raise UserError(f"{where}: {len(layers)} layers, expected {NUM_LAYERS}")
            flops = np.array([[int(layer["blocks"][n]["flops"]) for n in BLOCK_NAMES] for layer in layers], dtype=np.int64)
            params = np.array([[int(layer["blocks"][n]["params"]) for n in BLOCK_NAMES] for layer in layers], dtype=np.int64)
            return cls(int(data["input_size"]), int(data["num_classes"]), float(data["width_mult"]),
                       (int(data["pre"]["flops"]), int(data["pre"]["params"])),
                       (int(data["post"]["flops"]), int(data["post"]["params"])), flops, params)
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"{where}: malformed FLOPs table ({type(error).__name__}: {error})") from None

    @classmethod
    def load(cls, path: str | Path) -> "FlopsTable":
        path = Path(path)
        if not path.is_file():
            raise UserError(f"FLOPs table not found: {path}")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"{path}: not a JSON file") from None
        return cls.from_json(data, str(path))


class _Head(nn.Module):
    def __init__(self, c_in: int, num_classes: int, width_mult: float):
        super().__init__()
        self.head = head_conv(c_in, width_mult)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(scale(HEAD_CHANNELS, width_mult), num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.head(x)).flatten(1))


def _cost(make: Callable[[], nn.Module], shape: tuple[int, ...]) -> tuple[int, int]:
    # On the meta device: shapes only, no memory and no arithmetic, so counting is quick at any size.
    with torch.device("meta"):
        module, x = make(), torch.zeros(shape)
    return count_flops_released(module, x), count_params(module)


def build_table(input_size: int = 224, num_classes: int = 1000, width_mult: float = 1.0) -> FlopsTable:
    """Count every block at every layer (batch 1)."""
    if input_size < 1 or num_classes < 1 or not width_mult > 0:
        raise UserError(f"FLOPs table: bad setting input_size={input_size}, num_classes={num_classes}, width_mult={width_mult}")
    specs, resolutions = layer_specs(width_mult), layer_resolutions(input_size)
    pre = _cost(lambda: nn.Sequential(*stem(width_mult)), (1, 3, input_size, input_size))
    final = downsample(resolutions[-1], specs[-1].stride)
    post = _cost(lambda: _Head(specs[-1].c_out, num_classes, width_mult), (1, specs[-1].c_out, final, final))
    flops = np.zeros((NUM_LAYERS, NUM_BLOCKS), dtype=np.int64)
    params = np.zeros_like(flops)
    for spec, r in zip(specs, resolutions):
        for b, (kernel, expansion) in enumerate(BLOCKS):
            flops[spec.index, b], params[spec.index, b] = _cost(
                lambda: InvertedResidual(spec.c_in, spec.c_out, spec.stride, kernel, expansion), (1, spec.c_in, r, r))
    return FlopsTable(input_size, num_classes, float(width_mult), pre, post, flops, params)


@lru_cache(maxsize=1)
def default_table() -> FlopsTable:
    """The shipped table of the paper's setting (224x224, 1000 classes, width 1.0)."""
    return FlopsTable.load(DEFAULT_PATH)


@lru_cache(maxsize=8)
def _built(input_size: int, num_classes: int, width_mult: float) -> FlopsTable:
    return build_table(input_size, num_classes, width_mult)


def table_for(input_size: int = 224, num_classes: int = 1000, width_mult: float = 1.0, path: str | None = None) -> FlopsTable:
    """The table of a setting: from ``path`` (checked to match), the shipped one, or counted now."""
    if path:
        table = FlopsTable.load(path)
        if not table.matches(input_size, num_classes, width_mult):
            raise UserError(f"{path}: table for input {table.input_size}, {table.num_classes} classes, width "
                            f"{table.width_mult}; the config asks for {input_size}, {num_classes}, {width_mult}")
        return table
    if default_table().matches(input_size, num_classes, width_mult):
        return default_table()
    return _built(int(input_size), int(num_classes), float(width_mult))
