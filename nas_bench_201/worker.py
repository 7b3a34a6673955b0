"""Distributed search: serve candidate evaluation for NAS-Bench-201 searches over RabbitMQ.

    python -m nas_bench_201.worker --config CFG [--set k=v ...] [--run-dir DIR] [--name LABEL]

Loads the scorer of ``search.score`` from the checkpoints the config names (as the search does) and
serves the job they define until stopped (SIGTERM/Ctrl-C); see ``common.evaluation.worker``.
"""
from __future__ import annotations

import sys

from common.cli import run
from common.evaluation.worker import serve_main

from .config import NB201Config
from .scoring import build_scorer
from .search import checkpoints
from .space import NASBench201Space


def scoring(cfg: NB201Config, run_dir):
    scorer = build_scorer(cfg, *checkpoints(cfg.search, run_dir))
    return NASBench201Space(), scorer, scorer.fingerprint


def main(argv=None) -> None:
    serve_main("python -m nas_bench_201.worker", NB201Config, scoring, argv)


if __name__ == "__main__":
    sys.exit(run(main))
