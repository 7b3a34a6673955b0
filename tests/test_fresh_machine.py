"""The three quickstarts as a new user meets them: no RLNAS_DATA, no RLNAS_NB201_TABLE, no data folder,
run from an empty folder with the default run directories (short versions of each stage)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NB201 = ["--set", "train.epochs=2", "--set", "train.save_every=1",
         "--set", "data.synthetic={num_images: 256, num_test_images: 32, num_classes: 10, image_size: 32}",
         "--set", "search.evolution={population: 20, iterations: 2, top_k: 5, mutations: 10, crossovers: 10}"]
MOBILENET = ["--set", "model.width_mult=0.1", "--set", "train.epochs=1", "--set", "train.batch_size=32",
             "--set", "data.synthetic={num_images: 96, num_test_images: 32, num_classes: 10, image_size: 32}"]
MOBILENET_SEARCH = ["--set", "search.evolution={population: 20, iterations: 2, top_k: 5, mutations: 10, crossovers: 10}"]
DARTS = ["--set", "data.synthetic={num_images: 64, num_test_images: 32, num_classes: 10, image_size: 32}",
         "--set", "model.channels=4", "--set", "model.layers=3", "--set", "train.epochs=1", "--set", "train.batch_size=32"]
DARTS_SEARCH = ["--set", "search.evolution={population: 20, iterations: 2, top_k: 5, mutations: 10, crossovers: 10}"]
RETRAIN = ["--set", "train.epochs=1", "--set", "train.max_steps_per_epoch=1", "--set", "train.batch_size=16"]


def stage(cwd, module, config, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("RLNAS_DATA", "RLNAS_NB201_TABLE")}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    result = subprocess.run([sys.executable, "-m", module, "--config", str(ROOT / "configs" / config), *args],
                            cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{module} {config}:\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_the_three_quickstarts_on_a_fresh_machine(tmp_path):
    # NAS-Bench-201 first: it used to leave runs/quickstart behind for the other spaces to trip over.
    out = stage(tmp_path, "nas_bench_201.pipeline", "nas_bench_201/quickstart.yaml", *NB201).stdout
    assert "Kendall tau (angle vs cifar10_test, all 15625 architectures): " in out
    assert "its NAS-Bench-201 accuracies (%): cifar10_valid " in out
    assert "are NAS-Bench-201's own cifar10 numbers: they measure this search only if the synthetic" in out
    nb201 = tmp_path / "runs/nas_bench_201/quickstart"
    assert f"run directory {Path('runs/nas_bench_201/quickstart')}" in out
    assert json.loads((nb201 / "correlation.json").read_text())["n"] == 15625

    stage(tmp_path, "mobilenet_search_space.train_supernet", "mobilenet/quickstart.yaml", *MOBILENET)
    stage(tmp_path, "mobilenet_search_space.search", "mobilenet/quickstart.yaml", *MOBILENET, *MOBILENET_SEARCH)
    stage(tmp_path, "mobilenet_search_space.retrain", "mobilenet/retrain_quickstart.yaml",
          "--arch", "search:runs/mobilenet/quickstart", "--set", "model.width_mult=0.1", *RETRAIN,
          "--set", "data.synthetic={num_images: 32, num_test_images: 16, num_classes: 10, image_size: 32}")

    stage(tmp_path, "darts_search_space.train_supernet", "darts/quickstart.yaml", *DARTS)
    stage(tmp_path, "darts_search_space.search", "darts/quickstart.yaml", *DARTS, *DARTS_SEARCH)
    stage(tmp_path, "darts_search_space.retrain", "darts/retrain_quickstart.yaml",
          "--genotype", "search:runs/darts/quickstart", *DARTS[:4], "--set", "model.layers=3", *RETRAIN)

    runs = tmp_path / "runs"
    assert sorted(str(p.relative_to(runs)) for p in runs.glob("*/*")) == [
        "darts/quickstart", "darts/retrain_quickstart", "mobilenet/quickstart", "mobilenet/retrain_quickstart",
        "nas_bench_201/quickstart"]
    for name in ("mobilenet/quickstart", "darts/quickstart"):
        assert json.loads((runs / name / "search/result.json").read_text())["best"]["score"] > 0
    for name in ("mobilenet/retrain_quickstart", "darts/retrain_quickstart"):
        assert (runs / name / "metrics.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # nothing written outside the run directories


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts/bench").glob("[!_]*.py")))
def test_benchmarks_run_as_the_readme_writes_them(tmp_path, script):
    """`python scripts/bench/X.py` from the project root, without PYTHONPATH (here: --help from elsewhere)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(ROOT / "scripts/bench" / script), "--help"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage:"), result.stderr[-2000:]
