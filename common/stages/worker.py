"""Distributed search: serve a space's candidate evaluation over RabbitMQ.

    ... worker --config CFG [--set k=v ...] [--run-dir DIR] [--name LABEL]

Loads the scorer of ``search.score`` from the checkpoints the config names (as the search does) and
serves the job they define until stopped (SIGTERM/Ctrl-C); see ``common.evaluation.worker``. A FLOPs
limit is the search's business: a worker scores what it is sent.
"""
from __future__ import annotations

from ..evaluation.worker import serve_main
from ..scoring import scoring
from ..space import SearchSpace


def main(space: SearchSpace, argv, prog: str) -> None:
    def load(cfg, run_dir):
        space.check_config(cfg)
        return scoring(space, cfg, run_dir)

    serve_main(prog, space.config_schema, load, argv)
