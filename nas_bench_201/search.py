"""Stage 3: search the NAS-Bench-201 space by ``search.score`` (evolution, exhaustive ranking, random search or EPS).

    python -m nas_bench_201.search --config CFG [--set k=v ...] [--run-dir DIR]

writes ``DIR/search/result.json`` (``best``, the top list, and benchmark accuracies when a table is
configured or found) and, for evolution, the resumable ``DIR/search/state.json``.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from common.angle import AngleScorer
from common.checkpoint import atomic_write_text, load_checkpoint
from common.cli import parse_stage, run, stage_parser
from common.config import dump_config
from common.evaluation import build_evaluator
from common.search import checkpoints, result_document, run_strategy

from .benchmark import BenchmarkTable, find_table
from .config import NB201Config
from .eps import final_population
from .scoring import build_scorer
from .space import NAME, NASBench201Space, from_str, index_of

logger = logging.getLogger("rlnas")


def load_table(cfg: NB201Config) -> BenchmarkTable | None:
    path = find_table(cfg.benchmark.table)
    return BenchmarkTable.load(path) if path is not None else None


def search(cfg: NB201Config, run_dir: Path, scorer: AngleScorer | None = None,
           table: BenchmarkTable | None = None, seed: int | None = None, out_dir: Path | None = None) -> dict:
    """Run the configured search; return (and write) the result document.

    The scorer (of ``search.score``) and the table are loaded from the config unless given (the
    pipeline loads them once). ``seed`` (default ``cfg.seed``) seeds the search alone; ``out_dir``
    (default ``run_dir/search``) lets several searches share one supernet.
    """
    run_dir = Path(run_dir)
    seed = cfg.seed if seed is None else seed
    init, trained = checkpoints(cfg.search, run_dir)
    scorer = scorer if scorer is not None else build_scorer(cfg, init, trained)
    candidates = final_population(load_checkpoint(trained, space=NAME)["model"]) if cfg.search.strategy == "eps" else None
    space = NASBench201Space()
    table = table if table is not None else load_table(cfg)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "search"
    dump_config(cfg, out_dir / "config.yaml")
    with build_evaluator(cfg.search, space, scorer, scorer.fingerprint) as evaluator:
        result = run_strategy(space, evaluator, cfg.search, seed, state_path=out_dir / "state.json",
                              scorer_id=scorer.fingerprint, candidates=candidates)

    def describe(arch_str: str) -> dict:
        index = index_of(from_str(arch_str))
        extra = {"index": index}
        if table is not None:
            extra["benchmark"] = table.row(index)
        return extra

    document = result_document(result, cfg.search, describe)
    document.update({"space": space.name, "seed": seed, "init_checkpoint": str(init),
                     "trained_checkpoint": str(trained), "benchmark_table": str(table.path) if table else None})
    atomic_write_text(out_dir / "result.json", json.dumps(document, indent=2))
    best = document["best"]
    logger.info("search (%s): %d architectures scored; best %s %s %.6f", cfg.search.strategy,
                document["evaluated"], best["arch_str"], cfg.search.score, best["score"])
    return document


def main(argv=None) -> None:
    parser = stage_parser("python -m nas_bench_201.search", __doc__.splitlines()[0])
    _, cfg, run_dir = parse_stage(parser, NB201Config, argv)
    search(cfg, run_dir)


if __name__ == "__main__":
    sys.exit(run(main))
