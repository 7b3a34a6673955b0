"""Stage 3: retrain an architecture from scratch with the true labels (the paper's evaluation).

    ... retrain --config CFG [--arch ARCH | --arch search:RUN_DIR] [--set k=v ...] [--run-dir DIR]
                [--stop-after-epoch E]

``--arch`` (or ``model.arch``) takes what the space accepts (its canonical string, and e.g. DARTS
genotype names or NAS-Bench-201 indices) or ``search:RUN_DIR`` for the best architecture of a
finished search. Writes checkpoints, ``metrics.json`` (top-1/top-5 after every epoch), the drawing
``architecture.png`` when the space can draw, and TensorBoard logs to the run directory; the loop is
``common.retrain`` (DDP under ``torchrun``).
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..cli import headed, parse_stage, positive_int, stage_parser
from ..config import apply_override, from_dict, to_dict
from ..errors import UserError
from ..retrain import retrain
from ..space import SearchSpace

logger = logging.getLogger("rlnas")


def resolve_arch(space: SearchSpace, spec: str | None):
    """The architecture ``spec`` names: ``search:RUN_DIR`` (the best of ``RUN_DIR/search/result.json``)
    or anything ``space.parse_arch`` accepts."""
    if spec is None:
        raise UserError("no architecture to retrain: give --arch or model.arch")
    if spec.startswith("search:"):
        path = Path(spec[len("search:"):]) / "search" / "result.json"
        try:
            text = json.loads(path.read_text())["best"]["arch_str"]
        except FileNotFoundError:
            raise UserError(f"--arch {spec}: {path} not found (run the search first)") from None
        except (KeyError, TypeError, json.JSONDecodeError):
            raise UserError(f"--arch {spec}: {path} is not a search result") from None
        return space.from_str(text)
    return space.parse_arch(spec)


def main(space: SearchSpace, argv, prog: str) -> dict:
    if space.retrain_schema is None:
        raise UserError(f"the {space.title} space has no retraining network")
    parser = stage_parser(prog, headed(f"Stage 3: retrain a {space.title} architecture from scratch", __doc__))
    parser.add_argument("--arch", default=None, help=f"overrides model.arch: {space.arch_help}")
    for option, (key, kind, text) in space.retrain_options.items():
        parser.add_argument(option, dest=key, type=kind, default=None, help=f"overrides {key}: {text}")
    parser.add_argument("--stop-after-epoch", type=positive_int, default=None,
                        help="stop after this epoch (resume later with the same command)")
    args, cfg, run_dir = parse_stage(parser, space.retrain_schema, space.canonical_argv(argv))
    given = [f"{key}={getattr(args, key)}" for key, *_ in space.retrain_options.values() if getattr(args, key) is not None]
    if given:  # option shortcuts are --set overrides, checked by the schema like any other
        data = to_dict(cfg)
        for assignment in given:
            apply_override(data, assignment)
        cfg = from_dict(space.retrain_schema, data)
    arch = resolve_arch(space, args.arch if args.arch is not None else cfg.model.arch)
    cfg.model.arch = space.arch_record(arch)  # the run's config records the architecture itself
    logger.info("%s", space.describe_model(arch, cfg))
    if space.can_draw and os.environ.get("RANK", "0") == "0":  # under torchrun only the first process draws
        space.draw(arch, Path(run_dir) / "architecture.png")
    return retrain(cfg, space.name, lambda num_classes: space.build_model(arch, cfg.model, num_classes), run_dir,
                   args.stop_after_epoch)
