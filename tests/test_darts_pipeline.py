"""DARTS end to end on synthetic data (supernet 1 epoch -> search 2 generations -> retrain 1 step),
the FLOPs limit of the search, random labels on an ImageFolder, DDP retraining, shipped configs."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from common.config import from_dict, load_config
from common.errors import UserError
from common.search import flops_limit
from darts_search_space.config import DartsConfig, FlopsLimitConfig, RetrainExperiment
from darts_search_space.flops import costs
from darts_search_space.space import SPACE, from_str, is_legal
from darts_search_space import retrain, search, train_supernet

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "data.synthetic.num_images=64", "--set", "data.synthetic.num_test_images=32",
        "--set", "data.synthetic.image_size=32", "--set", "model.channels=4", "--set", "model.layers=3",
        "--set", "train.epochs=1", "--set", "train.batch_size=32"]


def test_end_to_end_supernet_search_retrain(tmp_path):
    run_dir = tmp_path / "run"
    common = ["--config", str(ROOT / "configs/darts/quickstart.yaml"), "--run-dir", str(run_dir), *TINY,
              "--set", "search.evolution.iterations=2", "--set", "flops.limit_m=450"]
    train_supernet.main(common)
    assert (run_dir / "checkpoints/epoch_0000.pt").is_file() and (run_dir / "checkpoints/last.pt").is_file()
    search.main(common)
    result = json.loads((run_dir / "search/result.json").read_text())
    assert result["evaluated"] == 100 and len(result["history"]) == 2
    scored = json.loads((run_dir / "search/state.json").read_text())["scores"]
    assert len(scored) == 100 and costs([from_str(k) for k in scored])[0].max() <= 450e6  # every candidate
    best = from_str(result["best"]["arch_str"])
    assert is_legal(best) and result["best"]["score"] > 0 and result["best"]["genotype"].startswith("Genotype(")
    assert (run_dir / "search/best.png").read_bytes()[:4] == b"\x89PNG"
    search.main(common)  # a rerun resumes the finished state: same result
    assert json.loads((run_dir / "search/result.json").read_text())["top"] == result["top"]
    retrain.main(["--config", str(ROOT / "configs/darts/retrain_quickstart.yaml"), "--run-dir", str(tmp_path / "re"),
                  "--arch", f"search:{run_dir}", *TINY[:6], "--set", "model.layers=3",
                  "--set", "train.epochs=1", "--set", "train.max_steps_per_epoch=1"])
    metrics = json.loads((tmp_path / "re/metrics.json").read_text())
    assert metrics["epochs_done"] == 1 and metrics["history"][0]["eval_images"] == 32
    saved = torch.load(tmp_path / "re/checkpoints/last.pt", weights_only=True)
    assert saved["global_step"] == 1 and "Genotype(" in saved["config"]["model"]["arch"]


def test_search_never_exceeds_the_flops_limit():
    cfg = FlopsLimitConfig(limit_m=500)
    allowed = flops_limit(SPACE, DartsConfig(flops=cfg))
    rng = np.random.default_rng(0)
    archs = [SPACE.random(rng) for _ in range(2000)]
    flops = costs(archs, cfg.shape())[0]
    assert [allowed(a) for a in archs] == list(flops <= 500e6)
    assert 0.05 < np.mean(flops <= 500e6) < 0.95  # the limit bites
    assert flops_limit(SPACE, DartsConfig()) is None


def test_bad_genotype_on_the_command_line_exits_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "darts_search_space.retrain", "--config",
                             str(ROOT / "configs/darts/retrain_quickstart.yaml"), "--run-dir", str(tmp_path),
                             "--genotype", "search:/nonexistent"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "run the search first" in result.stderr and "Traceback" not in result.stderr


def test_random_labels_replace_the_folder_labels_of_an_imagefolder(tmp_path):
    from PIL import Image
    from torchvision.datasets import ImageFolder

    from common.labels import LabelGenerator, RandomLabelDataset, dataset_targets

    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(20):
            Image.new("RGB", (4, 4), (i, 0, 0)).save(tmp_path / cls / f"{i}.png")
    folder = ImageFolder(str(tmp_path))
    true = dataset_targets(folder)
    generator = LabelGenerator("uniform_once", true, 1000, seed=0)
    wrapped = RandomLabelDataset(folder, generator)
    labels = [wrapped[i][1] for i in range(len(wrapped))]
    assert labels == generator.table(0).tolist()
    assert labels != true and max(labels) > 1  # 1000 random classes, not the 2 folder classes


@pytest.mark.parametrize("path", sorted((ROOT / "configs/darts").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path, monkeypatch):
    monkeypatch.setenv("RLNAS_DATA", "/data")
    schema = RetrainExperiment if path.name.startswith("retrain") else DartsConfig
    try:
        load_config(path, schema)
    except UserError as error:
        if "imagenet" in str(error) and "data.dataset" in str(error):
            pytest.skip("the imagenet dataset is not in common/data.py yet")
        raise


def test_paper_search_configs_follow_the_paper(monkeypatch):
    monkeypatch.setenv("RLNAS_DATA", "/data")
    cfg = load_config(ROOT / "configs/darts/cifar10.yaml", DartsConfig)
    t, e = cfg.train, cfg.search.evolution
    assert (t.epochs, t.batch_size, t.lr, t.min_lr, t.schedule, t.weight_decay, t.grad_clip_norm) == \
        (250, 64, 0.025, 0.001, "cosine", 3e-4, 5.0)
    assert (cfg.model.stem, cfg.model.channels, cfg.model.layers, cfg.labels.mode) == ("cifar", 16, 8, "uniform_once")
    assert (e.population, e.iterations, e.top_k, e.mutations, e.crossovers, e.mutation_prob) == (50, 20, 10, 25, 25, 0.1)
    assert cfg.data.max_train_images is None and cfg.data.valid_fraction == 0  # all 50k images
    r = load_config(ROOT / "configs/darts/retrain_cifar10.yaml", RetrainExperiment)
    assert (r.model.channels, r.model.layers, r.model.auxiliary, r.train.aux_weight, r.train.cutout,
            r.train.drop_path, r.train.epochs, r.train.batch_size, r.train.lr, r.train.weight_decay) == \
        (36, 20, True, 0.4, 16, 0.2, 600, 96, 0.025, 3e-4)


def test_ddp_retraining_with_two_processes(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
         "-m", "darts_search_space.retrain", "--config", str(ROOT / "configs/darts/retrain_quickstart.yaml"),
         "--run-dir", str(tmp_path), "--genotype", "RLNAS_CIFAR10", *TINY[:6], "--set", "model.layers=3",
         "--set", "train.epochs=1", "--set", "train.batch_size=16"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 process(es)" in result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["history"][0]["eval_images"] == 32  # every test image once over both ranks
    assert torch.load(tmp_path / "checkpoints/last.pt", weights_only=True)["global_step"] == 4  # 64 / 16


def test_a_ddp_retraining_that_fails_on_one_rank_ends_at_once_with_one_error_line(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "FAIL_RANK": "1"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29534",
         str(ROOT / "tests/failing_rank.py"), "--config", str(ROOT / "configs/darts/retrain_quickstart.yaml"),
         "--run-dir", str(tmp_path), "--genotype", "RLNAS_CIFAR10", *TINY[:6], "--set", "model.layers=3",
         "--set", "train.epochs=1", "--set", "train.batch_size=16"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert time.monotonic() - started < 60  # the failing rank leaves at once (it waited for a 30-minute timeout)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: rank 1: the training data cannot be read (injected)"], result.stderr[-2000:]


def test_drawing_of_a_genotype_is_a_png(tmp_path):
    from darts_search_space.draw import main as draw_main

    draw_main(["--arch", "RLNAS_IMAGENET_600M", "--out", str(tmp_path / "cells.png")])
    data = (tmp_path / "cells.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
    with pytest.raises(UserError, match=".png"):
        draw_main(["--genotype", "RLNAS_IMAGENET_600M", "--out", str(tmp_path / "cells.jpg")])


def _imagenet_supported() -> bool:
    import typing

    from common.data import DataConfig

    return "imagenet" in typing.get_args(typing.get_type_hints(DataConfig)["dataset"])


@pytest.mark.skipif(not _imagenet_supported(), reason="the imagenet dataset is not in common/data.py yet")
def test_imagenet_configs_follow_the_paper(monkeypatch):
    monkeypatch.setenv("RLNAS_DATA", "/data")
    cfg = load_config(ROOT / "configs/darts/imagenet.yaml", DartsConfig)
    t = cfg.train
    assert (cfg.model.stem, cfg.model.channels, cfg.model.layers, cfg.data.valid_size, cfg.labels.num_classes) == \
        ("imagenet", 48, 14, 50000, 1000)
    assert (t.epochs, t.batch_size, t.lr, t.min_lr, t.schedule, t.schedule_per, t.weight_decay, t.weight_decay_on,
            t.label_smoothing) == (50, 512, 0.1, 5e-4, "linear", "step", 4e-5, "conv", 0.1)
    assert cfg.flops.limit_m == 600
    assert load_config(ROOT / "configs/darts/imagenet_no_limit.yaml", DartsConfig).flops.limit_m is None
    r = load_config(ROOT / "configs/darts/retrain_imagenet.yaml", RetrainExperiment)
    assert (r.model.stem, r.model.channels, r.model.layers, r.train.epochs, r.train.batch_size, r.train.lr,
            r.train.warmup_epochs, r.train.weight_decay, r.train.label_smoothing, r.train.aux_weight) == \
        ("imagenet", 48, 14, 250, 1024, 0.5, 5, 3e-5, 0.1, 0.4)


@pytest.mark.skipif(not _imagenet_supported(), reason="the imagenet dataset is not in common/data.py yet")
def test_retrain_streams_an_imagenet_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("val", 3)):
        for cls in ("n01", "n02"):
            (tmp_path / "data" / split / cls).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(tmp_path / "data" / split / cls / f"{i}.png")
    retrain.main(["--config", str(ROOT / "configs/darts/retrain_imagenet.yaml"), "--run-dir", str(tmp_path / "run"),
                  "--init-channels", "4", "--set", "device=cpu", "--set", f"data.root={tmp_path / 'data'}",
                  "--set", "data.imagenet.num_workers=0", "--set", "model.layers=3", "--set", "train.epochs=1",
                  "--set", "train.batch_size=4", "--set", "train.max_steps_per_epoch=1", "--set", "train.eval_batch_size=4"])
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics["history"][0]["eval_images"] == 6 and 0 <= metrics["best"]["top1"] <= 100


def test_old_spellings_still_work_with_one_deprecation_line(tmp_path, capsys, monkeypatch):
    import common.config
    from darts_search_space.draw import main as draw_main

    monkeypatch.setattr(common.config, "_warned", set())
    cfg = load_config(ROOT / "configs/darts/quickstart.yaml", DartsConfig, ["flops.max_flops_M=450"])
    assert cfg.flops.limit_m == 450
    r = load_config(ROOT / "configs/darts/retrain_quickstart.yaml", RetrainExperiment, ["model.genotype=RLNAS_CIFAR10"])
    assert r.model.arch == "RLNAS_CIFAR10"
    draw_main(["--genotype", "RLNAS_CIFAR10", "--out", str(tmp_path / "cells.png")])
    assert (tmp_path / "cells.png").read_bytes()[:4] == b"\x89PNG"
    err = capsys.readouterr().err.splitlines()
    assert err == ["warning: flops.max_flops_M is deprecated, use flops.limit_m",
                   "warning: model.genotype is deprecated, use model.arch", "warning: --genotype is deprecated, use --arch"]
    # an old spelling in a user's file wins over the new one of the base it inherits from, as any key would
    (tmp_path / "mine.yaml").write_text(f"_base_: {ROOT / 'configs/darts/quickstart.yaml'}\nflops: {{max_flops_M: 300}}\n")
    assert load_config(tmp_path / "mine.yaml", DartsConfig).flops.limit_m == 300
    assert load_config(tmp_path / "mine.yaml", DartsConfig, ["flops.limit_m=400"]).flops.limit_m == 400
    with pytest.raises(UserError, match="flops.max_flops_M and flops.limit_m are the same setting"):
        from_dict(DartsConfig, {"flops": {"max_flops_M": 300, "limit_m": 400}})
