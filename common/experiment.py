"""The config sections every experiment shares; a search space adds its ``model`` and ``search``."""
from __future__ import annotations

from dataclasses import dataclass, field

from .data import DataConfig
from .labels import LabelConfig
from .training import TrainConfig


@dataclass
class ExperimentConfig:
    seed: int = 0
    device: str = "auto"  # auto (CUDA when available), cpu, cuda, cuda:N
    data: DataConfig = field(default_factory=DataConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
