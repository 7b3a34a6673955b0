"""A PNG drawing of a genotype's normal and reduction cells.

The shared stage ``common.stages.draw`` on this space; ``--help`` lists the arguments.
"""
import sys

from common.cli import run
from common.stages import command

from .drawing import draw  # noqa: F401 - the drawing, for users of this module
from .space import SPACE

main = command("draw", SPACE)

if __name__ == "__main__":
    sys.exit(run(main))
