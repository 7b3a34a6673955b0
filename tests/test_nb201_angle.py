import numpy as np
import pytest
import torch

from common.angle import Atom, angles_from_counts, atom_statistics, naive_angle
from nas_bench_201.angle import Layout, atoms, counts, naive_pieces
from nas_bench_201.space import benchmark_archs, from_str
from nas_bench_201.supernet import SupernetConfig, build_supernet


def perturbed(state, scale, seed):
    generator = torch.Generator().manual_seed(seed)
    return {k: v + scale * torch.randn(v.shape, generator=generator) if v.is_floating_point() else v
            for k, v in state.items()}


@pytest.fixture(scope="module")
def small_supernet():
    torch.manual_seed(0)
    state0 = build_supernet(SupernetConfig(channels=4, cells_per_stage=1), 10).state_dict()
    return Layout(4, 1), state0, perturbed(state0, 0.5, 1)


def test_fast_angle_equals_naive_concatenation_for_every_architecture(small_supernet):
    layout, state0, state_t = small_supernet
    archs = benchmark_archs()
    fast = angles_from_counts(counts(archs), atom_statistics(atoms(layout), state0, state_t))
    pieces = [(naive_pieces(a, state0, layout), naive_pieces(a, state_t, layout)) for a in archs]
    naive = np.array([naive_angle(p0, pt) for p0, pt in pieces])
    assert np.abs(fast - naive).max() < 1e-9
    assert len(np.unique(np.round(fast, 12))) > 100  # the angle separates architectures
    assert np.array_equal(fast == 0, np.array([not p0 for p0, _ in pieces]))  # 0 exactly when all paths are cut


def test_identical_weights_give_zero_for_every_architecture(small_supernet):
    layout, state0, _ = small_supernet
    angles = angles_from_counts(counts(benchmark_archs()), atom_statistics(atoms(layout), state0, state0))
    assert np.abs(angles).max() < 1e-6


def test_all_paths_cut_gives_zero(small_supernet):
    layout, state0, state_t = small_supernet
    stats = atom_statistics(atoms(layout), state0, state_t)
    cut = [from_str("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"),
           from_str("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|none~2|"),
           (0, 0, 0, 0, 0, 0)]
    assert angles_from_counts(counts(cut), stats).tolist() == [0.0, 0.0, 0.0]
    assert all(naive_pieces(a, state0, layout) == [] for a in cut)
    alive = from_str("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")  # one path, skip only
    assert angles_from_counts(counts([alive]), stats)[0] > 0  # the fixed parts still count


def test_single_convolution_architecture_against_a_direct_arccos(small_supernet):
    layout, state0, state_t = small_supernet
    arch = from_str("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")  # only path 0->3 survives
    names = ["stem.0.weight", "stem.1.weight", "stem.1.bias"]
    names += [f"cells.{c}.{part}" for c in (1, 3) for part in (
        "conv_a.op.1.weight", "conv_a.op.2.weight", "conv_a.op.2.bias", "conv_b.op.1.weight",
        "conv_b.op.2.weight", "conv_b.op.2.bias", "downsample.1.weight")]
    names += [f"cells.{c}.edges.3<-0.3.op.1.weight" for c in (0, 2, 4)]
    names += ["lastact.0.weight", "lastact.0.bias", "classifier.weight", "classifier.bias"]
    v0 = torch.cat([state0[n].flatten() for n in names]).double()
    vt = torch.cat([state_t[n].flatten() for n in names]).double()
    direct = torch.arccos(v0 @ vt / (v0.norm() * vt.norm())).item()
    fast = angles_from_counts(counts([arch]), atom_statistics(atoms(layout), state0, state_t))[0]
    assert fast == pytest.approx(direct, abs=1e-12)


def test_shared_edges_count_once_per_path_and_pooling_is_a_constant():
    # edge 1<-0 lies on paths [0,1,2,3] and [0,1,3]; with everything else skip both paths survive
    arch = from_str("|nor_conv_1x1~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|avg_pool_3x3~2|")
    row = counts([arch])[0]
    names = [atom.name for atom in atoms(Layout(4, 1))]
    assert row[names.index("1<-0:2")] == 2
    assert row[names.index("3<-2:pool")] == 2  # paths [0,2,3] and [0,1,2,3]
    assert row[names.index("fixed")] == 1
    pool = atoms(Layout(16, 5))[names.index("3<-2:pool")]
    assert pool.const_sq == pytest.approx(5 * (16 + 32 + 64) * 9 / 81)


def test_engine_with_constant_atoms_matches_concatenation():
    rng = torch.Generator().manual_seed(3)
    state0 = {"a": torch.randn(5, generator=rng), "b": torch.randn(3, 3, generator=rng)}
    state_t = {"a": torch.randn(5, generator=rng), "b": torch.randn(3, 3, generator=rng)}
    atom_list = [Atom("a", ("a",)), Atom("b", ("b",)), Atom("eye", const_sq=4.0)]
    stats = atom_statistics(atom_list, state0, state_t)
    got = angles_from_counts(np.array([[2, 1, 1], [0, 0, 0]]), stats)
    eye = torch.eye(2).repeat(2, 1)  # squared norm 4
    want = naive_angle([state0["a"], state0["a"], state0["b"], eye], [state_t["a"], state_t["a"], state_t["b"], eye])
    assert got[0] == pytest.approx(want, abs=1e-12)
    assert got[1] == 0.0


def test_scorer_fingerprint_follows_the_weights(small_supernet):
    from common.angle import AngleScorer

    layout, state0, state_t = small_supernet
    first = AngleScorer(atoms(layout), state0, state_t, counts)
    again = AngleScorer(atoms(layout), state0, {k: v.clone() for k, v in state_t.items()}, counts)
    moved = AngleScorer(atoms(layout), state0, perturbed(state_t, 1e-3, 5), counts)
    assert first.fingerprint == again.fingerprint != moved.fingerprint
