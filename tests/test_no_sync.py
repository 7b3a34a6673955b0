"""No host-device synchronisation per training step: reading a tensor's value on the host (``item``,
``float()``, ``tolist``, ``cpu``, ...) only at log points and epoch ends. Counted on CPU by patching
those methods: the count of a whole run must not grow with the number of steps per epoch."""
import copy
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from common.config import from_dict, load_config
from common.kernels import sgd_kernels
from common.retrain import RetrainExperiment, retrain
from common.training import train_supernet
from nas_bench_201.config import NB201Config
from nas_bench_201.supernet import build_supernet

ROOT = Path(__file__).resolve().parents[1]
READS = ("item", "cpu", "tolist", "numpy", "__float__", "__int__", "__bool__", "__index__")


@pytest.fixture
def count_reads(monkeypatch):
    counts = Counter()
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            # ``cpu()`` of an integer tensor already on the host (the loader's batch indices, which stay on
            # the host on every device) involves no device; anything else is counted
            if not (_name == "cpu" and self.device.type == "cpu" and not self.is_floating_point()):
                counts[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return counts


def nb201_config(steps):
    return load_config(ROOT / "configs/nas_bench_201/quickstart.yaml", NB201Config,
                       ["device=cpu", "data.dataset=synthetic", "data.synthetic.num_images=64",
                        "data.synthetic.image_size=8", "data.synthetic.num_test_images=0", "model.channels=2",
                        "model.cells_per_stage=1", "train.epochs=1", "train.batch_size=8", "train.log_every=1000",
                        f"train.max_steps_per_epoch={steps}"])


def test_supernet_training_reads_no_tensor_per_step(tmp_path, count_reads):
    runs = {}
    for steps in (2, 6):
        cfg = nb201_config(steps)
        count_reads.clear()
        train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), tmp_path / str(steps))
        runs[steps] = dict(count_reads)
    assert runs[2] == runs[6], runs
    assert runs[2]["__float__"] >= 1 and runs[2]["tolist"] >= 1  # the patch sees the log line and epoch summary


class Net(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))

    def forward(self, x):
        return self.body(x)


def test_retraining_reads_no_tensor_per_step(tmp_path, count_reads):
    runs = {}
    for steps in (2, 6):
        cfg = from_dict(RetrainExperiment, {
            "device": "cpu",
            "data": {"dataset": "synthetic", "synthetic": {"num_images": 64, "num_test_images": 8, "image_size": 8}},
            "train": {"epochs": 1, "batch_size": 8, "cutout": 4, "log_every": 1000, "max_steps_per_epoch": steps,
                      "eval_batch_size": 8}})
        count_reads.clear()
        retrain(cfg, "test", Net, tmp_path / str(steps))
        runs[steps] = dict(count_reads)
    assert runs[2] == runs[6], runs


def test_sgd_kernels_by_device():
    cpu = [nn.Parameter(torch.zeros(2))]
    assert sgd_kernels(cpu) == {"foreach": True} and sgd_kernels(cpu, foreach=False) == {"foreach": False}
    assert sgd_kernels([]) == {"foreach": True}
    meta = [nn.Parameter(torch.zeros(2, device="meta"))]
    assert sgd_kernels(meta) == {"foreach": True}


def _supernet_steps(monkeypatch, kernels: dict, batches, start=None):
    """Single-path steps of a tiny NAS-Bench-201 supernet on ``batches`` (each path uses other
    parameters) with the SGD kernels ``kernels``, from the seed-0 weights or from ``start`` (model
    and optimizer state dicts); returns both state dicts after the last step."""
    import common.trainer as trainer
    from nas_bench_201.supernet import Supernet, SupernetConfig

    monkeypatch.setattr(trainer, "sgd_kernels", lambda params, foreach=True: kernels)
    torch.manual_seed(0)
    model = Supernet(SupernetConfig(channels=2, cells_per_stage=1), 10).double()
    cfg = trainer.TrainConfig()
    optimizer = trainer.build_optimizer(model, cfg)
    if start is not None:
        model.load_state_dict(start[0])
        trainer.load_optimizer_state(optimizer, start[1])
    for images, labels, path in batches:
        trainer.train_step(model, optimizer, images, labels, path, cfg)
    return copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())


def test_fused_sgd_trains_a_single_path_supernet_like_foreach(monkeypatch):
    """Fused SGD (CUDA's kernel; PyTorch has it on CPU too) fails from the second step on when a step's
    parameters differ from the last step's, unless every parameter has a momentum buffer: with them it
    ends where foreach SGD ends, also when it resumes from foreach SGD's state (some buffers missing)."""
    from nas_bench_201.supernet import Supernet, SupernetConfig

    generator, rng = torch.Generator().manual_seed(1), np.random.default_rng(0)
    sampler = Supernet(SupernetConfig(channels=2, cells_per_stage=1), 10)
    batches = [(torch.randn(4, 3, 8, 8, generator=generator, dtype=torch.float64),
                torch.randint(10, (4,), generator=generator), sampler.sample_path(rng)) for _ in range(4)]
    reference, _ = _supernet_steps(monkeypatch, {"foreach": True}, batches)
    fused, fused_state = _supernet_steps(monkeypatch, {"fused": True}, batches)
    assert fused_state["param_groups"][0]["fused"]
    halfway = _supernet_steps(monkeypatch, {"foreach": True}, batches[:2])
    assert len(halfway[1]["state"]) < len(fused_state["state"])  # foreach made buffers for used weights only
    resumed, resumed_state = _supernet_steps(monkeypatch, {"fused": True}, batches[2:], start=halfway)
    assert resumed_state["param_groups"][0]["fused"] and not resumed_state["param_groups"][0]["foreach"]
    for name, value in reference.items():
        torch.testing.assert_close(fused[name], value, rtol=1e-12, atol=1e-14, msg=name)
        torch.testing.assert_close(resumed[name], value, rtol=1e-12, atol=1e-14, msg=name)
