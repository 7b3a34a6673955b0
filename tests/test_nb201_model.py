import csv

import numpy as np
import pytest
import torch

from nas_bench_201.model import build_model
from nas_bench_201.space import NUM_ARCHS, NUM_EDGES, arch_of, from_str
from nas_bench_201.supernet import SupernetConfig, build_supernet, sample_cell

CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}


def parameter_counts(arch) -> np.ndarray:
    """Parameters of the standalone network of ``arch`` with the 10-, 100- and 120-class heads."""
    model = build_model(arch, num_classes=10)
    counts = []
    for num_classes in CLASSES.values():
        model.classifier = torch.nn.Linear(model.classifier.in_features, num_classes)
        counts.append(sum(p.numel() for p in model.parameters()))
    return np.array(counts)


def test_parameter_count_equals_the_benchmark_for_every_architecture(nb201_table_path):
    """Each op's parameters are its own, so a network's count is the all-`none` network's plus one
    term per edge, measured on networks with a single op: that predicts all 15,625 counts, which must
    equal the benchmark's; built networks of a seeded 300 must equal the prediction."""
    with open(nb201_table_path) as handle:
        table = {int(row["index"]): row for row in csv.DictReader(handle)}
    base = parameter_counts((0,) * NUM_EDGES)
    term = np.zeros((NUM_EDGES, 5, len(CLASSES)), dtype=np.int64)
    for edge in range(NUM_EDGES):
        for op in range(1, 5):
            single = [0] * NUM_EDGES
            single[edge] = op
            term[edge, op] = parameter_counts(tuple(single)) - base
    archs = np.array([arch_of(index) for index in range(NUM_ARCHS)])
    predicted = base + term[np.arange(NUM_EDGES), archs].sum(axis=1)
    for index in np.random.default_rng(0).choice(NUM_ARCHS, 300, replace=False):
        assert np.array_equal(parameter_counts(arch_of(int(index))), predicted[index]), index
    for index in range(NUM_ARCHS):
        for dataset, count in zip(CLASSES, predicted[index]):
            assert abs(count / 1e6 - float(table[index][f"params_{dataset}_M"])) < 1e-6, (index, dataset)


def test_standalone_network_runs_and_skips_none_edges():
    arch = from_str("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|")
    model = build_model(arch, num_classes=7, channels=4, cells_per_stage=1)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 7)
    assert sorted(model.cells[0].edges.keys()) == ["1<-0", "2<-1", "3<-2"]  # no module for none/skip


def test_supernet_runs_only_the_sampled_ops():
    supernet = build_supernet(SupernetConfig(channels=4, cells_per_stage=1), num_classes=5)
    called = []
    for name, module in supernet.named_modules():
        if ".edges." in name and name.count(".") == 4:  # cells.{c}.edges.{edge}.{op}
            module.register_forward_hook(lambda m, i, o, name=name: called.append(name))
    path = np.array([[3, 0, 4, 1, 0, 2], [0, 0, 0, 3, 0, 0], [2, 2, 2, 2, 2, 2]])
    supernet(torch.randn(2, 3, 8, 8), path)
    expected = {"cells.0.edges.1<-0.3", "cells.0.edges.2<-1.4", "cells.0.edges.3<-2.2",
                "cells.2.edges.3<-0.3"} | {f"cells.4.edges.{e}.2" for e in ("1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2")}
    assert set(called) == expected  # no module of a `none` or `skip_connect` edge ran


def test_path_sampling_follows_the_released_per_node_rejection():
    rng = np.random.default_rng(0)
    cells = np.array([sample_cell(rng) for _ in range(24000)])
    assert cells.shape == (24000, NUM_EDGES)
    assert (cells[:, 0] != 0).all()  # node 1 has one input: never `none`
    assert (cells[:, 1:3] != 0).any(axis=1).all() and (cells[:, 3:6] != 0).any(axis=1).all()
    pairs = np.bincount(cells[:, 1] * 5 + cells[:, 2], minlength=25)
    assert pairs[0] == 0 and pairs[1:].min() > 0.8 * pairs[1:].mean()  # uniform over the 24 legal pairs
    supernet = build_supernet(SupernetConfig(channels=4, cells_per_stage=2, sampling="shared"), 10)
    path = supernet.sample_path(rng)
    assert path.shape == (6, NUM_EDGES) and (path == path[0]).all()
    per_cell = build_supernet(SupernetConfig(channels=4, cells_per_stage=2), 10).sample_path(rng)
    assert len({tuple(row) for row in per_cell}) > 1
