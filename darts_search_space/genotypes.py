"""DARTS genotypes: the ``Genotype(normal=[...], normal_concat=..., reduce=[...], reduce_concat=...)``
text of the DARTS code base, conversion to and from architectures, and the published cells.

A genotype lists, per intermediate node 2..5, its two ``(op, input)`` pairs. Conversion to an
architecture puts each op on the edge ``input -> node``; conversion back lists a node's inputs in
ascending order, so the text of an architecture is canonical. Text is parsed with ``ast`` (literals
and ``range(2, 6)`` only), never evaluated.
"""
from __future__ import annotations

import ast
from collections import namedtuple
from typing import Sequence

from common.errors import UserError

from .encoding import CONCAT, NONE, NUM_EDGES, OPS, STEPS, cells, edge_index, from_str, is_legal

Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")


def _genotype(normal, reduce) -> Genotype:
    return Genotype(normal=list(normal), normal_concat=list(CONCAT), reduce=list(reduce), reduce_concat=list(CONCAT))


# The RLNAS cells (docs/reference.md §4.7; the released genotypes.py and README).
RLNAS_CIFAR10 = _genotype(  # searched on CIFAR-10 (paper Table 3, rows 1-2)
    [("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("dil_conv_3x3", 0), ("sep_conv_5x5", 2),
     ("sep_conv_3x3", 0), ("dil_conv_5x5", 3), ("dil_conv_5x5", 1), ("dil_conv_3x3", 2)],
    [("sep_conv_5x5", 0), ("dil_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 2),
     ("dil_conv_3x3", 1), ("sep_conv_3x3", 3), ("max_pool_3x3", 1), ("sep_conv_5x5", 2)])
RLNAS_IMAGENET_600M = _genotype(  # searched on ImageNet under 600M FLOPs (paper Table 3, row 3)
    [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("skip_connect", 1), ("sep_conv_3x3", 2),
     ("sep_conv_3x3", 1), ("sep_conv_3x3", 2), ("skip_connect", 0), ("sep_conv_3x3", 4)],
    [("sep_conv_3x3", 0), ("max_pool_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 1),
     ("sep_conv_3x3", 0), ("dil_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1)])
RLNAS_IMAGENET = _genotype(  # searched on ImageNet without a FLOPs limit (paper Table 4)
    [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2),
     ("sep_conv_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1)],
    [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 2),
     ("sep_conv_5x5", 0), ("sep_conv_5x5", 2), ("sep_conv_3x3", 2), ("sep_conv_3x3", 4)])
# Baselines of the comparison tables, as published by their authors.
DARTS_V2 = _genotype(
    [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
     ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
     ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)])
PC_DARTS_CIFAR10 = _genotype(
    [("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 0), ("dil_conv_3x3", 1),
     ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("avg_pool_3x3", 0), ("dil_conv_3x3", 1)],
    [("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2),
     ("sep_conv_3x3", 0), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2)])
PC_DARTS_IMAGENET = _genotype(
    [("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 0), ("skip_connect", 1),
     ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4)],
    [("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_5x5", 2), ("max_pool_3x3", 1),
     ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 3)])

GENOTYPES = {"RLNAS_CIFAR10": RLNAS_CIFAR10, "RLNAS_IMAGENET_600M": RLNAS_IMAGENET_600M,
             "RLNAS_IMAGENET": RLNAS_IMAGENET, "DARTS_V2": DARTS_V2, "PC_DARTS_CIFAR10": PC_DARTS_CIFAR10,
             "PC_DARTS_IMAGENET": PC_DARTS_IMAGENET}


# ------------------------------------------------------------------------------ conversion


def _cell_genes(pairs: Sequence, what: str) -> list[int]:
    if len(pairs) != 2 * STEPS:
        raise UserError(f"genotype {what}: expected {2 * STEPS} (op, input) pairs, got {len(pairs)}")
    genes = [NONE] * NUM_EDGES
    for position, pair in enumerate(pairs):
        node = 2 + position // 2
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise UserError(f"genotype {what}[{position}]: expected ('op', input), got {pair!r}")
        op, source = pair
        if op not in OPS or op == "none":
            raise UserError(f"genotype {what}[{position}]: unknown op {op!r} (one of {', '.join(OPS[1:])})")
        if isinstance(source, bool) or not isinstance(source, int) or not 0 <= source < node:
            raise UserError(f"genotype {what}[{position}]: node {node} cannot take input {source!r} (0..{node - 1})")
        edge = edge_index(source, node)
        if genes[edge] != NONE:
            raise UserError(f"genotype {what}: node {node} takes input {source} twice, which this space cannot express")
        genes[edge] = OPS.index(op)
    return genes


def to_arch(genotype: Genotype) -> tuple[int, ...]:
    for name in ("normal_concat", "reduce_concat"):
        if list(getattr(genotype, name)) != list(CONCAT):
            raise UserError(f"genotype {name}: must be [2, 3, 4, 5] in this space")
    arch = tuple(_cell_genes(genotype.normal, "normal") + _cell_genes(genotype.reduce, "reduce"))
    assert is_legal(arch)
    return arch


def _cell_pairs(genes: Sequence[int]) -> list[tuple[str, int]]:
    pairs = []
    for node in range(2, 2 + STEPS):
        pairs += [(OPS[genes[edge_index(k, node)]], k) for k in range(node) if genes[edge_index(k, node)] != NONE]
    return pairs


def from_arch(arch: Sequence[int]) -> Genotype:
    if not is_legal(arch):
        raise UserError("only a legal architecture (two inputs per node) has a genotype")
    normal, reduce = cells(arch)
    return _genotype(_cell_pairs(normal), _cell_pairs(reduce))


def to_text(genotype: Genotype) -> str:
    """The text the DARTS code bases print and paste: ``Genotype(normal=[('sep_conv_3x3', 0), ...], ...)``."""
    return (f"Genotype(normal={[tuple(p) for p in genotype.normal]}, normal_concat={list(genotype.normal_concat)}, "
            f"reduce={[tuple(p) for p in genotype.reduce]}, reduce_concat={list(genotype.reduce_concat)})")


MAX_TEXT = 4096  # a genotype text is a few hundred characters; anything far longer is not one
MAX_RANGE = 64  # concat ranges name a handful of nodes: never expand a huge range(...)


def _literal(node: ast.AST, field: str):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" and not node.keywords:
        bounds = range(*[_literal(arg, field) for arg in node.args])
        if len(bounds) > MAX_RANGE:
            raise UserError(f"genotype {field}: {len(bounds)} nodes in range(...), expected [2, 3, 4, 5]")
        return list(bounds)
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise UserError(f"genotype {field}: only literals and range(...) are allowed") from None


def parse_text(text: str) -> Genotype:
    """A ``Genotype(...)`` text (keyword or positional fields) -> Genotype; anything else is a UserError."""
    if len(text) > MAX_TEXT:
        raise UserError(f"not a genotype: {len(text)} characters (a genotype text has at most {MAX_TEXT})")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise UserError(f"not a genotype: {text[:80]!r}") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, (ast.Name, ast.Attribute))
            and (getattr(tree.func, "id", None) or getattr(tree.func, "attr", None)) == "Genotype"):
        raise UserError(f"not a genotype: {text[:80]!r} (expected Genotype(normal=[...], ...))")
    values = dict(zip(Genotype._fields, [_literal(a, f) for a, f in zip(tree.args, Genotype._fields)]))
    for keyword in tree.keywords:
        if keyword.arg not in Genotype._fields or keyword.arg in values:
            raise UserError(f"genotype: unexpected or repeated field {keyword.arg!r}")
        values[keyword.arg] = _literal(keyword.value, keyword.arg)
    missing = [f for f in Genotype._fields if f not in values]
    if missing or len(tree.args) > len(Genotype._fields):
        raise UserError(f"genotype: missing fields {', '.join(missing)}" if missing else "genotype: too many fields")
    return Genotype(**values)


def resolve(spec: str) -> tuple[int, ...]:
    """An architecture from a genotype name (``RLNAS_CIFAR10``, ...), a ``Genotype(...)`` text or a
    canonical string."""
    spec = spec.strip()
    if spec in GENOTYPES:
        return to_arch(GENOTYPES[spec])
    if spec.startswith("Genotype"):
        return to_arch(parse_text(spec))
    if "/" in spec:
        arch = from_str(spec)
        if not is_legal(arch):
            raise UserError(f"{spec}: every node needs exactly two non-none inputs")
        return arch
    raise UserError(f"unknown genotype {spec!r}: give one of {', '.join(GENOTYPES)}, a Genotype(...) text "
                    "or an architecture string")
