"""Look up one NAS-Bench-201 architecture by canonical string or benchmark index.

    python -m nas_bench_201.info --arch '|nor_conv_3x3~0|+|...|'   (or --arch 1234)

prints JSON: index, canonical string, parameters of the standalone network, and the benchmark's
accuracies when a table is configured (``--table``) or found.
"""
from __future__ import annotations

import json
import sys

from common.cli import ArgumentParser, positive_int, run

from .benchmark import BenchmarkTable, find_table
from .model import build_model
from .encoding import arch_of, from_str, index_of, to_str


def main(argv=None) -> None:
    parser = ArgumentParser(prog="python -m nas_bench_201.info", description=__doc__)
    parser.add_argument("--arch", required=True, help="architecture string or benchmark index")
    parser.add_argument("--num-classes", type=positive_int, default=10, help="classifier size for the parameter count")
    parser.add_argument("--table", default=None, help="benchmark table, CSV or .npz (default: RLNAS_NB201_TABLE, else the shipped table)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    arch = arch_of(int(args.arch)) if args.arch.strip().isdigit() else from_str(args.arch)
    model = build_model(arch, args.num_classes)
    info = {"index": index_of(arch), "arch_str": to_str(arch),
            "params_M": sum(p.numel() for p in model.parameters()) / 1e6}
    table_path = find_table(args.table)
    if table_path is not None:
        info["benchmark"] = BenchmarkTable.load(table_path).row(info["index"])
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    sys.exit(run(main))
