"""Tau during training: the correlation stage scores every saved epoch checkpoint (``--epochs``)."""
import csv
import json

import pytest

from common.cli import run
from common.training import train_supernet
from nas_bench_201 import correlation
from nas_bench_201.eps import build_training_supernet
from nas_bench_201.space import NAME
from tests.nb201_tiny import tiny_config


def test_tau_of_every_saved_epoch(tmp_path, nb201_table_path, monkeypatch):
    monkeypatch.setenv("RLNAS_NB201_TABLE", str(nb201_table_path))
    cfg = tiny_config(tmp_path, "search.score=angle", "train.epochs=3", "train.save_every=2")
    run_dir = tmp_path / "run"
    train_supernet(cfg, NAME, lambda n: build_training_supernet(cfg, n), run_dir)
    assert run(correlation.main, ["--config", str(tmp_path / "tiny.yaml"), "--set", "train.epochs=3",
                                  "--set", "train.save_every=2", "--run-dir", str(run_dir), "--epochs"]) == 0
    with open(run_dir / "tau_epochs.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["2", "3"]  # every saved epoch (save_every 2, and the last)
    final = json.loads((run_dir / "correlation.json").read_text())
    assert float(rows[-1]["cifar10"]) == pytest.approx(final["kendall_tau"], abs=1e-12)  # last.pt is epoch 3
    assert float(rows[0]["cifar10"]) != float(rows[-1]["cifar10"])
    assert (run_dir / "tau_epochs.png").stat().st_size > 5_000
