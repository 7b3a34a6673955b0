"""Held-out accuracy of a NAS-Bench-201 supernet at every saved epoch (sampled architectures, inherited
weights, BN re-calibrated), to see whether the supernet learns.

    python scripts/studies/nb201_heldout_by_epoch.py RUN_DIR [--archs 10] [--valid-images 1000] [--bn-batches 5]

RUN_DIR is a supernet run (its ``config.yaml`` and ``checkpoints/epoch_NNNN.pt``); the architectures are
the first ``--archs`` of the study's common subset (``nas_bench_201.reproduce.config.subset_order``).
Prints one line per epoch: mean, min and max accuracy (%) over the architectures.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # python scripts/studies/X.py from anywhere

from common.config import load_config  # noqa: E402
from common.scoring import valacc_scorer  # noqa: E402
from nas_bench_201.config import NB201Config  # noqa: E402
from nas_bench_201.reproduce.config import subset_order  # noqa: E402
from nas_bench_201.space import SPACE, benchmark_archs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--archs", type=int, default=10)
    parser.add_argument("--valid-images", type=int, default=1000)
    parser.add_argument("--bn-batches", type=int, default=5)
    args = parser.parse_args()
    cfg = load_config(args.run_dir / "config.yaml", NB201Config,
                      [f"search.val_acc.valid_images={args.valid_images}", f"search.val_acc.bn_batches={args.bn_batches}",
                       "search.val_acc.batch_size=200"])
    archs = benchmark_archs()[subset_order(args.archs, 0)]
    for path in sorted((args.run_dir / "checkpoints").glob("epoch_*.pt")):
        epoch = int(path.stem.split("_")[1])
        scores = valacc_scorer(SPACE, cfg, path)(archs)
        print(f"epoch {epoch}: held-out accuracy {np.mean(scores):.2f}% (min {np.min(scores):.2f}, max {np.max(scores):.2f}, "
              f"{len(scores)} architectures)", flush=True)


if __name__ == "__main__":
    main()
