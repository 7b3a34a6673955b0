"""The config schemas of NAS-Bench-201 experiments: supernet + search (``NB201Config``, defaults are
the paper's settings, section 4.1) and retraining of one architecture (``NB201RetrainConfig``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from common.experiment import ExperimentConfig
from common.retrain import RetrainExperiment
from common.search import SearchConfig

from .angle import AngleConfig
from .benchmark import BenchmarkConfig
from .supernet import SupernetConfig


@dataclass
class NB201Config(ExperimentConfig):
    model: SupernetConfig = field(default_factory=SupernetConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    angle: AngleConfig = field(default_factory=AngleConfig)


@dataclass
class NetworkConfig:
    """The retrained network: the benchmark's ``TinyNetwork`` of one architecture."""

    arch: Optional[str] = None  # |op~0|+...| string, benchmark index, or search:RUN_DIR (required)
    channels: int = 16
    cells_per_stage: int = 5

    def __post_init__(self):
        if self.channels < 1 or self.cells_per_stage < 1:
            raise ValueError("channels and cells_per_stage must be positive")


@dataclass
class NB201RetrainConfig(RetrainExperiment):
    model: NetworkConfig = field(default_factory=NetworkConfig)
