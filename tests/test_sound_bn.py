"""SoundBatchNorm2d: nn.BatchNorm2d's results, with batch statistics of NHWC tensors on the CPU as
accurate as PyTorch's NCHW kernel (its channels-last kernel accumulates them naively)."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from common.bn import SoundBatchNorm2d, channel_sums, recalibrate_bn
from common.device_ops import to_channels_last
from nas_bench_201.supernet import Supernet, SupernetConfig

NHWC = torch.channels_last


def pair(affine, momentum=0.1, dtype=torch.float64):
    torch.manual_seed(0)
    reference = nn.BatchNorm2d(6, affine=affine, momentum=momentum).to(dtype)
    if affine:
        with torch.no_grad():
            reference.weight.uniform_(0.5, 1.5)
            reference.bias.uniform_(-1, 1)
    sound = SoundBatchNorm2d(6, affine=affine, momentum=momentum).to(dtype)
    sound.load_state_dict(reference.state_dict())
    return reference, sound


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_same_outputs_gradients_and_running_statistics_in_float64(affine, momentum):
    reference, sound = pair(affine, momentum)
    for step in range(3):
        x = torch.randn(5, 6, 7, 4, dtype=torch.float64) * 3 + step
        grad = torch.randn_like(x)
        a, b = x.clone().requires_grad_(), x.contiguous(memory_format=NHWC).requires_grad_()
        out_a, out_b = reference(a), sound(b)
        assert out_b.is_contiguous(memory_format=NHWC)
        grads_a = torch.autograd.grad(out_a, [a, *reference.parameters()], grad)
        grads_b = torch.autograd.grad(out_b, [b, *sound.parameters()], grad)
        assert torch.allclose(out_a, out_b, rtol=0, atol=1e-12)
        for u, v in zip(grads_a, grads_b):
            assert torch.allclose(u, v, rtol=0, atol=1e-12)
    for key, value in reference.state_dict().items():
        assert torch.allclose(value.to(torch.float64), sound.state_dict()[key].to(torch.float64), rtol=0, atol=1e-12), key
    x = torch.randn(5, 6, 7, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t, *p: sound(t), [x.contiguous(memory_format=NHWC), *sound.parameters()])


@pytest.mark.parametrize("rows", [1, 7, 12, 96, 128 * 3, 65536])
def test_channel_sums_are_the_column_sums(rows):
    torch.manual_seed(rows)
    x = torch.randn(rows, 5, dtype=torch.float64) + 3
    assert torch.allclose(channel_sums(x), x.sum(0), rtol=1e-13, atol=0)
    exact = x.sum(0)
    assert float(((channel_sums(x.float()).double() - exact).abs() / exact.abs()).max()) < 1e-6  # no naive float32 sum


def relative_error(value, exact):
    return float((value.detach().double() - exact.detach()).abs().max() / exact.detach().abs().max())


def test_float32_statistics_as_accurate_as_the_nchw_kernel():
    torch.manual_seed(0)  # the NB201 supernet's first stage: batch 64, C=16, 32x32 (PyTorch's NHWC error grows with N*H*W)
    x64 = torch.randn(64, 16, 32, 32, dtype=torch.float64) * 2 + 0.5
    grad64 = torch.randn_like(x64)
    errors = {}
    for name, module, layout in (("nchw", nn.BatchNorm2d(16), torch.contiguous_format),
                                 ("nhwc pytorch", nn.BatchNorm2d(16), NHWC), ("nhwc sound", SoundBatchNorm2d(16), NHWC)):
        exact_module = nn.BatchNorm2d(16).double()
        exact_x = x64.clone().requires_grad_()
        exact_out = exact_module(exact_x)
        (exact_grad,) = torch.autograd.grad(exact_out, exact_x, grad64)
        x = x64.float().contiguous(memory_format=layout).requires_grad_()
        out = module(x)
        (grad,) = torch.autograd.grad(out, x, grad64.float().contiguous(memory_format=layout))
        errors[name] = max(relative_error(out, exact_out), relative_error(grad, exact_grad),
                           relative_error(module.running_var, exact_module.running_var))
    assert errors["nhwc sound"] < 3 * errors["nchw"]
    assert errors["nhwc pytorch"] > 10 * errors["nhwc sound"]  # why SoundBatchNorm2d exists


def test_supernet_gradients_in_nhwc_float32_as_accurate_as_nchw():
    torch.manual_seed(0)
    exact = Supernet(SupernetConfig(channels=16, cells_per_stage=1), 10).double().train()
    images = torch.randn(32, 3, 32, 32, dtype=torch.float64) * 2 + 1
    labels = torch.randint(10, (32,))
    path = np.array([[3, 2, 4, 2, 3, 1]] * 3)
    F.cross_entropy(exact(images, path), labels).backward()
    errors = {}
    for name in ("nchw", "nhwc"):
        model = Supernet(SupernetConfig(channels=16, cells_per_stage=1), 10).train()
        model.load_state_dict(exact.state_dict())
        x = images.float()
        if name == "nhwc":
            model, x = to_channels_last(model), x.contiguous(memory_format=NHWC)
        F.cross_entropy(model(x, path), labels).backward()
        errors[name] = max(relative_error(p.grad, q.grad) for p, q in zip(model.parameters(), exact.parameters())
                           if q.grad is not None)
    assert errors["nhwc"] < 5 * errors["nchw"] + 1e-6, errors


def test_to_channels_last_swaps_classes_only():
    torch.manual_seed(0)
    model = Supernet(SupernetConfig(channels=4, cells_per_stage=1), 10)
    reference = copy.deepcopy(model)
    keys = list(model.state_dict())
    to_channels_last(model)
    assert list(model.state_dict()) == keys
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(type(m) is SoundBatchNorm2d for m in norms)
    assert model.stem[0].weight.is_contiguous(memory_format=NHWC)
    images = torch.randn(8, 3, 8, 8) + 1
    path = [[3, 2, 4, 2, 3, 1]] * 3
    for net, x in ((model, images.contiguous(memory_format=NHWC)), (reference, images)):
        assert recalibrate_bn(net, [x, x * 2], lambda t, net=net: net(t, path)) == 2  # momentum None: the exact mean
    for key, value in reference.state_dict().items():
        assert torch.allclose(model.state_dict()[key], value, rtol=1e-5, atol=1e-6), key
