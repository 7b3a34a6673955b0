"""Every shipped config loads against its schema, and the paper-scale ones hold the paper's settings."""
from pathlib import Path

import pytest

from common.config import load_config, load_yaml_tree
from common.space import get_space
from nas_bench_201.config import NB201Config

ROOT = Path(__file__).resolve().parents[1]
SPACE_CONFIGS = {"nas_bench_201": "configs/nas_bench_201", "darts": "configs/darts", "mobilenet": "configs/mobilenet",
                 "examples.chain_space": "examples/chain_space"}
CONFIGS = [(space, path) for space, folder in SPACE_CONFIGS.items() for path in sorted((ROOT / folder).glob("*.yaml"))]


@pytest.mark.parametrize("space, path", CONFIGS, ids=lambda x: x.name if isinstance(x, Path) else x)
def test_config_loads(space, path, monkeypatch):
    """Every shipped config loads against its space's schema: retraining for retrain_*.yaml."""
    monkeypatch.setenv("RLNAS_DATA", "/data")
    space = get_space(space)
    cfg = load_config(path, space.retrain_schema if path.name.startswith("retrain") else space.config_schema)
    assert cfg.train.epochs >= 1


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "imagenet16"])
def test_paper_scale_configs_follow_the_paper(name, monkeypatch):
    monkeypatch.setenv("RLNAS_DATA", "/data")
    cfg = load_config(ROOT / f"configs/nas_bench_201/{name}.yaml", NB201Config)
    t, e = cfg.train, cfg.search.evolution
    assert (t.epochs, t.batch_size, t.lr, t.min_lr, t.schedule, t.momentum, t.nesterov, t.weight_decay) == \
        (250, 64, 0.025, 0.001, "cosine", 0.9, True, 5e-4)
    assert (cfg.model.channels, cfg.model.cells_per_stage, cfg.labels.mode) == (16, 5, "uniform_once")
    assert (e.population, e.iterations, e.top_k, e.mutations, e.crossovers, e.mutation_prob) == (100, 20, 30, 50, 50, 0.1)
    assert cfg.benchmark.dataset == name and cfg.data.dataset == name


def test_cpu_config_keeps_the_paper_size_supernet(monkeypatch):
    monkeypatch.setenv("RLNAS_DATA", "/data")
    cfg = load_config(ROOT / "configs/nas_bench_201/cpu_cifar10.yaml", NB201Config)
    assert (cfg.model.channels, cfg.model.cells_per_stage, cfg.train.batch_size) == (16, 5, 64)
    assert cfg.data.root == "/data/cifar10" and cfg.data.valid_fraction == 0.5


SYNTHETIC_CONFIGS = [path for path in sorted((ROOT / "configs").glob("*/*.yaml"))
                     if (load_yaml_tree(path).get("data") or {}).get("dataset") == "synthetic"]


def test_the_synthetic_configs_are_the_quickstarts():
    assert {f"{p.parent.name}/{p.stem}" for p in SYNTHETIC_CONFIGS} >= {
        "nas_bench_201/quickstart", "nas_bench_201/quickstart_distributed", "darts/quickstart",
        "darts/retrain_quickstart", "mobilenet/quickstart", "mobilenet/retrain_quickstart"}


@pytest.mark.parametrize("path", SYNTHETIC_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_synthetic_configs_read_no_environment_variable(path):
    """A synthetic run needs no data folder: after the bases merge, no value names ${VAR}."""
    def strings(value):
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    assert [s for s in strings(load_yaml_tree(path)) if "${" in s] == []
