"""Distributed search: serve candidate evaluation for DARTS-space searches over RabbitMQ.

    python -m darts_search_space.worker --config CFG [--set k=v ...] [--run-dir DIR] [--name LABEL]

Loads the angle scorer from the checkpoints the config names (as the search does) and serves the
job they define until stopped (SIGTERM/Ctrl-C); see ``common.evaluation.worker``.
"""
from __future__ import annotations

import sys

from common.cli import run
from common.evaluation.worker import serve_main

from .config import DartsConfig
from .search import scoring


def main(argv=None) -> None:
    serve_main("python -m darts_search_space.worker", DartsConfig, scoring, argv)


if __name__ == "__main__":
    sys.exit(run(main))
