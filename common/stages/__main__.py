"""``python -m common.stages STAGE --space NAME [stage arguments]``: any stage on any registered space."""
from __future__ import annotations

import sys

from ..cli import ArgumentParser, run
from ..space import get_space
from . import STAGES


def main(argv=None) -> None:
    parser = ArgumentParser(prog="python -m common.stages", add_help=False, allow_abbrev=False,
                            description="Run any stage on any registered search space.")
    parser.add_argument("stage", nargs="?", choices=sorted(STAGES), help="the stage to run")
    parser.add_argument("--space", help="a registered space (nas_bench_201, darts, mobilenet) "
                                                        "or the package that registers one (examples.chain_space)")
    parser.add_argument("-h", "--help", action="store_true", help="this help, or a stage's with STAGE --space NAME --help")
    args, rest = parser.parse_known_args(argv)
    if args.help and (args.stage is None or args.space is None):
        parser.print_help()
        return
    if args.stage is None or args.space is None:
        parser.error("give a STAGE and --space NAME (--help lists them)")
    if args.help:
        rest.append("--help")
    space = get_space(args.space)
    STAGES[args.stage].main(space, rest, f"python -m common.stages {args.stage} --space {args.space}")


if __name__ == "__main__":
    sys.exit(run(main))
