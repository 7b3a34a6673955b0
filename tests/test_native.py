"""The compiled NHWC kernels (common/native/: BatchNorm, 3x3 average pooling) and their build cache:
results against float64 PyTorch, the cache key, and the fallback when a build cannot be had."""
import os
import warnings

import pytest
import torch
import torch.nn.functional as F

import common.bn
import common.pooling
from common import native
from common.bn import SoundBatchNorm2d

NHWC = torch.channels_last
needs_compiler = pytest.mark.skipif(native._compiler() is None, reason="no C++ compiler")
needs_kernels = pytest.mark.skipif(common.bn.native_kernels() is None or common.pooling.native_kernels() is None,
                                   reason="no native kernels here (test_the_kernels_build says why)")


@pytest.fixture
def fresh_library(monkeypatch, tmp_path):
    """``native.library`` with an empty cache folder and no memory of earlier loads."""
    monkeypatch.setenv("RLNAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RLNAS_NATIVE", raising=False)
    native.library.cache_clear()
    yield tmp_path / "cache" / "kernels"
    native.library.cache_clear()


def test_the_kernels_build():
    """Required under CI (RLNAS_REQUIRE_NATIVE=1): a broken build must not pass as skipped tests.
    Elsewhere a machine without a (suitable) compiler runs the PyTorch-operator paths."""
    built = common.bn.native_kernels() is not None and common.pooling.native_kernels() is not None
    if not built:
        if os.environ.get("RLNAS_REQUIRE_NATIVE") == "1":
            pytest.fail("the native kernels are required (RLNAS_REQUIRE_NATIVE=1) but could not be built")
        pytest.skip("no native kernels here (no C++ compiler with OpenMP, or RLNAS_NATIVE=0)")


@needs_kernels
def test_the_build_is_cached_whole_and_keyed_by_the_cpu(fresh_library, monkeypatch):
    source, compiler = native.SOURCE_DIR / "batchnorm_nhwc.cpp", native._compiler()
    first = native._build(source, compiler)
    stamp = first.stat().st_mtime_ns
    assert native._build(source, compiler) == first and first.stat().st_mtime_ns == stamp  # reused, not rebuilt
    monkeypatch.setattr(native, "_cpu_signature", lambda: "model name: another CPU")
    other = native._build(source, compiler)
    assert other != first and sorted(p.name for p in fresh_library.iterdir()) == sorted([first.name, other.name])


@needs_kernels
def test_a_later_flag_set_is_used_and_then_reused_without_compiling(fresh_library, monkeypatch):
    monkeypatch.setattr(native, "FLAG_SETS", (["--no-such-option"], ["-O3", "-fopenmp"]))
    compiles, run = [], native.subprocess.run

    def counting(command, **kwargs):
        if "-o" in command:
            compiles.append(command)
        return run(command, **kwargs)

    monkeypatch.setattr(native.subprocess, "run", counting)
    source, compiler = native.SOURCE_DIR / "avgpool3x3_nhwc.cpp", native._compiler()
    built = native._build(source, compiler)
    assert len(compiles) == 2 and "--no-such-option" in compiles[0] and built.exists()
    assert native._build(source, compiler) == built and len(compiles) == 2  # the first set is not retried


@needs_compiler
def test_a_failed_build_warns_once_and_leaves_nothing(fresh_library, monkeypatch, tmp_path):
    (tmp_path / "broken.cpp").write_text("this is not C++\n")
    monkeypatch.setattr(native, "SOURCE_DIR", tmp_path)
    with pytest.warns(RuntimeWarning, match="native kernel broken unavailable.*error"):
        assert native.library("broken") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert native.library("broken") is None  # remembered: no second build, no second warning
    assert not any(fresh_library.iterdir())  # no partial library in the cache


def test_openmp_runtimes_are_read_from_the_memory_map():
    maps = """7f00-7f01 r-xp 00000000 08:01 12 /venv/torch/lib/libgomp.so.1
7f01-7f02 r--p 00001000 08:01 12 /venv/torch/lib/libgomp.so.1
7f03-7f04 r-xp 00000000 08:01 13 /usr/lib/x86_64-linux-gnu/libgomp.so.1
7f05-7f06 r-xp 00000000 08:01 14 /opt/intel/libiomp5.so
7f07-7f08 rw-p 00000000 00:00 0
"""
    assert native.openmp_runtimes(maps) == {"/venv/torch/lib/libgomp.so.1", "/usr/lib/x86_64-linux-gnu/libgomp.so.1",
                                            "/opt/intel/libiomp5.so"}


@needs_kernels
@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="no /proc memory map")
def test_the_library_shares_pytorchs_openmp_runtime():
    assert common.bn.native_kernels() is not None
    assert len(native._loaded_openmp_runtimes()) == 1


def test_disabled_by_the_environment(fresh_library, monkeypatch):
    monkeypatch.setenv("RLNAS_NATIVE", "0")
    assert native.library("batchnorm_nhwc") is None
    assert not fresh_library.exists()


def reference(x, weight, bias, grad):
    """float64 NCHW batch norm: output, mean, biased variance and the three gradients."""
    x = x.double().contiguous().requires_grad_()
    params = [p.double().requires_grad_() if p is not None else None for p in (weight, bias)]
    out = F.batch_norm(x, None, None, params[0], params[1], training=True, eps=1e-5)
    wanted = [x] + [p for p in params if p is not None]
    grads = torch.autograd.grad(out, wanted, grad.double().contiguous())
    dims = (0, 2, 3)
    return out.detach(), x.detach().mean(dims), x.detach().var(dims, unbiased=False), grads


@needs_kernels
@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
@pytest.mark.parametrize("shape", [(3, 5, 7, 3), (64, 16, 32, 32), (2, 100, 9, 9), (16, 3, 1, 2)])
@pytest.mark.parametrize("affine", [False, True])
def test_kernel_against_float64_pytorch(dtype, tolerance, shape, affine):
    forward, backward = common.bn.native_kernels()[dtype]
    torch.manual_seed(sum(shape))
    x = (torch.randn(shape, dtype=dtype) * 3 + 2).contiguous(memory_format=NHWC)
    grad = torch.randn(shape, dtype=dtype).contiguous(memory_format=NHWC)
    weight, bias = None, None
    if affine:
        weight, bias = torch.rand(shape[1], dtype=dtype) + 0.5, torch.randn(shape[1], dtype=dtype)
    out, mean, var, invstd = common.bn._native_forward(forward, x, weight, bias, 1e-5)
    needs = [True, affine, affine]
    grads = [g for g in common.bn._native_backward(backward, grad, x, weight, mean, invstd, needs) if g is not None]
    exact_out, exact_mean, exact_var, exact_grads = reference(x, weight, bias, grad)
    assert out.is_contiguous(memory_format=NHWC) and out.dtype == dtype
    for value, exact in [(out, exact_out), (mean, exact_mean), (var, exact_var), (invstd, (exact_var + 1e-5).rsqrt()),
                         *zip(grads, exact_grads)]:
        error = float((value.double() - exact).abs().max() / exact.abs().max())
        assert error < tolerance, (value.shape, error)


@needs_kernels
def test_thread_count_changes_rounding_only():
    forward, _ = common.bn.native_kernels()[torch.float32]
    x = (torch.randn(64, 16, 32, 32) + 1).contiguous(memory_format=NHWC)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            results.append(common.bn._native_forward(forward, x, None, None, 1e-5))
    finally:
        torch.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


@needs_kernels
def test_sound_batchnorm_takes_the_kernel_for_nhwc_training(monkeypatch):
    calls, real = [], common.bn._native_forward

    def spy(kernel, x, *rest):
        calls.append(x.shape)
        return real(kernel, x, *rest)

    monkeypatch.setattr(common.bn, "_native_forward", spy)
    module = SoundBatchNorm2d(4)
    module(torch.randn(2, 4, 3, 3).contiguous(memory_format=NHWC))
    module(torch.randn(2, 4, 3, 3))  # NCHW: PyTorch's kernel
    module.eval()(torch.randn(2, 4, 3, 3).contiguous(memory_format=NHWC))  # evaluation: PyTorch's kernel
    assert calls == [torch.Size([2, 4, 3, 3])]


@needs_kernels
def test_pooling_takes_the_kernel_for_nhwc_on_the_cpu(monkeypatch):
    calls, real = [], common.pooling._box

    def spy(kernel, source, backward):
        calls.append(backward)
        return real(kernel, source, backward)

    monkeypatch.setattr(common.pooling, "_box", spy)
    x = torch.randn(2, 4, 5, 5).contiguous(memory_format=NHWC).requires_grad_()
    out = common.pooling.avg_pool_3x3(x)
    out.backward(torch.ones_like(out))
    common.pooling.avg_pool_3x3(torch.randn(2, 4, 5, 5))  # NCHW: the depthwise convolution
    common.pooling.avg_pool_3x3(torch.randn(2, 4, 5, 5, dtype=torch.bfloat16).contiguous(memory_format=NHWC))
    assert calls == [False, True]
    # every in-image pixel of a window counts once: the gradient of the sum is the sum over the
    # windows containing the pixel of 1 / window size
    assert float(x.grad[0, 0, 2, 2]) == pytest.approx(1.0)
    assert float(x.grad[0, 0, 0, 0]) == pytest.approx(1 / 4 + 2 / 6 + 1 / 9)
