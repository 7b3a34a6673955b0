"""Stage 3: retrain a genotype from scratch (the paper's evaluation) and report top-1/top-5.

    python -m darts_search_space.retrain --config CFG [--genotype NAME_OR_TEXT] [--init-channels C]
                                          [--set k=v ...] [--run-dir DIR]

``--genotype`` takes a name of ``darts_search_space.genotypes`` (RLNAS_CIFAR10, ...), a pasted
``Genotype(...)`` text, an architecture string, or ``search:RUN_DIR`` for the best architecture of
a finished search. Writes checkpoints, ``metrics.json`` and TensorBoard logs to the run directory.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from common.cli import parse_stage, run, stage_parser
from common.errors import UserError
from common.retrain import retrain

from .config import RetrainExperiment
from .flops import NetworkShape, costs
from .genotypes import from_arch, resolve, to_text
from .model import build_model
from .space import NAME

logger = logging.getLogger("rlnas")


def resolve_genotype(spec: str) -> tuple[int, ...]:
    """``resolve`` plus ``search:RUN_DIR`` (the best architecture in ``RUN_DIR/search/result.json``)."""
    if spec.startswith("search:"):
        path = Path(spec[len("search:"):]) / "search" / "result.json"
        try:
            return resolve(json.loads(path.read_text())["best"]["arch_str"])
        except FileNotFoundError:
            raise UserError(f"--genotype {spec}: {path} not found (run the search first)") from None
        except (KeyError, TypeError, json.JSONDecodeError):
            raise UserError(f"--genotype {spec}: {path} is not a search result") from None
    return resolve(spec)


def main(argv=None) -> None:
    parser = stage_parser("python -m darts_search_space.retrain", __doc__.splitlines()[0])
    parser.add_argument("--genotype", default=None, help="overrides model.genotype")
    parser.add_argument("--init-channels", type=int, default=None, help="overrides model.channels (scales FLOPs)")
    parser.add_argument("--stop-after-epoch", type=int, default=None,
                        help="stop after this epoch (resume later with the same command)")
    args, cfg, run_dir = parse_stage(parser, RetrainExperiment, argv)
    if args.genotype is not None:
        cfg.model.genotype = args.genotype
    if args.init_channels is not None:
        if args.init_channels < 2 or args.init_channels % 2:
            raise UserError("--init-channels must be an even number >= 2")
        cfg.model.channels = args.init_channels
    arch = resolve_genotype(cfg.model.genotype)
    cfg.model.genotype = to_text(from_arch(arch))  # the run's config records the cells themselves
    m = cfg.model
    shape = NetworkShape(m.channels, m.layers, m.stem, 224 if m.stem == "imagenet" else 32,
                         1000 if m.stem == "imagenet" else 10)
    flops, params = costs([arch], shape)
    logger.info("retrain %s\n  C=%d, %d cells: %.1fM FLOPs, %.2fM params at %dx%d (paper convention, auxiliary "
                "head excluded)", cfg.model.genotype, m.channels, m.layers, flops[0] / 1e6, params[0] / 1e6,
                shape.image_size, shape.image_size)
    retrain(cfg, NAME, lambda num_classes: build_model(arch, num_classes, m.stem, m.channels, m.layers, m.auxiliary),
            run_dir, args.stop_after_epoch)


if __name__ == "__main__":
    sys.exit(run(main))
