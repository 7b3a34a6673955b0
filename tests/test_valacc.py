"""BN re-calibration and inherited-weight validation accuracy (the SPOS fitness, methods A and C)."""
import json

import pytest
import torch
from torch import nn

from common.bn import recalibrate_bn
from common.valacc import SubnetAccuracy
from tests.nb201_tiny import tiny_config


def conv_bn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4, momentum=0.1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


def test_recalibration_changes_the_running_statistics_and_only_them():
    model = conv_bn().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batches = [torch.randn(6, 3, 5, 5) * 2 + 1, torch.randn(6, 3, 5, 5) * 2 + 1]
    assert recalibrate_bn(model, batches) == 2
    bn = model[1]
    with torch.no_grad():
        outputs = [model[0](b) for b in batches]
    # Cumulative average of the per-batch statistics (equal-size batches: the exact mean).
    mean = torch.cat(outputs).mean(dim=(0, 2, 3))
    var = torch.stack([o.var(dim=(0, 2, 3), unbiased=True) for o in outputs]).mean(0)
    assert torch.allclose(bn.running_mean, mean, atol=1e-6) and torch.allclose(bn.running_var, var, atol=1e-5)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"1.running_mean", "1.running_var", "1.num_batches_tracked"}
    assert not model.training and not bn.training and bn.momentum == 0.1  # mode and momentum restored


def test_recalibration_is_independent_of_the_previous_statistics():
    model = conv_bn()
    batches = [torch.randn(8, 3, 5, 5)]
    recalibrate_bn(model, [torch.randn(8, 3, 5, 5) * 5])
    recalibrate_bn(model, batches)
    first = model[1].running_mean.clone()
    model[1].running_mean.fill_(100.0)
    recalibrate_bn(model, batches)
    assert torch.equal(model[1].running_mean, first)


def test_subnet_accuracy_matches_a_direct_evaluation_and_memoises():
    model = conv_bn()
    x, y = torch.randn(20, 3, 5, 5), torch.randint(2, (20,))
    bn_batches = [torch.randn(8, 3, 5, 5)]
    calls = []

    def forward(inputs, arch):
        calls.append(arch)
        return model(inputs) * (1 if arch == "a" else -1)  # "b" flips every prediction

    scorer = SubnetAccuracy(model, forward, str, bn_batches, x, y, batch_size=7)
    acc_a, loss_a = scorer.evaluate("a")
    recalibrate_bn(model, bn_batches)
    model.eval()
    with torch.no_grad():
        logits = model(x)
    assert acc_a == pytest.approx(100.0 * float((logits.argmax(1) == y).float().mean()))
    assert loss_a == pytest.approx(float(nn.functional.cross_entropy(logits, y)), rel=1e-5)
    scores = scorer(["a", "b", "a"])
    assert scores[0] == scores[2] == pytest.approx(acc_a) and scores[1] == pytest.approx(100 - acc_a)
    calls.clear()
    scorer(["a", "b"])
    assert calls == []  # memoised


@pytest.mark.parametrize("mode, expected", [("ground_truth", "true"), ("uniform_once", "random")])
def test_nb201_val_acc_search_end_to_end(tmp_path, mode, expected):
    from common.training import checkpoint_path, train_supernet
    from nas_bench_201.eps import build_training_supernet
    from nas_bench_201.search import search
    from common.scoring import valacc_scorer
    from nas_bench_201.space import NAME, SPACE, from_str

    cfg = tiny_config(tmp_path, f"labels.mode={mode}", "search.score=val_acc")
    run_dir = tmp_path / "run"
    train_supernet(cfg, NAME, lambda n: build_training_supernet(cfg, n), run_dir)
    document = search(cfg, run_dir)
    assert document["evaluated"] == 12 and json.loads((run_dir / "search/result.json").read_text())["score"] == "val_acc"
    scorer = valacc_scorer(SPACE, cfg, checkpoint_path(run_dir, "last"))
    assert f"{expected} labels" in scorer.description and "24 held-out" in scorer.description
    best = document["best"]
    # A fresh scorer reproduces the search's score exactly: the data and the BN batches are fixed.
    assert scorer([from_str(best["arch_str"])])[0] == pytest.approx(best["score"], abs=1e-9)
    assert 0 <= best["score"] <= 100 and best["score"] == max(s for _, s in [(t["arch_str"], t["score"]) for t in document["top"]])
