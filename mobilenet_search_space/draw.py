"""A PNG drawing of an architecture: one box per layer, like the paper's figure.

The shared stage ``common.stages.draw`` on this space; ``--help`` lists the arguments.
"""
import sys

from common.cli import run
from common.stages import command

from .drawing import draw_architecture  # noqa: F401 - the drawing, for users of this module
from .space import SPACE

main = command("draw", SPACE)

if __name__ == "__main__":
    sys.exit(run(main))
