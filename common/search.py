"""Search strategies (evolution, random, exhaustive) behind one config and one result format."""
from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Optional, Sequence

import numpy as np

from .eps import EPSConfig
from .errors import UserError
from .evaluation import Evaluator, evaluate
from .evaluation.config import AMQPConfig
from .evolution import EvolutionConfig, EvolutionSearch, SearchResult, ranked
from .seeding import derive_seed
from .space import SearchSpace
from .trainer import checkpoint_path
from .valacc import ValAccConfig


def score_all(evaluator: Evaluator, archs: Sequence, top_k: int) -> SearchResult:
    """Score every architecture of ``archs`` (exhaustive search when it is the whole space)."""
    results = evaluate(evaluator, archs)
    scores = {k: v for k, v in results.items() if v is not None and math.isfinite(v)}
    failed = sorted(k for k, v in results.items() if k not in scores)
    return SearchResult(top=ranked(scores)[:top_k], scores=scores, failed=failed)


def random_search(space: SearchSpace, evaluator: Evaluator, num: int, seed: int, top_k: int,
                  constraint: Optional[Callable] = None, max_tries: int = 100,
                  sample: Optional[Callable] = None) -> SearchResult:
    """Score ``num`` distinct legal architectures drawn by ``sample`` (default ``space.random``)."""
    rng = np.random.default_rng(derive_seed(seed, "random_search"))
    sample = sample if sample is not None else space.random
    chosen: dict[str, object] = {}
    for _ in range(num * max_tries):
        if len(chosen) == num:
            break
        arch = sample(rng)
        key = space.to_str(arch)
        if key not in chosen and space.is_legal(arch) and (constraint is None or constraint(arch)):
            chosen[key] = arch
    return score_all(evaluator, list(chosen.values()), top_k)


@dataclass
class SearchConfig:
    strategy: Literal["evolution", "exhaustive", "random", "eps"] = "evolution"  # eps: rank EPS's final proxy space
    # angle: RLNAS; val_acc: inherited-weight validation accuracy (SPOS); the rest: zero-cost proxies
    score: Literal["angle", "val_acc", "synflow", "snip", "grad_norm", "jacov", "naswot", "params", "flops"] = "angle"
    init_checkpoint: Optional[str] = None  # None: <run dir>/checkpoints/epoch_0000.pt
    trained_checkpoint: Optional[str] = None  # None: <run dir>/checkpoints/last.pt
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    random_samples: int = 100  # architectures scored by the `random` strategy
    report_top: int = 10  # architectures listed in result.json
    evaluator: Literal["local", "rabbitmq"] = "local"  # rabbitmq: workers score the candidates (docs/distributed.md)
    amqp: AMQPConfig = field(default_factory=AMQPConfig)  # broker, timeouts and retries of evaluator: rabbitmq
    val_acc: ValAccConfig = field(default_factory=ValAccConfig)  # score: val_acc
    proxy_batch: int = 64  # score: a zero-cost proxy; images of the one batch it sees
    eps: EPSConfig = field(default_factory=EPSConfig)  # strategy: eps (also how its supernet trains)

    def __post_init__(self):
        if self.random_samples < 1 or self.report_top < 1:
            raise ValueError("random_samples and report_top must be positive")


# Every value of ``search.score`` and ``search.strategy``; a space declares the ones it supports.
ALL_SCORES = typing.get_args(typing.get_type_hints(SearchConfig)["score"])
ALL_STRATEGIES = typing.get_args(typing.get_type_hints(SearchConfig)["strategy"])


def run_strategy(space: SearchSpace, evaluator: Evaluator, cfg: SearchConfig, seed: int,
                 state_path: Optional[Path] = None, constraint: Optional[Callable] = None, progress=None,
                 scorer_id: Optional[str] = None, candidates: Optional[Sequence] = None,
                 sample: Optional[Callable] = None) -> SearchResult:
    """Run ``cfg.strategy``; ``exhaustive`` needs a space that can list all its architectures, ``eps``
    the final proxy space of an EPS-trained supernet (``candidates``). ``sample`` draws the random
    architectures (default ``space.random``).

    ``scorer_id`` names what the scores come from, so that a resumed evolution never mixes scores of
    different weights (see ``EvolutionSearch.load``).
    """
    if cfg.strategy == "evolution":
        return EvolutionSearch(space, evaluator, cfg.evolution, seed, constraint=constraint, state_path=state_path,
                               progress=progress, scorer_id=scorer_id, sample=sample).run()
    if cfg.strategy == "random":
        return random_search(space, evaluator, cfg.random_samples, seed, cfg.report_top, constraint, sample=sample)
    if cfg.strategy == "eps":
        if not candidates:
            raise UserError("search.strategy: eps needs a supernet trained with EPS (its checkpoint holds no proxy space)")
        return score_all(evaluator, [a for a in candidates if constraint is None or constraint(a)], cfg.report_top)
    archs = [arch for arch in space.all_archs() if constraint is None or constraint(arch)]
    return score_all(evaluator, archs, cfg.report_top)


def checkpoints(cfg: SearchConfig, run_dir: Path) -> tuple[Path, Path]:
    """The (initial, trained) checkpoints a search scores with: the config's, or the run directory's."""
    init = Path(cfg.init_checkpoint) if cfg.init_checkpoint else checkpoint_path(run_dir, 0)
    trained = Path(cfg.trained_checkpoint) if cfg.trained_checkpoint else checkpoint_path(run_dir, "last")
    return init, trained


def result_document(result: SearchResult, cfg: SearchConfig, describe: Callable[[str], dict]) -> dict:
    """The ``search/result.json`` document; ``describe(arch_str)`` adds space-specific fields."""
    def entry(key: str, score: float) -> dict:
        return {"arch_str": key, "score": score, **describe(key)}

    top = result.top[: cfg.report_top]
    return {
        "strategy": cfg.strategy, "score": cfg.score,
        "best": entry(*top[0]) if top else None,
        "top": [entry(key, score) for key, score in top],
        "evaluated": len(result.scores), "failed": result.failed, "history": result.history,
    }


def flops_limit(space: SearchSpace, cfg) -> Optional[Callable[[object], bool]]:
    """``arch -> FLOPs <= flops.limit_m`` (millions) priced by the space's cost model, or None without a limit."""
    limit_m = getattr(getattr(cfg, "flops", None), "limit_m", None)
    if limit_m is None:
        return None
    model, limit = space.cost_model(cfg), limit_m * 1e6
    return lambda arch: bool(model.costs([arch])[0][0] <= limit)
