"""Held-out accuracy of a NAS-Bench-201 supernet at every saved epoch (sampled architectures, inherited
weights, BN re-calibrated), to see whether the supernet learns.

    python scripts/studies/nb201_heldout_by_epoch.py RUN_DIR [--archs 10] [--valid-images 1000] [--bn-batches 5]

RUN_DIR is a supernet run (its ``config.yaml`` and ``checkpoints/epoch_NNNN.pt``); the architectures are
the first ``--archs`` of the study's common subset (``nas_bench_201.reproduce.config.subset_order``).
Prints one line per epoch: mean, min and max accuracy (%) over the architectures.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # python scripts/studies/X.py from anywhere

from common.cli import ArgumentParser, positive_int, run  # noqa: E402
from common.config import load_config  # noqa: E402
from common.errors import UserError  # noqa: E402
from common.scoring import valacc_scorer  # noqa: E402
from nas_bench_201.config import NB201Config  # noqa: E402
from nas_bench_201.reproduce.config import subset_order  # noqa: E402
from nas_bench_201.space import SPACE, benchmark_archs  # noqa: E402


def main(argv=None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--archs", type=positive_int, default=10)
    parser.add_argument("--valid-images", type=positive_int, default=1000)
    parser.add_argument("--bn-batches", type=positive_int, default=5)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    checkpoints = sorted((args.run_dir / "checkpoints").glob("epoch_*.pt"))
    if not checkpoints:
        raise UserError(f"{args.run_dir}: no checkpoints/epoch_*.pt (not a supernet run directory?)")
    cfg = load_config(args.run_dir / "config.yaml", NB201Config,
                      [f"search.val_acc.valid_images={args.valid_images}", f"search.val_acc.bn_batches={args.bn_batches}",
                       "search.val_acc.batch_size=200"])
    archs = benchmark_archs()[subset_order(args.archs, 0)]
    for path in checkpoints:
        epoch = int(path.stem.split("_")[1])
        scores = valacc_scorer(SPACE, cfg, path)(archs)
        print(f"epoch {epoch}: held-out accuracy {np.mean(scores):.2f}% (min {np.min(scores):.2f}, max {np.max(scores):.2f}, "
              f"{len(scores)} architectures)", flush=True)


if __name__ == "__main__":
    sys.exit(run(main))
