import numpy as np
import pytest
import torch

from common.angle import angles_from_counts, atom_statistics, naive_angle
from darts_search_space.angle import Layout, atoms, counts, naive_pieces
from darts_search_space.genotypes import resolve
from darts_search_space.space import edge_index, random_arch
from darts_search_space.supernet import SupernetConfig, build_supernet


def perturbed(state, scale, seed):
    generator = torch.Generator().manual_seed(seed)
    return {k: v + scale * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
            for k, v in state.items()}


@pytest.fixture(scope="module", params=["cifar", "imagenet"])
def supernet(request):
    cfg = SupernetConfig(stem=request.param, channels=4, layers=5, init="imagenet" if request.param == "imagenet" else "default")
    torch.manual_seed(0)
    model = build_supernet(cfg, 10)
    state0 = model.state_dict()
    return cfg, model, state0, perturbed(state0, 0.3, 1)


def test_fast_angle_equals_naive_concatenation_for_200_architectures(supernet):
    cfg, _, state0, state_t = supernet
    rng = np.random.default_rng(0)
    archs = [random_arch(rng) for _ in range(200)]
    for mode in ("paper", "released"):
        layout = Layout(cfg, mode)
        fast = angles_from_counts(counts(archs), atom_statistics(atoms(layout), state0, state_t))
        naive = np.array([naive_angle(naive_pieces(a, state0, layout), naive_pieces(a, state_t, layout)) for a in archs])
        assert np.abs(fast - naive).max() < 1e-9
        assert len(np.unique(np.round(fast, 12))) == len(archs)


def test_atoms_cover_every_supernet_parameter_exactly_once(supernet):
    cfg, model, _, _ = supernet
    names = [name for atom in atoms(Layout(cfg, classifier_bias="with")) for name in atom.params]
    assert sorted(names) == sorted(name for name, _ in model.named_parameters())
    released = [name for atom in atoms(Layout(cfg)) for name in atom.params]
    assert ("classifier.bias" in released) == (cfg.stem == "imagenet")  # as the released CIFAR / ImageNet angles


def test_released_classifier_rule_equals_a_float64_concatenation_without_the_bias(supernet):
    """The released CIFAR angle: V ends with classifier.weight only. Checked against a literal float64
    concatenation of the path pieces and the fixed parts with the bias removed by hand."""
    cfg, _, state0, state_t = supernet
    rng = np.random.default_rng(3)
    archs = [random_arch(rng) for _ in range(30)]
    full = Layout(cfg, classifier_bias="with")

    def concatenated(arch, state):
        pieces = naive_pieces(arch, state, full)
        assert pieces[-1] is state["classifier.bias"]  # the fixed parts close with the classifier
        return torch.cat([p.reshape(-1).to(torch.float64) for p in pieces[:-1]])

    expected = []
    for arch in archs:
        a, b = concatenated(arch, state0), concatenated(arch, state_t)
        expected.append(float(torch.arccos(torch.clamp(a @ b / (a.norm() * b.norm()), -1, 1))))
    without = angles_from_counts(counts(archs), atom_statistics(atoms(Layout(cfg, classifier_bias="without")), state0, state_t))
    assert np.abs(without - np.array(expected)).max() < 1e-12
    released = angles_from_counts(counts(archs), atom_statistics(atoms(Layout(cfg)), state0, state_t))
    with_bias = angles_from_counts(counts(archs), atom_statistics(atoms(full), state0, state_t))
    assert np.array_equal(released, without if cfg.stem == "cifar" else with_bias)
    assert np.abs(with_bias - without).max() > 1e-9  # the choice changes the angles


def test_released_dil_conv_bn_takes_the_weight_twice_and_no_bias(supernet):
    cfg, _, _, _ = supernet
    by_name = {a.name: a for a in atoms(Layout(cfg, "released"))}
    params = by_name["normal:0:dil_conv_3x3"].params
    assert sum(p.endswith("op.3.weight") for p in params) == 2 * sum(p.endswith("op.1.weight") for p in params)
    assert not any(p.endswith("bias") for p in params)


def test_multiplicities_count_paths_and_constants():
    arch = resolve("RLNAS_IMAGENET_600M")
    names = [a.name for a in atoms(Layout(SupernetConfig()))]
    row = counts([arch])[0]
    # normal cell: node 2 <- 0, 1; node 3 <- 1, 2; node 4 <- 1, 2; node 5 <- 0, 4 (the other edges are none)
    assert row[names.index("normal:0:sep_conv_3x3")] == 4  # 0-2, 0-2-3, 0-2-4, 0-2-4-5
    assert row[names.index(f"normal:{edge_index(0, 5)}:skip_connect")] == 1  # 0-5
    assert row[names.index(f"normal:{edge_index(4, 5)}:sep_conv_3x3")] == 3  # 0-2-4-5, 1-2-4-5, 1-4-5
    assert row[names.index(f"normal:{edge_index(0, 3)}:skip_connect")] == 0  # a none edge
    assert row[names.index("fixed")] == 1
    assert row.sum() > 1 and (row[1:][row[1:] > 0]).min() >= 1
    layout = Layout(SupernetConfig(channels=16, layers=8))
    identity = atoms(layout)[names.index(f"normal:{edge_index(2, 3)}:skip_connect")]
    assert identity.params == () and identity.const_sq == 16 * 2 + 32 * 2 + 64 * 2  # eye(C) per normal cell
    pool = atoms(layout)[names.index(f"reduce:{edge_index(0, 2)}:max_pool_3x3")]
    assert pool.const_sq == pytest.approx((32 + 64) * 9 / 81) and len(pool.params) == 4  # 2 cells x BN
    skip_reduce = atoms(layout)[names.index(f"reduce:{edge_index(1, 2)}:skip_connect")]
    assert skip_reduce.const_sq == 0 and any("conv_1" in p for p in skip_reduce.params)


def test_identical_weights_give_zero(supernet):
    cfg, _, state0, _ = supernet
    rng = np.random.default_rng(1)
    archs = [random_arch(rng) for _ in range(50)]
    assert np.abs(angles_from_counts(counts(archs), atom_statistics(atoms(Layout(cfg)), state0, state0))).max() < 1e-6


def test_scorer_refuses_foreign_or_mismatched_checkpoints(tmp_path):
    from common.checkpoint import save_checkpoint
    from common.errors import UserError
    from common.scoring import angle_scorer
    from darts_search_space.space import SPACE

    model = {"model": {"stem": "cifar", "channels": 4, "layers": 3, "init": "default"}}
    state = build_supernet(SupernetConfig(channels=4, layers=3), 10).state_dict()
    save_checkpoint(tmp_path / "a.pt", {"format": 1, "space": "darts", "config": model, "epoch": 0, "model": state})
    other = {"model": {**model["model"], "channels": 6}}
    save_checkpoint(tmp_path / "b.pt", {"format": 1, "space": "darts", "config": other, "epoch": 1, "model": state})
    save_checkpoint(tmp_path / "c.pt", {"format": 1, "space": "nas_bench_201", "config": model, "epoch": 1, "model": state})
    with pytest.raises(UserError, match="different supernets"):
        angle_scorer(SPACE, tmp_path / "a.pt", tmp_path / "b.pt")
    with pytest.raises(UserError, match="search space 'nas_bench_201'"):
        angle_scorer(SPACE, tmp_path / "a.pt", tmp_path / "c.pt")
    with pytest.raises(UserError, match="hold the same weights, so every angle would be 0"):
        angle_scorer(SPACE, tmp_path / "a.pt", tmp_path / "a.pt")
