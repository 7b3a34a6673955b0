import itertools

import numpy as np
import pytest

from common.errors import UserError
from darts_search_space import genotypes as G
from darts_search_space.space import (EDGES, NODE_EDGES, NODE_PATHS, NONE, NUM_GENES, OPS, DartsSpace, edge_index,
                                      from_str, is_legal, random_arch, repair, to_str)

SPACE = DartsSpace()


def test_ops_edges_and_paths_follow_the_released_code():
    assert OPS == ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                   "dil_conv_3x3", "dil_conv_5x5")
    assert len(EDGES) == 14
    assert [edge_index(k, j) for k, j in EDGES] == list(range(14))
    assert [edge_index(0, j) for j in (2, 3, 4, 5)] == [0, 2, 5, 9]
    released = [[0, 2, 3, 4, 5], [0, 2, 3, 5], [0, 2, 4, 5], [0, 2, 5], [0, 3, 4, 5], [0, 3, 5], [0, 4, 5], [0, 5],
                [0, 2, 3, 4], [0, 2, 4], [0, 3, 4], [0, 4], [0, 2, 3], [0, 3], [0, 2]]
    released += [[1] + p[1:] for p in released]
    assert len(NODE_PATHS) == 30 and sorted(map(list, NODE_PATHS)) == sorted(released)


def test_every_sample_mutation_and_crossover_is_legal():
    rng = np.random.default_rng(0)
    archs = [SPACE.random(rng) for _ in range(3000)]
    assert all(is_legal(a) for a in archs)
    for a, b in zip(archs[:1500], archs[1500:]):
        assert is_legal(SPACE.mutate(a, 0.1, rng))
        assert is_legal(SPACE.mutate(a, 1.0, rng))
        assert is_legal(SPACE.crossover(a, b, rng))
    for _ in range(2000):  # repair of arbitrary gene lists
        assert is_legal(repair(rng.integers(0, 8, NUM_GENES).tolist(), rng))
    assert SPACE.mutate(archs[0], 0.0, rng) == archs[0]


def test_mutation_reaches_both_cells():
    rng = np.random.default_rng(1)
    parent = random_arch(rng)
    changed = np.zeros(NUM_GENES, bool)
    for _ in range(300):
        changed |= np.array(SPACE.mutate(parent, 0.1, rng)) != np.array(parent)
    assert changed[:14].any() and changed[14:].any()


def test_random_draws_two_distinct_inputs_uniformly_with_uniform_ops():
    rng = np.random.default_rng(2)
    archs = np.array([random_arch(rng) for _ in range(20000)])
    node5 = archs[:, list(NODE_EDGES[3])] != NONE  # node 5 has 5 inputs: 10 pairs
    pairs = {p: 0 for p in itertools.combinations(range(5), 2)}
    for row in node5:
        pairs[tuple(np.flatnonzero(row))] += 1
    counts = np.array(list(pairs.values()))
    assert counts.min() > 0.9 * 2000 and counts.max() < 1.1 * 2000
    ops = np.bincount(archs[archs != NONE], minlength=8)
    assert ops[0] == 0 and ops[1:].min() > 0.95 * ops[1:].mean()


def test_strings_round_trip():
    rng = np.random.default_rng(3)
    for _ in range(500):
        arch = random_arch(rng)
        assert from_str(to_str(arch)) == arch
    assert to_str(G.to_arch(G.RLNAS_CIFAR10)) == "54-605-4007-07600/56-405-0604-01500"  # genes node by node


@pytest.mark.parametrize("text", ["", "54-600-5400-70760", "54-600-5400-70760/56-405-0604-0150",
                                  "54-600-5400-70760/56-405-0604-01508", "546005400707605640506040150 0",
                                  "54_600-5400-70760/56-405-0604-01500"])
def test_bad_strings_are_user_errors(text):
    with pytest.raises(UserError, match="bad DARTS architecture"):
        from_str(text)


# The released cands (docs/reference.md §4.7) and the genotypes they were transcribed to.
CANDS = {
    "RLNAS_CIFAR10": ([5, 4, 6, 0, 5, 4, 0, 0, 7, 0, 7, 6, 0, 0], [5, 6, 4, 0, 5, 0, 6, 0, 4, 0, 1, 5, 0, 0]),
    "RLNAS_IMAGENET_600M": ([4, 4, 0, 3, 4, 0, 4, 4, 0, 3, 0, 0, 0, 4], [4, 1, 4, 3, 0, 4, 6, 0, 0, 3, 4, 0, 0, 0]),
    "RLNAS_IMAGENET": ([4, 4, 0, 4, 4, 4, 5, 0, 0, 4, 4, 0, 0, 0], [4, 4, 5, 0, 4, 5, 0, 5, 0, 0, 0, 4, 0, 4]),
}


@pytest.mark.parametrize("name", sorted(CANDS))
def test_paper_genotypes_are_the_released_cands(name):
    normal, reduce = CANDS[name]
    assert G.to_arch(G.GENOTYPES[name]) == tuple(normal + reduce)
    assert G.resolve(name) == tuple(normal + reduce)


@pytest.mark.parametrize("name", sorted(G.GENOTYPES))
def test_genotype_text_round_trips(name):
    arch = G.to_arch(G.GENOTYPES[name])
    text = G.to_text(G.from_arch(arch))
    assert G.resolve(text) == arch
    assert G.to_text(G.parse_text(text)) == text
    assert G.resolve(to_str(arch)) == arch


def test_pasted_darts_text_with_range_and_any_input_order():
    text = ("Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), "
            "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], "
            "normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('avg_pool_3x3', 0)], reduce_concat=range(2, 6))")
    arch = G.resolve(text)
    assert arch[edge_index(1, 2)] == OPS.index("sep_conv_3x3") and arch[14 + edge_index(2, 5)] == OPS.index("skip_connect")
    darts_v2 = G.to_arch(G.DARTS_V2)
    assert G.to_arch(G.from_arch(darts_v2)) == darts_v2


@pytest.mark.parametrize("text, message", [
    ("Genotype(normal=[], normal_concat=[2, 3, 4, 5], reduce=[], reduce_concat=[2, 3, 4, 5])", "expected 8"),
    ("Genotype(normal=__import__('os').system('true'), normal_concat=[], reduce=[], reduce_concat=[])",
     "only literals"),
    ("Genotype(normal=[('conv_9x9', 0)] * 8, normal_concat=[2, 3, 4, 5], reduce=[], reduce_concat=[2, 3, 4, 5])",
     "only literals"),
    (G.to_text(G.RLNAS_CIFAR10).replace("('sep_conv_3x3', 1)", "('sep_conv_3x3', 0)", 1), "takes input 0 twice"),
    (G.to_text(G.RLNAS_CIFAR10).replace("('sep_conv_3x3', 1)", "('sep_conv_3x3', 2)", 1), "cannot take input 2"),
    (G.to_text(G.RLNAS_CIFAR10).replace("('sep_conv_3x3', 1)", "('conv_7x1_1x7', 1)", 1), "unknown op"),
    (G.to_text(G.RLNAS_CIFAR10).replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5]"), "must be"),
    ("NOT_A_NAME", "unknown genotype"),
])
def test_bad_genotypes_are_user_errors(text, message):
    with pytest.raises(UserError, match=message):
        G.resolve(text)
