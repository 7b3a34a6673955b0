"""Distributed search: serve candidate evaluation for MobileNet-space searches over RabbitMQ.

    python -m mobilenet_search_space.worker --config CFG [--set k=v ...] [--run-dir DIR] [--name LABEL]

Loads the angle scorer from the checkpoints the config names (as the search does) and serves the
job they define until stopped (SIGTERM/Ctrl-C); see ``common.evaluation.worker``. The FLOPs limit is
the search's business: a worker scores what it is sent.
"""
from __future__ import annotations

import sys

from common.cli import run
from common.evaluation.worker import serve_main

from .angle import scorer_from_checkpoints
from .config import MobileNetConfig
from .search import checkpoints
from .space import MobileNetSpace


def scoring(cfg: MobileNetConfig, run_dir):
    scorer = scorer_from_checkpoints(*checkpoints(cfg.search, run_dir))
    return MobileNetSpace(), scorer, scorer.fingerprint


def main(argv=None) -> None:
    serve_main("python -m mobilenet_search_space.worker", MobileNetConfig, scoring, argv)


if __name__ == "__main__":
    sys.exit(run(main))
