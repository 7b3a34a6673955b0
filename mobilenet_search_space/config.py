"""The config schemas of MobileNet-space experiments: supernet + search (``MobileNetConfig``) and
retraining (``RetrainExperiment``). Defaults are the paper's settings (docs/reference.md §5, §10.3)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from common.experiment import ExperimentConfig
from common.retrain import RetrainExperiment as RetrainBase
from common.search import SearchConfig

from .encoding import PAPER_ARCH, to_str
from .supernet import SupernetConfig


@dataclass
class FlopsConfig:
    """The FLOPs constraint of the search, measured on the network that will be retrained."""

    limit_m: Optional[float] = 475.0  # millions, the paper's limit; null: no constraint
    input_size: int = 224  # resolution the FLOPs are counted at
    num_classes: int = 1000  # classifier width the FLOPs are counted with
    width_mult: float = 1.0  # channel multiplier of the counted network
    table: Optional[str] = None  # lookup table JSON; null: the shipped 224 table, or counted at start

    def __post_init__(self):
        if self.limit_m is not None and self.limit_m <= 0:
            raise ValueError(f"flops.limit_m must be positive, got {self.limit_m}")
        if self.input_size < 1 or self.num_classes < 1 or not self.width_mult > 0:
            raise ValueError("flops.input_size, flops.num_classes and flops.width_mult must be positive")


@dataclass
class MobileNetConfig(ExperimentConfig):
    model: SupernetConfig = field(default_factory=SupernetConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    flops: FlopsConfig = field(default_factory=FlopsConfig)


@dataclass
class NetworkConfig:
    """The retrained network."""

    arch: str = to_str(PAPER_ARCH)  # 21 codes, or search:RUN_DIR for the best of a finished search
    width_mult: float = 1.0
    dropout: float = 0.2  # before the classifier

    def __post_init__(self):
        if not self.width_mult > 0 or not 0.0 <= self.dropout < 1.0:
            raise ValueError("need width_mult > 0 and 0 <= dropout < 1")


@dataclass
class RetrainExperiment(RetrainBase):
    model: NetworkConfig = field(default_factory=NetworkConfig)
