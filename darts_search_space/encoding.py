"""The DARTS encoding (codec and sampling; the space object is ``space.SPACE``): 8 ops on the 14 edges of a normal and a reduction cell.

A cell has two inputs (nodes 0 and 1: the outputs of the two previous cells) and four intermediate
nodes 2..5; node ``j`` has an edge from every earlier node, so the cell has 2+3+4+5 = 14 edges, in
the released order: node 2 <- {0, 1} (edges 0-1), node 3 <- {0, 1, 2} (edges 2-4), node 4 <- {0..3}
(edges 5-8), node 5 <- {0..4} (edges 9-13). The cell output concatenates nodes 2..5.

An architecture is a tuple of 28 op codes (``OPS`` index): the normal cell's 14 genes, then the
reduction cell's. It is legal when every intermediate node has exactly two non-``none`` inputs,
which is the DARTS genotype shape (8 ops per cell, 2 per node). Its canonical string lists each
cell's genes node by node, normal/reduce: the paper's CIFAR-10 cell is
``54-605-4007-07600/56-405-0604-01500`` (node 2: op 5 from input 0, op 4 from input 1; ...).
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from common.errors import UserError

NAME = "darts"
OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
       "dil_conv_3x3", "dil_conv_5x5")
NONE, MAX_POOL, AVG_POOL, SKIP, SEP3, SEP5, DIL3, DIL5 = range(8)
NUM_OPS = len(OPS)
STEPS = 4  # intermediate nodes per cell
NODE_OFFSETS = (0, 2, 5, 9)  # first edge of nodes 2, 3, 4, 5
EDGES = tuple((k, j) for j in range(2, 2 + STEPS) for k in range(j))  # (from, to), gene order
NUM_EDGES = len(EDGES)  # 14
NUM_GENES = 2 * NUM_EDGES  # normal + reduce
CONCAT = (2, 3, 4, 5)
# node_of[e]: intermediate node index 0..3 of edge e's target
NODE_OF_EDGE = np.array([j - 2 for _, j in EDGES])
NODE_EDGES = tuple(tuple(range(NODE_OFFSETS[n], NODE_OFFSETS[n] + n + 2)) for n in range(STEPS))

Arch = tuple  # 28 ints in range(8)


def edge_index(from_node: int, to_node: int) -> int:
    """Gene index of edge ``from_node -> to_node`` inside one cell (``k + offset(j)``)."""
    if not (2 <= to_node < 2 + STEPS and 0 <= from_node < to_node):
        raise ValueError(f"no edge {from_node} -> {to_node}")
    return NODE_OFFSETS[to_node - 2] + from_node


def _enumerate_paths() -> tuple[tuple[int, ...], ...]:
    """Every path from an input (0 or 1) through increasing intermediate nodes, ending at any
    intermediate node (all of them feed the output): 30 paths, as the released ``config.paths``."""
    paths = []

    def extend(path):
        if path[-1] >= 2:
            paths.append(tuple(path))
        for nxt in range(max(path[-1] + 1, 2), 2 + STEPS):
            extend(path + [nxt])

    for start in (0, 1):
        extend([start])
    return tuple(paths)


NODE_PATHS = _enumerate_paths()
PATH_EDGES = tuple(tuple(edge_index(a, b) for a, b in zip(p, p[1:])) for p in NODE_PATHS)


def cells(arch: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return tuple(int(g) for g in arch[:NUM_EDGES]), tuple(int(g) for g in arch[NUM_EDGES:])


# ------------------------------------------------------------------------------ strings


def _cell_str(genes: Sequence[int]) -> str:
    return "-".join("".join(str(int(genes[e])) for e in edges) for edges in NODE_EDGES)


def to_str(arch: Sequence[int]) -> str:
    normal, reduce = cells(arch)
    return f"{_cell_str(normal)}/{_cell_str(reduce)}"


_STRING = re.compile(r"^[0-7]{2}-[0-7]{3}-[0-7]{4}-[0-7]{5}/[0-7]{2}-[0-7]{3}-[0-7]{4}-[0-7]{5}$")


def from_str(text: str) -> Arch:
    """Parse a canonical string (see the module docstring); anything else is a UserError."""
    if not isinstance(text, str) or not _STRING.match(text.strip()):
        raise UserError(f"bad DARTS architecture {text!r}: expected normal/reduce op codes 0-7 grouped by "
                        "node, e.g. 54-605-4007-07600/56-405-0604-01500")
    return tuple(int(c) for c in text.strip() if c.isdigit())


def is_legal(arch: Sequence[int]) -> bool:
    if len(arch) != NUM_GENES or not all(0 <= int(g) < NUM_OPS for g in arch):
        return False
    live = np.asarray(arch, dtype=np.int64).reshape(2, NUM_EDGES) != NONE
    return bool((np.add.reduceat(live, NODE_OFFSETS, axis=1) == 2).all())


# ------------------------------------------------------------------------------ sampling


def repair(genes: list[int], rng: np.random.Generator) -> list[int]:
    """The released ``check_cand`` on a 28-gene list, in place: a node with more than two non-``none``
    inputs loses random extra ones; a node with fewer gets random ``none`` edges set to a random
    non-``none`` op, so that every node ends with exactly two."""
    for cell in (0, NUM_EDGES):
        for edges in NODE_EDGES:
            idx = [cell + e for e in edges]
            live = [i for i in idx if genes[i] != NONE]
            if len(live) > 2:
                for i in rng.choice(live, len(live) - 2, replace=False):
                    genes[int(i)] = NONE
            elif len(live) < 2:
                dead = [i for i in idx if genes[i] == NONE]
                for i in rng.choice(dead, 2 - len(live), replace=False):
                    genes[int(i)] = int(rng.integers(1, NUM_OPS))
    return genes


def random_arch(rng: np.random.Generator) -> Arch:
    """Every node draws two distinct predecessors uniformly, each with an op uniform over the 7
    non-``none`` ops: the distribution of the released sampler (uniform genes, then repair)."""
    genes = [NONE] * NUM_GENES
    inputs = np.array([2, 3, 4, 5] * 2)
    first = rng.integers(0, inputs)
    second = rng.integers(0, inputs - 1)
    second = second + (second >= first)  # distinct from the first
    ops = rng.integers(1, NUM_OPS, (2, 8))
    for n in range(8):
        base = (n // 4) * NUM_EDGES + NODE_OFFSETS[n % 4]
        genes[base + int(first[n])] = int(ops[0, n])
        genes[base + int(second[n])] = int(ops[1, n])
    return tuple(genes)


class DartsCodec:
    """Codec and sampling of the space: what the search and the workers use.

    Mutation covers both cells (the released code only ever mutated the normal cell, a bug) and
    draws new genes over all 8 ops, ``none`` included, so that a mutation can move an input as well
    as change an op; repair restores two inputs per node after mutation and crossover.
    """

    name = NAME

    def random(self, rng: np.random.Generator) -> Arch:
        return random_arch(rng)

    def mutate(self, arch: Arch, prob: float, rng: np.random.Generator) -> Arch:
        flips = rng.random(NUM_GENES) < prob
        new = rng.integers(0, NUM_OPS, NUM_GENES)
        genes = [int(n) if f else int(g) for g, f, n in zip(arch, flips, new)]
        return tuple(repair(genes, rng))

    def crossover(self, a: Arch, b: Arch, rng: np.random.Generator) -> Arch:
        take_b = rng.random(NUM_GENES) < 0.5
        genes = [int(y) if t else int(x) for x, y, t in zip(a, b, take_b)]
        return tuple(repair(genes, rng))

    is_legal = staticmethod(is_legal)
    to_str = staticmethod(to_str)
    from_str = staticmethod(from_str)
