"""EPS: the evolving proxy space, its supernet (state in checkpoints, exact resume) and the eps strategy."""
import numpy as np
import pytest
import torch

from common.eps import EPSConfig, EvolvingProxySpace, evolve, initial_population
from nas_bench_201.space import NASBench201Space, to_str
from tests.nb201_tiny import tiny_config


def test_evolve_replaces_the_worst_by_distinct_mutations_of_the_best():
    space = NASBench201Space()
    cfg = EPSConfig(population=12, parents=3, replace=4, mutation_prob=0.5)
    population = initial_population(space, 12, np.random.default_rng(0))
    scores = np.arange(12, dtype=float)  # member i scores i: the best are 11, 10, 9
    new = evolve(space, population, scores, cfg, np.random.default_rng(1))
    assert len(new) == 12 and len({to_str(a) for a in new}) == 12
    assert new[:8] == [population[i] for i in range(11, 3, -1)]  # survivors, best first
    parents = [population[i] for i in (11, 10, 9)]
    for child in new[8:]:
        assert to_str(child) not in {to_str(a) for a in population}
        # a mutation edits edges of one parent to non-`none` ops: every `none` edge comes from the parent
        assert any(all(c == p or c != 0 for c, p in zip(child, parent)) for parent in parents)


def test_proxy_space_samples_only_its_members():
    space = NASBench201Space()
    population = initial_population(space, 5, np.random.default_rng(0))
    proxy = EvolvingProxySpace(space, EPSConfig(population=5, parents=2, replace=2), population)
    rng = np.random.default_rng(3)
    drawn = {to_str(proxy.sample(rng)) for _ in range(200)}
    assert drawn == {to_str(a) for a in population}


def _eps_config(tmp_path, epochs=2):
    return tiny_config(tmp_path, "labels.mode=ground_truth", "search.strategy=eps", "search.score=val_acc",
                       f"train.epochs={epochs}")


def test_eps_supernet_evolves_its_population_and_resumes_exactly(tmp_path):
    from common.checkpoint import load_checkpoint
    from common.training import checkpoint_path, train_supernet
    from nas_bench_201.eps import build_training_supernet, final_population
    from nas_bench_201.space import NAME

    cfg = _eps_config(tmp_path)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_supernet(cfg, NAME, lambda n: build_training_supernet(cfg, n), straight)
    train_supernet(cfg, NAME, lambda n: build_training_supernet(cfg, n), resumed, stop_after_epoch=1)
    train_supernet(cfg, NAME, lambda n: build_training_supernet(cfg, n), resumed)
    first = load_checkpoint(checkpoint_path(straight, 0))["model"]
    a, b = (load_checkpoint(checkpoint_path(d, "last"))["model"] for d in (straight, resumed))
    assert int(a["eps_step"]) == 2 * 5  # 144 images / batch 32 = 5 steps per epoch
    assert final_population(a) != final_population(first)  # it evolved (4 re-scorings)
    assert len({to_str(x) for x in final_population(a)}) == 6
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_eps_strategy_ranks_the_final_proxy_space(tmp_path):
    from common.checkpoint import load_checkpoint
    from common.training import checkpoint_path, train_supernet
    from nas_bench_201.eps import build_training_supernet, final_population
    from nas_bench_201.search import search
    from nas_bench_201.space import NAME

    cfg = _eps_config(tmp_path, epochs=1)
    run_dir = tmp_path / "run"
    train_supernet(cfg, NAME, lambda n: build_training_supernet(cfg, n), run_dir)
    population = {to_str(a) for a in final_population(load_checkpoint(checkpoint_path(run_dir, "last"))["model"])}
    document = search(cfg, run_dir)
    assert document["strategy"] == "eps" and document["evaluated"] == 6
    assert {t["arch_str"] for t in document["top"]} <= population and document["best"]["arch_str"] in population


def test_eps_strategy_needs_an_eps_supernet(tmp_path):
    from common.errors import UserError
    from common.training import train_supernet
    from nas_bench_201.eps import build_training_supernet
    from nas_bench_201.search import search
    from nas_bench_201.space import NAME
    cfg = tiny_config(tmp_path, "search.score=angle")
    train_supernet(cfg, NAME, lambda n: build_training_supernet(cfg, n), tmp_path / "run")
    cfg.search.strategy = "eps"
    with pytest.raises(UserError, match="eps needs a supernet trained with EPS"):
        search(cfg, tmp_path / "run")
