"""``python -m common.stages STAGE --space NAME [stage arguments]``: any stage on any registered space."""
from __future__ import annotations

import sys

from ..cli import ArgumentParser, run
from ..space import get_space
from . import STAGES


def main(argv=None) -> None:
    parser = ArgumentParser(prog="python -m common.stages", description=__doc__.splitlines()[0].strip("`"),
                            add_help=True)
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--space", required=True, help="a registered space (nas_bench_201, darts, mobilenet) "
                                                        "or the package that registers one (examples.chain_space)")
    args, rest = parser.parse_known_args(argv)
    space = get_space(args.space)
    STAGES[args.stage].main(space, rest, f"python -m common.stages {args.stage} --space {args.space}")


if __name__ == "__main__":
    sys.exit(run(main))
