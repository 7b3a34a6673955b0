import numpy as np
import pytest
import torch

from common.angle import angles_from_counts, atom_statistics, naive_angle
from common.checkpoint import save_checkpoint
from common.errors import UserError
from common.scoring import angle_scorer
from mobilenet_search_space.angle import NUM_ATOMS, atoms, counts, naive_pieces
from mobilenet_search_space.space import IDENTITY, PAPER_ARCH, SPACE, MobileNetSpace
from mobilenet_search_space.supernet import SupernetConfig, build_supernet

WIDTH = 0.1


def perturbed(state, scale, seed):
    generator = torch.Generator().manual_seed(seed)
    return {k: v + scale * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
            for k, v in state.items()}


@pytest.fixture(scope="module")
def states():
    torch.manual_seed(0)
    state0 = build_supernet(SupernetConfig(width_mult=WIDTH), 10).state_dict()
    return state0, perturbed(state0, 0.3, 1)


def test_fast_angle_equals_naive_concatenation_for_random_architectures(states):
    state0, state_t = states
    rng = np.random.default_rng(0)
    archs = [MobileNetSpace().random(rng) for _ in range(200)]
    fast = angles_from_counts(counts(archs), atom_statistics(atoms(WIDTH), state0, state_t))
    naive = np.array([naive_angle(naive_pieces(a, state0, WIDTH), naive_pieces(a, state_t, WIDTH)) for a in archs])
    assert np.abs(fast - naive).max() < 1e-9
    assert len(np.unique(np.round(fast, 12))) == len(archs)  # the angle separates architectures
    assert (fast > 0).all()


def test_identical_weights_give_zero(states):
    state0, _ = states
    rng = np.random.default_rng(1)
    archs = [MobileNetSpace().random(rng) for _ in range(20)]
    assert np.abs(angles_from_counts(counts(archs), atom_statistics(atoms(WIDTH), state0, state0))).max() < 1e-6


def test_paper_architecture_against_a_direct_arccos(states):
    state0, state_t = states
    names = ["stem.0.weight", "first.conv.0.weight", "first.conv.3.weight", "head.0.weight", "classifier.0.weight"]
    eyes = []
    for layer, code in enumerate(PAPER_ARCH):
        if code == IDENTITY:
            eyes.append(layer)
            continue
        names += [f"layers.{layer}.ops.{code}.conv.{i}.{p}" for i, p in
                  ((0, "weight"), (1, "weight"), (1, "bias"), (3, "weight"), (4, "weight"), (4, "bias"), (6, "weight"))]
    assert eyes == [2]
    eye = torch.eye(3).flatten().double()  # layer 2 keeps round(32 * 0.1) = 3 channels
    v0 = torch.cat([state0[n].flatten().double() for n in names] + [eye])
    vt = torch.cat([state_t[n].flatten().double() for n in names] + [eye])
    direct = torch.arccos(v0 @ vt / (v0.norm() * vt.norm())).item()
    fast = angles_from_counts(counts([PAPER_ARCH]), atom_statistics(atoms(WIDTH), state0, state_t))[0]
    assert fast == pytest.approx(direct, abs=1e-12)


def test_counts_are_one_hot_per_layer_and_identity_is_a_constant():
    row = counts([PAPER_ARCH])[0]
    assert row.shape == (NUM_ATOMS,) and row.sum() == 1 + 21
    names = [a.name for a in atoms()]
    assert row[names.index("2:identity")] == 1 and row[names.index("2:2")] == 0 and row[names.index("0:2")] == 1
    identity = atoms()[names.index("17:identity")]
    assert identity.params == () and identity.const_sq == 256  # eye(256) flattened
    assert not any(n.startswith(("0:identity", "4:identity", "20:identity")) for n in names)
    last_bn = "layers.3.ops.1.conv.7.weight"  # the block's last BN is left out, as released
    assert all(last_bn not in a.params for a in atoms())


def test_scorer_from_checkpoints_and_its_errors(states, tmp_path):
    state0, state_t = states
    config = {"model": {"width_mult": WIDTH}}
    for name, state in (("init", state0), ("trained", state_t)):
        save_checkpoint(tmp_path / f"{name}.pt", {"format": 1, "space": "mobilenet", "config": config, "epoch": 0, "model": state})
    scorer = angle_scorer(SPACE, tmp_path / "init.pt", tmp_path / "trained.pt")
    want = angles_from_counts(counts([PAPER_ARCH]), atom_statistics(atoms(WIDTH), state0, state_t))
    assert scorer([PAPER_ARCH]) == pytest.approx(want, abs=1e-15)
    save_checkpoint(tmp_path / "other.pt", {"format": 1, "space": "mobilenet", "config": {"model": {"width_mult": 0.5}},
                                            "epoch": 0, "model": state_t})
    with pytest.raises(UserError, match="different supernets"):
        angle_scorer(SPACE, tmp_path / "init.pt", tmp_path / "other.pt")
    save_checkpoint(tmp_path / "nb.pt", {"format": 1, "space": "nas_bench_201", "config": config, "epoch": 0, "model": state_t})
    with pytest.raises(UserError, match="expected 'mobilenet'"):
        angle_scorer(SPACE, tmp_path / "init.pt", tmp_path / "nb.pt")
