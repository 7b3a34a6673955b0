"""Throughput of the NAS-Bench-201 supernet training step: the plain step against the optimised one,
side by side in one run, and the share of the optimised step spent in the data path.

Both variants start from the same weights and read the same batches (synthetic CIFAR-shaped uint8
images, 32x32, nothing downloads, served by ``InMemoryLoader`` with ``BatchAugment``: crop padding
4, flip, normalisation; uniform random labels) and sample the same paths. They differ only in how
a step is computed:

- plain: the op-by-op supernet forward (``model.optimised = False``: a ReLU per convolution,
  ``F.avg_pool2d``), NCHW tensors, float32, the textbook SGD step;
- optimised: ``common.training.train_step`` with the ``TrainConfig`` defaults and the supernet's
  optimised forward (one ReLU per node for all its convolutions, pooling as shifted sums);
  ``--channels-last`` and ``--amp bf16|fp16`` add what those flags of ``train`` do.

The two variants alternate in rounds, so that a machine whose load changes treats both alike; the
median round is reported. The data path (indexing, augmentation, labels) is timed inside the
optimised loop.

Run from the project root:  PYTHONPATH=. python scripts/bench/train_throughput.py [--device cuda]
"""
from __future__ import annotations

import argparse
import copy
import itertools
import statistics
import time

import torch
import torch.nn.functional as F

from _timing import print_table, synchronize
from common.data import BatchAugment, DataConfig, InMemoryLoader, SyntheticConfig, build_datasets
from common.labels import LabelConfig, build_label_generator
from common.seeding import numpy_rng
from common.training import TrainConfig, build_optimizer, grad_scaler, train_step
from nas_bench_201.supernet import Supernet, SupernetConfig


def endless_batches(loader: InMemoryLoader):
    """Batches across epochs, so that any number of steps can be timed."""
    for epoch in itertools.count():
        yield from loader.epoch(epoch)


class Variant:
    """One way of computing the step, with its own model copy, optimizer, batches and paths."""

    def __init__(self, name: str, model, loader, cfg: TrainConfig, optimised: bool, device, seed: int):
        self.name, self.cfg, self.optimised, self.device = name, cfg, optimised, device
        self.model = model
        self.model.optimised = optimised
        if optimised and cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = build_optimizer(self.model, cfg, foreach=optimised)  # plain: the per-parameter loop
        self.scaler = grad_scaler(device, cfg.amp)
        self.stream = endless_batches(loader)
        self.paths = numpy_rng(seed, "paths", 0)
        self.step_s: list[float] = []
        self.data_s: list[float] = []

    def step(self) -> None:
        start = time.perf_counter()
        images, labels = next(self.stream)
        synchronize(self.device)
        fetched = time.perf_counter()
        path = self.model.sample_path(self.paths)
        if self.optimised:
            train_step(self.model, self.optimizer, images, labels, path, self.cfg, self.scaler)
        else:  # the step as first written
            loss = F.cross_entropy(self.model(images, path), labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        synchronize(self.device)
        self.data_s.append(fetched - start)
        self.step_s.append(time.perf_counter() - start)

    def round(self, steps: int) -> float:
        """Mean seconds per step over ``steps`` steps."""
        first = len(self.step_s)
        for _ in range(steps):
            self.step()
        return sum(self.step_s[first:]) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells", type=int, default=5, help="search cells per stage (N)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round and variant")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (the median is reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per variant first")
    parser.add_argument("--images", type=int, default=2048, help="synthetic training images in memory")
    parser.add_argument("--amp", choices=("none", "bf16", "fp16"), default="none", help="autocast of the optimised step")
    parser.add_argument("--channels-last", action="store_true", help="optimised step in NHWC (train.channels_last)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)

    data = build_datasets(DataConfig(synthetic=SyntheticConfig(num_images=args.images, num_test_images=1)), args.seed)
    labels = build_label_generator(LabelConfig(mode="uniform_once"), data.train.targets, args.seed)

    def loader() -> InMemoryLoader:
        return InMemoryLoader(data.train, args.batch, labels=labels.labels, shuffle=True, drop_last=True,
                              augment=BatchAugment(data.mean, data.std, crop_padding=4, flip=True),
                              device=device, seed=args.seed)

    torch.manual_seed(args.seed)
    model = Supernet(SupernetConfig(channels=args.channels, cells_per_stage=args.cells), labels.num_classes).to(device).train()
    plain_cfg = TrainConfig(batch_size=args.batch, channels_last=False)  # lr 0.025, momentum 0.9, nesterov, wd 5e-4
    fast_cfg = TrainConfig(batch_size=args.batch, amp=args.amp, channels_last=args.channels_last)
    plain = Variant("plain", copy.deepcopy(model), loader(), plain_cfg, False, device, args.seed)
    fast = Variant("optimised", copy.deepcopy(model), loader(), fast_cfg, True, device, args.seed)
    for variant in (plain, fast):
        for _ in range(args.warmup):
            variant.step()
        variant.step_s.clear()
        variant.data_s.clear()
    rounds = {plain.name: [], fast.name: []}
    for _ in range(args.rounds):
        for variant in (plain, fast):
            rounds[variant.name].append(variant.round(args.steps))
    plain_s, fast_s = statistics.median(rounds["plain"]), statistics.median(rounds["optimised"])
    data_s = statistics.median(fast.data_s)
    share = 100 * data_s / fast_s

    print(f"NAS-Bench-201 supernet training step: C={args.channels} N={args.cells}, batch {args.batch}, "
          f"{args.rounds} alternating rounds of {args.steps} steps per variant after {args.warmup} warm-up, "
          f"{args.images:,} synthetic 32x32 images, device {device}, {torch.get_num_threads()} CPU threads")
    print(f"optimised = channels_last {fast_cfg.channels_last}, amp {fast_cfg.amp}, shared ReLU per node, "
          "pooling as shifted sums")
    print_table(("variant", "ms / step", "images / s", "speed-up", "data path ms", "data share"), [
        ("plain step", f"{1e3 * plain_s:.1f}", f"{args.batch / plain_s:,.0f}", "1.00x",
         f"{1e3 * statistics.median(plain.data_s):.2f}", f"{100 * statistics.median(plain.data_s) / plain_s:.1f}%"),
        ("optimised step", f"{1e3 * fast_s:.1f}", f"{args.batch / fast_s:,.0f}", f"{plain_s / fast_s:.2f}x",
         f"{1e3 * data_s:.2f}", f"{share:.1f}%"),
    ])
    print(f"summary: optimised {args.batch / fast_s:,.0f} images/s vs plain {args.batch / plain_s:,.0f} images/s = "
          f"{plain_s / fast_s:.2f}x (target >= 1.5x: {'met' if plain_s / fast_s >= 1.5 else 'MISSED'}); data path "
          f"{share:.1f}% of the optimised step (target < 10%: {'met' if share < 10 else 'MISSED'})")


if __name__ == "__main__":
    main()
