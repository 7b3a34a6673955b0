"""Ranking stability during training (``train.stability``): the logged tau, the stop rule, resume."""
import json

import numpy as np
import pytest
import torch

from common.correlation import correlate
from common.stability import StabilityConfig, consecutive_taus, stop_epoch, tracker
from nas_bench_201.angles import all_angles
from tests.test_training import tiny_config, train


def test_logged_tau_is_the_tau_between_consecutive_epochs_angle_rankings(tmp_path):
    cfg = tiny_config(tmp_path, ["train.stability.enabled=true", "train.stability.archs=20000"])
    assert train(cfg, tmp_path / "run") == 3
    state = json.loads((tmp_path / "run" / "stability.json").read_text())
    ckpt = tmp_path / "run" / "checkpoints"
    rankings = [all_angles(ckpt / "epoch_0000.pt", ckpt / f"epoch_000{e}.pt") for e in (1, 2, 3)]
    expected = consecutive_taus(rankings)
    assert state["tau"]["1"] is None and state["archs"] == 15625 and state["stopped_at"] is None
    for epoch in (2, 3):
        assert state["tau"][str(epoch)] == pytest.approx(correlate(rankings[epoch - 1], rankings[epoch - 2]).kendall_tau, abs=1e-12)
        assert state["tau"][str(epoch)] == pytest.approx(expected[epoch - 1], abs=1e-12)
    assert list(ckpt.parent.glob("tb/events.*"))


def test_stop_rule_stops_and_a_resumed_run_stays_stopped(tmp_path):
    cfg = tiny_config(tmp_path, ["train.epochs=5", "train.stability={enabled: true, threshold: -1.0, patience: 2, archs: 50}"])
    assert train(cfg, tmp_path / "run") == 3  # epoch 1 has no previous ranking; epochs 2 and 3 agree
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("epoch_*.pt"))[-1] == "epoch_0003.pt"
    assert json.loads((tmp_path / "run" / "stability.json").read_text())["stopped_at"] == 3
    assert train(cfg, tmp_path / "run") == 3  # resumed: nothing more is trained
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 3


def test_interrupted_run_compares_against_the_epoch_before(tmp_path):
    cfg = tiny_config(tmp_path, ["train.stability={enabled: true, archs: 40}"])
    train(cfg, tmp_path / "a")
    train(cfg, tmp_path / "b", stop=2)
    train(cfg, tmp_path / "b")
    a, b = (json.loads((tmp_path / r / "stability.json").read_text()) for r in ("a", "b"))
    assert a["tau"] == b["tau"] and a["tau"]["3"] is not None


def test_stop_epoch_needs_patience_epochs_in_a_row():
    taus = {1: None, 2: 0.96, 3: 0.9, 4: 0.97, 5: 0.99, 6: 0.99}
    assert stop_epoch(taus, 0.95, 2) == 5 and stop_epoch(taus, 0.95, 1) == 2 and stop_epoch(taus, 0.995, 1) is None


@pytest.mark.parametrize("space", ["darts", "mobilenet"])
def test_other_spaces_rank_a_seeded_random_sample(space, tmp_path):
    if space == "darts":
        from darts_search_space.config import DartsConfig as Schema
        from darts_search_space.supernet import SupernetConfig, build_supernet

        model_cfg = SupernetConfig(channels=4, layers=3)
    else:
        from mobilenet_search_space.config import MobileNetConfig as Schema
        from mobilenet_search_space.supernet import SupernetConfig, build_supernet

        model_cfg = SupernetConfig(width_mult=0.1)
    config = Schema(seed=3)
    config.model, config.train.stability = model_cfg, StabilityConfig(enabled=True, archs=30)
    torch.manual_seed(0)
    model = build_supernet(model_cfg, 10)
    (tmp_path / "checkpoints").mkdir()
    from common.checkpoint import FORMAT_VERSION, save_checkpoint

    save_checkpoint(tmp_path / "checkpoints" / "epoch_0000.pt",
                    {"format": FORMAT_VERSION, "space": space, "config": {}, "epoch": 0, "model": model.state_dict()})
    probe = tracker(config, space, tmp_path)
    assert len(probe.archs) == 30 and len({str(a) for a in probe.archs}) > 25
    taus = []
    for epoch in (1, 2, 3):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        probe.after_epoch(epoch, model)
        taus.append(probe.history[epoch])
    assert taus[0] is None and all(-1 <= t <= 1 for t in taus[1:])
    assert np.isfinite(taus[1]) and taus[1] != taus[2]
    again = tracker(config, space, tmp_path)
    assert [str(a) for a in again.archs] == [str(a) for a in probe.archs]  # the same seeded sample
