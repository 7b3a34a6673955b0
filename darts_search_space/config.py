"""The config schemas of DARTS experiments: supernet + search (``DartsConfig``) and retraining
(``RetrainExperiment``). Defaults are the paper's CIFAR-10 search settings (section 4.2.2).
Renamed keys (the old spelling still works, with a deprecation line): ``flops.max_flops_M`` is
``flops.limit_m``, ``model.genotype`` (retraining) is ``model.arch``, as in the other spaces."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from common.experiment import ExperimentConfig
from common.retrain import RetrainExperiment as RetrainBase
from common.search import SearchConfig

from .costs import NetworkShape
from .supernet import SupernetConfig


@dataclass
class AngleConfig:
    dil_conv_bn: Literal["paper", "released"] = "paper"  # released: BN weight twice, no bias (the released bug)
    # the classifier's bias in V: released = as the released code (left out on CIFAR, kept on ImageNet)
    classifier_bias: Literal["released", "with", "without"] = "released"


@dataclass
class FlopsLimitConfig:
    """The search's FLOPs constraint, priced on the retraining network (not the supernet)."""

    limit_m: Optional[float] = None  # millions; None: no limit; the paper's ImageNet search: 600
    dataset: Literal["imagenet", "cifar10"] = "imagenet"  # network shape: 224x224 / 1000 classes or 32x32 / 10
    channels: int = 48
    layers: int = 14
    RENAMED = {"max_flops_M": "limit_m"}

    def __post_init__(self):
        if self.limit_m is not None and self.limit_m <= 0:
            raise ValueError("limit_m must be positive (or null for no limit)")
        if self.channels < 2 or self.channels % 2 or self.layers < 3:
            raise ValueError("channels must be even and >= 2, layers >= 3")

    def shape(self) -> NetworkShape:
        return NetworkShape.of(self.dataset, self.channels, self.layers)


@dataclass
class DartsConfig(ExperimentConfig):
    model: SupernetConfig = field(default_factory=SupernetConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    angle: AngleConfig = field(default_factory=AngleConfig)
    flops: FlopsLimitConfig = field(default_factory=FlopsLimitConfig)


@dataclass
class NetworkConfig:
    """The retraining network: ``NetworkCIFAR`` (stem cifar) or ``NetworkImageNet`` (stem imagenet)."""

    arch: str = "RLNAS_CIFAR10"  # a name from genotypes.py, a Genotype(...) text, an architecture string or search:RUN_DIR
    stem: Literal["cifar", "imagenet"] = "cifar"
    channels: int = 36
    layers: int = 20
    auxiliary: bool = True  # auxiliary head after the second reduction cell (its loss weight: train.aux_weight)
    RENAMED = {"genotype": "arch"}

    def __post_init__(self):
        if self.channels < 2 or self.channels % 2 or self.layers < 3:
            raise ValueError("channels must be even and >= 2, layers >= 3")


@dataclass
class RetrainExperiment(RetrainBase):
    model: NetworkConfig = field(default_factory=NetworkConfig)
