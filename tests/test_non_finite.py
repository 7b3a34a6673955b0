"""Nothing non-finite is kept: a NaN or infinite loss stops training with one line naming the epoch
and step, no checkpoint holds non-finite weights, and the angle refuses non-finite weights."""
import dataclasses

import pytest
import torch
from torch import nn

from common.angle import Atom, scorer_from_states
from common.errors import UserError
from common.trainer import Trainer, TrainConfig, checkpoint_path


class Batches:
    """Three batches per epoch; the batch at (``bad_epoch``, ``bad_step``) holds a NaN pixel."""

    def __init__(self, bad_epoch: int, bad_step: int):
        self.bad = (bad_epoch, bad_step)
        self.data = range(12)

    def __len__(self):
        return 3

    def epoch(self, index):
        generator = torch.Generator().manual_seed(index)
        for step in range(3):
            images = torch.randn(4, 3, 2, 2, generator=generator)
            if (index + 1, step + 1) == self.bad:
                images[1, 0, 0, 0] = float("nan")
            yield images, torch.randint(5, (4,), generator=generator)


def trainer(tmp_path, bad_epoch=2, bad_step=2):
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=3, batch_size=4, save_every=1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    return Trainer(model=model, loader=Batches(bad_epoch, bad_step), cfg=cfg, config={"train": dataclasses.asdict(cfg)},
                   space="toy", seed=0, run_dir=tmp_path, device=torch.device("cpu"))


def test_a_nan_loss_stops_training_naming_epoch_and_step_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(UserError, match=r"^epoch 2: the training loss became NaN or infinite at step 2/3; training "
                                        r"stopped, and no checkpoint of epoch 2 was written") as error:
        trainer(tmp_path).fit()
    assert "\n" not in str(error.value)
    assert checkpoint_path(tmp_path, 1).is_file() and not checkpoint_path(tmp_path, 2).exists()
    last = torch.load(checkpoint_path(tmp_path, "last"), weights_only=True)
    assert last["epoch"] == 1 and all(torch.isfinite(t).all() for t in last["model"].values())


def test_the_first_bad_step_is_named_when_later_steps_are_bad_too(tmp_path):
    # a NaN in step 1 makes the weights NaN, so steps 2 and 3 are NaN as well: step 1 is reported
    with pytest.raises(UserError, match=r"^epoch 1: .* at step 1/3;"):
        trainer(tmp_path, bad_epoch=1, bad_step=1).fit()
    assert not checkpoint_path(tmp_path, 1).exists()


def test_non_finite_weights_are_never_written(tmp_path):
    run = trainer(tmp_path, bad_epoch=99)
    with torch.no_grad():
        run.model[1].bias[2] = float("inf")
    with pytest.raises(UserError, match=r"^epoch 1: 1.bias holds NaN or inf; .*no checkpoint of epoch 1 was written"):
        run.save(1)
    assert not (tmp_path / "checkpoints").exists() or not any((tmp_path / "checkpoints").iterdir())


@pytest.mark.parametrize("which", ["initial", "trained"])
def test_the_angle_refuses_non_finite_weights(which):
    state0 = {"w": torch.randn(6), "v": torch.randn(3)}
    state_t = {name: t + 0.1 for name, t in state0.items()}
    (state0 if which == "initial" else state_t)["v"][1] = float("nan")
    atoms = [Atom("w", params=("w",)), Atom("v", params=("v",))]
    with pytest.raises(UserError, match=rf"^run.pt: the {which} weights are not finite \(v holds NaN or inf\)"):
        scorer_from_states(atoms, lambda archs: None, state0, state_t, "run.pt", "toy")
