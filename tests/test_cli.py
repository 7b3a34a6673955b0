"""Entry points: bad input gives one line on stderr and exit code 2, and nothing on disk is lost."""
import subprocess
from pathlib import Path
import sys

from common.checkpoint import save_checkpoint

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def assert_one_line_error(result, fragment):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_bad_config_key(tmp_path):
    result = run("nas_bench_201.train_supernet", "--config", "configs/nas_bench_201/quickstart.yaml",
                 "--run-dir", str(tmp_path), "--set", "train.lrr=0.1")
    assert_one_line_error(result, "train.lrr: unknown key")
    result = run("nas_bench_201.search", "--config", "configs/nas_bench_201/quickstart.yaml",
                 "--run-dir", str(tmp_path), "--set", "train.lr=fast")
    assert_one_line_error(result, "train.lr: expected float, got 'fast'")
    result = run("nas_bench_201.search", "--config", str(tmp_path / "missing.yaml"), "--run-dir", str(tmp_path))
    assert_one_line_error(result, "config file not found")


def test_bad_arch_string():
    result = run("nas_bench_201.info", "--arch", "|nor_conv_3x3~0|+|none~0|")
    assert_one_line_error(result, "bad NAS-Bench-201 architecture")
    result = run("nas_bench_201.info", "--arch", "99999")
    assert_one_line_error(result, "out of range")


def test_checkpoint_of_the_wrong_space_and_a_missing_one(tmp_path):
    ckpt = tmp_path / "darts.pt"
    save_checkpoint(ckpt, {"format": 1, "space": "darts_search_space", "config": {}, "epoch": 0, "model": {}})
    out = tmp_path / "angles.csv"
    out.write_text("keep me\n")
    result = run("nas_bench_201.angles", "--init", str(ckpt), "--trained", str(ckpt), "--out", str(out))
    assert_one_line_error(result, "checkpoint of search space 'darts_search_space', expected 'nas_bench_201'")
    assert out.read_text() == "keep me\n"  # a failed run overwrites nothing
    result = run("nas_bench_201.angles", "--init", str(tmp_path / "nope.pt"), "--trained", str(ckpt), "--out", str(out))
    assert_one_line_error(result, "checkpoint not found")


def test_usage_errors_are_one_line_and_debug_shows_the_traceback(tmp_path):
    result = run("nas_bench_201.angles", "--init", "x.pt")
    assert_one_line_error(result, "the following arguments are required")
    result = run("nas_bench_201.info", "--arch", "bad", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_the_default_run_directory_is_named_after_the_config_folder_and_file(tmp_path):
    from common.cli import default_run_dir

    assert default_run_dir("configs/nas_bench_201/quickstart.yaml", None) == Path("runs/nas_bench_201/quickstart")
    assert default_run_dir("configs/darts/quickstart.yaml", None) == Path("runs/darts/quickstart")
    assert default_run_dir(str(tmp_path / "mine" / "exp.yml"), None) == Path("runs/mine/exp")
    assert default_run_dir("configs/darts/quickstart.yaml", "elsewhere") == Path("elsewhere")
