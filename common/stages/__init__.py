"""Every RLNAS stage, written once over the search-space interface (``common.space``).

Each stage is a function of the space (``search(space, cfg, run_dir)``, ...) and a command,
``main(space, argv, prog)``. A space package's ``python -m <package>.<stage>`` is a shim,
``main = command("search", SPACE)``; the same commands run for any registered space as

    python -m common.stages STAGE --space NAME [stage arguments]

with ``NAME`` a registered space or the package that registers one (``examples.chain_space``).
"""
from __future__ import annotations

from typing import Callable, Sequence

from ..space import SearchSpace
from . import draw, flops, retrain, search, train_supernet, worker
from .retrain import resolve_arch  # noqa: F401
from .search import search as run_search  # noqa: F401

STAGES = {"train_supernet": train_supernet, "search": search, "worker": worker, "retrain": retrain,
          "flops": flops, "draw": draw}


def command(stage: str, space: SearchSpace) -> Callable[[Sequence[str] | None], object]:
    """The ``main(argv)`` of ``python -m <space package>.<stage>`` (errors as ``UserError``: wrap in ``cli.run``)."""
    module = STAGES[stage]
    prog = f"python -m {type(space).__module__.rsplit('.', 1)[0]}.{stage}"
    return lambda argv=None: module.main(space, argv, prog)
