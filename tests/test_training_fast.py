"""The optimised training step computes what the plain step computes; mixed precision keeps float32 weights."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from common.checkpoint import load_checkpoint, save_checkpoint
from common.config import load_config
from common.device_ops import avg_pool_3x3_for, batchnorm_class_for, to_channels_last
from common.bn import SoundBatchNorm2d
from common.pooling import avg_pool_3x3_depthwise, avg_pool_3x3_reference
from common.seeding import numpy_rng
from common.training import TrainConfig, build_optimizer, train_step, train_supernet
from nas_bench_201.config import NB201Config
from nas_bench_201.space import AVG_POOL, CONV_1X1, CONV_3X3
from nas_bench_201.supernet import Supernet, SupernetConfig, build_supernet

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
TINY = ["device=cpu", "data.dataset=synthetic", "data.synthetic.num_images=64", "data.synthetic.image_size=16",
        "data.synthetic.num_test_images=0", "model.channels=4", "model.cells_per_stage=1", "train.epochs=2",
        "train.batch_size=32"]


def batches(count, batch, size, dtype, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch, 3, size, size, generator=generator, dtype=dtype),
             torch.randint(10, (batch,), generator=generator)) for _ in range(count)]


def run(optimised: bool, data, dtype, channels_last=False, channels=8, cells=2, steps=20):
    """Losses and paths of ``steps`` SGD steps: the plain loop, or ``train_step`` on the optimised forward."""
    torch.manual_seed(0)
    model = Supernet(SupernetConfig(channels=channels, cells_per_stage=cells), 10).to(dtype).train()
    model.optimised = optimised
    cfg = TrainConfig(lr=0.05, channels_last=channels_last)
    if channels_last:
        model = to_channels_last(model)  # as SupernetTrainer does
    optimizer = build_optimizer(model, cfg, foreach=optimised)  # plain: the per-parameter SGD loop
    rng = numpy_rng(0, "paths", 0)
    losses, paths = [], []
    for images, labels in data[:steps]:
        path = model.sample_path(rng)
        paths.append(path)
        if optimised:
            loss, _ = train_step(model, optimizer, images, labels, path, cfg)
        else:
            loss = F.cross_entropy(model(images, path), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        losses.append(float(loss.detach()))
    return np.array(losses), paths, model


@pytest.mark.parametrize("channels_last", [False, True])
def test_optimised_step_gives_the_plain_losses_and_paths_over_20_steps(channels_last):
    # float64: in float32 the two differ by rounding (1e-7), which SGD on random labels amplifies
    # chaotically (a 1e-7 nudge of one weight grows to 1e-3 in 20 steps), hiding what is compared
    data = batches(20, 16, 16, torch.float64)
    plain_losses, plain_paths, plain = run(False, data, torch.float64)
    fast_losses, fast_paths, fast = run(True, data, torch.float64, channels_last)
    assert all(np.array_equal(a, b) for a, b in zip(plain_paths, fast_paths))
    codes = np.concatenate(plain_paths)
    assert (codes == AVG_POOL).any() and ((codes == CONV_1X1) | (codes == CONV_3X3)).sum() > 20  # both fast paths ran
    np.testing.assert_allclose(fast_losses, plain_losses, rtol=0, atol=1e-5)
    assert np.abs(fast_losses - plain_losses).max() < 1e-10  # in fact equal to float64 rounding
    for (name, a), b in zip(plain.named_parameters(), fast.parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-10), name
    assert fast.stem[0].weight.is_contiguous(memory_format=torch.channels_last) == channels_last


def test_optimised_forward_in_float32_gives_the_plain_gradients():
    data = batches(1, 32, 32, torch.float32)
    torch.manual_seed(0)
    plain = Supernet(SupernetConfig(channels=16, cells_per_stage=2), 10).train()
    plain.optimised = False
    fast = Supernet(SupernetConfig(channels=16, cells_per_stage=2), 10).train()
    fast.load_state_dict(plain.state_dict())
    path = np.array([[3, 2, 4, 2, 3, 1]] * 6)  # a node feeding two convolutions, pooling, a skip
    images, labels = data[0]
    for model in (plain, fast):
        F.cross_entropy(model(images, path), labels).backward()
    for (name, a), b in zip(plain.named_parameters(), fast.parameters()):
        if a.grad is not None:
            assert torch.allclose(a.grad, b.grad, rtol=0, atol=1e-5 * a.grad.abs().max()), name


def test_each_device_gets_its_ops_and_no_cuda_model_computes_a_cpu_op():
    """The one choice (common.device_ops), checked for both devices without a GPU."""
    assert avg_pool_3x3_for("cpu") is avg_pool_3x3_depthwise
    assert avg_pool_3x3_for(torch.device("cuda")) is avg_pool_3x3_for("cuda:1") is avg_pool_3x3_reference
    assert batchnorm_class_for("cpu") is SoundBatchNorm2d and batchnorm_class_for("cuda") is nn.BatchNorm2d
    model = Supernet(SupernetConfig(channels=2, cells_per_stage=1), 10)
    norms = lambda m: {type(n) for n in m.modules() if isinstance(n, nn.BatchNorm2d)}  # noqa: E731
    assert norms(to_channels_last(model, "cpu")) == {SoundBatchNorm2d}
    assert norms(to_channels_last(model, "cuda")) == {nn.BatchNorm2d}  # also undoes a CPU swap (a moved model)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["NCHW", "NHWC"])
@pytest.mark.parametrize("shape", [(2, 3, 1, 1), (2, 3, 1, 6), (3, 4, 2, 7), (2, 5, 9, 8)])
def test_pooling_equals_avg_pool2d_forward_and_backward(shape, layout):
    avg_pool_3x3 = avg_pool_3x3_depthwise
    x = torch.randn(shape, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_()
    reference = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    grad = torch.randn(shape, dtype=torch.float64)
    ours, theirs = avg_pool_3x3(x), reference(x)
    assert torch.allclose(ours, theirs, atol=1e-12)
    assert torch.allclose(torch.autograd.grad(ours, x, grad)[0], torch.autograd.grad(theirs, x, grad)[0], atol=1e-12)
    assert torch.autograd.gradcheck(avg_pool_3x3, (x,))
    # float32 (NHWC: the training layout): same values to float rounding, in the input's layout
    single = x.detach().float().contiguous(memory_format=layout)
    out = avg_pool_3x3(single)
    assert out.is_contiguous(memory_format=layout)
    assert torch.allclose(out.double(), theirs.detach(), atol=1e-5)


def tiny_config(extra=()):
    return load_config(ROOT / "configs/nas_bench_201/quickstart.yaml", NB201Config, TINY + list(extra))


def train(cfg, run_dir, stop=None):
    return train_supernet(cfg, "nas_bench_201", lambda n: build_supernet(cfg.model, n), run_dir, stop)


def test_bf16_autocast_trains_float32_weights_close_to_float32_training(tmp_path):
    train(tiny_config(["train.epochs=1"]), tmp_path / "fp32")
    train(tiny_config(["train.epochs=1", "train.amp=bf16"]), tmp_path / "bf16")
    fp32 = load_checkpoint(tmp_path / "fp32/checkpoints/last.pt", "nas_bench_201")["model"]
    bf16 = load_checkpoint(tmp_path / "bf16/checkpoints/last.pt", "nas_bench_201")["model"]
    initial = load_checkpoint(tmp_path / "bf16/checkpoints/epoch_0000.pt", "nas_bench_201")["model"]
    for key, value in bf16.items():
        assert value.dtype == fp32[key].dtype, key  # master weights and BN statistics stay float32
        if value.is_floating_point():
            assert torch.isfinite(value).all(), key
    weights = [k for k in bf16 if k.endswith("weight")]
    step32 = torch.cat([(fp32[k] - initial[k]).flatten() for k in weights])
    step16 = torch.cat([(bf16[k] - initial[k]).flatten() for k in weights])
    assert step16.norm() > 0.5 * step32.norm()  # bf16 trained: the weights moved as far
    # and in the same direction, to bf16's precision (3 significant digits in the forward pass)
    assert F.cosine_similarity(step16, step32, dim=0) > 0.95


def test_fp16_with_grad_scaler_resumes_exactly(tmp_path):
    cfg = tiny_config(["train.amp=fp16"])
    train(cfg, tmp_path / "full")
    train(cfg, tmp_path / "split", stop=1)
    assert "scaler" in load_checkpoint(tmp_path / "split/checkpoints/last.pt", "nas_bench_201")
    train(cfg, tmp_path / "split")
    full = load_checkpoint(tmp_path / "full/checkpoints/last.pt", "nas_bench_201")
    split = load_checkpoint(tmp_path / "split/checkpoints/last.pt", "nas_bench_201")
    assert full["scaler"] == split["scaler"]
    for key, value in full["model"].items():
        assert value.dtype != torch.float16 and torch.equal(value, split["model"][key]), key


def test_a_checkpoint_written_before_the_speed_options_existed_still_resumes(tmp_path):
    cfg = tiny_config()
    train(cfg, tmp_path / "run", stop=1)
    last = tmp_path / "run/checkpoints/last.pt"
    payload = load_checkpoint(last, "nas_bench_201")
    for key in ("amp", "channels_last"):
        del payload["config"]["train"][key]
    del payload["config"]["data"]["imagenet"], payload["config"]["data"]["valid_size"]
    save_checkpoint(last, payload)
    assert train(cfg, tmp_path / "run") == 2
