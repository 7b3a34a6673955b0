"""Stage 1: train the DARTS supernet with random labels.

The shared stage ``common.stages.train_supernet`` on this space; ``--help`` lists the arguments.
"""
import sys

from common.cli import run
from common.stages import command

from .space import SPACE

main = command("train_supernet", SPACE)

if __name__ == "__main__":
    sys.exit(run(main))
