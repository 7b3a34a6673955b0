"""Stage 2: search the MobileNet space by angle under a FLOPs limit (evolution or random search).

    python -m mobilenet_search_space.search --config CFG [--set k=v ...] [--run-dir DIR]

writes ``DIR/search/result.json`` (``best`` with its FLOPs, parameters and blocks, and the top
list), ``DIR/search/best.png`` (a drawing of the best architecture) and, for evolution, the
resumable ``DIR/search/state.json``. The FLOPs of every candidate come from the lookup table, and
no candidate over ``flops.limit_m`` is ever scored. Candidates are scored in-process or, with
``search.evaluator: rabbitmq``, by workers (``score_archs`` is what a worker serves).
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from common.angle import AngleScorer
from common.checkpoint import atomic_write_text
from common.cli import parse_stage, run, stage_parser
from common.config import dump_config
from common.errors import UserError
from common.evaluation import build_evaluator
from common.search import checkpoints, result_document, run_strategy

from .angle import scorer_from_checkpoints
from .config import FlopsConfig, MobileNetConfig
from .draw import draw_architecture
from .flops_table import FlopsTable, table_for
from .space import MobileNetSpace, describe, from_str

logger = logging.getLogger("rlnas")


def score_archs(scorer: AngleScorer, archs: Sequence[Sequence[int]]) -> np.ndarray:
    """Angles (radians) of ``archs`` under the weights of ``scorer``: the function a worker serves."""
    return scorer(list(archs))


def load_flops_table(cfg: FlopsConfig) -> FlopsTable:
    return table_for(cfg.input_size, cfg.num_classes, cfg.width_mult, cfg.table)


def flops_constraint(table: FlopsTable, limit_m: Optional[float]) -> Optional[Callable]:
    """``arch -> bool``: within ``limit_m`` million FLOPs (None: no constraint)."""
    if limit_m is None:
        return None
    limit = limit_m * 1e6
    return lambda arch: bool(table.flops([arch])[0] <= limit)


def search(cfg: MobileNetConfig, run_dir: Path, scorer: AngleScorer | None = None) -> dict:
    """Run the configured search; return (and write) the result document."""
    run_dir = Path(run_dir)
    if cfg.search.strategy not in ("evolution", "random"):
        raise UserError(f"search.strategy: '{cfg.search.strategy}' is not available in the MobileNet space "
                        "(7^15 * 6^6 architectures): use evolution or random")
    if cfg.search.score != "angle":
        raise UserError(f"search.score: '{cfg.search.score}' is not available in the MobileNet space: use angle")
    init, trained = checkpoints(cfg.search, run_dir)
    scorer = scorer if scorer is not None else scorer_from_checkpoints(init, trained)
    table = load_flops_table(cfg.flops)
    space = MobileNetSpace(table, cfg.flops.limit_m)
    out_dir = run_dir / "search"
    dump_config(cfg, out_dir / "config.yaml")
    with build_evaluator(cfg.search, space, lambda archs: score_archs(scorer, archs), scorer.fingerprint) as evaluator:
        result = run_strategy(space, evaluator, cfg.search, cfg.seed, state_path=out_dir / "state.json",
                              constraint=flops_constraint(table, cfg.flops.limit_m), scorer_id=scorer.fingerprint)
    if not result.top:
        raise UserError(f"search: no architecture was scored (is flops.limit_m={cfg.flops.limit_m} below every architecture?)")

    def details(arch_str: str) -> dict:
        arch = from_str(arch_str)
        return {"arch": list(arch), "flops_M": float(table.flops_m([arch])[0]),
                "params_M": float(table.params_m([arch])[0]), "blocks": describe(arch)}

    document = result_document(result, cfg.search, details)
    document.update({"space": space.name, "seed": cfg.seed, "init_checkpoint": str(init),
                     "trained_checkpoint": str(trained), "flops_limit_M": cfg.flops.limit_m,
                     "flops_setting": {"input_size": table.input_size, "num_classes": table.num_classes,
                                       "width_mult": table.width_mult}})
    atomic_write_text(out_dir / "result.json", json.dumps(document, indent=2))
    best = document["best"]
    draw_architecture(best["arch"], out_dir / "best.png",
                      title=f"angle {best['score']:.4f}, {best['flops_M']:.1f}M FLOPs, {best['params_M']:.2f}M params")
    logger.info("search (%s): %d architectures scored; best \"%s\" angle %.6f, %.1fM FLOPs", cfg.search.strategy,
                document["evaluated"], best["arch_str"], best["score"], best["flops_M"])
    return document


def main(argv=None) -> None:
    parser = stage_parser("python -m mobilenet_search_space.search", __doc__.splitlines()[0])
    _, cfg, run_dir = parse_stage(parser, MobileNetConfig, argv)
    search(cfg, run_dir)


if __name__ == "__main__":
    sys.exit(run(main))
