"""The training-throughput benchmark's logic at tiny sizes (no timing assertions: timings are not tests)."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
import train_throughput  # noqa: E402

TINY = ["--channels", "2", "--cells", "1", "--batch", "4", "--steps", "1", "--rounds", "1", "--warmup", "1",
        "--images", "16", "--image-size", "8", "--matmul", "32", "--flop-paths", "2"]


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_benchmark_runs_every_variant_roofline_and_thread_study(capsys, restore_threads):
    results = train_throughput.main(TINY + ["--thread-study", "--amp-variant", "bf16"])
    out = capsys.readouterr().out
    assert set(results["seconds_per_step"]) == {"released", "plain", "optimised NCHW", "optimised NHWC", "entry point",
                                                "optimised NHWC, amp bf16"}
    assert results["ratio_to_released"]["released"] == 1.0 and 0 < results["data_share"] < 1
    assert results["best_round_ratio_to_released"]["released"] == 1.0
    assert results["paired_ratio_to_released"]["released"] == 1.0
    assert all(r > 0 for r in results["paired_ratio_to_released"].values())
    assert all(s > 0 for s in results["seconds_per_step"].values())
    assert results["step_gflop"] > 0 and results["matmul_gflops"] > 0 and len(results["conv_gflops"]) == 3
    assert len(results["batchnorm_ms"]) == 3
    for timings in results["batchnorm_ms"].values():
        assert set(timings) == {"NCHW kernel", "NHWC kernel", "SoundBatchNorm2d NHWC"}
        assert all(both > 0 and backward > 0 for both, backward in timings.values())
    assert len(results["pooling_ms"]) == 3
    for timings in results["pooling_ms"].values():
        assert set(timings) == {"pooling kernel", "depthwise convolution"}
        assert all(both > 0 and backward > 0 for both, backward in timings.values())
    for variant in ("released", "optimised"):
        kinds = results["breakdown"][variant]
        assert set(kinds) == {"convolution", "BatchNorm", "pooling", "matmul", "SGD update",
                              "elementwise and copies", "Python overhead"}
        assert all(v >= 0 for v in kinds.values()) and kinds["convolution"] > 0 and kinds["BatchNorm"] > 0
    assert set(results["thread_study"]) == {"1 threads", "2 threads", "1 threads + busy process",
                                            "2 threads + busy process"}
    assert "vs released" in out and "CPU:" in out and "roofline" in out and "thread study" in out


def test_step_flops_counts_the_convolutions_of_the_path():
    from common.training import TrainConfig
    from nas_bench_201.supernet import Supernet, SupernetConfig

    model = Supernet(SupernetConfig(channels=2, cells_per_stage=1), 10).train()
    model.sample_path = lambda rng: [[1] * 6] * 3  # all skips: no cell convolution
    images, labels = torch.randn(4, 3, 8, 8), torch.randint(10, (4,))
    flops = train_throughput.step_flops(model, images, labels, None, TrainConfig(), 1)
    # forward: stem 3->2 (3x3, 8x8); block 1: conv_a 2->4 s2 (4x4), conv_b 4->4 (4x4), 1x1 2->4 (4x4);
    # block 2: 4->8 s2 (2x2), 8->8 (2x2), 1x1 4->8 (2x2); classifier 8->10. Backward: 2x forward,
    # except the stem (no input gradient).
    conv = lambda cin, cout, k, s: 2 * 4 * cin * cout * k * k * s * s  # noqa: E731
    stem = conv(3, 2, 3, 8)
    rest = conv(2, 4, 3, 4) + conv(4, 4, 3, 4) + conv(2, 4, 1, 4) + conv(4, 8, 3, 2) + conv(8, 8, 3, 2) + conv(4, 8, 1, 2)
    linear = 2 * 4 * 8 * 10
    assert flops == 2 * stem + 3 * (rest + linear)
