"""The contract between ``common`` and a search space, checked on every registered space (timm's
``test_models.py`` style): a new space gets all of it by registering (``common.space``).

- architecture strings round-trip, and bad ones are one clear ``UserError``;
- sampled, mutated and crossed architectures are legal;
- the angle engine equals the literal float64 concatenation of ``V(a, W)`` (``angle_pieces``);
- the cost model equals a direct count of the network it prices (where the space has one);
- a tiny train -> search -> worker (a real worker process on the real broker) -> retrain run through
  the shared stages, on the space's own quickstart configs shrunk by its ``smoke_overrides``.
"""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import darts_search_space  # noqa: F401 - importing a space package registers it
import examples.chain_space  # noqa: F401
import mobilenet_search_space  # noqa: F401
import nas_bench_201  # noqa: F401
from common.angle import naive_angle, scorer_from_states
from common.config import load_config, to_dict
from common.errors import UserError
from common.evaluation.amqp import queue_names
from common.evaluation.protocol import job_id
from common.flops import count_flops_released, count_params
from common.scoring import scoring
from common.space import get_space, registered
from common.stages import command

from mq_support import URL, Workers, delete_queues, unique_prefix, wait_for_consumers

ROOT = Path(__file__).resolve().parents[1]
SPACES = registered()


def test_every_space_is_registered():
    assert {"nas_bench_201", "darts", "mobilenet", "examples.chain_space"} <= set(SPACES)


def smoke_config(space, *extra):
    return load_config(ROOT / space.quickstart[0], space.config_schema, [*space.smoke_overrides, *extra])


def archs_of(space, n=12, seed=0):
    rng = np.random.default_rng(seed)
    archs = [space.random(rng) for _ in range(n)]
    archs += [space.mutate(archs[i], 0.5, rng) for i in range(n)]
    archs += [space.crossover(archs[i], archs[-1 - i], rng) for i in range(n)]
    return archs


@pytest.mark.parametrize("name", SPACES)
def test_architecture_strings_round_trip_and_bad_ones_are_user_errors(name):
    space = get_space(name)
    for arch in archs_of(space):
        text = space.to_str(arch)
        assert space.from_str(text) == arch and space.to_str(space.from_str(text)) == text
        assert space.parse_arch(text) == arch
    for bad in ("", "not an architecture", space.to_str(space.random(np.random.default_rng(1))) + "|x"):
        with pytest.raises(UserError) as error:
            space.from_str(bad)
        assert "\n" not in str(error.value)


@pytest.mark.parametrize("name", SPACES)
def test_sampled_mutated_and_crossed_architectures_are_legal(name):
    space = get_space(name)
    archs = archs_of(space, n=50, seed=2)
    assert all(space.is_legal(arch) for arch in archs)
    assert len({space.to_str(a) for a in archs}) > 10  # the operators do propose different architectures
    assert not space.is_legal(tuple(archs[0]) + tuple(archs[0]))  # a wrong length is not an architecture
    if space.size is not None and space.size <= 100_000 and "exhaustive" in space.strategies:
        every = space.all_archs()
        assert len(every) == space.size == len({space.to_str(a) for a in every})


@pytest.mark.parametrize("name", SPACES)
def test_fast_angle_equals_the_naive_float64_concatenation(name):
    space = get_space(name)
    cfg = smoke_config(space)
    torch.manual_seed(0)
    state0 = space.build_supernet(cfg, 10).state_dict()
    generator = torch.Generator().manual_seed(1)
    state_t = {k: v + 0.3 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
               for k, v in state0.items()}
    model = to_dict(cfg.model)
    atoms, counts = space.angle_atoms(model, cfg)
    scorer = scorer_from_states(atoms, counts, state0, state_t, "test", space.title)
    archs = archs_of(space, n=4)
    fast = scorer(archs)
    naive = [naive_angle(space.angle_pieces(a, state0, model, cfg), space.angle_pieces(a, state_t, model, cfg))
             for a in archs]
    assert fast == pytest.approx(naive, abs=1e-12)
    assert len(set(np.round(fast, 12))) > 1  # the angle tells architectures apart


@pytest.mark.parametrize("name", SPACES)
def test_cost_model_equals_a_direct_count_of_the_priced_network(name):
    space = get_space(name)
    cfg = smoke_config(space)
    model = space.cost_model(cfg) if hasattr(cfg, "flops") else None
    if model is None:
        pytest.skip(f"the {space.title} space has no cost model")
    archs = archs_of(space, n=2, seed=3)[:3]
    flops, params = model.costs(archs)
    for arch, f, p in zip(archs, flops, params):
        with torch.device("meta"):  # shapes only: quick at any size
            network, size = space.priced_network(arch, cfg)
            x = torch.zeros(1, 3, size, size)
        assert f == count_flops_released(network, x)
        assert p == count_params(network, exclude=("auxiliary",))


@pytest.mark.broker
@pytest.mark.parametrize("name", SPACES)
def test_train_search_worker_retrain_through_the_shared_stages(name, tmp_path):
    space = get_space(name)
    search_sets = ["search.evolution={population: 8, iterations: 2, top_k: 4, mutations: 3, crossovers: 3}"]
    prefix = unique_prefix()
    remote_sets = ["search.evaluator=rabbitmq", f"search.amqp.url={URL}", f"search.amqp.queue_prefix={prefix}",
                   "search.amqp.task_timeout=30"]

    def args(sets, config=space.quickstart[0], run_dir=tmp_path / "run"):
        return ["--config", str(ROOT / config), "--run-dir", str(run_dir),
                *[part for item in sets for part in ("--set", item)]]

    smoke = [*space.smoke_overrides, *search_sets]
    assert command("train_supernet", space)(args(smoke)) == 1
    assert (tmp_path / "run/checkpoints/epoch_0000.pt").is_file()

    cfg = smoke_config(space, *search_sets, *remote_sets)
    _, _, fingerprint = scoring(space, cfg, tmp_path / "run")
    requests = queue_names(cfg.search.amqp, job_id(space.name, cfg.search.score, fingerprint))[0]
    workers = Workers(tmp_path, ["worker", "--space", name, *args(smoke + remote_sets)], 1, module="common.stages")
    try:
        wait_for_consumers(requests, 1, procs=workers.procs)
        served = command("search", space)(args(smoke + remote_sets))
    finally:
        logs = workers.stop()
        delete_queues(prefix)
    assert f"'scored': {served['evaluated']}" in logs[0]  # the worker scored every candidate
    shutil.rmtree(tmp_path / "run/search")
    local = command("search", space)(args(smoke))
    assert served["top"] == local["top"] and served["history"] == local["history"]
    assert local["evaluated"] > 0 and local["failed"] == [] and local["space"] == space.name

    metrics = command("retrain", space)(args([*space.retrain_smoke_overrides], space.quickstart[1], tmp_path / "re")
                                        + ["--arch", f"search:{tmp_path / 'run'}"])
    assert 0 <= metrics["top1"] <= metrics["top5"] <= 100
    saved = torch.load(tmp_path / "re/checkpoints/last.pt", weights_only=True)
    assert saved["space"] == space.name and saved["global_step"] == 1
    assert space.parse_arch(saved["config"]["model"]["arch"]) == space.from_str(local["best"]["arch_str"])
    assert json.loads((tmp_path / "re/metrics.json").read_text())["epochs_done"] == 1


@pytest.mark.parametrize("name", SPACES)
def test_unsupported_scores_and_strategies_are_refused_before_any_work(name, tmp_path, capsys):
    from common.cli import run

    space = get_space(name)
    unsupported = [("search.score", s) for s in ("angle", "val_acc", "synflow") if s not in space.scores]
    unsupported += [("search.strategy", s) for s in ("exhaustive", "eps") if s not in space.strategies]
    for key, value in unsupported:
        for stage in ("train_supernet", "search", "worker"):
            argv = ["--config", str(ROOT / space.quickstart[0]), "--run-dir", str(tmp_path), "--set", f"{key}={value}"]
            assert run(command(stage, space), argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"{key}: '{value}' is not available in the {space.title} space" in err
    assert not (tmp_path / "checkpoints").exists()
