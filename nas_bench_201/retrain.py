"""Retrain a NAS-Bench-201 architecture from scratch with the true labels.

The shared stage ``common.stages.retrain`` on this space; ``--help`` lists the arguments.
"""
import sys

from common.cli import run
from common.stages import command

from .space import SPACE

main = command("retrain", SPACE)

if __name__ == "__main__":
    sys.exit(run(main))
