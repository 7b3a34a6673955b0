"""FLOPs and parameters of an architecture's retrained network, from the space's cost model.

    ... flops --arch ARCH [the space's options: the priced network]

prints ``{"flops_M": .., "params_M": ..}`` (millions). A space with a FLOPs lookup table can also
write it (``--write-table PATH``).
"""
from __future__ import annotations

import json
import sys

from ..cli import ArgumentParser, headed, output_file
from ..errors import UserError
from ..space import SearchSpace


def main(space: SearchSpace, argv, prog: str) -> None:
    parser = ArgumentParser(prog=prog, description=headed(f"FLOPs and parameters of a {space.title} network", __doc__))
    parser.add_argument("--arch", default=None, help=space.arch_help)
    space.cost_options(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(space.canonical_argv(argv))
    if getattr(args, "write_table", None):
        if args.arch is not None:
            raise UserError(f"{prog}: give --arch or --write-table, not both")
        output_file(args.write_table, "--write-table")
        space.write_cost_table(args)
        print(f"wrote {args.write_table}", file=sys.stderr)
        return
    if args.arch is None:
        raise UserError(f"{prog}: --arch is required")
    arch = space.parse_arch(args.arch)
    flops, params = space.cost_model_from_args(args).costs([arch])
    print(json.dumps({"flops_M": round(float(flops[0]) / 1e6, 6), "params_M": round(float(params[0]) / 1e6, 6)}))
