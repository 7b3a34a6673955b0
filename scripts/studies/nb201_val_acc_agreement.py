"""Whether two supernets' val_acc rankings agree: Kendall tau of each against the benchmark and between
the two, over the architectures both scored.

    python scripts/studies/nb201_val_acc_agreement.py SCORES_A.json SCORES_B.json [--metric cifar10_test]

Each file is a val_acc score memo of the study (``val_acc_scores/val_acc-*.json``: architecture string
-> accuracy, %). Prints one line per file and one for the pair.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # python scripts/studies/X.py from anywhere

from common.cli import ArgumentParser, run  # noqa: E402
from common.correlation import correlate  # noqa: E402
from nas_bench_201.benchmark import BenchmarkTable, find_table  # noqa: E402
from nas_bench_201.encoding import from_str, index_of  # noqa: E402
from nas_bench_201.reproduce.runner import read_scores  # noqa: E402


def main(argv=None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("scores", type=Path, nargs=2)
    parser.add_argument("--metric", default="cifar10_test", help="benchmark column the rankings are compared with")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    memos = [read_scores(path) for path in args.scores]
    common = [arch for arch in memos[0] if arch in memos[1]]
    truth = BenchmarkTable.load(find_table(None)).metric(args.metric)[[index_of(from_str(arch)) for arch in common]]
    scores = [np.array([memo[arch] for arch in common]) for memo in memos]
    print(f"{len(common)} architectures scored in both")
    for path, memo, score in zip(args.scores, memos, scores):
        print(f"{path.name}: on the common ones tau vs {args.metric} {correlate(score, truth).kendall_tau:.3f}, "
              f"mean accuracy {score.mean():.2f}% ({len(memo)} scored in all)")
    print(f"tau between the two rankings: {correlate(scores[0], scores[1]).kendall_tau:.3f}")


if __name__ == "__main__":
    sys.exit(run(main))
