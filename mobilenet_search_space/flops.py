"""FLOPs and parameters of an architecture from the lookup table, or ``--write-table PATH``.

The shared stage ``common.stages.flops`` on this space; ``--help`` lists the arguments.
"""
import sys

from common.cli import run
from common.stages import command

from .space import SPACE

main = command("flops", SPACE)

if __name__ == "__main__":
    sys.exit(run(main))
