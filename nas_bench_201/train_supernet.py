"""Stage 1: train the NAS-Bench-201 supernet with random labels.

    python -m nas_bench_201.train_supernet --config CFG [--set k=v ...] [--run-dir DIR]

writes ``DIR/checkpoints/epoch_0000.pt`` (initial weights) ... ``DIR/checkpoints/last.pt``; a run
directory that already holds checkpoints of the same config resumes.
"""
from __future__ import annotations

import sys

from common.cli import parse_stage, run, stage_parser
from common.training import train_supernet

from .config import NB201Config
from .eps import build_training_supernet
from .space import NAME


def main(argv=None) -> None:
    parser = stage_parser("python -m nas_bench_201.train_supernet", __doc__.splitlines()[0])
    parser.add_argument("--stop-after-epoch", type=int, default=None,
                        help="stop after this epoch (resume later with the same command)")
    args, cfg, run_dir = parse_stage(parser, NB201Config, argv)
    train_supernet(cfg, NAME, lambda num_classes: build_training_supernet(cfg, num_classes), run_dir,
                   args.stop_after_epoch)


if __name__ == "__main__":
    sys.exit(run(main))
