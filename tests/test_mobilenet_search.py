import json
import typing

import numpy as np
import pytest
import torch

from common.angle import AngleScorer
from common.checkpoint import load_checkpoint
from common.cli import run
from common.config import load_config
from common.data import DataConfig
from common.evaluation import LocalEvaluator
from common.evolution import EvolutionConfig
from common.search import SearchConfig, run_strategy
from mobilenet_search_space import retrain as retrain_stage, search as search_stage, train_supernet
from mobilenet_search_space.angle import atoms, counts
from mobilenet_search_space.config import MobileNetConfig, RetrainExperiment
from mobilenet_search_space.flops_table import default_table
from mobilenet_search_space.space import MobileNetSpace, from_str, is_legal, to_str
from mobilenet_search_space.supernet import SupernetConfig, build_supernet

from conftest import ROOT


class RecordingSpace(MobileNetSpace):
    """Records every architecture that sampling, mutation and crossover propose."""

    def __init__(self, *args):
        super().__init__(*args)
        self.proposed = []

    def random(self, rng):
        self.proposed.append(super().random(rng))
        return self.proposed[-1]

    def mutate(self, arch, prob, rng):
        self.proposed.append(super().mutate(arch, prob, rng))
        return self.proposed[-1]

    def crossover(self, a, b, rng):
        self.proposed.append(super().crossover(a, b, rng))
        return self.proposed[-1]


@pytest.fixture(scope="module")
def scorer():
    torch.manual_seed(0)
    state0 = build_supernet(SupernetConfig(width_mult=0.1), 10).state_dict()
    generator = torch.Generator().manual_seed(1)
    state_t = {k: v + 0.3 * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
               for k, v in state0.items()}
    return AngleScorer(atoms(0.1), state0, state_t, counts)


def test_evolution_proposes_legal_architectures_and_scores_none_over_the_limit(scorer):
    table = default_table()
    space = RecordingSpace(table, 475)
    scored = []

    def score(archs):
        scored.extend(archs)
        return scorer(archs)

    cfg = SearchConfig(evolution=EvolutionConfig(population=50, iterations=20, top_k=10, mutations=25, crossovers=25,
                                                 mutation_prob=0.1))
    constraint = lambda arch: bool(table.flops([arch])[0] <= 475e6)  # noqa: E731
    result = run_strategy(space, LocalEvaluator(to_str, score), cfg, seed=0, constraint=constraint)
    assert len(space.proposed) > 1000 and all(is_legal(a) for a in space.proposed)
    assert len(scored) == 50 * 20 == len({to_str(a) for a in scored})  # full populations, nothing scored twice
    assert table.flops_m(scored).max() <= 475
    assert (table.flops_m(space.proposed) > 475).any()  # the limit did reject proposals
    best, angle = result.best
    assert angle == pytest.approx(scorer(np.array(scored)).max(), abs=0)
    assert table.flops_m([from_str(best)])[0] <= 475
    assert result.history[-1]["top_k_mean"] > result.history[0]["top_k_mean"]  # evolution improves the top-k


def test_random_sampling_under_a_limit_is_uniform_rejection_sampling():
    table = default_table()
    rng = np.random.default_rng(0)
    space = MobileNetSpace(table, 475)
    archs = np.array([space.random(rng) for _ in range(300)])
    assert table.flops_m(archs).max() <= 475
    assert len({to_str(a) for a in archs}) == 300
    with pytest.raises(Exception, match="below the cheapest architecture"):
        MobileNetSpace(table, 150)


def tiny_overrides(tmp_path):
    return ["--set", "model.width_mult=0.1", "--set", "train.epochs=1", "--set", "train.batch_size=32",
            "--set", "data.synthetic={num_images: 96, num_test_images: 32, num_classes: 10, image_size: 32}",
            "--set", "search.evolution={population: 20, iterations: 2, top_k: 5, mutations: 10, crossovers: 10}",
            "--run-dir", str(tmp_path)]


def test_tiny_pipeline_supernet_search_retrain(tmp_path):
    config = str(ROOT / "configs/mobilenet/quickstart.yaml")
    assert run(train_supernet.main, ["--config", config] + tiny_overrides(tmp_path)) == 0
    epoch0 = load_checkpoint(tmp_path / "checkpoints/epoch_0000.pt", space="mobilenet")
    last = load_checkpoint(tmp_path / "checkpoints/last.pt", space="mobilenet")
    assert last["epoch"] == 1 and not torch.equal(epoch0["model"]["stem.0.weight"], last["model"]["stem.0.weight"])

    assert run(search_stage.main, ["--config", config] + tiny_overrides(tmp_path)) == 0
    result = json.loads((tmp_path / "search/result.json").read_text())
    best = result["best"]
    assert result["evaluated"] == 40 and best["flops_M"] <= 475 and result["flops_limit_M"] == 475
    assert best["flops_M"] == pytest.approx(default_table().flops_m([best["arch"]])[0])
    assert best["score"] == max(entry["score"] for entry in result["top"]) > 0
    assert (tmp_path / "search/best.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(search_stage.main, ["--config", config] + tiny_overrides(tmp_path)) == 0  # resumes the finished state
    again = json.loads((tmp_path / "search/result.json").read_text())
    assert again["top"] == result["top"] and again["history"] == result["history"]

    retrain_dir = tmp_path / "retrain"
    args = ["--config", str(ROOT / "configs/mobilenet/retrain_quickstart.yaml"), "--arch", f"search:{tmp_path}",
            "--set", "model.width_mult=0.1", "--set", "train.epochs=1", "--set", "train.max_steps_per_epoch=1",
            "--set", "train.batch_size=16",
            "--set", "data.synthetic={num_images: 32, num_test_images: 16, num_classes: 10, image_size: 32}",
            "--run-dir", str(retrain_dir)]
    assert run(retrain_stage.main, args) == 0
    metrics = json.loads((retrain_dir / "metrics.json").read_text())
    assert metrics["epochs_done"] == 1 and metrics["history"][0]["eval_images"] == 16
    trained = load_checkpoint(retrain_dir / "checkpoints/last.pt", space="mobilenet")
    assert trained["config"]["model"]["arch"] == best["arch_str"] and trained["global_step"] == 1


def test_stage_errors_are_one_line(tmp_path, capsys):
    config = str(ROOT / "configs/mobilenet/quickstart.yaml")
    assert run(retrain_stage.main, ["--config", str(ROOT / "configs/mobilenet/retrain_quickstart.yaml"), "--arch",
                                    "-1 " * 21, "--run-dir", str(tmp_path)]) == 2
    assert "layer 0 has -1" in capsys.readouterr().err
    assert run(retrain_stage.main, ["--config", str(ROOT / "configs/mobilenet/retrain_quickstart.yaml"), "--arch",
                                    f"search:{tmp_path}", "--run-dir", str(tmp_path)]) == 2
    assert "run the search first" in capsys.readouterr().err
    assert run(search_stage.main, ["--config", config, "--run-dir", str(tmp_path)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def imagenet_available() -> bool:
    return "imagenet" in typing.get_args(typing.get_type_hints(DataConfig)["dataset"])


@pytest.mark.parametrize("name", ["base", "quickstart", "imagenet"])
def test_shipped_search_configs(name, monkeypatch):
    if name == "imagenet" and not imagenet_available():
        pytest.skip("common.data has no 'imagenet' dataset yet")
    monkeypatch.setenv("RLNAS_DATA", "/data")
    cfg = load_config(ROOT / f"configs/mobilenet/{name}.yaml", MobileNetConfig)
    e, f = cfg.search.evolution, cfg.flops
    assert (e.population, e.iterations, e.top_k, e.mutations, e.crossovers, e.mutation_prob) == (50, 20 if name != "quickstart" else 5, 10, 25, 25, 0.1)
    assert (f.limit_m, f.input_size, f.num_classes, f.width_mult) == (475, 224, 1000, 1.0)
    if name != "quickstart":
        t = cfg.train
        assert (t.epochs, t.batch_size, t.lr, t.min_lr, t.schedule, t.schedule_per, t.momentum, t.nesterov) == \
            (120, 512, 0.25, 5e-4, "linear", "step", 0.9, False)
        assert (t.weight_decay, t.weight_decay_on, t.label_smoothing, t.grad_clip_value) == (4e-5, "conv_linear", 0.1, 5)
        assert cfg.model.width_mult == 1.0 and cfg.labels.mode == "uniform_once"


@pytest.mark.parametrize("name", ["retrain_quickstart", "retrain_imagenet"])
def test_shipped_retrain_configs(name, monkeypatch):
    if name == "retrain_imagenet" and not imagenet_available():
        pytest.skip("common.data has no 'imagenet' dataset yet")
    monkeypatch.setenv("RLNAS_DATA", "/data")
    cfg = load_config(ROOT / f"configs/mobilenet/{name}.yaml", RetrainExperiment)
    assert from_str(cfg.model.arch) and cfg.model.dropout == 0.2
    t = cfg.train
    assert (t.lr, t.min_lr, t.schedule, t.schedule_per, t.weight_decay, t.label_smoothing, t.grad_clip_norm) == \
        (0.5 if name == "retrain_imagenet" else 0.1, 0.0, "linear", "step", 4e-5, 0.1, 5.0)
    if name == "retrain_imagenet":
        assert (t.epochs, t.batch_size, cfg.data.dataset) == (240, 1024, "imagenet")


def test_random_labels_really_replace_the_labels_of_an_image_folder(tmp_path):
    # The released ImageNet code overwrote `targets`, which ImageFolder never reads (docs/reference.md §5.2).
    from PIL import Image
    from torchvision.datasets import ImageFolder

    from common.labels import LabelConfig, RandomLabelDataset, build_label_generator, dataset_targets

    for c in range(3):
        (tmp_path / f"class{c}").mkdir()
        for i in range(20):
            Image.new("RGB", (4, 4), (c * 80, i, 0)).save(tmp_path / f"class{c}" / f"{i}.png")
    folder = ImageFolder(str(tmp_path))
    generator = build_label_generator(LabelConfig(num_classes=1000), dataset_targets(folder), seed=5)
    wrapped = RandomLabelDataset(folder, generator)
    labels = [wrapped[i][1] for i in range(len(wrapped))]
    assert labels == generator.table(0).tolist() and max(labels) >= 3  # drawn over 1000 classes, not the 3 true ones
    assert sum(a != b for a, b in zip(labels, folder.targets)) > 50
