import numpy as np
import pytest
import torch

from common.errors import UserError
from common.flops import count_params
from mobilenet_search_space.model import build_model
from mobilenet_search_space.space import (CHOICES, IDENTITY, NUM_LAYERS, PAPER_ARCH, SIZE, MobileNetSpace, describe,
                                          from_str, is_legal, layer_specs, to_str)
from mobilenet_search_space.supernet import SupernetConfig, build_supernet

SPACE = MobileNetSpace()


def test_layers_follow_the_released_backbone():
    specs = layer_specs()
    assert [s.c_out for s in specs] == [32] * 4 + [56] * 4 + [112] * 4 + [128] * 4 + [256] * 4 + [432]
    assert [s.index for s in specs if s.stride == 2] == [0, 4, 8, 16]
    assert specs[0].c_in == 24 and all(a.c_out == b.c_in for a, b in zip(specs, specs[1:]))
    first_of_stage = [i for i, s in enumerate(specs) if not s.identity_allowed]
    assert first_of_stage == [0, 4, 8, 12, 16, 20]
    assert all(s.stride == 1 and s.c_in == s.c_out for s in specs if s.identity_allowed)
    assert sum(len(c) == 7 for c in CHOICES) == 15 and sum(len(c) == 6 for c in CHOICES) == 6
    assert SIZE == 7**15 * 6**6


def test_canonical_strings_round_trip_and_parse_printed_lists():
    rng = np.random.default_rng(0)
    for _ in range(200):
        arch = SPACE.random(rng)
        assert from_str(to_str(arch)) == arch
    assert to_str(PAPER_ARCH) == "2 0 -1 2 2 0 2 4 0 4 4 2 4 2 4 2 0 0 0 2 2"
    assert from_str("[2, 0, -1, 2, 2, 0, 2, 4, 0, 4, 4, 2, 4, 2, 4, 2, 0, 0, 0, 2, 2]") == PAPER_ARCH
    assert describe(PAPER_ARCH)[:4] == ["K5 E3", "K3 E3", "Identity", "K5 E3"]


@pytest.mark.parametrize("text, message", [
    ("2 0 -1", "3 layers, expected 21"),
    ("-1 " + "0 " * 20, "layer 0 has -1; identity (-1) is not allowed at the first layer of a stage"),
    ("0 " * 16 + "-1 " + "0 " * 4, "layer 16 has -1"),
    ("0 " * 20 + "6", "layer 20 has 6; codes are -1 (identity) or 0..5"),
    ("0 " * 20 + "k3", "expected 21 integers"),
])
def test_illegal_architectures_are_user_errors_that_say_why(text, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_str(text)
    assert not is_legal(tuple(int(t) for t in text.split()) if "k3" not in text else ())


def test_sampling_mutation_and_crossover_only_propose_legal_architectures():
    rng = np.random.default_rng(1)
    samples = [SPACE.random(rng) for _ in range(3000)]
    assert all(is_legal(a) for a in samples)
    codes = np.array(samples)
    for layer in range(NUM_LAYERS):  # every legal choice is drawn, roughly uniformly
        values, freq = np.unique(codes[:, layer], return_counts=True)
        assert tuple(values) == tuple(sorted(CHOICES[layer]))
        assert freq.min() > 0.7 * len(samples) / len(values)
    parents = samples[:50]
    children = [SPACE.mutate(parents[i % 50], 0.5, rng) for i in range(2000)]
    children += [SPACE.crossover(parents[i % 50], parents[(i * 7 + 3) % 50], rng) for i in range(2000)]
    assert all(is_legal(a) for a in children)
    assert (np.array(children) == IDENTITY).any()
    # mutation with probability 0.1 changes about 0.1 * (1 - 1/choices) of the genes
    changed = np.mean([np.mean(np.array(SPACE.mutate(p, 0.1, rng)) != np.array(p)) for p in samples[:2000]])
    assert 0.06 < changed < 0.11


def test_supernet_runs_any_path_and_identity_passes_through():
    torch.manual_seed(0)
    net = build_supernet(SupernetConfig(width_mult=0.25), 7).eval()
    x = torch.randn(2, 3, 32, 32)
    rng = np.random.default_rng(0)
    for _ in range(3):
        assert net(x, net.sample_path(rng)).shape == (2, 7)
    assert torch.equal(net.layers[1](x[:, :8], IDENTITY), x[:, :8])
    # the released init: conv weights N(0, sqrt(2 / (k*k*C_out)))
    w = net.layers[20].ops[5].conv[0].weight
    assert w.std().item() == pytest.approx((2 / w.shape[0]) ** 0.5, rel=0.1)


def test_standalone_network_of_the_paper_architecture():
    net = build_model(PAPER_ARCH, 1000)
    assert len(net.features) == 20  # one identity layer removed
    assert count_params(net) == 5_255_648  # docs/reference.md §5.7: 5.26M (paper: 5.3M)
    net.eval()
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)
