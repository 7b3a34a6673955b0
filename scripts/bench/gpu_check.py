"""One-shot check that training works and how fast it is on one CUDA GPU; writes one JSON file.

    scripts/bench/gpu_check.sh OUT.json [--workers N]        # <= 8 minutes on one CUDA GPU

Correctness (each with its tolerance in the JSON; TF32 is switched off for them):
- ``step_vs_float64``: one NAS-Bench-201 supernet training step (C=16, N=5, batch 64) in float32 on
  the GPU, NCHW and NHWC (fused SGD), against the plain step in float64 on the CPU, same weights,
  batch and path: relative loss error < 1e-5, and a weight update error (the largest, over the largest
  update) within 4x of the CPU float32 step's own (float32's error on this step, about 1.3e-3 at full
  sizes: the stem convolution's gradient sums 65,536 terms);
- ``amp``: bf16 and fp16 (GradScaler) steps give finite losses and weights, the loss within 5% of
  float64 and a weight update pointing the same way (cosine > 0.9; fp16 may skip a step on overflow);
- ``angles``: a supernet trained on the GPU by ``train_supernet`` (1 epoch, synthetic data); the
  CPU angle engine's angles from its checkpoints equal the literal float64 definition (concatenate,
  cosine) computed on the GPU (1e-9);
- ``ddp``: the same training under ``torchrun --nproc_per_node=1`` (nccl) ends where the plain run
  ends (1e-4 of the weights' size; cuDNN's backward is not bit-reproducible);
- ``masked_step``: ``masked_steps`` supernet steps (C=16, N=5, batch 64) of the masked step, eager and
  (on CUDA) captured in a CUDA graph, against the single-path step in float64 on the CPU from the
  same weights, batches and paths: the weights' error within 4x of the single-path float32 step's
  own on the device, and the captured step within the same bound of the eager masked one.
Throughput (images/s, TF32 at PyTorch's defaults): NAS-Bench-201 supernet at batch 64 and 256
(plain, optimised NCHW, channels_last, AMP bf16, AMP bf16 + channels_last); the step modes side by
side at batch 64 and 256 (the released step re-implemented, the single-path step, the masked step
eager and captured; their ratios and, on CUDA, the share of wall time the GPU is busy); one full
epoch of the paper's supernet (25,000 synthetic 32x32 images in GPU memory, batch 64) through
``train_supernet`` with ``train.step_mode: auto``, and the 250 epochs it projects to; DARTS ImageNet and
MobileNet ImageNet supernets with AMP bf16 on synthetic 224x224 batches; one retraining step of
each ImageNet network (AMP bf16); the ImageNet-folder input pipeline (CPU decode, ``--workers``)
on a generated folder of JPEGs.

Without CUDA it says so in one line and exits 2. ``--device cpu --tiny`` runs every part of it on
the CPU at tiny sizes (gloo instead of nccl): the tests do, so that it cannot rot. Exit status: 0 when
every check passed, 1 otherwise (the JSON says which). The JSON is rewritten after each part, with
``"complete": false`` until the last, so a run cut short keeps what it had measured.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from common.device_ops import to_channels_last  # noqa: E402
from common.cli import ArgumentParser, output_file  # noqa: E402
from common.errors import UserError  # noqa: E402
from common.checkpoint import atomic_write_text, load_checkpoint  # noqa: E402
from common.config import load_config  # noqa: E402
from common.seeding import numpy_rng  # noqa: E402
from common.masked_step import CapturedStep, MaskedStep  # noqa: E402
from common.training import TrainConfig, build_optimizer, grad_scaler, train_step, train_supernet  # noqa: E402


@dataclass
class Sizes:
    nb201_channels: int = 16
    nb201_cells: int = 5
    nb201_image: int = 32
    check_batch: int = 64
    throughput_batches: tuple = (64, 256)
    steps: int = 20  # timed steps per throughput variant
    warmup: int = 3
    imagenet_image: int = 224
    darts_channels: int = 48
    darts_layers: int = 14
    darts_batch: int = 64  # per GPU in the released DARTS ImageNet search (512 on 8 GPUs)
    mobilenet_width: float = 1.0
    mobilenet_batch: int = 128  # per GPU in the released MobileNet search (1024 on 8 GPUs)
    retrain_batch: int = 128
    big_steps: int = 5
    classes: int = 1000
    jpegs: int = 512
    jpeg_size: tuple = (500, 375)
    jpeg_batch: int = 64
    jpeg_crop: int = 224
    train_images: int = 64  # the angle and DDP training runs (synthetic, 1 epoch of 4 steps: few steps for
    # cuDNN's non-reproducible backward to drift in, on random labels that amplify any difference)
    train_image: int = 16
    train_channels: int = 8
    angle_archs: int = 200
    masked_steps: int = 5
    epoch_images: int = 25000  # the CIFAR-10 half the paper's supernet trains on


TINY = Sizes(nb201_channels=2, nb201_cells=1, nb201_image=8, check_batch=4, throughput_batches=(4, 8), steps=1,
             warmup=1, imagenet_image=224, darts_channels=4, darts_layers=3, darts_batch=2, mobilenet_width=0.25,
             mobilenet_batch=2, retrain_batch=2, big_steps=1, classes=10, jpegs=8, jpeg_size=(40, 30), jpeg_batch=4,
             jpeg_crop=16, train_images=16, train_image=8, train_channels=2, angle_archs=200, masked_steps=3,
             epoch_images=16)


@contextlib.contextmanager
def strict_float32():
    """TF32 off (convolutions and matmuls in true float32) for the correctness checks."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------------------- checks

def nb201(sizes: Sizes, classes: int = 10):
    from nas_bench_201.supernet import Supernet, SupernetConfig

    return Supernet(SupernetConfig(channels=sizes.nb201_channels, cells_per_stage=sizes.nb201_cells), classes)


def reference_step(sizes: Sizes):
    """Initial float64 weights, a batch, a path, and the float64 CPU plain step's loss and weights."""
    torch.manual_seed(0)
    model = nb201(sizes).double().train()
    initial = copy.deepcopy(model.state_dict())
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(sizes.check_batch, 3, sizes.nb201_image, sizes.nb201_image, generator=generator,
                         dtype=torch.float64)
    labels = torch.randint(10, (sizes.check_batch,), generator=generator)
    path = model.sample_path(numpy_rng(0, "paths", 0))
    model.optimised = False
    optimizer = build_optimizer(model, TrainConfig(), foreach=False)
    loss = F.cross_entropy(model(images, path), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return initial, images, labels, path, loss.item(), model.state_dict()


def cached_reference_step(ctx):
    """``reference_step`` once per run: the step and AMP checks compare against the same one."""
    if "reference" not in ctx:
        ctx["reference"] = reference_step(ctx["sizes"])
    return ctx["reference"]


def device_step(sizes, device, initial, images, labels, path, cfg: TrainConfig, scaler=None):
    model = nb201(sizes).to(device).train()
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in initial.items()})
    if cfg.channels_last:
        model = to_channels_last(model)
    optimizer = build_optimizer(model, cfg)
    scaler = scaler if scaler is not None else grad_scaler(device, cfg.amp)
    loss, _ = train_step(model, optimizer, images.float().to(device), labels.to(device), path, cfg, scaler)
    return float(loss), {k: v.detach().double().cpu() for k, v in model.state_dict().items()}, optimizer


def update_error(initial, reference, state):
    """max |update - reference update| / max |reference update| over the weights, and the cosine."""
    names = [k for k, v in reference.items() if v.is_floating_point() and "running" not in k]
    want = torch.cat([(reference[k] - initial[k]).flatten() for k in names])
    got = torch.cat([(state[k] - initial[k]).flatten() for k in names])
    scale = float(want.abs().max())
    cosine = float(F.cosine_similarity(got, want, dim=0)) if float(got.norm()) > 0 else None
    return float((got - want).abs().max()) / scale, cosine


FLOAT32_FACTOR = 4  # the device's float32 update may be off by this many times the CPU float32 step's error


def check_step_vs_float64(ctx) -> dict:
    sizes, device = ctx["sizes"], ctx["device"]
    initial, images, labels, path, ref_loss, ref_state = cached_reference_step(ctx)
    # float32's own error on this step, measured: the CPU float32 step against the same reference
    cpu_loss, cpu_state, _ = device_step(sizes, torch.device("cpu"), initial, images, labels, path, TrainConfig())
    floor, _ = update_error(initial, ref_state, cpu_state)
    bound = FLOAT32_FACTOR * floor
    out = {"reference": "plain step, float64, CPU", "reference_loss": ref_loss,
           "cpu_float32": {"loss_relative_error": abs(cpu_loss - ref_loss) / abs(ref_loss),
                           "update_relative_error": floor},
           "tolerance": {"loss_relative": 1e-5, "update_relative": bound}}
    ok = True
    with strict_float32():
        for layout, channels_last in (("nchw", False), ("nhwc", True)):
            loss, state, optimizer = device_step(sizes, device, initial, images, labels, path,
                                                 TrainConfig(channels_last=channels_last))
            loss_error = abs(loss - ref_loss) / abs(ref_loss)
            update, _ = update_error(initial, ref_state, state)
            out[layout] = {"loss": loss, "loss_relative_error": loss_error, "update_relative_error": update,
                           "fused_sgd": bool(optimizer.defaults.get("fused"))}
            ok &= loss_error < 1e-5 and update < bound
    out["ok"] = ok
    return out


def check_amp(ctx) -> dict:
    sizes, device = ctx["sizes"], ctx["device"]
    initial, images, labels, path, ref_loss, ref_state = cached_reference_step(ctx)
    out = {"tolerance": {"loss_relative": 0.05, "update_cosine": 0.9}}
    ok = True
    for amp in ("bf16", "fp16"):
        scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16", init_scale=2.0 ** 10)
        loss, state, _ = device_step(sizes, device, initial, images, labels, path, TrainConfig(amp=amp), scaler)
        finite = math.isfinite(loss) and all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
        _, cosine = update_error(initial, ref_state, state)
        loss_error = abs(loss - ref_loss) / abs(ref_loss)
        step_taken = cosine is not None
        out[amp] = {"loss": loss, "loss_relative_error": loss_error, "update_cosine": cosine, "finite": finite,
                    "step_taken": step_taken, "scale": scaler.get_scale() if scaler.is_enabled() else None}
        ok &= finite and loss_error < 0.05 and (cosine is None and amp == "fp16" or cosine is not None and cosine > 0.9)
    out["ok"] = ok
    return out


def training_config(sizes: Sizes, device: torch.device, extra=()):
    from nas_bench_201.config import NB201Config

    return load_config(ROOT / "configs/nas_bench_201/quickstart.yaml", NB201Config, [
        f"device={device.type}", "data.dataset=synthetic", f"data.synthetic.num_images={sizes.train_images}",
        f"data.synthetic.image_size={sizes.train_image}", "data.synthetic.num_test_images=0",
        f"model.channels={sizes.train_channels}", "model.cells_per_stage=1", "train.epochs=1", "train.batch_size=16",
        *extra])


def train_run(sizes: Sizes, device: torch.device, run_dir: Path) -> Path:
    from nas_bench_201.supernet import build_supernet

    cfg = training_config(sizes, device)
    train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), run_dir)
    return run_dir / "checkpoints"


def check_angles(ctx) -> dict:
    from common.angle import naive_angle
    from nas_bench_201.angle import layout_of, naive_pieces, scorer_from_checkpoints
    from nas_bench_201.space import benchmark_archs

    sizes, device = ctx["sizes"], ctx["device"]
    with strict_float32():
        checkpoints = train_run(sizes, device, ctx["work"] / "angles")
    ctx["trained"] = checkpoints / "last.pt"
    scorer = scorer_from_checkpoints(checkpoints / "epoch_0000.pt", checkpoints / "last.pt")
    archs = benchmark_archs()[np.random.default_rng(0).choice(len(benchmark_archs()), sizes.angle_archs, replace=False)]
    engine = scorer(archs)
    init = load_checkpoint(checkpoints / "epoch_0000.pt")
    trained = load_checkpoint(checkpoints / "last.pt")
    layout = layout_of(trained["config"]["model"])

    def on_device(pieces):  # the literal definition's float64 sums run on the device
        return [piece.to(device) for piece in pieces]

    pieces = [(naive_pieces(a, init["model"], layout), naive_pieces(a, trained["model"], layout)) for a in archs]
    literal = np.array([naive_angle(on_device(p0), on_device(pt)) for p0, pt in pieces])
    error = float(np.abs(engine - literal).max())
    connected = np.array([bool(p0) for p0, _ in pieces])  # a cut-off network's angle is 0 by definition
    moved = bool(np.all(engine[connected] > 0))
    return {"archs": len(archs), "disconnected_archs": int((~connected).sum()), "max_abs_difference": error,
            "tolerance": 1e-9, "mean_angle": float(engine.mean()), "weights_moved": moved,
            "ok": error < 1e-9 and moved}


def check_ddp(ctx) -> dict:
    sizes, device = ctx["sizes"], ctx["device"]
    if "trained" not in ctx:
        with strict_float32():
            ctx["trained"] = train_run(sizes, device, ctx["work"] / "angles") / "last.pt"
    run_dir = ctx["work"] / "ddp"
    cfg = training_config(sizes, device)
    overrides = [arg for item in (
        f"device={device.type}", "data.dataset=synthetic", f"data.synthetic.num_images={sizes.train_images}",
        f"data.synthetic.image_size={sizes.train_image}", "data.synthetic.num_test_images=0",
        f"model.channels={sizes.train_channels}", "model.cells_per_stage=1", "train.epochs=1", "train.batch_size=16")
        for arg in ("--set", item)]
    assert cfg.train.epochs == 1
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "NVIDIA_TF32_OVERRIDE": "0", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1", "-m",
               "nas_bench_201.train_supernet", "--config", str(ROOT / "configs/nas_bench_201/quickstart.yaml"),
               "--run-dir", str(run_dir), *overrides]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = {"backend": "nccl" if device.type == "cuda" else "gloo", "returncode": result.returncode,
           "seconds": time.perf_counter() - started, "tolerance": 1e-4}
    if result.returncode != 0:
        out.update(ok=False, stderr_tail=result.stderr[-2000:])
        return out
    single = load_checkpoint(ctx["trained"])["model"]
    ddp = load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]
    scale = max(float(v.abs().max()) for v in single.values() if v.is_floating_point())
    difference = max(float((single[k] - ddp[k]).abs().max()) for k in single if single[k].is_floating_point())
    out.update(max_weight_difference=difference / scale, ok=difference / scale < 1e-4)
    return out


def step_batches(sizes: Sizes, count: int, batch: int):
    generator = torch.Generator().manual_seed(2)
    return [(torch.randn(batch, 3, sizes.nb201_image, sizes.nb201_image, generator=generator, dtype=torch.float64),
             torch.randint(10, (batch,), generator=generator)) for _ in range(count)]


def run_steps(sizes, device, initial, batches, paths, mode: str, dtype=torch.float32) -> dict:
    """The state after ``len(paths)`` steps of ``mode`` (single_path, masked, captured) from ``initial``."""
    model = nb201(sizes).to(device, dtype).train()
    model.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in initial.items()})
    cfg = TrainConfig()
    optimizer = build_optimizer(model, cfg)
    runner = None
    if mode != "single_path":
        runner = MaskedStep(model, optimizer, cfg)
        runner = CapturedStep(runner) if mode == "captured" else runner
        codes = runner.epoch_codes(paths)
    for step, ((images, labels), path) in enumerate(zip(batches, paths)):
        images, labels = images.to(device, dtype), labels.to(device)
        if runner is None:
            train_step(model, optimizer, images, labels, path, cfg)
        else:
            runner.step(images, labels, codes[step])
    return {k: v.detach().double().cpu() for k, v in model.state_dict().items()}


def check_masked_step(ctx) -> dict:
    sizes, device = ctx["sizes"], ctx["device"]
    torch.manual_seed(0)
    model = nb201(sizes)
    initial = {k: v.double() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    rng = numpy_rng(0, "paths", 0)
    paths = [model.sample_path(rng) for _ in range(sizes.masked_steps)]
    batches = step_batches(sizes, sizes.masked_steps, sizes.check_batch)
    reference = run_steps(sizes, torch.device("cpu"), initial, batches, paths, "single_path", torch.float64)
    modes = ["single_path", "masked"] + (["captured"] if device.type == "cuda" else [])
    with strict_float32():
        states = {mode: run_steps(sizes, device, initial, batches, paths, mode) for mode in modes}
    errors = {mode: update_error(initial, reference, state)[0] for mode, state in states.items()}
    bound = FLOAT32_FACTOR * errors["single_path"]
    out = {"steps": sizes.masked_steps, "reference": "single-path steps, float64, CPU",
           "update_relative_error": errors, "tolerance": {"update_relative": bound}}
    ok = errors["masked"] <= bound
    if "captured" in states:
        out["captured_vs_masked"] = update_error(initial, states["masked"], states["captured"])[0]
        ok &= errors["captured"] <= bound
    out["ok"] = bool(ok)
    return out


# ---------------------------------------------------------------------------------------------- throughput

def images_per_second(step, batch: int, steps: int, warmup: int, device) -> float:
    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return batch * steps / (time.perf_counter() - start)


def measure_nb201(ctx) -> dict:
    sizes, device = ctx["sizes"], ctx["device"]
    variants = {"plain": dict(optimised=False), "optimised": {}, "channels_last": dict(channels_last=True),
                "amp_bf16": dict(amp="bf16"), "amp_bf16_channels_last": dict(amp="bf16", channels_last=True)}
    out = {}
    for batch in sizes.throughput_batches:
        torch.manual_seed(0)
        images = torch.randn(batch, 3, sizes.nb201_image, sizes.nb201_image, device=device)
        labels = torch.randint(10, (batch,), device=device)
        row = {}
        for name, options in variants.items():
            model = nb201(sizes).to(device).train()
            optimised = options.get("optimised", True)
            model.optimised = optimised
            cfg = TrainConfig(batch_size=batch, amp=options.get("amp", "none"),
                              channels_last=options.get("channels_last", False))
            if cfg.channels_last:
                model = to_channels_last(model)
            optimizer = build_optimizer(model, cfg, foreach=optimised)
            scaler = grad_scaler(device, cfg.amp)
            rng = numpy_rng(0, "paths", 0)

            def step():
                train_step(model, optimizer, images, labels, model.sample_path(rng), cfg, scaler)

            row[name] = images_per_second(step, batch, sizes.steps, sizes.warmup, device)
        out[f"batch_{batch}"] = row
    return out


def gpu_busy_fraction(step, steps: int, seconds_per_step: float) -> float:
    """The GPU's kernel time per step (torch.profiler) over the wall time per step measured unprofiled."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
    kernel_us = sum(getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0))
                    for e in prof.key_averages())
    return kernel_us / 1e6 / steps / seconds_per_step


def measure_step_modes(ctx) -> dict:
    """The released step, the single-path step, and the masked step eager and captured, side by side."""
    from _released_step import ReleasedSupernet, released_optimizer, released_step

    sizes, device = ctx["sizes"], ctx["device"]
    out = {}
    for batch in sizes.throughput_batches:
        torch.manual_seed(0)
        images = torch.randn(batch, 3, sizes.nb201_image, sizes.nb201_image, device=device)
        labels = torch.randint(10, (batch,), device=device)
        row, busy = {}, {}
        for mode in ("released", "single_path", "masked") + (("captured",) if device.type == "cuda" else ()):
            model = nb201(sizes).to(device).train()
            cfg = TrainConfig(batch_size=batch, channels_last=True)  # the NAS-Bench-201 configs' setting
            rng = numpy_rng(0, "paths", 0)
            if mode == "released":
                released = ReleasedSupernet(sizes.nb201_channels, sizes.nb201_cells).to(device).train()
                optimizer = released_optimizer(released)
                step = lambda: released_step(released, optimizer, images, labels, model.sample_path(rng))  # noqa: E731
            else:
                model = to_channels_last(model, device)
                optimizer = build_optimizer(model, cfg)
                if mode == "single_path":
                    step = lambda: train_step(model, optimizer, images, labels, model.sample_path(rng), cfg)  # noqa: E731
                else:
                    runner = MaskedStep(model, optimizer, cfg)
                    runner = CapturedStep(runner) if mode == "captured" else runner
                    codes = runner.epoch_codes([model.sample_path(rng) for _ in range(sizes.steps + sizes.warmup)])
                    counter = iter(range(10 ** 9))
                    step = lambda: runner.step(images, labels, codes[next(counter) % len(codes)])  # noqa: E731
            row[mode] = images_per_second(step, batch, sizes.steps, sizes.warmup, device)
            if device.type == "cuda":
                busy[mode] = gpu_busy_fraction(step, min(sizes.steps, 10), batch / row[mode])
        ratios = {f"{mode}_vs_{base}": row[mode] / row[base] for base in ("released", "single_path") for mode in row
                  if mode not in (base, "released")}
        out[f"batch_{batch}"] = {"images_per_s": row, "ratios": ratios, **({"gpu_busy": busy} if busy else {})}
    return out


def measure_epoch(ctx) -> dict:
    """One epoch of the paper's supernet through ``train_supernet`` (synthetic images in device memory)."""
    from nas_bench_201.config import NB201Config
    from nas_bench_201.reproduce.report import training_curve
    from nas_bench_201.supernet import build_supernet

    sizes, device = ctx["sizes"], ctx["device"]
    cfg = load_config(ROOT / "configs/nas_bench_201/base.yaml", NB201Config, [
        f"device={device}", "data.dataset=synthetic", f"data.synthetic.num_images={sizes.epoch_images}",
        f"data.synthetic.image_size={sizes.nb201_image}", "data.synthetic.num_test_images=0",
        f"model.channels={sizes.nb201_channels}", f"model.cells_per_stage={sizes.nb201_cells}", "train.epochs=250",
        "train.log_every=1000000", "train.step_mode=auto"])
    run_dir = ctx["work"] / "epoch_run"
    started = time.perf_counter()
    train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), run_dir, stop_after_epoch=1)
    seconds = time.perf_counter() - started
    images_per_s = training_curve(str(run_dir))[1]["images_per_s"]
    return {"images": sizes.epoch_images, "batch": 64, "whole_call_seconds": seconds,
            "epoch_images_per_s": images_per_s, "projected_250_epochs_minutes": 250 * sizes.epoch_images / images_per_s / 60}


def darts_supernet(sizes: Sizes):
    from darts_search_space.supernet import Supernet, SupernetConfig

    return Supernet(SupernetConfig(stem="imagenet", channels=sizes.darts_channels, layers=sizes.darts_layers,
                                   init="imagenet"), sizes.classes)


def mobilenet_supernet(sizes: Sizes):
    from mobilenet_search_space.supernet import Supernet, SupernetConfig

    return Supernet(SupernetConfig(width_mult=sizes.mobilenet_width), sizes.classes)


def measure_imagenet_supernets(ctx) -> dict:
    sizes, device = ctx["sizes"], ctx["device"]
    out = {}
    for name, build, batch in (("darts_imagenet", darts_supernet, sizes.darts_batch),
                               ("mobilenet_imagenet", mobilenet_supernet, sizes.mobilenet_batch)):
        torch.manual_seed(0)
        model = build(sizes).to(device).train()
        cfg = TrainConfig(batch_size=batch, amp="bf16", lr=0.1)
        optimizer = build_optimizer(model, cfg)
        images = torch.randn(batch, 3, sizes.imagenet_image, sizes.imagenet_image, device=device)
        labels = torch.randint(sizes.classes, (batch,), device=device)
        rng = numpy_rng(0, "paths", 0)

        def step(model=model, optimizer=optimizer, images=images, labels=labels, cfg=cfg, rng=rng):
            train_step(model, optimizer, images, labels, model.sample_path(rng), cfg)

        out[name] = {"batch": batch, "amp": "bf16",
                     "images_per_s": images_per_second(step, batch, sizes.big_steps, 1, device)}
        del model, optimizer, step
    return out


def measure_retrain_steps(ctx) -> dict:
    from darts_search_space.model import network_imagenet
    from darts_search_space.space import random_arch
    from mobilenet_search_space.model import build_model
    from mobilenet_search_space.space import MobileNetSpace

    sizes, device = ctx["sizes"], ctx["device"]
    rng = np.random.default_rng(0)
    networks = {
        "darts_imagenet": lambda: network_imagenet(random_arch(rng), sizes.classes, sizes.darts_channels,
                                                   sizes.darts_layers, auxiliary=True),
        "mobilenet_imagenet": lambda: build_model(MobileNetSpace().random(rng), sizes.classes, sizes.mobilenet_width),
    }
    out = {}
    for name, build in networks.items():
        torch.manual_seed(0)
        model = build().to(device).train()
        # the retraining step itself (common.trainer.train_step without a path), ImageNet settings
        cfg = TrainConfig(batch_size=sizes.retrain_batch, lr=0.1, weight_decay=3e-5, nesterov=False, amp="bf16",
                          label_smoothing=0.1, grad_clip_norm=5.0)
        optimizer = build_optimizer(model, cfg)
        images = torch.randn(cfg.batch_size, 3, sizes.imagenet_image, sizes.imagenet_image, device=device)
        labels = torch.randint(sizes.classes, (cfg.batch_size,), device=device)

        def step(model=model, optimizer=optimizer, images=images, labels=labels, cfg=cfg):
            train_step(model, optimizer, images, labels, None, cfg, aux_weight=0.4)

        out[name] = {"batch": cfg.batch_size, "amp": "bf16",
                     "images_per_s": images_per_second(step, cfg.batch_size, sizes.big_steps, 1, device)}
        del model, optimizer, step
    return out


def write_jpegs(root: Path, count: int, size: tuple, classes: int = 4) -> None:
    """Smooth colour gradients plus noise (decode cost close to photographs'), ``count`` images."""
    from PIL import Image

    rng = np.random.default_rng(0)
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    for index in range(count):
        folder = root / "train" / f"class_{index % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        base = np.stack([(xs * rng.uniform(0.2, 1) + ys * rng.uniform(0.2, 1) + rng.uniform(0, 255)) % 256
                         for _ in range(3)], axis=-1)
        pixels = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"image_{index:05d}.JPEG", quality=90)


def measure_jpeg_pipeline(ctx) -> dict:
    from common.data import DataConfig, build_loaders
    from common.data.config import ImageNetConfig

    sizes, device, workers = ctx["sizes"], ctx["device"], ctx["workers"]
    root = ctx["work"] / "jpegs"
    started = time.perf_counter()
    write_jpegs(root, sizes.jpegs, sizes.jpeg_size)
    written = time.perf_counter() - started
    data = DataConfig(dataset="imagenet", root=str(root),
                      imagenet=ImageNetConfig(crop_size=sizes.jpeg_crop, resize_size=max(sizes.jpeg_crop, 32),
                                              num_workers=workers))
    loader = build_loaders(data, 0, sizes.jpeg_batch, device=device, drop_last=True).train
    start, first, seen = time.perf_counter(), None, 0
    for images, labels in loader.epoch(0):
        synchronize(device)
        if first is None:
            first = time.perf_counter()  # after worker start-up and the first batch
        else:
            seen += len(labels)
    end = time.perf_counter()
    return {"images": sizes.jpegs, "size": list(sizes.jpeg_size), "workers": workers, "batch": sizes.jpeg_batch,
            "decode": "CPU (PIL, torchvision transforms)", "seconds_to_write": written,
            "first_batch_s": first - start, "images_per_s": seen / (end - first) if seen else None}


CHECKS = (("step_vs_float64", check_step_vs_float64), ("amp", check_amp), ("angles", check_angles),
          ("ddp", check_ddp), ("masked_step", check_masked_step))
MEASURES = (("nb201_step_modes", measure_step_modes), ("nb201_epoch", measure_epoch), ("nb201_supernet", measure_nb201), ("imagenet_supernets", measure_imagenet_supernets),
            ("retrain_steps", measure_retrain_steps), ("jpeg_pipeline", measure_jpeg_pipeline))


# ---------------------------------------------------------------------------------------------- main

def run_part(section: dict, name: str, fn, ctx) -> None:
    started = time.perf_counter()
    try:
        section[name] = fn(ctx)
    except Exception as error:  # a broken part is reported, the others still run
        section[name] = {"ok": False, "error": f"{type(error).__name__}: {error}",
                         "traceback": traceback.format_exc()[-3000:]}
    section[name]["seconds"] = round(time.perf_counter() - started, 2)
    if ctx["device"].type == "cuda":
        torch.cuda.empty_cache()


def figures(result: dict, prefix: str = "") -> list[str]:
    """``key value`` for the floats of a result, one level of nesting flattened."""
    items = []
    for key, value in result.items():
        if isinstance(value, dict) and key not in ("tolerance",):
            items += figures(value, f"{prefix}{key}.")
        elif isinstance(value, float) and key != "seconds":
            items.append(f"{prefix}{key} {value:,.4g}")
    return items


def summary(report: dict) -> str:
    lines = [f"gpu_check on {report['device_name']} (torch {report['torch']}, CUDA {report['cuda']}), "
             f"{report['seconds']:.0f} s, {'tiny sizes' if report['tiny'] else 'full sizes'}"]
    for name, result in report["checks"].items():
        status = "ok" if result.get("ok") else "FAILED"
        lines.append(f"  check {name:<16} {status:<6} {result.get('error') or ', '.join(figures(result))}")
    for name, result in report["throughput"].items():
        if "error" in result:
            lines.append(f"  speed {name:<16} FAILED {result['error']}")
        else:
            lines.append(f"  speed {name:<16} {', '.join(figures(result))}")
    lines.append("  (speed figures are images/s unless their name says otherwise)")
    lines.append(f"all checks passed: {report['ok']}")
    return "\n".join(lines)


def write_report(out: Path, report: dict, started: float, complete: bool) -> None:
    report["ok"] = complete and all(result.get("ok") for result in report["checks"].values())
    report["complete"] = complete
    report["seconds"] = time.perf_counter() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(report, indent=1, default=str) + "\n")


def main(argv=None) -> int:
    parser = ArgumentParser(prog="scripts/bench/gpu_check.sh", description=__doc__)
    parser.add_argument("out", help="JSON file to write")
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu to exercise the script itself")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (for the CPU test)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="DataLoader workers of the JPEG pipeline measurement")
    args = parser.parse_args(argv)
    output_file(args.out, "OUT.json")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device available (torch {torch.__version__}, CUDA build {torch.version.cuda}); "
              "nothing checked")
        return 2
    if device.type == "cuda":
        device = torch.device("cuda", device.index if device.index is not None else torch.cuda.current_device())
        torch.cuda.set_device(device)
    started = time.perf_counter()
    sizes = TINY if args.tiny else Sizes()
    report = {"device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
              else platform.processor() or platform.machine(), "torch": torch.__version__, "cuda": torch.version.cuda,
              "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None, "tiny": args.tiny,
              "tf32": {"cudnn": torch.backends.cudnn.allow_tf32, "matmul": torch.backends.cuda.matmul.allow_tf32},
              "sizes": asdict(sizes), "checks": {}, "throughput": {}}
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as work:
        ctx = {"sizes": sizes, "device": device, "work": Path(work), "workers": args.workers}
        for section, parts in (("checks", CHECKS), ("throughput", MEASURES)):
            for name, fn in parts:
                run_part(report[section], name, fn, ctx)
                result = report[section][name]
                print(f"gpu_check: {name} {'FAILED' if 'error' in result or result.get('ok') is False else 'done'}"
                      f" in {result['seconds']:.0f} s", file=sys.stderr, flush=True)
                write_report(out, report, started, complete=False)  # a run cut short keeps what it measured
    write_report(out, report, started, complete=True)
    print(summary(report))
    print(f"written: {args.out}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as error:  # bad arguments: one line, exit code 2
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
