import numpy as np
import torch

from darts_search_space.model import network_cifar, network_imagenet
from darts_search_space.ops import cell_layout
from darts_search_space.genotypes import resolve
from darts_search_space.space import NUM_EDGES, OPS, random_arch
from darts_search_space.supernet import SupernetConfig, build_supernet


def test_imagenet_layout_is_nnnnrnnnnrnnnn_with_48_96_192():
    layout = cell_layout(48, 14, "imagenet")
    assert "".join("R" if c["reduction"] else "N" for c in layout) == "NNNNRNNNNRNNNN"
    assert [c["c"] for c in layout] == [48] * 4 + [96] * 5 + [192] * 5
    assert [i for i, c in enumerate(layout) if c["reduction_prev"]] == [0, 5, 10]  # FactorizedReduce preprocess0


def test_cifar_layout_reduces_at_2_and_5():
    layout = cell_layout(16, 8, "cifar")
    assert [c["c"] for c in layout] == [16, 16, 32, 32, 32, 64, 64, 64]
    assert [i for i, c in enumerate(layout) if c["reduction"]] == [2, 5]
    assert layout[0]["c_pp"] == layout[0]["c_p"] == 48


def test_supernet_runs_any_sampled_path_and_holds_pool_bns():
    torch.manual_seed(0)
    model = build_supernet(SupernetConfig(channels=4, layers=5), 10)
    rng = np.random.default_rng(0)
    x = torch.randn(2, 3, 16, 16)
    for _ in range(3):
        assert model(x, model.sample_path(rng)).shape == (2, 10)
    edge = model.cells[0].edges[0]
    assert set(edge.keys()) == set(OPS[1:])
    assert isinstance(edge["max_pool_3x3"][1], torch.nn.BatchNorm2d) and edge["max_pool_3x3"][1].affine


def test_imagenet_supernet_shapes():
    torch.manual_seed(0)
    model = build_supernet(SupernetConfig(stem="imagenet", channels=4, layers=5, init="imagenet"), 7)
    assert model(torch.randn(2, 3, 64, 64), random_arch(np.random.default_rng(1))).shape == (2, 7)
    assert float(model.classifier.weight.detach().std()) < 0.05 and float(model.classifier.bias.detach().abs().sum()) == 0


def test_networks_hold_only_their_ops_and_return_aux_logits_in_training():
    arch = resolve("RLNAS_CIFAR10")
    model = network_cifar(arch, 10, channels=8, layers=8, auxiliary=True)
    normal_ops = {name for e in range(NUM_EDGES) for name in model.cells[0].edges[e].keys()}
    assert normal_ops == {"sep_conv_5x5", "sep_conv_3x3", "dil_conv_3x3", "dil_conv_5x5"}
    assert sum(len(model.cells[0].edges[e]) for e in range(NUM_EDGES)) == 8
    model.drop_path_prob = 0.2
    logits, aux = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 10)
    model.eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    big = network_imagenet(resolve("RLNAS_IMAGENET_600M"), 5, channels=8, auxiliary=True)
    logits, aux = big(torch.randn(1, 3, 224, 224))
    assert logits.shape == aux.shape == (1, 5)
