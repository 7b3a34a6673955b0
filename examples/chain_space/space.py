"""The chain space: ``layers`` layers in a row, each one of 3 ops; RLNAS on it with every shared stage.

An architecture is a tuple of op codes, one per layer; its canonical string names the ops in order,
``conv_3x3-skip-conv_1x1-conv_3x3``. The supernet is a stem (conv 3x3 + BN), the choice layers (each
holds its three ops; a step runs one) and a head (global pooling + linear). ``V(a, W)`` for the angle
is the stem, each layer's chosen op (a convolution's kernel and BN; ``skip`` the constant ``eye(C)``)
and the classifier: every atom occurs at most once. FLOPs count convolution multiply-adds and the
classifier as ``(2*in - 1) * out`` (the convention of ``common.flops.count_flops_released``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from torch import nn

from common.angle import Atom
from common.cli import positive_int
from common.errors import UserError
from common.experiment import ExperimentConfig
from common.retrain import RetrainExperiment
from common.search import SearchConfig
from common.space import SearchSpace, register

OPS = ("conv_3x3", "conv_1x1", "skip")
KERNELS = (3, 1, None)  # skip has no kernel
SKIP = 2


# ------------------------------------------------------------------------------ configs


@dataclass
class ChainModel:
    channels: int = 8
    layers: int = 4

    def __post_init__(self):
        if self.channels < 1 or self.layers < 1:
            raise ValueError("channels and layers must be positive")


@dataclass
class FlopsConfig:
    limit_m: Optional[float] = None  # millions; None: no limit
    image_size: int = 32  # the priced network's input (its channels and layers are model's)
    num_classes: int = 10


@dataclass
class ChainConfig(ExperimentConfig):
    model: ChainModel = field(default_factory=ChainModel)
    search: SearchConfig = field(default_factory=SearchConfig)
    flops: FlopsConfig = field(default_factory=FlopsConfig)


@dataclass
class ChainNetwork(ChainModel):
    arch: Optional[str] = None  # the architecture to retrain (or search:RUN_DIR)


@dataclass
class ChainRetrainConfig(RetrainExperiment):
    model: ChainNetwork = field(default_factory=ChainNetwork)


# ------------------------------------------------------------------------------ networks


def make_op(code: int, channels: int) -> nn.Module:
    if code == SKIP:
        return nn.Identity()
    k = KERNELS[code]
    return nn.Sequential(nn.Conv2d(channels, channels, k, padding=k // 2, bias=False), nn.BatchNorm2d(channels), nn.ReLU())


class ChainNet(nn.Module):
    """The supernet (``arch`` None: every layer holds all ops) or the network of one architecture."""

    def __init__(self, channels: int, layers: int, num_classes: int, arch=None):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        choices = [range(len(OPS)) if arch is None else [arch[i]] for i in range(layers)]
        self.layers = nn.ModuleList([nn.ModuleDict({OPS[c]: make_op(c, channels) for c in codes}) for codes in choices])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        self.arch = arch

    def sample_path(self, rng: np.random.Generator):
        return tuple(int(c) for c in rng.integers(0, len(OPS), len(self.layers)))

    def forward(self, x: torch.Tensor, path=None) -> torch.Tensor:
        x = self.stem(x)
        for layer, code in zip(self.layers, self.arch if path is None else path):
            x = layer[OPS[code]](x)
        return self.classifier(self.pool(x).flatten(1))


# ------------------------------------------------------------------------------ costs


class ChainCosts:
    """FLOPs and parameters of the network of ``model`` at ``image_size`` with ``num_classes``."""

    def __init__(self, model: ChainModel, image_size: int, num_classes: int):
        c, hw = model.channels, image_size ** 2
        self.fixed_flops = 3 * 9 * c * hw + (2 * c - 1) * num_classes
        self.fixed_params = 3 * 9 * c + 2 * c + c * num_classes + num_classes
        self.op_flops = np.array([0 if k is None else k * k * c * c * hw for k in KERNELS], dtype=np.int64)
        self.op_params = np.array([0 if k is None else k * k * c * c + 2 * c for k in KERNELS], dtype=np.int64)

    def costs(self, archs) -> tuple[np.ndarray, np.ndarray]:
        codes = np.asarray(archs, dtype=np.int64).reshape(len(archs), -1)
        return self.fixed_flops + self.op_flops[codes].sum(1), self.fixed_params + self.op_params[codes].sum(1)


# ------------------------------------------------------------------------------ the space


def _model(supernet: dict) -> ChainModel:
    try:
        return ChainModel(int(supernet["channels"]), int(supernet["layers"]))
    except (KeyError, TypeError, ValueError):
        raise UserError("checkpoint config lacks model.channels / model.layers") from None


class ChainSpace(SearchSpace):
    name = "examples.chain_space"  # a space outside the shipped ones is named by its package: get_space imports it
    title = "chain"
    config_schema = ChainConfig
    retrain_schema = ChainRetrainConfig
    scores = ("angle", "val_acc")
    strategies = ("evolution", "random", "exhaustive")
    arch_help = "op names joined by '-', e.g. conv_3x3-skip-conv_1x1-conv_3x3, or search:RUN_DIR"
    quickstart = ("examples/chain_space/quickstart.yaml", "examples/chain_space/retrain_quickstart.yaml")
    smoke_overrides = ("train.epochs=1", "train.max_steps_per_epoch=2", "data.synthetic.num_images=64",
                       "data.synthetic.num_test_images=32")
    retrain_smoke_overrides = ("train.epochs=1", "train.max_steps_per_epoch=1", "data.synthetic.num_images=64",
                               "data.synthetic.num_test_images=32")

    def __init__(self, layers: int = 4):
        self.layers = layers  # the shipped configs' depth; architectures of other depths parse too
        self.size = len(OPS) ** layers

    # codec and sampling
    def to_str(self, arch) -> str:
        return "-".join(OPS[int(code)] for code in arch)

    def from_str(self, text: str):
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"bad chain architecture {text!r}: expected op names joined by '-' ({', '.join(OPS)})")
        names = text.strip().split("-")
        unknown = [n for n in names if n not in OPS]
        if unknown:
            raise UserError(f"bad chain architecture {text!r}: unknown op '{unknown[0]}' (choose from {', '.join(OPS)})")
        return tuple(OPS.index(n) for n in names)

    def random(self, rng):
        return tuple(int(c) for c in rng.integers(0, len(OPS), self.layers))

    def mutate(self, arch, prob, rng):
        flips, new = rng.random(len(arch)) < prob, rng.integers(0, len(OPS), len(arch))
        return tuple(int(n) if f else int(a) for a, f, n in zip(arch, flips, new))

    def crossover(self, a, b, rng):
        take_b = rng.random(len(a)) < 0.5
        return tuple(int(y) if t else int(x) for x, y, t in zip(a, b, take_b))

    def is_legal(self, arch) -> bool:
        return len(arch) == self.layers and all(0 <= int(c) < len(OPS) for c in arch)

    def all_archs(self):
        return [tuple(int(c) for c in row) for row in np.ndindex(*(len(OPS),) * self.layers)]

    # networks
    def build_supernet(self, cfg, num_classes: int):
        return ChainNet(cfg.model.channels, cfg.model.layers, num_classes)

    def build_model(self, arch, model_cfg, num_classes: int):
        return ChainNet(model_cfg.channels, len(arch), num_classes, tuple(arch))

    # the angle
    def angle_atoms(self, supernet: dict, cfg=None):
        model = _model(supernet)
        atoms = [Atom("fixed", ("stem.0.weight", "stem.1.weight", "stem.1.bias", "classifier.weight", "classifier.bias"))]
        for layer in range(model.layers):
            for code, op in enumerate(OPS):
                params = () if code == SKIP else tuple(f"layers.{layer}.{op}.{i}.{p}" for i, p in
                                                       ((0, "weight"), (1, "weight"), (1, "bias")))
                atoms.append(Atom(f"{layer}:{op}", params, const_sq=float(model.channels) if code == SKIP else 0.0))

        def counts(archs):
            codes = np.asarray(archs, dtype=np.int64).reshape(len(archs), model.layers)
            result = np.zeros((len(codes), len(atoms)))
            result[:, 0] = 1
            result[np.arange(len(codes))[:, None], 1 + np.arange(model.layers) * len(OPS) + codes] = 1
            return result

        return atoms, counts

    def angle_pieces(self, arch, state, supernet: dict, cfg=None):
        model = _model(supernet)
        pieces = [state[n] for n in ("stem.0.weight", "stem.1.weight", "stem.1.bias")]
        for layer, code in enumerate(arch):
            if code == SKIP:
                pieces.append(torch.eye(model.channels, dtype=torch.float64))
            else:
                pieces += [state[f"layers.{layer}.{OPS[code]}.{n}"] for n in ("0.weight", "1.weight", "1.bias")]
        return pieces + [state["classifier.weight"], state["classifier.bias"]]

    # costs
    def cost_model(self, cfg) -> ChainCosts:
        return ChainCosts(cfg.model, cfg.flops.image_size, cfg.flops.num_classes)

    def priced_network(self, arch, cfg):
        return self.build_model(arch, cfg.model, cfg.flops.num_classes), cfg.flops.image_size

    def cost_options(self, parser) -> None:
        parser.add_argument("--channels", type=positive_int, default=8, help="channels of every layer (default 8)")
        parser.add_argument("--image-size", type=positive_int, default=32, help="image side in pixels (default 32)")
        parser.add_argument("--num-classes", type=positive_int, default=10, help="classifier outputs (default 10)")

    def cost_model_from_args(self, args) -> ChainCosts:
        return ChainCosts(ChainModel(args.channels), args.image_size, args.num_classes)

    def describe(self, arch, cfg, context: dict) -> dict:
        flops, params = self.cost_model(cfg).costs([arch])
        return {"flops_M": float(flops[0]) / 1e6, "params_M": float(params[0]) / 1e6}


SPACE = register(ChainSpace())
