"""The NAS-Bench-201 encoding (codec and sampling; the space object is ``space.SPACE``): 5 operations on the 6 edges of a 4-node cell, 5^6 = 15,625 architectures.

An architecture is a tuple of 6 op codes in the edge order ``1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2``,
written canonically as the benchmark writes it: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.
Benchmark index ``i`` is the i-th architecture of NAS-Bench-201's own enumeration: all 5^6 op
tuples in lexicographic order, shuffled once with Python's ``random.seed(88)`` (as the benchmark's
generator did), which reproduces the ``index`` column of the benchmark table exactly.
"""
from __future__ import annotations

import itertools
import random
from functools import lru_cache
from typing import Sequence

import numpy as np

from common.errors import UserError

NAME = "nas_bench_201"
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NONE, SKIP, CONV_1X1, CONV_3X3, AVG_POOL = range(5)
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from), the benchmark's edge order
EDGE_NAMES = tuple(f"{i}<-{j}" for i, j in EDGES)
NUM_EDGES = len(EDGES)
NUM_ARCHS = len(OPS) ** NUM_EDGES
# The 4 input-to-output paths of a cell as node sequences, and as the edge indices they cross.
NODE_PATHS = ((0, 3), (0, 2, 3), (0, 1, 2, 3), (0, 1, 3))
PATH_EDGES = tuple(tuple(EDGES.index((b, a)) for a, b in zip(path, path[1:])) for path in NODE_PATHS)
_BENCHMARK_SHUFFLE_SEED = 88

Arch = tuple  # 6 ints in range(5)


def edge_index(to_node: int, from_node: int) -> int:
    return EDGES.index((to_node, from_node))


def to_str(arch: Sequence[int]) -> str:
    names = [f"{OPS[arch[edge_index(i, j)]]}~{j}" for i, j in EDGES]
    return f"|{names[0]}|+|{names[1]}|{names[2]}|+|{names[3]}|{names[4]}|{names[5]}|"


def from_str(text: str) -> Arch:
    """Parse a canonical architecture string; anything else is a UserError that says what is wrong."""
    hint = "expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2| with op in " + ", ".join(OPS)
    if not isinstance(text, str):
        raise UserError(f"bad NAS-Bench-201 architecture {text!r}: {hint}")
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        raise UserError(f"bad NAS-Bench-201 architecture {text!r}: {hint}")
    arch = [0] * NUM_EDGES
    for i, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")):
            raise UserError(f"bad NAS-Bench-201 architecture {text!r}: node {i} must be wrapped in '|'; {hint}")
        entries = node[1:-1].split("|")
        if len(entries) != i:
            raise UserError(f"bad NAS-Bench-201 architecture {text!r}: node {i} needs {i} inputs; {hint}")
        for j, entry in enumerate(entries):
            op, sep, source = entry.partition("~")
            if sep and source == str(j) and op not in OPS:
                raise UserError(f"bad NAS-Bench-201 architecture {text!r}: unknown op {op!r} (ops: {', '.join(OPS)})")
            if not sep or source != str(j):
                raise UserError(f"bad NAS-Bench-201 architecture {text!r}: '{entry}' should be op~{j}; {hint}")
            arch[edge_index(i, j)] = OPS.index(op)
    return tuple(arch)


@lru_cache(maxsize=1)
def benchmark_archs() -> np.ndarray:
    """``(15625, 6)`` int64 op codes; row i is the architecture of benchmark index i."""
    archs = list(itertools.product(range(len(OPS)), repeat=NUM_EDGES))
    random.Random(_BENCHMARK_SHUFFLE_SEED).shuffle(archs)
    table = np.array(archs, dtype=np.int64)
    table.setflags(write=False)
    return table


def surviving_paths(archs) -> np.ndarray:
    """``(len(archs), 4)`` bool: which of the cell's four input-to-output paths avoid ``none``. An
    architecture with none left ("all paths cut", 341 of the 15,625) ignores its input: angle 0."""
    ops = np.asarray(archs, dtype=np.int64).reshape(-1, NUM_EDGES)
    return np.stack([(ops[:, list(edges)] != NONE).all(axis=1) for edges in PATH_EDGES], axis=1)


def all_paths_cut(archs) -> np.ndarray:
    """``(len(archs),)`` bool: no path from input to output survives."""
    return ~surviving_paths(archs).any(axis=1)


@lru_cache(maxsize=1)
def _index_lookup() -> np.ndarray:
    lookup = np.empty(NUM_ARCHS, dtype=np.int64)
    lookup[benchmark_archs() @ (len(OPS) ** np.arange(NUM_EDGES - 1, -1, -1))] = np.arange(NUM_ARCHS)
    return lookup


def index_of(arch: Sequence[int]) -> int:
    code = 0
    for op in arch:
        code = code * len(OPS) + int(op)
    return int(_index_lookup()[code])


def arch_of(index: int) -> Arch:
    if not 0 <= int(index) < NUM_ARCHS:
        raise UserError(f"NAS-Bench-201 index {index} out of range 0..{NUM_ARCHS - 1}")
    return tuple(int(op) for op in benchmark_archs()[int(index)])


class NB201Codec:
    """Codec and sampling of the space: what the search, EPS and the workers use."""

    name = NAME
    size = NUM_ARCHS

    def random(self, rng: np.random.Generator) -> Arch:
        # Uniform over all 15,625, `none` included, as the released evolution initialises.
        return tuple(int(op) for op in rng.integers(0, len(OPS), NUM_EDGES))

    def mutate(self, arch: Arch, prob: float, rng: np.random.Generator) -> Arch:
        # As released: a mutated edge takes a non-`none` op (possibly its current one).
        flips = rng.random(NUM_EDGES) < prob
        new_ops = rng.integers(1, len(OPS), NUM_EDGES)
        return tuple(int(n) if f else int(o) for o, f, n in zip(arch, flips, new_ops))

    def crossover(self, a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
        take_b = rng.random(NUM_EDGES) < 0.5
        return tuple(int(y) if t else int(x) for x, y, t in zip(a, b, take_b))

    def is_legal(self, arch: Arch) -> bool:
        return len(arch) == NUM_EDGES and all(0 <= int(op) < len(OPS) for op in arch)

    to_str = staticmethod(to_str)
    from_str = staticmethod(from_str)

    def all_archs(self) -> list[Arch]:
        """Every architecture, in benchmark index order."""
        return [tuple(int(op) for op in row) for row in benchmark_archs()]

    index_of = staticmethod(index_of)
