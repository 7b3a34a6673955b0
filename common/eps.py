"""EPS: RandomNAS with an Evolving Proxy Search Space (Li et al., 2021; ``papers/eps-abstract.txt``).

The supernet trains only paths drawn uniformly from a small population of architectures (the proxy
space). Every ``update_every`` training steps the population is re-scored by the validation loss of
one batch (lower is better), and its ``replace`` worst members are replaced by mutations of its
``parents`` best members (architectures already in the population are not proposed again). After
training, the search step ranks the final population (``search.strategy: eps``).

``EvolvingProxySpace`` is the space-independent part; a search space stores its population in the
supernet's state dict (so checkpoints and resume carry it) and calls ``update`` from ``sample_path``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np


@dataclass
class EPSConfig:
    population: int = 256  # architectures in the proxy space (EPS code: 256)
    update_every: int = 50  # training steps between re-scorings (EPS code: 50)
    parents: int = 4  # the best members mutated to make replacements (EPS code: top 4)
    replace: int = 16  # worst members replaced at each re-scoring (our choice; see docs)
    mutation_prob: float = 0.5  # per-edge mutation probability of a replacement
    valid_batch: int = 128  # validation images scored per re-scoring (one batch)

    def __post_init__(self):
        if min(self.population, self.update_every, self.parents, self.valid_batch) < 1 or self.replace < 0:
            raise ValueError("eps: population, update_every, parents and valid_batch must be positive")
        if self.parents > self.population or self.replace > self.population - self.parents:
            raise ValueError("eps: need parents <= population and replace <= population - parents")
        if not 0.0 < self.mutation_prob <= 1.0:
            raise ValueError("eps.mutation_prob must be in (0, 1]")


def initial_population(space, size: int, rng: np.random.Generator, max_tries: int = 100) -> list:
    """``size`` distinct legal architectures drawn by ``space.random``."""
    found: dict[str, object] = {}
    for _ in range(size * max_tries):
        if len(found) == size:
            break
        arch = space.random(rng)
        if space.is_legal(arch):
            found.setdefault(space.to_str(arch), arch)
    if len(found) < size:
        raise ValueError(f"eps: could not draw {size} distinct architectures")
    return list(found.values())


def evolve(space, population: Sequence, scores: Sequence[float], cfg: EPSConfig, rng: np.random.Generator,
           max_tries: int = 100) -> list:
    """The next population: ranked by ``scores`` (higher is better), the worst ``replace`` swapped for
    distinct mutations of the best ``parents``. The order is best first."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ranked = [population[i] for i in order]
    keep = ranked[: len(ranked) - cfg.replace]
    present = {space.to_str(arch) for arch in keep}
    children: list = []
    for _ in range(cfg.replace * max_tries):
        if len(children) == cfg.replace:
            break
        parent = ranked[int(rng.integers(cfg.parents))]
        child = space.mutate(parent, cfg.mutation_prob, rng)
        key = space.to_str(child)
        if key not in present and space.is_legal(child):
            present.add(key)
            children.append(child)
    # Too few new architectures (a tiny space): keep the best of the dropped ones instead.
    dropped = ranked[len(keep):]
    return keep + children + dropped[: cfg.replace - len(children)]


class EvolvingProxySpace:
    """A population that evolves during training; ``score_fn(archs)`` returns higher-is-better scores."""

    def __init__(self, space, cfg: EPSConfig, population: Sequence):
        self.space, self.cfg = space, cfg
        self.population = list(population)

    def sample(self, rng: np.random.Generator):
        return self.population[int(rng.integers(len(self.population)))]

    def update(self, score_fn: Callable[[list], np.ndarray], rng: np.random.Generator) -> np.ndarray:
        scores = np.asarray(score_fn(self.population), dtype=np.float64)
        self.population = evolve(self.space, self.population, scores, self.cfg, rng)
        return scores
