"""Stage 1: train the MobileNet-space supernet with random labels.

    python -m mobilenet_search_space.train_supernet --config CFG [--set k=v ...] [--run-dir DIR]

writes ``DIR/checkpoints/epoch_0000.pt`` (initial weights) ... ``DIR/checkpoints/last.pt``; a run
directory that already holds checkpoints of the same config resumes. Under ``torchrun`` the ranks
train one model with DDP (see ``common.training``).
"""
from __future__ import annotations

import sys

from common.cli import run
from common.training import supernet_stage

from .config import MobileNetConfig
from .space import NAME
from .supernet import build_supernet


def main(argv=None) -> None:
    supernet_stage("python -m mobilenet_search_space.train_supernet", __doc__.splitlines()[0], MobileNetConfig, NAME,
                   lambda cfg, num_classes: build_supernet(cfg.model, num_classes), argv)


if __name__ == "__main__":
    sys.exit(run(main))
