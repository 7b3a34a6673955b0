"""Stage 2: search the DARTS space by angle (evolution or random search), optionally under a FLOPs limit.

    python -m darts_search_space.search --config CFG [--set k=v ...] [--run-dir DIR]

writes ``DIR/search/result.json`` (``best`` and the top list, each with its genotype text, FLOPs
and params of the retraining network), ``DIR/search/best.png`` (the best cells) and, for evolution,
the resumable ``DIR/search/state.json``.
FLOPs come from the per-op table of ``darts_search_space.flops`` (``flops`` section of the config).
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
from .config import DartsConfig, FlopsLimitConfig
from .draw import draw
from .flops import costs
from .genotypes import from_arch, to_text
from .space import DartsSpace, from_str

logger = logging.getLogger("rlnas")


def score_archs(scorer: AngleScorer, archs: Sequence[Sequence[int]]) -> np.ndarray:
    """Angles (radians) of ``archs`` under the weights of ``scorer``: the function a worker serves."""
    return scorer(list(archs))


def scoring(cfg: DartsConfig, run_dir: Path) -> tuple[DartsSpace, AngleScorer, str]:
    """``(space, scorer, fingerprint)`` of the checkpoints the config names: what the search and an
    evaluation worker (``common.evaluation.worker.serve_main``) both need."""
    scorer = scorer_from_checkpoints(*checkpoints(cfg.search, Path(run_dir)), cfg.angle.dil_conv_bn,
                                     cfg.angle.classifier_bias)
    return DartsSpace(), scorer, scorer.fingerprint


def flops_constraint(cfg: FlopsLimitConfig) -> Optional[Callable[[Sequence[int]], bool]]:
    """``arch -> FLOPs <= limit`` on the configured retraining network, or None without a limit."""
    if cfg.max_flops_M is None:
        return None
    shape, limit = cfg.shape(), cfg.max_flops_M * 1e6
    return lambda arch: bool(costs([arch], shape)[0][0] <= limit)


def search(cfg: DartsConfig, run_dir: Path, scorer: AngleScorer | None = None) -> dict:
    """Run the configured search; return (and write) the result document."""
    if cfg.search.score != "angle":
        raise UserError(f"search.score: the DARTS space scores by angle only (got {cfg.search.score!r})")
    if cfg.search.strategy not in ("evolution", "random"):
        raise UserError(f"search.strategy: the DARTS space supports evolution and random (got {cfg.search.strategy!r})")
    run_dir = Path(run_dir)
    init, trained = checkpoints(cfg.search, run_dir)
    space, scorer, _ = (DartsSpace(), scorer, scorer.fingerprint) if scorer is not None else scoring(cfg, run_dir)
    out_dir = run_dir / "search"
    dump_config(cfg, out_dir / "config.yaml")
    shape = cfg.flops.shape()
    # local: scored in this process; rabbitmq: by workers (``search.evaluator``, README: Distributed search)
    with build_evaluator(cfg.search, space, lambda archs: score_archs(scorer, archs), scorer.fingerprint) as evaluator:
        result = run_strategy(space, evaluator, cfg.search, cfg.seed, state_path=out_dir / "state.json",
                              constraint=flops_constraint(cfg.flops), scorer_id=scorer.fingerprint)
    if not result.top:
        raise UserError("search: no architecture was scored (is the FLOPs limit below every architecture?)")

    def describe(arch_str: str) -> dict:
        arch = from_str(arch_str)
        flops, params = costs([arch], shape)
        return {"genotype": to_text(from_arch(arch)), "flops_M": round(float(flops[0]) / 1e6, 2),
                "params_M": round(float(params[0]) / 1e6, 3)}

    document = result_document(result, cfg.search, describe)
    document.update({"space": space.name, "seed": cfg.seed, "init_checkpoint": str(init),
                     "trained_checkpoint": str(trained), "flops_network": vars(shape),
                     "max_flops_M": cfg.flops.max_flops_M})
    atomic_write_text(out_dir / "result.json", json.dumps(document, indent=2))
    best = document["best"]
    draw(from_str(best["arch_str"]), out_dir / "best.png",
         title=f"angle {best['score']:.4f}, {best['flops_M']:.1f}M FLOPs, {best['params_M']:.2f}M params")
    logger.info("search (%s): %d architectures scored; best %s angle %.6f, %.1fM FLOPs\n%s", cfg.search.strategy,
                document["evaluated"], best["arch_str"], best["score"], best["flops_M"], best["genotype"])
    return document


def main(argv=None) -> None:
    parser = stage_parser("python -m darts_search_space.search", __doc__.splitlines()[0])
    _, cfg, run_dir = parse_stage(parser, DartsConfig, argv)
    search(cfg, run_dir)


if __name__ == "__main__":
    sys.exit(run(main))
