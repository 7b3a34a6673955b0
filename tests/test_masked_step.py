"""The masked supernet step (every op computed, the path as masks; common/masked_step.py) equals the
single-path step: in float64 over several steps from the first, under both gradient semantics and
both dead-end treatments (weights, momentum buffers, BatchNorm running statistics and counts); and
through the training entry point, where it also resumes exactly."""
import copy
import logging

import numpy as np
import pytest
import torch

from common.config import load_config
from common.errors import UserError
from common.masked_step import MaskedStep, supports
from common.seeding import numpy_rng
from common.training import TrainConfig, build_optimizer, train_step, train_supernet
from nas_bench_201.config import NB201Config
from nas_bench_201.supernet import Supernet, SupernetConfig, build_supernet

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def momentum(optimizer, p):
    buffer = optimizer.state[p].get("momentum_buffer")
    return torch.zeros_like(p) if buffer is None else buffer  # never stepped: no buffer (masked: zeros)


def compare(single, masked, single_opt, masked_opt):
    """Largest differences of parameters, momentum buffers and buffers (BN statistics and counts)."""
    params = max(float((p - q).detach().abs().max()) for p, q in zip(single.parameters(), masked.parameters()))
    buffers = max(float((momentum(single_opt, p) - momentum(masked_opt, q)).abs().max())
                  for p, q in zip(single.parameters(), masked.parameters()))
    stats = max(float((a.double() - b.double()).abs().max()) for a, b in zip(single.buffers(), masked.buffers()))
    return params, buffers, stats


def run_pair(zero_grad, dead_ends, steps=6, ran_slots=None):
    torch.manual_seed(0)
    single = Supernet(SupernetConfig(channels=4, cells_per_stage=2, dead_ends=dead_ends), 10).double().train()
    masked = copy.deepcopy(single)
    if ran_slots is not None:
        masked.ran_slots = ran_slots
    cfg = TrainConfig(zero_grad=zero_grad)
    single_opt, masked_opt = build_optimizer(single, cfg), build_optimizer(masked, cfg)
    runner = MaskedStep(masked, masked_opt, cfg)
    rng, generator = numpy_rng(0, "paths", 0), torch.Generator().manual_seed(1)
    paths = [single.sample_path(rng) for _ in range(steps)]
    codes = runner.epoch_codes(paths)
    gaps, untouched = [], 0
    for step, path in enumerate(paths):
        images = torch.randn(8, 3, 8, 8, generator=generator, dtype=torch.float64)
        labels = torch.randint(10, (8,), generator=generator)
        before = [p.detach().clone() for p in single.parameters()]
        lr = 0.025 * (1 - step / 10)
        for group in single_opt.param_groups:
            group["lr"] = lr
        runner.set_lr(lr)
        single_loss, _ = train_step(single, single_opt, images, labels, path, cfg)
        masked_loss, _ = runner.step(images, labels, codes[step])
        untouched += sum(torch.equal(b, p) for b, p in zip(before, single.parameters()))
        gaps.append((abs(float(single_loss - masked_loss)), *compare(single, masked, single_opt, masked_opt)))
    return gaps, untouched, runner


@pytest.mark.parametrize("dead_ends", ["skip", "train"])
@pytest.mark.parametrize("zero_grad", ["drop", "zero"])
def test_the_masked_step_is_the_single_path_step_in_float64(zero_grad, dead_ends):
    gaps, untouched, runner = run_pair(zero_grad, dead_ends)
    assert untouched > 0  # some weights sat out steps: the masks had work to do
    for step, gap in enumerate(gaps):
        assert max(gap) < 1e-12, (step, gap)
    if zero_grad == "zero":
        assert runner.zeroed_grads() and set(runner.zeroed_grads()) < {n for n, _ in runner.model.named_parameters()}


def test_without_its_masks_the_step_is_not_the_single_path_step():
    """The control: every op's update kept (all slots 'ran') departs from the single-path step."""
    gaps, _, _ = run_pair("drop", "skip", steps=3, ran_slots=lambda codes: torch.ones(codes.shape[0] * 30, dtype=torch.bool))
    assert gaps[0][0] < 1e-12 and max(gap[1] for gap in gaps) > 1e-6


def test_the_masked_step_refuses_what_it_does_not_implement():
    model = Supernet(SupernetConfig(channels=2, cells_per_stage=1), 10)
    assert supports(model, TrainConfig()) is None
    assert "clipping" in supports(model, TrainConfig(grad_clip_norm=5.0))
    assert "fp16" in supports(model, TrainConfig(amp="fp16"))
    assert "one process" in supports(model, TrainConfig(), world_size=2)
    assert "masked forward" in supports(torch.nn.Linear(2, 2), TrainConfig())
    with pytest.raises(UserError, match="gradient clipping"):
        MaskedStep(model, build_optimizer(model, TrainConfig()), TrainConfig(grad_clip_value=1.0))


TINY = ["device=cpu", "data.dataset=synthetic", "data.synthetic.num_images=96", "data.synthetic.image_size=16",
        "model.channels=4", "model.cells_per_stage=1", "train.epochs=3", "train.batch_size=32", "train.save_every=1"]


def train(run_dir, *extra, stop=None):
    cfg = load_config(ROOT / "configs/nas_bench_201/quickstart.yaml", NB201Config, TINY + list(extra))
    train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), run_dir, stop)
    return torch.load(run_dir / "checkpoints/last.pt", weights_only=True)


@pytest.fixture
def rlnas_log():
    """The messages of the "rlnas" logger (which does not propagate once a CLI has set it up)."""
    messages, logger = [], logging.getLogger("rlnas")
    handler, level = logging.Handler(), logger.level
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield messages
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.mark.parametrize("zero_grad", ["drop", "zero"])
def test_the_entry_point_trains_and_resumes_with_the_masked_step(tmp_path, zero_grad, rlnas_log):
    single = train(tmp_path / "single", "train.step_mode=single_path", f"train.zero_grad={zero_grad}")
    masked = train(tmp_path / "masked", "train.step_mode=masked", f"train.zero_grad={zero_grad}")
    train(tmp_path / "split", "train.step_mode=masked", f"train.zero_grad={zero_grad}", stop=1)
    split = train(tmp_path / "split", "train.step_mode=masked", f"train.zero_grad={zero_grad}")
    for key, value in single["model"].items():  # float32 over 9 steps: rounding only
        assert torch.allclose(value.double(), masked["model"][key].double(), rtol=1e-4, atol=1e-5), key
        assert torch.equal(split["model"][key], masked["model"][key]), key
    assert sorted(single.get("zeroed_grads", [])) == sorted(masked.get("zeroed_grads", []))
    assert "training step: masked (every op, the path as masks)" in rlnas_log


def test_auto_is_the_single_path_step_on_the_cpu_and_captured_needs_cuda(tmp_path, rlnas_log):
    train(tmp_path / "auto", "train.epochs=1")
    assert "training step: single path (the sampled ops only)" in rlnas_log
    with pytest.raises(UserError, match="captured needs a CUDA device"):
        train(tmp_path / "captured", "train.epochs=1", "train.step_mode=captured")
