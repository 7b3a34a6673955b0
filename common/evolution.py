"""Generic evolutionary search (SPOS style), seeded, de-duplicated, constrained and resumable.

Each generation scores the unscored members of the population, merges them into the top-k, and
breeds the next population from the top-k: ``mutations`` mutants, ``crossovers`` children, and
random architectures to fill up to ``population``. No architecture is ever proposed (hence scored)
twice; candidates that are illegal or violate the constraint are rejected. The state after every
generation is written to a JSON file, and a search resumed from it ends with the identical result.

The search only sees the codec and sampling of the space interface (``common.space.SearchSpace``):
``random(rng)`` (or the ``sample`` given), ``mutate(arch, prob, rng)``, ``crossover(a, b, rng)``,
``is_legal(arch)``, ``to_str(arch)``, ``from_str(s)``.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .checkpoint import atomic_write_text
from .errors import UserError
from .evaluation import Evaluator, evaluate
from .seeding import derive_seed
from .space import SearchSpace

STATE_VERSION = 1
logger = logging.getLogger("rlnas")


@dataclass
class EvolutionConfig:
    population: int = 100
    iterations: int = 20
    top_k: int = 30
    mutations: int = 50
    crossovers: int = 50
    mutation_prob: float = 0.1
    max_tries: int = 100  # proposals per wanted candidate before giving up (small or exhausted spaces)

    def __post_init__(self):
        if min(self.population, self.iterations, self.top_k, self.max_tries) < 1:
            raise ValueError("population, iterations, top_k and max_tries must be positive")
        if self.mutations < 0 or self.crossovers < 0 or self.mutations + self.crossovers > self.population:
            raise ValueError("mutations and crossovers must be non-negative and sum to at most population")
        if not 0.0 <= self.mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob must be in [0, 1], got {self.mutation_prob}")


@dataclass
class SearchResult:
    top: list[tuple[str, float]]  # best first
    scores: dict[str, float]  # every scored architecture
    failed: list[str] = field(default_factory=list)  # architectures whose scoring failed
    history: list[dict] = field(default_factory=list)

    @property
    def best(self) -> tuple[str, float]:
        return self.top[0]


def ranked(scores: dict[str, float], keys=None) -> list[tuple[str, float]]:
    """Keys sorted by score, best first; ties by key, so the order never depends on insertion."""
    keys = scores.keys() if keys is None else keys
    return sorted(((k, scores[k]) for k in keys), key=lambda item: (-item[1], item[0]))


class EvolutionSearch:
    def __init__(self, space: SearchSpace, evaluator: Evaluator, cfg: EvolutionConfig, seed: int,
                 constraint: Optional[Callable[[object], bool]] = None, state_path: Optional[Path] = None,
                 progress: Optional[Callable[[int, int], None]] = None, scorer_id: Optional[str] = None,
                 sample: Optional[Callable[[np.random.Generator], object]] = None):
        self.space = space
        self.sample = sample if sample is not None else space.random  # random members of a population
        self.evaluator = evaluator
        self.cfg = cfg
        self.seed = seed
        self.constraint = constraint
        self.state_path = Path(state_path) if state_path is not None else None
        self.progress = progress
        self.scorer_id = scorer_id  # identifies what the scores come from (e.g. the checkpoints' contents)
        self.rng = np.random.default_rng(derive_seed(seed, "evolution"))
        self.generation = 0
        self.population: list[str] = []
        self.scores: dict[str, float] = {}
        self.failed: list[str] = []
        self.top: list[str] = []
        self.seen: set[str] = set()
        self.history: list[dict] = []

    # ------------------------------------------------------------------ proposals

    def _acceptable(self, arch) -> bool:
        return self.space.is_legal(arch) and (self.constraint is None or self.constraint(arch))

    def _propose(self, wanted: int, make: Callable[[], object]) -> list[str]:
        found: list[str] = []
        for _ in range(wanted * self.cfg.max_tries):
            if len(found) == wanted:
                break
            arch = make()
            key = self.space.to_str(arch)
            if key in self.seen:
                continue
            self.seen.add(key)
            if self._acceptable(arch):
                found.append(key)
        return found

    def _parent(self):
        return self.space.from_str(self.top[int(self.rng.integers(len(self.top)))])

    def _next_population(self) -> list[str]:
        cfg = self.cfg
        children: list[str] = []
        if self.top:
            children += self._propose(cfg.mutations, lambda: self.space.mutate(self._parent(), cfg.mutation_prob, self.rng))
            children += self._propose(cfg.crossovers, lambda: self.space.crossover(self._parent(), self._parent(), self.rng))
        children += self._propose(cfg.population - len(children), lambda: self.sample(self.rng))
        return children

    # ------------------------------------------------------------------ state

    def _state(self) -> dict:
        return {
            "version": STATE_VERSION, "space": self.space.name, "seed": self.seed,
            "config": self.cfg.__dict__, "scorer_id": self.scorer_id, "generation": self.generation,
            "population": self.population, "scores": self.scores, "failed": self.failed, "top": self.top,
            "seen": sorted(self.seen), "history": self.history, "rng": self.rng.bit_generator.state,
        }

    def save(self) -> None:
        if self.state_path is not None:
            atomic_write_text(self.state_path, json.dumps(self._state()))

    def load(self) -> bool:
        """Restore from ``state_path`` if it exists; a state from another search is an error.

        A state of the same search whose scores came from another scorer (say, the supernet trained
        further since) is stale: the search starts afresh and overwrites it.
        """
        if self.state_path is None or not self.state_path.is_file():
            return False
        try:
            state = json.loads(self.state_path.read_text())
            if state.get("scorer_id") != self.scorer_id:
                logger.info("evolution: %s was scored with other weights; starting a new search", self.state_path)
                return False
            expected = {"version": STATE_VERSION, "space": self.space.name, "seed": self.seed, "config": self.cfg.__dict__}
            for key, value in expected.items():
                if state.get(key) != value:
                    raise UserError(f"{self.state_path}: state of a different search ({key} differs); "
                                    "use another run directory or delete the file")
            self.generation = int(state["generation"])
            self.population = list(state["population"])
            self.scores = {k: float(v) for k, v in state["scores"].items()}
            self.failed = list(state["failed"])
            self.top = list(state["top"])
            self.seen = set(state["seen"])
            self.history = list(state["history"])
            self.rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as error:
            raise UserError(f"{self.state_path}: not a valid evolution state ({error})") from None
        return True

    # ------------------------------------------------------------------ loop

    def run(self) -> SearchResult:
        if self.load():
            logger.info("evolution: resumed at generation %d/%d", self.generation, self.cfg.iterations)
        else:
            self.population = self._next_population()
            self.save()
        while self.generation < self.cfg.iterations and self.population:
            self._score_population()
            self.generation += 1
            if self.progress is not None:
                self.progress(self.generation, self.cfg.iterations)
            self.population = self._next_population() if self.generation < self.cfg.iterations else []
            self.save()
        return SearchResult(top=[(k, self.scores[k]) for k in self.top], scores=dict(self.scores),
                               failed=list(self.failed), history=list(self.history))

    def _score_population(self) -> None:
        todo = [key for key in self.population if key not in self.scores and key not in self.failed]
        results = evaluate(self.evaluator, [self.space.from_str(key) for key in todo])
        for key in todo:
            score = results.get(key)
            if score is None or not math.isfinite(score):
                self.failed.append(key)
            else:
                self.scores[key] = float(score)
        candidates = set(self.top) | {key for key in self.population if key in self.scores}
        self.top = [key for key, _ in ranked(self.scores, candidates)[: self.cfg.top_k]]
        best_key = self.top[0] if self.top else None
        record = {"generation": self.generation, "evaluated": len(self.scores), "failed": len(self.failed),
                  "best": best_key, "best_score": self.scores.get(best_key),
                  "top_k_mean": float(np.mean([self.scores[k] for k in self.top])) if self.top else None}
        self.history.append(record)
        logger.info("evolution: generation %d/%d, %d scored, best %.6f %s", self.generation + 1,
                    self.cfg.iterations, len(self.scores), record["best_score"] or float("nan"), best_key)
