"""FLOPs and parameters of a DARTS network (``--arch``, ``--dataset``, ``--init-channels``, ``--layers``).

The shared stage ``common.stages.flops`` on this space; ``--help`` lists the arguments.
"""
import sys

from common.cli import run
from common.stages import command

from .costs import NetworkShape, costs  # noqa: F401 - the cost model, for users of this module
from .space import SPACE

main = command("flops", SPACE)

if __name__ == "__main__":
    sys.exit(run(main))
