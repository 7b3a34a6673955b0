"""Time of one evolution generation (score 50 candidates, breed the next 50) under a FLOPs limit.

Builds the space's paper-size supernet; W0 is its initial weights, Wt a copy with seeded noise. Runs
the paper's evolution (population 50, top-10, 25 mutations, 25 crossovers, p=0.1, at most 10
proposals per wanted candidate) for
``--generations`` generations through ``common.evolution`` with the angle engine and the space's
FLOPs lookup, and reports the wall time per generation (median and worst) and of the initial
population. Side by side, the released approach to scoring: per candidate, concatenate its weights
into two float32 vectors and take one cosine, timed on one generation's 50 candidates.

Run from the project root:  python scripts/bench/evolution_generation.py --space mobilenet
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from _timing import print_table
from common.angle import naive_angle
from common.evaluation import LocalEvaluator
from common.evolution import EvolutionConfig, EvolutionSearch

BUDGET_S = 0.050  # the target: one generation in under 50 ms


def noisy_copy(state: dict, scale: float = 0.1) -> dict:
    generator = torch.Generator().manual_seed(1)
    return {k: v + scale * v.std() * torch.randn(v.shape, generator=generator) if v.is_floating_point() and v.numel() > 1 else v
            for k, v in state.items()}


def mobilenet_setup():
    """Paper-size supernet (26M parameters), 475M FLOPs limit on the 224x224 network."""
    from mobilenet_search_space.angle import naive_pieces, scorer_from_states
    from mobilenet_search_space.flops_table import default_table
    from common.search import flops_limit
    from mobilenet_search_space.config import MobileNetConfig
    from mobilenet_search_space.space import SPACE, MobileNetSpace
    from mobilenet_search_space.supernet import SupernetConfig, build_supernet

    state0 = build_supernet(SupernetConfig(), 1000).state_dict()
    state_t = noisy_copy(state0)
    table = default_table()
    return (MobileNetSpace(table, 475), scorer_from_states(state0, state_t), flops_limit(SPACE, MobileNetConfig()),
            lambda arch: naive_angle(naive_pieces(arch, state0), naive_pieces(arch, state_t)), "475M FLOPs")


def darts_setup():
    """ImageNet supernet (C=48, 14 cells), 600M FLOPs limit on the 224x224 retraining network."""
    from darts_search_space.angle import Layout, naive_pieces, scorer_from_states
    from common.search import flops_limit
    from darts_search_space.config import DartsConfig, FlopsLimitConfig
    from darts_search_space.space import SPACE
    from darts_search_space.supernet import SupernetConfig, build_supernet

    cfg = SupernetConfig(stem="imagenet", channels=48, layers=14, init="imagenet")
    state0 = build_supernet(cfg, 1000).state_dict()
    state_t = noisy_copy(state0)
    layout = Layout(cfg)
    return (SPACE, scorer_from_states(state0, state_t, cfg), flops_limit(SPACE, DartsConfig(flops=FlopsLimitConfig(limit_m=600))),
            lambda arch: naive_angle(naive_pieces(arch, state0, layout), naive_pieces(arch, state_t, layout)),
            "600M FLOPs")


# A space joins with a setup returning (space, scorer, constraint, naive scorer, limit description).
SETUPS = {"mobilenet": mobilenet_setup, "darts": darts_setup}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", choices=sorted(SETUPS), required=True)
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the engine needs one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    started = time.perf_counter()
    space, scorer, constraint, naive_score, limit = SETUPS[args.space]()
    setup_s = time.perf_counter() - started

    stamps = []
    cfg = EvolutionConfig(population=50, iterations=args.generations, top_k=10, mutations=25, crossovers=25,
                          mutation_prob=0.1, max_tries=10)  # the shipped configs' settings
    search = EvolutionSearch(space, LocalEvaluator(space.to_str, scorer), cfg, seed=0, constraint=constraint,
                             progress=lambda g, total: stamps.append(time.perf_counter()))
    started = time.perf_counter()
    result = search.run()
    first = stamps[0] - started  # initial population + first scoring
    per_generation = np.diff(stamps)  # breed the next 50 + score them
    candidates = [space.from_str(key) for key in list(result.scores)[-50:]]  # the last generation
    t0 = time.perf_counter()
    naive = np.array([naive_score(arch) for arch in candidates])
    naive_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = scorer(candidates)
    fast_s = time.perf_counter() - t0

    print(f"{args.space}: {len(result.scores)} candidates scored in {args.generations} generations under {limit} "
          f"(setup: supernet + atom statistics {setup_s:.2f} s)")
    print_table(["", "time", "per candidate"], [
        ["first generation (random initial population)", f"{first * 1e3:.1f} ms", f"{first / 50 * 1e6:.0f} us"],
        ["one generation, median", f"{np.median(per_generation) * 1e3:.1f} ms",
         f"{np.median(per_generation) / 50 * 1e6:.0f} us"],
        ["one generation, worst", f"{per_generation.max() * 1e3:.1f} ms", f"{per_generation.max() / 50 * 1e6:.0f} us"],
        ["scoring 50: angle engine", f"{fast_s * 1e3:.2f} ms", f"{fast_s / 50 * 1e6:.0f} us"],
        ["scoring 50: released-style concatenation", f"{naive_s * 1e3:.0f} ms", f"{naive_s / 50 * 1e3:.1f} ms"],
    ])
    print(f"engine / concatenation speed-up on scoring: {naive_s / fast_s:.0f}x; "
          f"largest angle difference {np.abs(naive - fast).max():.1e} rad")
    ok = np.median(per_generation) < BUDGET_S
    print(f"median generation {'within' if ok else 'OVER'} the {BUDGET_S * 1e3:.0f} ms budget")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
