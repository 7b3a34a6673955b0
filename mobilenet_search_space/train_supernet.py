"""Stage 1: train the MobileNet-space supernet with random labels.

    python -m mobilenet_search_space.train_supernet --config CFG [--set k=v ...] [--run-dir DIR]

writes ``DIR/checkpoints/epoch_0000.pt`` (initial weights) ... ``DIR/checkpoints/last.pt``; a run
directory that already holds checkpoints of the same config resumes. Under ``torchrun`` the ranks
train one model with DDP (see ``common.training``).
"""
from __future__ import annotations

import sys

from common.cli import parse_stage, run, stage_parser
from common.training import train_supernet

from .config import MobileNetConfig
from .space import NAME
from .supernet import build_supernet


def main(argv=None) -> None:
    parser = stage_parser("python -m mobilenet_search_space.train_supernet", __doc__.splitlines()[0])
    parser.add_argument("--stop-after-epoch", type=int, default=None,
                        help="stop after this epoch (resume later with the same command)")
    args, cfg, run_dir = parse_stage(parser, MobileNetConfig, argv)
    train_supernet(cfg, NAME, lambda num_classes: build_supernet(cfg.model, num_classes), run_dir,
                   args.stop_after_epoch)


if __name__ == "__main__":
    sys.exit(run(main))
