"""``model.dead_ends``: ops whose output only flows into ``none`` edges, skipped or trained as released."""
import numpy as np
import torch

from common.training import TrainConfig, build_optimizer, train_step
from nas_bench_201.space import EDGES, NONE, SKIP, CONV_1X1, CONV_3X3
from nas_bench_201.supernet import SupernetConfig, build_supernet


def one_step(dead_ends: str, path):
    torch.manual_seed(0)
    model = build_supernet(SupernetConfig(channels=4, cells_per_stage=1, dead_ends=dead_ends), 10).double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    optimizer = build_optimizer(model, cfg)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(8, 3, 16, 16, generator=generator, dtype=torch.float64)
    y = torch.randint(10, (8,), generator=generator)
    model.train()
    loss, logits = train_step(model, optimizer, x, y, path, cfg)
    return before, model.state_dict(), float(loss), logits, cfg


def test_dead_end_op_moves_by_weight_decay_and_momentum_only_when_trained():
    # node 1 = conv3x3(node 0), but both edges leaving node 1 are `none`: a dead end
    ops = [NONE] * 6
    ops[EDGES.index((1, 0))] = CONV_3X3
    ops[EDGES.index((3, 0))] = SKIP
    ops[EDGES.index((2, 0))] = CONV_1X1
    ops[EDGES.index((3, 2))] = SKIP
    path = np.array([ops] * 3)
    before, skip, loss_skip, logits_skip, cfg = one_step("skip", path)
    _, train, loss_train, logits_train, _ = one_step("train", path)
    assert loss_skip == loss_train and torch.equal(logits_skip, logits_train)  # the same function
    dead = [k for k in before if ".edges.1<-0.3.op.1.weight" in k]
    assert len(dead) == 3
    for name in dead:
        w = before[name]
        assert torch.equal(skip[name], w)  # skipped: never touched
        # trained as released: a zero gradient, so the first nesterov SGD step is
        # w - lr * (1 + momentum) * weight_decay * w (momentum buffer = weight_decay * w)
        expected = w - cfg.lr * (1 + cfg.momentum) * cfg.weight_decay * w
        assert torch.allclose(train[name], expected, rtol=0, atol=1e-15) and not torch.equal(train[name], w)
    # its BN statistics: skipped, the op never runs; trained as released, they follow its batches
    statistics = [k for k in before if ".edges.1<-0.3.op.2." in k]
    assert len(statistics) == 9
    for name in statistics:
        assert torch.equal(skip[name], before[name]) and not torch.equal(train[name], before[name]), name
    for name in before:  # every other parameter and statistic takes the same step in both modes
        if name not in dead + statistics:
            assert torch.allclose(skip[name], train[name], rtol=0, atol=1e-13), name
