"""Does the classifier bias in the DARTS angle change the top of the ranking?

    python scripts/studies/darts_classifier_bias.py RUN_DIR [--archs 20000] [--seed 0]

Scores a seeded sample of random DARTS architectures with the angle of a trained supernet run
(``checkpoints/epoch_0000.pt`` against ``checkpoints/last.pt``) twice: classifier weight only (the
released CIFAR rule) and weight plus bias; prints the largest angle difference, Kendall tau between
the two rankings and the overlap of their top 1 / 10 / 100.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # python scripts/studies/X.py from anywhere

from common.cli import ArgumentParser, non_negative_int, positive_int, run  # noqa: E402
from common.correlation import correlate  # noqa: E402
from common.seeding import numpy_rng  # noqa: E402
from darts_search_space.angle import scorer_from_checkpoints  # noqa: E402
from darts_search_space.space import random_arch, to_str  # noqa: E402


def main(argv=None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--archs", type=positive_int, default=20000)
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    init, trained = args.run_dir / "checkpoints" / "epoch_0000.pt", args.run_dir / "checkpoints" / "last.pt"
    rng = numpy_rng(args.seed, "classifier_bias")
    archs = [random_arch(rng) for _ in range(args.archs)]
    without = scorer_from_checkpoints(init, trained, classifier_bias="without")(archs)
    with_bias = scorer_from_checkpoints(init, trained, classifier_bias="with")(archs)
    order_a, order_b = np.argsort(-without), np.argsort(-with_bias)
    print(f"{args.archs} random architectures of {trained}")
    print(f"largest angle difference {np.abs(without - with_bias).max():.3e} rad "
          f"(angles {without.min():.4f}..{without.max():.4f})")
    print(f"Kendall tau between the two rankings {correlate(without, with_bias).kendall_tau:.6f}")
    for k in (1, 10, 100):
        print(f"top {k}: {len(set(order_a[:k]) & set(order_b[:k]))} in common")
    print("best without bias:", to_str(archs[order_a[0]]))
    print("best with bias:   ", to_str(archs[order_b[0]]))


if __name__ == "__main__":
    sys.exit(run(main))
