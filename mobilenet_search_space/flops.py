"""FLOPs and parameters of a MobileNet-space architecture, from the lookup table (no model is built).

    python -m mobilenet_search_space.flops --arch "2 0 -1 2 2 0 2 4 0 4 4 2 4 2 4 2 0 0 0 2 2"
    {"flops_M": 473.248184, "params_M": 5.255648}

    python -m mobilenet_search_space.flops --write-table PATH [--input-size N] [--num-classes N] [--width-mult W]

counts every block and writes a lookup table (the shipped one is ``flops_table_224.json``).
"""
from __future__ import annotations

import json
import sys

from common.cli import ArgumentParser, run

from .flops_table import build_table, table_for
from .space import from_str


def main(argv=None) -> None:
    parser = ArgumentParser(prog="python -m mobilenet_search_space.flops", description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--arch", help='architecture, 21 codes such as "2 0 -1 ..." (-1 = identity)')
    what.add_argument("--write-table", metavar="PATH", help="count every block and write the table to PATH")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--width-mult", type=float, default=1.0)
    parser.add_argument("--table", default=None, help="lookup table to read (default: shipped or counted now)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    if args.write_table:
        build_table(args.input_size, args.num_classes, args.width_mult).save(args.write_table)
        print(f"wrote {args.write_table}", file=sys.stderr)
        return
    arch = from_str(args.arch)
    table = table_for(args.input_size, args.num_classes, args.width_mult, args.table)
    print(json.dumps({"flops_M": float(table.flops_m([arch])[0]), "params_M": float(table.params_m([arch])[0])}))


if __name__ == "__main__":
    sys.exit(run(main))
