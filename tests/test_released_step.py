"""The benchmark's re-implementation of the released NB201 supernet step computes what ours computes.

Ours skips ``none`` edges, shares a node's ReLU and pools as a depthwise convolution, and ``train_step`` zeroes
gradients with ``set_to_none=True``: in float64 the losses and weights must agree to rounding. The
released ``zero_grad()`` (PyTorch 1.x) zeroes gradients in place instead, so a weight used by an
earlier step keeps a zero gradient and SGD keeps applying momentum and weight decay to it while it
is off the path; from the second step on the two differ in exactly those weights (docs/decisions.md).
``train.zero_grad: zero`` with ``model.dead_ends: train`` is the released step, at every step.
"""
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from common.training import TrainConfig, build_optimizer, train_step
from nas_bench_201.supernet import Supernet, SupernetConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
from _released_step import ReleasedSupernet, released_optimizer, released_step  # noqa: E402


def pair(channels=4, cells=2, classes=10, dead_ends="skip"):
    torch.manual_seed(0)
    ours = Supernet(SupernetConfig(channels=channels, cells_per_stage=cells, dead_ends=dead_ends), classes).double().train()
    released = ReleasedSupernet(channels, cells, classes).double().train()
    missing, unexpected = released.load_state_dict(ours.state_dict(), strict=False)
    assert missing == ["arch_parameters"] and not unexpected  # the same weights under the same names
    return ours, released


def data(steps, batch=8, size=8):
    generator = torch.Generator().manual_seed(3)
    return [(torch.randn(batch, 3, size, size, generator=generator, dtype=torch.float64),
             torch.randint(10, (batch,), generator=generator)) for _ in range(steps)]


def test_released_sampler_draws_every_op_and_never_an_all_none_node():
    released = ReleasedSupernet(2, 1)
    rng = random.Random(0)
    rows = np.array([row for _ in range(300) for row in released.draw_path(rng)])
    assert set(rows.ravel()) == {0, 1, 2, 3, 4}
    assert (rows[:, 0] != 0).all() and (rows[:, 1:3] != 0).any(1).all() and (rows[:, 3:6] != 0).any(1).all()


def dead_end(row) -> bool:
    """A node whose output reaches no later node: its incoming ops run in the released forward (their
    result is multiplied by 0) but not in ours, which skips ``none`` edges."""
    node2_dead = row[5] == 0
    return node2_dead or (row[4] == 0 and (row[2] == 0 or node2_dead))


def paths_without_dead_ends(released, rng, count):
    paths = []
    while len(paths) < count:
        path = released.draw_path(rng)
        if not any(dead_end(row) for row in path):
            paths.append(path)
    return paths


def test_same_weights_same_path_same_loss_and_steps_in_float64():
    ours, released = pair()
    plain, _ = pair()
    plain.optimised = False
    paths = paths_without_dead_ends(released, random.Random(1), 5)
    ours_opt = build_optimizer(ours, TrainConfig())
    plain_opt = build_optimizer(plain, TrainConfig(), foreach=False)
    released_opt = released_optimizer(released)
    diverged = []
    for step, (images, labels) in enumerate(data(5)):
        path = paths[step]
        theirs = released_step(released, released_opt, images, labels, path)
        # our plain forward with the released zero_grad: equal to the released step at every step
        plain_opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(plain(images, np.array(path)), labels)
        loss.backward()
        plain_opt.step()
        assert abs(float(loss.detach()) - float(theirs)) < 1e-12, step
        for (name, p), q in zip(plain.named_parameters(), released.get_weights()):
            assert torch.allclose(p, q, rtol=0, atol=1e-12), (step, name, float((p - q).abs().max()))
        # our training step: the same loss while the weights agree, then only off-path weights differ
        mine, _ = train_step(ours, ours_opt, images, labels, np.array(path), TrainConfig())
        if step <= 1:
            assert abs(float(mine) - float(theirs)) < 1e-12, step
        diverged.append(max(float((p - q).detach().abs().max()) for p, q in zip(ours.parameters(), released.get_weights())))
    assert diverged[0] < 1e-12 and max(diverged[1:]) > 1e-6


def test_a_dead_end_trains_in_the_released_step_only():
    ours, released = pair(cells=1)
    path = [[1, 0, 3, 2, 0, 0]] * 3  # node 2 = conv3x3(node 1) feeds only a `none` edge
    images, labels = data(1)[0]
    theirs = released_step(released, released_optimizer(released), images, labels, path)
    mine, _ = train_step(ours, build_optimizer(ours, TrainConfig()), images, labels, np.array(path), TrainConfig())
    assert abs(float(mine) - float(theirs)) < 1e-12  # the same function
    name = "cells.0.edges.2<-1.3.op.1.weight"
    before = dict(pair(cells=1)[0].named_parameters())[name]
    assert torch.equal(dict(ours.named_parameters())[name], before)  # ours: no gradient, no update
    moved = dict(released.named_parameters())[name]  # released: zero gradient, weight decay applied
    assert torch.allclose(moved, before * (1 - 0.025 * 5e-4 * 1.9), rtol=1e-12)  # Nesterov: lr * wd * (1 + 0.9)


@pytest.mark.parametrize("optimised", [True, False])
def test_zero_grad_zero_with_trained_dead_ends_is_the_released_step(optimised):
    """Six float64 steps on the released sampler's paths (dead ends included): losses, weights, momentum
    buffers and BN running statistics equal the released step's at every step; ``drop`` departs."""
    steps = 6
    ours, released = pair(dead_ends="train")
    dropping, _ = pair(dead_ends="train")
    ours.optimised = dropping.optimised = optimised
    rng = random.Random(5)
    paths = [released.draw_path(rng) for _ in range(steps)]
    assert any(dead_end(row) for path in paths for row in path)  # the case the option is for
    zero_cfg, drop_cfg = TrainConfig(zero_grad="zero"), TrainConfig(zero_grad="drop")
    ours_opt, drop_opt, released_opt = build_optimizer(ours, zero_cfg), build_optimizer(dropping, drop_cfg), released_optimizer(released)
    released_params = dict(released.named_parameters())
    gaps = []
    for step, ((images, labels), path) in enumerate(zip(data(steps), paths)):
        theirs = released_step(released, released_opt, images, labels, path)
        mine, _ = train_step(ours, ours_opt, images, labels, np.array(path), zero_cfg)
        train_step(dropping, drop_opt, images, labels, np.array(path), drop_cfg)
        assert abs(float(mine) - float(theirs)) < 1e-12, step
        for name, p in ours.named_parameters():
            q = released_params[name]
            assert torch.allclose(p, q, rtol=0, atol=1e-12), (step, name)
            mine_buf, their_buf = ours_opt.state[p].get("momentum_buffer"), released_opt.state[q].get("momentum_buffer")
            if their_buf is None:  # never on a path: no gradient yet, so no buffer (ours: zeros)
                assert mine_buf is None or not mine_buf.any(), (step, name)
            else:
                assert torch.allclose(mine_buf, their_buf, rtol=0, atol=1e-12), (step, name)
        released_buffers = dict(released.named_buffers())
        for name, b in ours.named_buffers():
            assert torch.allclose(b.double(), released_buffers[name].double(), rtol=0, atol=1e-12), (step, name)
        gaps.append(max(float((p - q).detach().abs().max()) for p, q in zip(dropping.parameters(), released.get_weights())))
    assert gaps[0] < 1e-12 and max(gaps[1:]) > 1e-6  # dropped gradients: off-path weights stay put
