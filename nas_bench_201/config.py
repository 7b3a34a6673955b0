"""The config schema of NAS-Bench-201 experiments; defaults are the paper's settings (section 4.1)."""
from __future__ import annotations

from dataclasses import dataclass, field

from common.experiment import ExperimentConfig
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
