"""Stage 3: retrain an architecture from scratch with the true labels (the paper's evaluation).

The shared stage ``common.stages.retrain`` on this space; ``--help`` lists the arguments.
"""
import sys

from common.cli import run
from common.stages import command

from .space import SPACE

main = command("retrain", SPACE)

if __name__ == "__main__":
    sys.exit(run(main))
