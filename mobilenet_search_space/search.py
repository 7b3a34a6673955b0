"""Stage 2: search the MobileNet space by angle under flops.limit_m (evolution or random search).

The shared stage ``common.stages.search`` on this space; ``--help`` lists the arguments.
"""
import sys

from common.cli import run
from common.stages import command

from .space import SPACE

main = command("search", SPACE)

if __name__ == "__main__":
    sys.exit(run(main))
