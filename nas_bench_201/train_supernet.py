"""Stage 1: train the NAS-Bench-201 supernet with random labels.

    python -m nas_bench_201.train_supernet --config CFG [--set k=v ...] [--run-dir DIR]

writes ``DIR/checkpoints/epoch_0000.pt`` (initial weights) ... ``DIR/checkpoints/last.pt``; a run
directory that already holds checkpoints of the same config resumes.
"""
from __future__ import annotations

import sys

from common.cli import run
from common.training import supernet_stage

from .config import NB201Config
from .eps import build_training_supernet
from .space import NAME


def main(argv=None) -> None:
    supernet_stage("python -m nas_bench_201.train_supernet", __doc__.splitlines()[0], NB201Config, NAME,
                   build_training_supernet, argv)


if __name__ == "__main__":
    sys.exit(run(main))
