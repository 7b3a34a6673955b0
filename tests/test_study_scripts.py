"""The study scripts under scripts/studies: on made-up score files and on tiny supernets trained here."""
import contextlib
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from common.cli import run
from common.config import load_config
from common.training import train_supernet
from nas_bench_201.benchmark import BenchmarkTable, find_table
from nas_bench_201.config import NB201Config
from nas_bench_201.encoding import arch_of, to_str

ROOT = Path(__file__).resolve().parents[1]


def study_script(name, *args, check=False):
    """Run ``scripts/studies/<name>`` in this process (as ``python <script> ARGS`` does, through its
    ``common.cli.run(main)``): ``(returncode, stdout, stderr)``."""
    spec = importlib.util.spec_from_file_location(Path(name).stem, ROOT / "scripts/studies" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(module.main, [str(arg) for arg in args])
    assert code == 0 or not check, err.getvalue()
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def agreement(*paths, check=False):
    return study_script("nb201_val_acc_agreement.py", *paths, check=check)


def test_study_scripts_run_as_files_from_anywhere(tmp_path):
    for name in ("nb201_val_acc_agreement.py", "nb201_heldout_by_epoch.py", "darts_classifier_bias.py", "nb201_paired.py"):
        result = subprocess.run([sys.executable, str(ROOT / "scripts/studies" / name), "--help"], cwd=tmp_path,
                                capture_output=True, text=True)
        assert result.returncode == 0 and result.stdout.startswith("usage:"), result.stderr


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_val_acc_agreement_compares_two_memos_over_their_common_architectures(tmp_path):
    truth = BenchmarkTable.load(find_table(None)).metric("cifar10_test")
    indices = [0, 17, 420, 999, 5000, 7777, 12000, 15624]
    archs = [to_str(arch_of(i)) for i in indices]
    first = {arch: float(truth[i]) for arch, i in zip(archs, indices)}  # ranks as the benchmark
    second = {arch: -float(truth[i]) for arch, i in zip(archs[2:], indices[2:])}  # the reverse, 6 of them
    paths = [tmp_path / "first.json", tmp_path / "second.json"]
    for path, memo in zip(paths, (first, second)):
        path.write_text(json.dumps(memo))
    out = agreement(*paths, check=True).stdout.splitlines()
    assert out[0] == "6 architectures scored in both"
    assert "tau vs cifar10_test 1.000" in out[1] and "(8 scored in all)" in out[1]
    assert "tau vs cifar10_test -1.000" in out[2] and "(6 scored in all)" in out[2]
    assert out[3] == "tau between the two rankings: -1.000"


def test_val_acc_agreement_reports_a_bad_score_file_in_one_line(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({to_str(arch_of(0)): 10.0}))
    bad.write_text("[1, 2]")
    assert_one_line_error(agreement(good, bad), "not a val_acc score file")


@pytest.fixture(scope="module")
def nb201_run(tmp_path_factory):
    """A tiny NAS-Bench-201 supernet trained for 2 epochs with true labels, a checkpoint per epoch."""
    from nas_bench_201.supernet import build_supernet

    run_dir = tmp_path_factory.mktemp("nb201") / "run"
    cfg = load_config(ROOT / "configs/nas_bench_201/quickstart.yaml", NB201Config,
                      ["data.synthetic.num_images=128", "data.synthetic.image_size=16", "data.valid_fraction=0.5",
                       "labels.mode=ground_truth", "model.channels=4", "train.epochs=2", "train.batch_size=32",
                       "train.save_every=1"])
    train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), run_dir)
    return run_dir


def test_heldout_by_epoch_scores_every_saved_epoch_as_the_scorer_does(nb201_run):
    from common.scoring import valacc_scorer
    from nas_bench_201.reproduce.config import subset_order
    from nas_bench_201.space import SPACE, benchmark_archs

    run_dir = nb201_run
    out = study_script("nb201_heldout_by_epoch.py", run_dir, "--archs", 3, "--valid-images", 32, "--bn-batches", 1,
                       check=True).stdout.splitlines()
    assert [line.split(":")[0] for line in out] == ["epoch 0", "epoch 1", "epoch 2"]
    expected = valacc_scorer(SPACE, load_config(run_dir / "config.yaml", NB201Config, [
        "search.val_acc.valid_images=32", "search.val_acc.bn_batches=1", "search.val_acc.batch_size=200"]),
        run_dir / "checkpoints/epoch_0002.pt")(benchmark_archs()[subset_order(3, 0)])
    mean, low, high = map(float, re.findall(r"([\d.]+)%? \(min ([\d.]+), max ([\d.]+)", out[-1])[0])
    assert (mean, low, high) == (round(expected.mean(), 2), round(expected.min(), 2), round(expected.max(), 2))
    assert out[-1].endswith("3 architectures)")


def test_heldout_by_epoch_reports_bad_input_in_one_line(tmp_path, nb201_run):
    assert_one_line_error(study_script("nb201_heldout_by_epoch.py", tmp_path), "no checkpoints/epoch_*.pt", str(tmp_path))
    assert_one_line_error(study_script("nb201_heldout_by_epoch.py", nb201_run, "--archs", 0), "--archs")


def test_darts_classifier_bias_compares_the_two_rules_on_a_trained_supernet(tmp_path):
    from darts_search_space import train_supernet as darts_train

    run_dir = tmp_path / "darts"
    darts_train.main(["--config", str(ROOT / "configs/darts/quickstart.yaml"), "--run-dir", str(run_dir),
                      "--set", "data.synthetic.num_images=64", "--set", "data.synthetic.image_size=16",
                      "--set", "model.channels=4", "--set", "model.layers=3", "--set", "train.epochs=1",
                      "--set", "train.batch_size=32"])
    out = study_script("darts_classifier_bias.py", run_dir, "--archs", 300, check=True).stdout
    difference = float(re.search(r"largest angle difference ([\d.e+-]+) rad", out).group(1))
    tau = float(re.search(r"Kendall tau between the two rankings ([\d.-]+)", out).group(1))
    assert 0 < difference < 1e-2  # the trained bias moves every angle a little
    assert 0.5 < tau <= 1
    top = [int(n) for n in re.findall(r"top \d+: (\d+) in common", out)]
    assert len(top) == 3 and top[0] <= 1 and top[1] <= 10 and top[2] <= 100
    assert_one_line_error(study_script("darts_classifier_bias.py", tmp_path / "nowhere"), "checkpoints/epoch_0000.pt")


def test_paired_compares_two_methods_epoch_by_epoch_over_their_common_seeds(tmp_path, nb201_run):
    import numpy as np
    from scipy import stats

    from nas_bench_201.angle import scorer_from_checkpoints
    from nas_bench_201.encoding import benchmark_archs
    from nas_bench_201.supernet import build_supernet

    zero_run = nb201_run  # the NAS-Bench-201 configs' zero_grad: zero
    nb201_run = tmp_path / "drop"  # the fixture's run with PyTorch 2's gradient semantics: same seed, data, paths
    cfg = load_config(zero_run / "config.yaml", NB201Config, ["train.zero_grad=drop"])
    train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), nb201_run)
    results = tmp_path / "results.json"
    results.write_text(json.dumps({
        "tau": [{"method": "drop", "train_seed": 0, "run_dir": str(nb201_run)},
                {"method": "zero", "train_seed": 0, "run_dir": str(zero_run)},
                {"method": "drop", "train_seed": 1, "run_dir": str(nb201_run)}],  # no pair: left out
        "search": [{"method": "drop", "train_seed": 0, "test": 90.0}, {"method": "drop", "train_seed": 0, "test": 91.0},
                   {"method": "zero", "train_seed": 0, "test": 93.0}]}))
    out = study_script("nb201_paired.py", results, "--pair", "drop:zero", "--out", tmp_path / "out", check=True).stdout
    assert "seeds [0] (n=1)" in out
    truth = BenchmarkTable.load(find_table(None)).metric("cifar10_test")
    archs = benchmark_archs()
    expected = {}
    for name, run_dir in (("drop", nb201_run), ("zero", zero_run)):
        angles = scorer_from_checkpoints(run_dir / "checkpoints/epoch_0000.pt", run_dir / "checkpoints/epoch_0002.pt")(archs)
        expected[name] = (stats.kendalltau(angles, truth)[0], stats.kendalltau(angles[angles > 0], truth[angles > 0])[0])
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith("| tau")]
    row_all = next(r for r in rows if r[0] == "| tau, all 15,625" and r[1] == "2")
    row_path = next(r for r in rows if r[0] == "| tau, 15,284 with a path" and r[1] == "2")
    assert (float(row_all[2]), float(row_all[3])) == pytest.approx((expected["drop"][0], expected["zero"][0]), abs=6e-5)
    assert (float(row_path[2]), float(row_path[3])) == pytest.approx((expected["drop"][1], expected["zero"][1]), abs=6e-5)
    assert float(row_all[4].split()[0]) == pytest.approx(expected["zero"][0] - expected["drop"][0], abs=1.1e-4)
    assert "| found architecture, test acc (%) | 2 | 90.50 | 93.00 | 2.50 (n=1)" in out
    assert (tmp_path / "out/paired.png").exists() is False and (tmp_path / "out/paired_tau.png").is_file()
    assert len((tmp_path / "out/paired.csv").read_text().splitlines()) == 1 + 3 * 2 * 1
    assert_one_line_error(study_script("nb201_paired.py", results, "--pair", "drop:other", "--out", tmp_path / "o"),
                          "no supernet seed trained by both methods")
