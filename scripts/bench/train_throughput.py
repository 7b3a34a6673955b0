"""Throughput of one NAS-Bench-201 supernet training step, and the share of it spent in the data path.

Trains the supernet (C=16, N=5 by default) the way ``SupernetTrainer._train_epoch`` does: one
sampled path per step, cross-entropy on random labels, SGD with the ``TrainConfig`` defaults. Data
are synthetic CIFAR-shaped uint8 images (32x32, nothing downloads) served by the project's
``InMemoryLoader`` with ``BatchAugment`` (crop padding 4, flip, normalisation) and uniform random
labels. Two loops run one after the other: the loader alone (indexing, augmentation, labels) and the
full training step; forward/backward/step is their difference.

Run from the project root:  PYTHONPATH=. python scripts/bench/train_throughput.py [--device cuda]
"""
from __future__ import annotations

import argparse
import itertools

import torch
import torch.nn.functional as F

from _timing import best_of, print_table
from common.data import BatchAugment, DataConfig, InMemoryLoader, SyntheticConfig, build_datasets
from common.labels import LabelConfig, build_label_generator
from common.seeding import numpy_rng
from common.training import TrainConfig, build_optimizer
from nas_bench_201.supernet import Supernet, SupernetConfig


def endless_batches(loader: InMemoryLoader):
    """Batches across epochs, so that any number of steps can be timed."""
    for epoch in itertools.count():
        yield from loader.epoch(epoch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells", type=int, default=5, help="search cells per stage (N)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (allocator, kernels)")
    parser.add_argument("--images", type=int, default=2048, help="synthetic training images in memory")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = torch.device(args.device)

    data = build_datasets(DataConfig(synthetic=SyntheticConfig(num_images=args.images, num_test_images=1)), args.seed)
    labels = build_label_generator(LabelConfig(mode="uniform_once"), data.train.targets, args.seed)
    loader = InMemoryLoader(data.train, args.batch, labels=labels.labels, shuffle=True, drop_last=True,
                            augment=BatchAugment(data.mean, data.std, crop_padding=4, flip=True),
                            device=device, seed=args.seed)
    torch.manual_seed(args.seed)
    supernet = SupernetConfig(channels=args.channels, cells_per_stage=args.cells)
    model = Supernet(supernet, labels.num_classes).to(device).train()
    optimizer = build_optimizer(model, TrainConfig(batch_size=args.batch))  # lr 0.025, momentum 0.9, nesterov, wd 5e-4
    path_rng = numpy_rng(args.seed, "paths", 0)

    def fetch(stream) -> None:
        next(stream)

    def train_step(stream) -> None:
        images, targets = next(stream)
        loss = F.cross_entropy(model(images, model.sample_path(path_rng)), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    seconds = {}
    for name, step in (("data", fetch), ("full", train_step)):
        stream = endless_batches(loader)
        for _ in range(args.warmup):
            step(stream)
        _, elapsed = best_of(1, lambda: [step(stream) for _ in range(args.steps)], device)
        seconds[name] = elapsed / args.steps
    data_s, full_s = seconds["data"], seconds["full"]
    share = 100 * data_s / full_s

    print(f"NAS-Bench-201 supernet training step: C={args.channels} N={args.cells}, batch {args.batch}, "
          f"{args.steps} timed steps after {args.warmup} warm-up, {args.images:,} synthetic 32x32 images, "
          f"device {device}, {torch.get_num_threads()} CPU threads")
    print_table(("part of the step", "ms / step", "share", "images / s"), [
        ("data path (index, augment, labels)", f"{1e3 * data_s:.2f}", f"{share:.1f}%", f"{args.batch / data_s:,.0f}"),
        ("forward + backward + SGD step", f"{1e3 * (full_s - data_s):.2f}", f"{100 - share:.1f}%", "-"),
        ("full step", f"{1e3 * full_s:.2f}", "100.0%", f"{args.batch / full_s:,.0f}"),
    ])
    print(f"summary: {args.batch / full_s:,.0f} images/s, {1e3 * full_s:.1f} ms per step, data path "
          f"{1e3 * data_s:.2f} ms = {share:.1f}% of the step (target < 10%: {'met' if share < 10 else 'MISSED'})")


if __name__ == "__main__":
    main()
