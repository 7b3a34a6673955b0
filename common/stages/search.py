"""Stage 2: search a space by ``search.score`` with ``search.strategy`` (evolution, random, exhaustive
ranking where the space can list its architectures, EPS where the supernet trained with it).

    ... search --config CFG [--set k=v ...] [--run-dir DIR]

writes ``DIR/search/result.json`` (``best`` and the top list, each with the space's fields: FLOPs,
benchmark accuracies, ...), ``DIR/search/best.png`` when the space can draw and, for evolution, the
resumable ``DIR/search/state.json``. Under ``flops.limit_m`` no candidate over the limit is ever
scored. Candidates are scored in-process or, with ``search.evaluator: rabbitmq``, by workers.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from ..checkpoint import atomic_write_text, checkpoint_record, load_checkpoint
from ..cli import headed, parse_stage, stage_parser
from ..config import dump_config, to_dict
from ..errors import UserError
from ..evaluation import build_evaluator
from ..scoring import Scorer, build_scorer
from ..search import checkpoints, flops_limit, result_document, run_strategy
from ..space import SearchSpace
from ..trainer import check_trained_with

logger = logging.getLogger("rlnas")


def search(space: SearchSpace, cfg, run_dir: Path, scorer: Scorer | None = None, benchmark=None,
           seed: int | None = None, out_dir: Path | None = None) -> dict:
    """Run the configured search; return (and write) the result document.

    The scorer (of ``search.score``) and the benchmark table (where the space has one) are loaded from
    the config unless given (a pipeline loads them once). ``seed`` (default ``cfg.seed``) seeds the
    search alone; ``out_dir`` (default ``run_dir/search``) lets several searches share one supernet.
    """
    space.check_config(cfg)
    run_dir = Path(run_dir)
    seed = cfg.seed if seed is None else seed
    init, trained = checkpoints(cfg.search, run_dir)
    scorer = scorer if scorer is not None else build_scorer(space, cfg, init, trained)
    candidates = space.sample_candidates(cfg, trained)
    context = space.search_context(cfg, benchmark)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "search"
    dump_config(cfg, out_dir / "config.yaml")
    # local: scored in this process; rabbitmq: by workers (``search.evaluator``, docs/distributed.md)
    with build_evaluator(cfg.search, space, scorer, scorer.fingerprint) as evaluator:
        result = run_strategy(space, evaluator, cfg.search, seed, state_path=out_dir / "state.json",
                              constraint=flops_limit(space, cfg), scorer_id=scorer.fingerprint,
                              candidates=candidates, sample=space.sampler(cfg))
    if not result.top:
        raise UserError("search: no architecture was scored (is the FLOPs limit below every architecture?)")

    document = result_document(result, cfg.search, lambda key: space.describe(space.from_str(key), cfg, context))
    used = {"angle": {"init": init, "trained": trained}, "val_acc": {"trained": trained}}.get(cfg.search.score, {})
    document.update({"space": space.name, "seed": seed, "init_checkpoint": str(init),
                     "trained_checkpoint": str(trained), **context["document"],
                     "checkpoints": {name: checkpoint_record(path) for name, path in used.items()},
                     "config": to_dict(cfg)})
    atomic_write_text(out_dir / "result.json", json.dumps(document, indent=2))
    best = document["best"]
    costs = f", {best['flops_M']:.1f}M FLOPs, {best['params_M']:.2f}M params" if "flops_M" in best else ""
    if space.can_draw:
        space.draw(space.from_str(best["arch_str"]), out_dir / "best.png",
                   title=f"{cfg.search.score} {best['score']:.4f}{costs}")
    logger.info("search (%s): %d architectures scored; best %s, %s %.6f%s", cfg.search.strategy,
                document["evaluated"], best["arch_str"], cfg.search.score, best["score"], costs)
    return document


def main(space: SearchSpace, argv, prog: str) -> dict:
    parser = stage_parser(prog, headed(f"Stage 2: search the {space.title} space", __doc__))
    _, cfg, run_dir = parse_stage(parser, space.config_schema, argv)
    space.check_config(cfg)
    _, trained = checkpoints(cfg.search, run_dir)
    if cfg.search.score in ("angle", "val_acc") and trained.is_file():
        check_trained_with(cfg, load_checkpoint(trained, space.name, mmap=True), trained)
    return search(space, cfg, run_dir)
