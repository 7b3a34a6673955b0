"""Stage 3: search the NAS-Bench-201 space.

The shared stage ``common.stages.search`` on this space; ``--help`` lists the arguments.
"""
import sys

from common.cli import run
from common.search import checkpoints  # noqa: F401 - used by the pipeline and the studies
from common.stages import command, run_search

from .space import SPACE, load_table  # noqa: F401


def search(cfg, run_dir, scorer=None, table=None, seed=None, out_dir=None) -> dict:
    """The search stage with a loaded scorer and benchmark table (the pipeline and the studies reuse them)."""
    return run_search(SPACE, cfg, run_dir, scorer, table, seed, out_dir)


main = command("search", SPACE)

if __name__ == "__main__":
    sys.exit(run(main))
