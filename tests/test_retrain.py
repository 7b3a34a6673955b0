"""common/retrain.py: Cutout, top-k evaluation, drop-path schedule, auxiliary loss and exact resume."""
import json

import pytest
import torch
from torch import nn

from common.config import from_dict
from common.errors import UserError
from common.retrain import RetrainExperiment, cutout, evaluate_top_k, retrain
from darts_search_space.ops import drop_path


def test_cutout_equals_the_per_image_darts_loop():
    images = torch.randn(64, 3, 12, 10)
    out = cutout(images, 6, torch.Generator().manual_seed(5))
    generator = torch.Generator().manual_seed(5)
    ys, xs = torch.randint(0, 12, (64,), generator=generator), torch.randint(0, 10, (64,), generator=generator)
    want = images.clone()
    for i, (y, x) in enumerate(zip(ys.tolist(), xs.tolist())):  # DARTS: clip(y -+ L//2, 0, h), then zero
        want[i, :, max(y - 3, 0):min(y + 3, 12), max(x - 3, 0):min(x + 3, 10)] = 0
    assert torch.equal(out, want)
    assert (out == 0).flatten(1).any(1).all()  # every image lost a square


class _Batches:
    def __init__(self, batches):
        self.batches = batches

    def epoch(self, index):
        return iter(self.batches)


def test_top_k_against_a_direct_count():
    torch.manual_seed(0)
    logits_all, labels_all = torch.randn(50, 8), torch.randint(0, 8, (50,))
    model = nn.Identity()
    batches = [(logits_all[i:i + 16], labels_all[i:i + 16]) for i in range(0, 50, 16)]
    got = evaluate_top_k(model, _Batches(batches), torch.device("cpu"))
    top5 = logits_all.topk(5, 1).indices
    assert got["top1"] == pytest.approx(100 * (logits_all.argmax(1) == labels_all).float().mean().item())
    assert got["top5"] == pytest.approx(100 * (top5 == labels_all[:, None]).any(1).float().mean().item())
    assert got["images"] == 50


class TinyNet(nn.Module):
    """Conv features with dropout and drop path, a classifier and an auxiliary classifier in training."""

    def __init__(self, num_classes):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                                      nn.Flatten(), nn.Dropout(0.2))
        self.classifier = nn.Linear(32, num_classes)
        self.aux = nn.Linear(32, num_classes)
        self.drop_path_prob = 0.0

    def forward(self, x):
        f = self.features(x)
        if self.training and self.drop_path_prob > 0:
            f = drop_path(f[:, :, None, None], self.drop_path_prob).flatten(1)
        return (self.classifier(f), self.aux(f)) if self.training else self.classifier(f)


def _config(**train):
    data = {"dataset": "synthetic", "synthetic": {"num_images": 96, "num_test_images": 40, "image_size": 16}}
    base = {"epochs": 3, "batch_size": 32, "drop_path": 0.3, "cutout": 8, "label_smoothing": 0.1, "save_every": 1,
            "log_every": 1, "eval_batch_size": 20}
    return from_dict(RetrainExperiment, {"seed": 3, "device": "cpu", "data": data, "train": {**base, **train}})


def _run(cfg, run_dir, stop=None):
    return retrain(cfg, "test", TinyNet, run_dir, stop)


def test_resumed_run_ends_bit_identical(tmp_path):
    cfg = _config()
    _run(cfg, tmp_path / "straight")
    _run(cfg, tmp_path / "resumed", stop=1)
    assert json.loads((tmp_path / "resumed/metrics.json").read_text())["epochs_done"] == 1
    _run(cfg, tmp_path / "resumed")
    a = torch.load(tmp_path / "straight/checkpoints/last.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed/checkpoints/last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 3
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    history = json.loads((tmp_path / "straight/metrics.json").read_text())["history"]
    assert history == json.loads((tmp_path / "resumed/metrics.json").read_text())["history"]
    assert [h["drop_path_prob"] for h in history] == pytest.approx([0.0, 0.1, 0.2])  # 0.3 * e / 3
    assert all(0 <= h["top1"] <= h["top5"] <= 100 for h in history)
    assert (tmp_path / "straight/tb").is_dir() and (tmp_path / "straight/checkpoints/epoch_0002.pt").is_file()


def test_metrics_record_the_config_and_the_checkpoints_a_run_resumed_from(tmp_path):
    import hashlib

    from common.config import to_dict

    cfg = _config(epochs=3)
    _run(cfg, tmp_path, stop=1)
    first = tmp_path / "checkpoints/last.pt"
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    _run(cfg, tmp_path, stop=2)
    second = hashlib.sha256(first.read_bytes()).hexdigest()
    _run(cfg, tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"] == json.loads(json.dumps(to_dict(cfg)))
    assert metrics["resumed_from"] == [{"path": str(first.resolve()), "epoch": 1, "sha256": digest},
                                       {"path": str(first.resolve()), "epoch": 2, "sha256": second}]


def test_resume_with_another_config_is_refused(tmp_path):
    _run(_config(epochs=1), tmp_path)
    with pytest.raises(UserError, match=r"another training config \(saved -> given: train.lr: 0.025 -> 0.5\)"):
        _run(_config(epochs=1, lr=0.5), tmp_path)


def test_auxiliary_loss_changes_training(tmp_path):
    with_aux = _run(_config(epochs=1, aux_weight=0.4, drop_path=0.0, cutout=0), tmp_path / "a")
    without = _run(_config(epochs=1, aux_weight=0.0, drop_path=0.0, cutout=0), tmp_path / "b")
    assert with_aux["train_loss"] > without["train_loss"]  # the auxiliary term is part of the loss


class Recording(TinyNet):
    """TinyNet that records, per training forward, whether autocast was on and the input's memory format."""

    seen: list = []

    def forward(self, x):
        if self.training:
            Recording.seen.append((torch.is_autocast_enabled(x.device.type),
                                   x.is_contiguous(memory_format=torch.channels_last), self.features[0].weight.stride()))
        return super().forward(x)


def test_amp_and_channels_last_take_effect_when_retraining(tmp_path):
    def run(name, **train):
        Recording.seen = []
        retrain(_config(epochs=1, max_steps_per_epoch=2, drop_path=0.0, cutout=0, **train), "test", Recording,
                tmp_path / name)
        return torch.load(tmp_path / name / "checkpoints/last.pt", weights_only=True)["model"], Recording.seen

    plain, seen = run("plain")
    assert [autocast for autocast, _, _ in seen] == [False, False]
    bf16, seen = run("bf16", amp="bf16")
    assert [autocast for autocast, _, _ in seen] == [True, True]  # the forward ran under bf16 autocast
    again, _ = run("bf16_again", amp="bf16")
    changed = [k for k in plain if plain[k].is_floating_point() and not torch.equal(plain[k], bf16[k])]
    assert "features.0.weight" in changed and "classifier.weight" in changed  # bf16 rounding changed the step
    assert all(torch.equal(bf16[k], again[k]) for k in bf16)  # and is deterministic
    assert all(torch.allclose(plain[k].float(), bf16[k].float(), atol=0.05) for k in plain)  # same training, rounded
    _, seen = run("nhwc", channels_last=True)
    weight = torch.empty(8, 3, 3, 3).to(memory_format=torch.channels_last)
    assert all(nhwc and stride == weight.stride() for _, nhwc, stride in seen)  # NHWC images and weights
    _, seen = run("nchw")
    assert not any(nhwc for _, nhwc, _ in seen)
