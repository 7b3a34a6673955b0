"""Stage 1: train a space's supernet with random labels.

    ... train_supernet --config CFG [--set k=v ...] [--run-dir DIR] [--stop-after-epoch E]

writes ``DIR/checkpoints/epoch_0000.pt`` (initial weights) ... ``DIR/checkpoints/last.pt``; a run
directory that already holds checkpoints of the same config resumes. Under ``torchrun`` the ranks
train one model with DDP (see ``common.training``).
"""
from __future__ import annotations

from ..cli import headed, parse_stage, positive_int, stage_parser
from ..space import SearchSpace
from ..training import train_supernet


def main(space: SearchSpace, argv, prog: str) -> int:
    parser = stage_parser(prog, headed(f"Stage 1: train the {space.title} supernet with random labels", __doc__))
    parser.add_argument("--stop-after-epoch", type=positive_int, default=None,
                        help="stop after this epoch (resume later with the same command)")
    args, cfg, run_dir = parse_stage(parser, space.config_schema, argv)
    space.check_config(cfg)
    return train_supernet(cfg, space.name, lambda num_classes: space.build_supernet(cfg, num_classes), run_dir,
                          args.stop_after_epoch)
