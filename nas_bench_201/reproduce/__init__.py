"""Reproduce the paper's NAS-Bench-201 study: Tables 1-2, 6, 7, Figure 1, zero-cost proxies and EPS.

    python -m nas_bench_201.reproduce EXPERIMENT --preset {cpu,cpu_long,paper} [--config FILE]
                                      [--set key=value ...] [--runs DIR] [--out DIR]

EXPERIMENT is one of table12, table6, table7, figure1, proxies, eps; the preset names the study
config ``experiments/<experiment>_<preset>.yaml`` inside this package (or give ``--config``). A
study config lists the datasets (each an experiment config, relative to the study file) and the
methods (each a list of ``--set`` overrides on top of it): every method runs through the same
stages, so methods differ only by configuration.

The package: ``config`` (the study schema), ``runner`` (training, search, correlation; resumes),
``report`` (report.md, CSVs, plots), ``paper.yaml`` (the paper's numbers), ``cli`` (this command).
"""
from common.proxies import PROXIES

from .cli import main
from .config import EXPERIMENTS, PRESETS, MethodConfig, ReproduceConfig
from .runner import Study

PROXY_NAMES = PROXIES

__all__ = ["EXPERIMENTS", "PRESETS", "PROXY_NAMES", "MethodConfig", "ReproduceConfig", "Study", "main"]
