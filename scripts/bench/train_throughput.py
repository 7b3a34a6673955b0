"""Throughput of the NAS-Bench-201 supernet training step against the released code, side by side in
one run, with a small roofline (FLOPs, achieved GFLOP/s, the machine's GFLOP/s, where the time goes).

Variants, all from the same initial weights and reading the same batches (synthetic CIFAR-shaped
uint8 images, 32x32, served by ``InMemoryLoader`` with ``BatchAugment``: crop padding 4, flip,
normalisation; uniform random labels):

- released: our re-implementation of the released step (``_released_step.py``: per-op ReLU-Conv-BN,
  ``x*0`` for ``none``, ``nn.AvgPool2d(count_include_pad=False)``, per-parameter SGD; its Python ``random``
  sampler only where no path is given). Every figure is printed as a ratio to it;
- plain: our supernet's op-by-op forward (``model.optimised = False``), per-parameter SGD;
- optimised NCHW: ``common.trainer.train_step`` and the optimised forward (shared ReLU per node,
  pooling as a depthwise convolution, foreach SGD), NCHW tensors; ``--amp`` adds autocast;
- optimised NHWC: the same in channels_last with ``common.bn.SoundBatchNorm2d`` on the CPU
  (``common.device_ops.to_channels_last``, what ``train.channels_last: true``, the NAS-Bench-201
  configs' setting, does);
- entry point: the real training loop (``SupernetTrainer``: LR schedule, path sampling, loss and
  accuracy accumulated on the device, progress) with the NHWC step, ``--steps`` steps per epoch;
- with ``--amp-variant bf16|fp16``: the optimised NHWC step under that autocast as well (on a CPU
  with AMX, bf16 convolutions run on its matrix units).

The variants alternate in rounds, so that a machine whose load changes treats them alike, and
within a round the released, plain and optimised variants train the same random paths (drawn once
per round by the supernet's sampler, the released sampler's distribution), so that each ratio
compares equal work; the median round is reported, and the median over the rounds of the
ratio within a round (paired). ``--thread-study`` also times the optimised step at 1 and 2 threads, alone
and beside one busy single-threaded process (OpenMP oversubscription).

Run from the project root:  python scripts/bench/train_throughput.py [--thread-study]
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from _timing import print_table, synchronize
from _released_step import ReleasedSupernet, released_optimizer, released_step
from common.bn import SoundBatchNorm2d
from common.device_ops import to_channels_last
from common.data import BatchAugment, DataConfig, InMemoryLoader, SyntheticConfig, build_datasets
from common.labels import LabelConfig, build_label_generator
from common.seeding import numpy_rng
from common.threads import physical_cores
from common.training import SupernetTrainer, TrainConfig, build_optimizer, grad_scaler, train_step
from common.pooling import avg_pool_3x3_depthwise, avg_pool_3x3_reference
from nas_bench_201.supernet import Supernet, SupernetConfig


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def kernel_isa() -> str:
    """The vector instructions PyTorch's CPU kernels use (``ATEN_CPU_CAPABILITY`` lowers it) and oneDNN's
    limit if ``ONEDNN_MAX_CPU_ISA`` sets one: with both an AVX-512 machine runs the AVX2 code."""
    isa = torch.backends.cpu.get_cpu_capability()
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return f"ATen {isa}" + (f", oneDNN up to {limit}" if limit else "")


def endless_batches(loader: InMemoryLoader):
    """Batches across epochs, so that any number of steps can be timed."""
    for epoch in itertools.count():
        yield from loader.epoch(epoch)


class Variant:
    """One way of computing the step: ``step()`` runs one, ``round(n)`` returns seconds per step."""

    def __init__(self, name: str, device: torch.device):
        self.name, self.device = name, device
        self.step_s: list[float] = []
        self.cpu_s: list[float] = []  # process CPU time per step: steadier than wall time on a shared machine

    def step(self, path=None) -> None:
        """One training step on ``path`` (one row of 6 op codes per search cell; None: drawn)."""
        raise NotImplementedError

    def round(self, steps: int, paths=None) -> float:
        synchronize(self.device)
        start, cpu = time.perf_counter(), time.process_time()
        for index in range(steps):
            self.step(None if paths is None else paths[index])
        synchronize(self.device)
        seconds = (time.perf_counter() - start) / steps
        self.step_s.append(seconds)
        self.cpu_s.append((time.process_time() - cpu) / steps)
        return seconds


class Released(Variant):
    def __init__(self, model: Supernet, loader, device, seed: int):
        super().__init__("released", device)
        self.model = ReleasedSupernet(model.cfg.channels, model.cfg.cells_per_stage, model.classifier.out_features)
        self.model.load_state_dict(model.state_dict(), strict=False)  # the same weights (plus arch_parameters)
        self.model = self.model.to(device).train()
        self.optimizer = released_optimizer(self.model)
        self.stream, self.rng = endless_batches(loader), random.Random(seed)

    def step(self, path=None) -> None:
        images, labels = next(self.stream)
        released_step(self.model, self.optimizer, images, labels, None if path is None else path.tolist(), rng=self.rng)


class Ours(Variant):
    """``optimised=False``: the plain forward and the textbook step; True: ``train_step``."""

    def __init__(self, name: str, model: Supernet, loader, cfg: TrainConfig, optimised: bool, device, seed: int):
        super().__init__(name, device)
        self.cfg, self.optimised = cfg, optimised
        self.model = model
        self.model.optimised = optimised
        if optimised and cfg.channels_last:
            self.model = to_channels_last(self.model, device)
        self.optimizer = build_optimizer(self.model, cfg, foreach=optimised)  # plain: the per-parameter loop
        self.scaler = grad_scaler(device, cfg.amp)
        self.stream = endless_batches(loader)
        self.paths = numpy_rng(seed, "paths", 0)
        self.data_s: list[float] = []  # the data path: indexing, batched augmentation, random labels

    def step(self, path=None) -> None:
        start = time.perf_counter()
        images, labels = next(self.stream)
        synchronize(self.device)
        self.data_s.append(time.perf_counter() - start)
        path = self.model.sample_path(self.paths) if path is None else path
        if self.optimised:
            train_step(self.model, self.optimizer, images, labels, path, self.cfg, self.scaler)
        else:
            loss = F.cross_entropy(self.model(images, path), labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()


class EntryPoint(Variant):
    """The training loop of ``train_supernet``: one epoch of ``steps`` steps per round (no checkpoints)."""

    def __init__(self, model: Supernet, loader, cfg: TrainConfig, device, seed: int, steps: int, run_dir: Path):
        super().__init__("entry point", device)
        cfg = dataclasses.replace(cfg, max_steps_per_epoch=steps, log_every=10 ** 9)
        self.steps = steps
        self.trainer = SupernetTrainer(model=model, loader=loader, cfg=cfg, config={"train": dataclasses.asdict(cfg)},
                                       space="nas_bench_201", seed=seed, run_dir=run_dir, device=device)
        self.epoch = 0

    def step(self, path=None) -> None:  # a round is a whole epoch; a single step is a 1-step epoch's share
        self.round(self.steps)

    def round(self, steps: int, paths=None) -> float:  # its own paths: the trainer draws them
        synchronize(self.device)
        start, cpu = time.perf_counter(), time.process_time()
        self.epoch += 1
        self.trainer.train_epoch(self.epoch)
        synchronize(self.device)
        seconds = (time.perf_counter() - start) / self.steps
        self.step_s.append(seconds)
        self.cpu_s.append((time.process_time() - cpu) / self.steps)
        return seconds


# ---------------------------------------------------------------------------------------------- roofline

def step_flops(model: Supernet, images, labels, paths_rng, cfg: TrainConfig, samples: int) -> float:
    """Mean FLOPs of one training step (forward and backward) over ``samples`` random paths."""
    probe = copy.deepcopy(model)
    optimizer = build_optimizer(probe, cfg)
    total = 0
    for _ in range(samples):
        with FlopCounterMode(display=False) as counter:
            train_step(probe, optimizer, images, labels, probe.sample_path(paths_rng), cfg)
        total += counter.get_total_flops()
    return total / samples


def best_seconds(fn, repeats: int, device) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(n: int, device, repeats: int = 3) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n ** 3 / best_seconds(lambda: a @ b, repeats, device) / 1e9


def conv_gflops(batch: int, channels: int, size: int, device, repeats: int = 3) -> float:
    """A 3x3 convolution, stride 1, forward and backward (input and weight gradients) at one shape."""
    x = torch.randn(batch, channels, size, size, device=device, requires_grad=True)
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False).to(device)
    grad = torch.randn(batch, channels, size, size, device=device)

    def run():
        torch.autograd.grad(conv(x), (x, conv.weight), grad)

    flops = 3 * 2 * batch * channels * channels * 9 * size * size
    return flops / best_seconds(run, repeats, device) / 1e9


def forward_backward_ms(function, x, device, repeats: int) -> tuple[float, float]:
    """``(forward and backward, backward alone)`` of ``function(x)`` in ms, best of ``repeats``."""
    grad = torch.randn_like(x)
    both = best_seconds(lambda: torch.autograd.grad(function(x), x, grad), repeats, device)
    out = function(x)
    backward = best_seconds(lambda: torch.autograd.grad(out, x, grad, retain_graph=True), repeats, device)
    return 1e3 * both, 1e3 * backward


def batchnorm_ms(batch: int, channels: int, size: int, device, repeats: int = 5) -> dict[str, tuple[float, float]]:
    """Training-mode BatchNorm at one shape, ``forward_backward_ms`` of PyTorch's kernel on NCHW and
    on NHWC tensors and of ``SoundBatchNorm2d`` on NHWC ones."""
    cases = [("NCHW kernel", torch.nn.BatchNorm2d, torch.contiguous_format),
             ("NHWC kernel", torch.nn.BatchNorm2d, torch.channels_last),
             ("SoundBatchNorm2d NHWC", SoundBatchNorm2d, torch.channels_last)]
    timings = {}
    for name, kind, layout in cases:
        module = kind(channels).to(device)
        x = torch.randn(batch, channels, size, size, device=device).contiguous(memory_format=layout).requires_grad_()
        timings[name] = forward_backward_ms(module, x, device, repeats)
    return timings


def pooling_ms(batch: int, channels: int, size: int, device, repeats: int = 5) -> dict[str, tuple[float, float]]:
    """NAS-Bench-201's 3x3 average pooling of an NHWC tensor at one shape, ``forward_backward_ms`` of
    PyTorch's pooling kernel (what a GPU runs) and of ours as a depthwise convolution (what a CPU runs)."""
    x = torch.randn(batch, channels, size, size, device=device).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    return {"pooling kernel": forward_backward_ms(avg_pool_3x3_reference, x, device, repeats),
            "depthwise convolution": forward_backward_ms(avg_pool_3x3_depthwise, x, device, repeats)}


CATEGORIES = (("convolution", ("conv",)), ("BatchNorm", ("batch_norm", "batchnorm")),
              ("pooling", ("avgpool", "avg_pool")), ("matmul", ("aten::mm", "addmm", "linear", "mmbackward")),
              ("SGD update", ("optimizer.step", "_foreach", "sgd")))
OTHER = "elementwise and copies"


def category(event) -> str:
    """The kind of an operator: that of the nearest enclosing call (module op, autograd node,
    optimizer step) whose name says, else elementwise and copies."""
    while event is not None:
        name = event.name.lower()
        for kind, keys in CATEGORIES:
            if any(key in name for key in keys):
                return kind
        event = event.cpu_parent
    return OTHER


def time_breakdown(variant: Variant, steps: int) -> dict[str, float]:
    """Seconds per step by kind of operator (torch.profiler self times of the ATen operators on this thread) and the rest of the wall time: Python, dispatch and autograd bookkeeping ("Python overhead")."""
    from torch.profiler import ProfilerActivity, profile

    synchronize(variant.device)
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            variant.step()
        synchronize(variant.device)
    wall = time.perf_counter() - start
    seconds = {name: 0.0 for name, _ in CATEGORIES}
    seconds[OTHER] = 0.0
    for event in prof.events():
        if event.name.startswith("aten::"):
            seconds[category(event)] += event.self_cpu_time_total / 1e6
    seconds["Python overhead"] = max(0.0, wall - sum(seconds.values()))
    return {name: value / steps for name, value in seconds.items()}


# ---------------------------------------------------------------------------------------------- threads

def thread_study(variant: Variant, steps: int, rounds: int, thread_counts=(1, 2)) -> dict[tuple[int, bool], float]:
    """Seconds per step at each thread count, alone and beside one busy single-threaded process."""
    before = torch.get_num_threads()
    results: dict[tuple[int, bool], list[float]] = {}
    try:
        for busy in (False, True):
            neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
            try:
                for _ in range(rounds):
                    for threads in thread_counts:
                        torch.set_num_threads(threads)
                        variant.step()  # settle the thread pool
                        results.setdefault((threads, busy), []).append(variant.round(steps))
            finally:
                if neighbour is not None:
                    neighbour.kill()
                    neighbour.wait()
    finally:
        torch.set_num_threads(before)
    return {key: statistics.median(values) for key, values in results.items()}


# ---------------------------------------------------------------------------------------------- main

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells", type=int, default=5, help="search cells per stage (N)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per round and variant")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (the median is reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant first")
    parser.add_argument("--images", type=int, default=1024, help="synthetic training images in memory")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none", help="autocast of the optimised step")
    parser.add_argument("--amp-variant", choices=("none", "bf16", "fp16"), default="none",
                        help="also time the optimised NHWC step under this autocast, in the same rounds")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--matmul", type=int, default=2048, help="side of the square float32 matmul of the roofline")
    parser.add_argument("--flop-paths", type=int, default=4, help="random paths averaged for the FLOP count")
    parser.add_argument("--no-roofline", action="store_true", help="skip FLOPs, machine GFLOP/s and the breakdown")
    parser.add_argument("--thread-study", action="store_true", help="also time 1 and 2 threads, alone and beside a busy process")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = build_datasets(DataConfig(synthetic=SyntheticConfig(num_images=args.images, image_size=args.image_size,
                                                               num_test_images=1)), args.seed)
    labels = build_label_generator(LabelConfig(mode="uniform_once"), data.train.targets, args.seed)

    def loader() -> InMemoryLoader:
        return InMemoryLoader(data.train, args.batch, labels=labels.labels, shuffle=True, drop_last=True,
                              augment=BatchAugment(data.mean, data.std, crop_padding=4, flip=True),
                              device=device, seed=args.seed)

    torch.manual_seed(args.seed)
    model = Supernet(SupernetConfig(channels=args.channels, cells_per_stage=args.cells), labels.num_classes).to(device).train()
    plain_cfg = TrainConfig(batch_size=args.batch, channels_last=False)  # lr 0.025, momentum 0.9, nesterov, wd 5e-4
    nchw_cfg = TrainConfig(batch_size=args.batch, amp=args.amp, channels_last=False)
    fast_cfg = TrainConfig(batch_size=args.batch, amp=args.amp, channels_last=True)
    with tempfile.TemporaryDirectory() as run_dir:
        variants = [Released(model, loader(), device, args.seed),
                    Ours("plain", copy.deepcopy(model), loader(), plain_cfg, False, device, args.seed),
                    Ours("optimised NCHW", copy.deepcopy(model), loader(), nchw_cfg, True, device, args.seed),
                    Ours("optimised NHWC", copy.deepcopy(model), loader(), fast_cfg, True, device, args.seed),
                    EntryPoint(copy.deepcopy(model), loader(), fast_cfg, device, args.seed, args.steps, Path(run_dir))]
        if args.amp_variant != "none":
            variants.append(Ours(f"optimised NHWC, amp {args.amp_variant}", copy.deepcopy(model), loader(),
                                 dataclasses.replace(fast_cfg, amp=args.amp_variant), True, device, args.seed))
        for variant in variants:
            for _ in range(args.warmup):
                variant.step()
            variant.step_s.clear()
            variant.cpu_s.clear()
        path_rng = numpy_rng(args.seed, "round paths", 0)
        for _ in range(args.rounds):
            paths = [model.sample_path(path_rng) for _ in range(args.steps)]  # the same work for every variant
            for variant in variants:
                variant.round(args.steps, paths)
        seconds = {v.name: statistics.median(v.step_s) for v in variants}
        cpu = {v.name: statistics.median(v.cpu_s) for v in variants}
        best = {v.name: min(v.step_s) for v in variants}  # the least disturbed round of each
        # the ratio within each round (same paths, same moment's load), then its median over the rounds
        paired = {v.name: statistics.median(r / s for r, s in zip(variants[0].step_s, v.step_s)) for v in variants}
        results = {"cpu": cpu_model(), "kernels": kernel_isa(), "threads": torch.get_num_threads(),
                   "physical_cores": physical_cores(),
                   "seconds_per_step": seconds, "images_per_s": {k: args.batch / s for k, s in seconds.items()},
                   "ratio_to_released": {k: seconds["released"] / s for k, s in seconds.items()},
                   "cpu_ratio_to_released": {k: cpu["released"] / s for k, s in cpu.items()},
                   "best_round_ratio_to_released": {k: best["released"] / s for k, s in best.items()},
                   "paired_ratio_to_released": paired}
        fast = variants[3]
        data_share = statistics.median(fast.data_s) / seconds[fast.name]
        results["data_share"] = data_share

        print(f"CPU: {results['cpu']}, {results['physical_cores']} physical cores, {results['threads']} torch threads, "
              f"kernels {results['kernels']}; "
              f"device {device}; torch {torch.__version__}")
        print(f"NAS-Bench-201 supernet training step: C={args.channels} N={args.cells}, batch {args.batch}, "
              f"{args.image_size}x{args.image_size} synthetic images, random per-cell paths; {args.rounds} alternating "
              f"rounds of {args.steps} steps per variant after {args.warmup} warm-up (median round)")
        print(f"optimised steps: amp {fast_cfg.amp}")
        print_table(("variant", "ms / step", "images / s", "vs released", "paired", "best round", "CPU ms / step",
                     "CPU time vs released"), [
            (name, f"{1e3 * s:.1f}", f"{args.batch / s:,.1f}", f"{seconds['released'] / s:.2f}x", f"{paired[name]:.2f}x",
             f"{best['released'] / best[name]:.2f}x", f"{1e3 * cpu[name]:.1f}", f"{cpu['released'] / cpu[name]:.2f}x")
            for name, s in seconds.items()])
        print("(vs released: median rounds; paired: median over rounds of the ratio within a round (the entry point "
              "draws its own paths); best round: each variant's fastest round, the least disturbed by other load)")

        print(f"data path (indexing, batched augmentation, random labels): {1e3 * statistics.median(fast.data_s):.2f} ms "
              f"per batch, {100 * data_share:.1f}% of the optimised NHWC step")

        if not args.no_roofline:
            images, batch_labels = next(iter(loader().epoch(0)))
            flops = step_flops(model, images, batch_labels, numpy_rng(args.seed, "flops", 0), fast_cfg, args.flop_paths)
            matmul = matmul_gflops(args.matmul, device)
            shapes = [(args.batch, args.channels << stage, args.image_size >> stage) for stage in range(3)]
            convs = {shape: conv_gflops(*shape, device) for shape in shapes}
            norms = {shape: batchnorm_ms(*shape, device) for shape in shapes}
            pools = {shape: pooling_ms(*shape, device) for shape in shapes}
            breakdown = {"released": time_breakdown(variants[0], args.steps), "optimised": time_breakdown(fast, args.steps)}
            results.update(step_gflop=flops / 1e9, matmul_gflops=matmul, conv_gflops={str(k): v for k, v in convs.items()},
                           achieved_gflops={k: flops / 1e9 / s for k, s in seconds.items()}, breakdown=breakdown,
                           batchnorm_ms={str(k): v for k, v in norms.items()},
                           pooling_ms={str(k): v for k, v in pools.items()})
            print(f"\nroofline: one step of a random path = {flops / 1e9:.2f} GFLOP (FlopCounterMode, forward and backward, "
                  f"mean of {args.flop_paths} paths)")
            print("  achieved: " + ", ".join(f"{k} {v:.1f}" for k, v in results["achieved_gflops"].items()) + " GFLOP/s")
            print(f"  machine:  float32 matmul {args.matmul}^3 {matmul:.1f} GFLOP/s; 3x3 conv forward+backward "
                  + ", ".join(f"{c}ch {s}x{s} {g:.1f}" for (_, c, s), g in convs.items()) + " GFLOP/s")
            for title, timings in (("BatchNorm alone, training mode", norms), ("3x3 average pooling alone, NHWC", pools)):
                print(f"{title}, ms: forward and backward / backward alone (best of several):")
                print_table(("shape", *timings[shapes[0]]), [
                    (f"{b}x{c}x{h}x{h}", *(f"{both:.2f} / {back:.2f}" for both, back in timings[(b, c, h)].values()))
                    for b, c, h in shapes])
            print("time per step by operator kind (torch.profiler self times; the profiler slows steps down):")
            kinds = list(breakdown["optimised"])
            print_table(("kind", "released ms", "optimised ms", "optimised share"), [
                (kind, f"{1e3 * breakdown['released'][kind]:.1f}", f"{1e3 * breakdown['optimised'][kind]:.1f}",
                 f"{100 * breakdown['optimised'][kind] / sum(breakdown['optimised'].values()):.0f}%") for kind in kinds])

        if args.thread_study:
            study = thread_study(fast, args.steps, args.rounds)
            results["thread_study"] = {f"{t} threads{' + busy process' if busy else ''}": args.batch / s
                                       for (t, busy), s in study.items()}
            print("\nthread study (optimised step, images/s; busy = one single-threaded `while True` process beside it):")
            print_table(("threads", "alone", "beside a busy process"), [
                (str(t), f"{args.batch / study[(t, False)]:,.1f}", f"{args.batch / study[(t, True)]:,.1f}") for t in (1, 2)])
    return results


if __name__ == "__main__":
    main()
