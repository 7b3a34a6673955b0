"""scripts/bench/gpu_check.sh: every part of the GPU check runs on the CPU at tiny sizes (gloo for
nccl), so that the script a user runs on a GPU cannot rot; without CUDA it exits 2 in one line."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "bench"))
import gpu_check  # noqa: E402


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_every_check_and_measurement_runs_on_cpu(tmp_path, capsys, restore_threads):
    out = tmp_path / "report.json"
    assert gpu_check.main([str(out), "--device", "cpu", "--tiny", "--workers", "1"]) == 0
    report = json.loads(out.read_text())
    assert set(report["checks"]) == {"step_vs_float64", "amp", "angles", "ddp", "masked_step"}
    for name, result in report["checks"].items():
        assert result["ok"] is True and "error" not in result, (name, result)
    step = report["checks"]["step_vs_float64"]
    assert step["nchw"]["loss_relative_error"] < 1e-5 and step["nhwc"]["update_relative_error"] < 1e-3
    assert step["nchw"]["fused_sgd"] is False  # fused SGD is for CUDA only
    assert report["checks"]["amp"]["bf16"]["finite"] and report["checks"]["amp"]["fp16"]["finite"]
    angles = report["checks"]["angles"]
    assert angles["archs"] == 200 and angles["disconnected_archs"] > 0  # cut-off networks (angle 0) included
    assert report["checks"]["ddp"]["backend"] == "gloo"
    throughput = report["throughput"]
    assert all("error" not in result for result in throughput.values()), throughput
    for batch in ("batch_4", "batch_8"):
        assert set(throughput["nb201_supernet"][batch]) == {"plain", "optimised", "channels_last", "amp_bf16",
                                                            "amp_bf16_channels_last"}
        assert all(v > 0 for v in throughput["nb201_supernet"][batch].values())
    for section in ("imagenet_supernets", "retrain_steps"):
        assert throughput[section]["darts_imagenet"]["images_per_s"] > 0
        assert throughput[section]["mobilenet_imagenet"]["images_per_s"] > 0
    masked = report["checks"]["masked_step"]
    assert masked["steps"] == 3 and set(masked["update_relative_error"]) == {"single_path", "masked"}  # captured: CUDA
    for batch in ("batch_4", "batch_8"):
        modes = throughput["nb201_step_modes"][batch]
        assert set(modes["images_per_s"]) == {"released", "single_path", "masked"}
        assert set(modes["ratios"]) == {"single_path_vs_released", "masked_vs_released", "masked_vs_single_path"}
        assert modes["ratios"]["masked_vs_single_path"] == pytest.approx(
            modes["images_per_s"]["masked"] / modes["images_per_s"]["single_path"])
    epoch = throughput["nb201_epoch"]
    assert epoch["images"] == 16 and epoch["epoch_images_per_s"] > 0
    assert epoch["projected_250_epochs_minutes"] == pytest.approx(250 * 16 / epoch["epoch_images_per_s"] / 60)
    assert throughput["jpeg_pipeline"]["images_per_s"] > 0 and throughput["jpeg_pipeline"]["workers"] == 1
    assert report["ok"] is True and report["complete"] is True
    printed = capsys.readouterr().out
    assert "check ddp" in printed and "all checks passed: True" in printed


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_cuda_one_line_and_exit_2(tmp_path):
    result = subprocess.run([str(ROOT / "scripts/bench/gpu_check.sh"), str(tmp_path / "r.json")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout.strip().count("\n") == 0 and "no CUDA device" in result.stdout
    assert not (tmp_path / "r.json").exists()
