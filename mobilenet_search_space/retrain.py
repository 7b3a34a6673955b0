"""Stage 3: retrain an architecture from scratch with the true labels (the paper's evaluation).

    python -m mobilenet_search_space.retrain --config CFG [--arch "2 0 -1 ..." | --arch search:RUN_DIR]
                                             [--set k=v ...] [--run-dir DIR]

``--arch`` (or ``model.arch``) takes 21 codes or ``search:RUN_DIR`` for the best architecture of a
finished search. Writes checkpoints, ``metrics.json`` (top-1/top-5 after every epoch),
``architecture.png`` and TensorBoard logs to the run directory; the loop is ``common.retrain``
(DDP under ``torchrun``: ``torchrun --nproc_per_node 8 -m mobilenet_search_space.retrain ...``).
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from common.cli import parse_stage, run, stage_parser
from common.errors import UserError
from common.retrain import retrain

from .config import RetrainExperiment
from .draw import draw_architecture
from .flops_table import table_for
from .model import build_model
from .space import NAME, Arch, from_str, to_str

logger = logging.getLogger("rlnas")


def resolve_arch(spec: str) -> Arch:
    """21 codes, or ``search:RUN_DIR`` (the best architecture in ``RUN_DIR/search/result.json``)."""
    if spec.startswith("search:"):
        path = Path(spec[len("search:"):]) / "search" / "result.json"
        try:
            return from_str(json.loads(path.read_text())["best"]["arch_str"])
        except FileNotFoundError:
            raise UserError(f"--arch {spec}: {path} not found (run the search first)") from None
        except (KeyError, TypeError, json.JSONDecodeError):
            raise UserError(f"--arch {spec}: {path} is not a search result") from None
    return from_str(spec)


def main(argv=None) -> None:
    parser = stage_parser("python -m mobilenet_search_space.retrain", __doc__.splitlines()[0])
    parser.add_argument("--arch", default=None, help="overrides model.arch")
    parser.add_argument("--stop-after-epoch", type=int, default=None,
                        help="stop after this epoch (resume later with the same command)")
    args, cfg, run_dir = parse_stage(parser, RetrainExperiment, argv)
    arch = resolve_arch(args.arch if args.arch is not None else cfg.model.arch)
    cfg.model.arch = to_str(arch)  # the run's config records the architecture itself
    m = cfg.model
    table = table_for(224, 1000, m.width_mult)
    logger.info("retrain \"%s\": %.1fM FLOPs, %.2fM params at 224x224 with 1000 classes (paper convention)",
                cfg.model.arch, table.flops_m([arch])[0], table.params_m([arch])[0])
    if os.environ.get("RANK", "0") == "0":  # under torchrun only the first process draws
        draw_architecture(arch, Path(run_dir) / "architecture.png")
    retrain(cfg, NAME, lambda num_classes: build_model(arch, num_classes, m.width_mult, m.dropout), run_dir,
            args.stop_after_epoch)


if __name__ == "__main__":
    sys.exit(run(main))
