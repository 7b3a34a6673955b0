import csv

import numpy as np
import pytest

from common.errors import UserError
from nas_bench_201.space import (NUM_ARCHS, OPS, NASBench201Space, arch_of, benchmark_archs, from_str, index_of,
                                 to_str)

SPACE = NASBench201Space()


def test_enumeration_has_every_architecture_once():
    archs = benchmark_archs()
    assert archs.shape == (15625, 6) == (NUM_ARCHS, 6)
    assert len({tuple(a) for a in archs}) == 15625
    assert archs.min() == 0 and archs.max() == 4


def test_strings_round_trip_and_match_the_benchmark_format():
    example = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
    assert from_str(example) == (3, 3, 2, 1, 0, 4)
    assert to_str((3, 3, 2, 1, 0, 4)) == example
    for index in range(NUM_ARCHS):
        arch = arch_of(index)
        assert from_str(to_str(arch)) == arch
        assert index_of(arch) == index


def test_index_mapping_equals_the_benchmark_table(nb201_table_path):
    with open(nb201_table_path) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == NUM_ARCHS
    for row in rows:
        assert to_str(arch_of(int(row["index"]))) == row["arch_str"]


@pytest.mark.parametrize("text", [
    "", "|nor_conv_3x3~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "|none~0|+|none~0|+|none~0|none~1|none~2|",
    "none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|extra",
])
def test_bad_strings_are_user_errors(text):
    with pytest.raises(UserError, match="bad NAS-Bench-201 architecture"):
        from_str(text)


def test_mutation_crossover_and_random_stay_in_the_space():
    rng = np.random.default_rng(0)
    parent_a, parent_b = (0, 0, 0, 0, 0, 0), (1, 2, 3, 4, 1, 2)
    for _ in range(500):
        child = SPACE.crossover(parent_a, parent_b, rng)
        assert all(c in (a, b) for a, b, c in zip(parent_a, parent_b, child))
        mutant = SPACE.mutate(parent_a, 1.0, rng)
        assert 0 not in mutant  # as released: mutation never introduces `none`
        assert SPACE.is_legal(SPACE.random(rng))
    assert SPACE.mutate(parent_b, 0.0, rng) == parent_b
    counts = np.bincount([op for _ in range(2000) for op in SPACE.random(rng)], minlength=len(OPS))
    assert counts.min() > 0.8 * counts.mean()  # random includes `none`, uniformly


def test_space_builds_its_supernet_and_standalone_networks():
    import torch

    from nas_bench_201.config import NB201Config, NetworkConfig
    from nas_bench_201.supernet import SupernetConfig

    supernet = SPACE.build_supernet(NB201Config(model=SupernetConfig(channels=4, cells_per_stage=1)), num_classes=3)
    arch = SPACE.random(np.random.default_rng(0))
    assert supernet(torch.randn(2, 3, 8, 8), arch).shape == (2, 3)
    model = SPACE.build_model(arch, NetworkConfig(channels=4, cells_per_stage=1), num_classes=3)
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 3)
