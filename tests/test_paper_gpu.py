"""The paper-scale GPU run's parts on the CPU: the file pack that carries CIFAR-10 to the GPU machine,
and scripts/nas_bench_201/paper_gpu.sh end to end at tiny settings from a pack, with no data folder."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "data"))
import file_pack  # noqa: E402

from common.errors import UserError  # noqa: E402


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for c in range(3):
        folder = tmp_path / "images" / f"class{c}"
        folder.mkdir(parents=True)
        for i in range(20):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return tmp_path / "images"


def test_a_pack_unpacks_byte_for_byte_once(tmp_path, image_folder):
    assert file_pack.pack(image_folder, tmp_path / "pack.npz") == 60
    assert file_pack.unpack(tmp_path / "pack.npz", tmp_path / "out") == 60
    files = sorted(p.relative_to(image_folder) for p in image_folder.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert all((image_folder / f).read_bytes() == (tmp_path / "out" / f).read_bytes() for f in files)
    assert file_pack.unpack(tmp_path / "pack.npz", tmp_path / "out") == 0  # already there: nothing written
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("x")
    with pytest.raises(UserError, match="does not hold this pack's files"):
        file_pack.unpack(tmp_path / "pack.npz", tmp_path / "other")


def test_a_pack_that_would_write_outside_its_folder_is_refused(tmp_path):
    np.savez(tmp_path / "evil.npz", data=np.zeros(2, np.uint8), offsets=np.array([0, 1, 2]),
             paths=np.array(["ok.txt", "../escape.txt"]))
    with pytest.raises(UserError, match=r"refuses the path '\.\./escape\.txt'"):
        file_pack.unpack(tmp_path / "evil.npz", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()
    (tmp_path / "junk.npz").write_bytes(b"not a pack")
    with pytest.raises(UserError, match="not a file pack"):
        file_pack.unpack(tmp_path / "junk.npz", tmp_path / "out")


TINY = ("set=[device=cpu,data.valid_fraction=0.5,data.cache_dir=null,train.epochs=2,train.batch_size=16,"
        "train.save_every=1,search.val_acc.valid_images=20,search.val_acc.bn_batches=1,search.val_acc.batch_size=10,"
        "search.evolution.population=10,search.evolution.top_k=4,search.evolution.mutations=4,"
        "search.evolution.crossovers=4,search.evolution.iterations=1,model.channels=4,model.cells_per_stage=1]")


def paper_run(tmp_path, which):
    env = {**os.environ, "RLNAS_DATA": str(tmp_path / "no_data"), "RLNAS_PACK": str(tmp_path / "pack.npz"),
           "RLNAS_UNPACKED": str(tmp_path / "unpacked")}
    return subprocess.run(["bash", str(ROOT / "scripts/nas_bench_201/paper_gpu.sh"), which, "--set", TINY,
                           "--set", "tau_archs=5", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")],
                          env=env, capture_output=True, text=True, cwd=tmp_path)


def test_the_paper_run_goes_from_a_pack_to_a_report_one_supernet_per_call(tmp_path, image_folder):
    file_pack.pack(image_folder, tmp_path / "pack.npz")
    (tmp_path / "no_data").mkdir()
    first = paper_run(tmp_path, "D_released")
    assert first.returncode == 0, first.stderr[-2000:]
    assert (tmp_path / "unpacked/cifar10/train/class0/0.png").is_file()
    second = paper_run(tmp_path, "B")
    assert second.returncode == 0, second.stderr[-2000:]
    results = json.loads((tmp_path / "out/results.json").read_text())
    assert {t["method"] for t in results["tau"]} == {"D_released", "C", "B", "A"}  # the first call's kept
    report = (tmp_path / "out/report.md").read_text()
    assert "| D (RLNAS), as released | angle |" in report and "0.5059" in report  # the paper's D beside it
    runs = [p.parent for p in (tmp_path / "runs").glob("cifar10/*/config.yaml")]
    assert len(runs) == 2  # C scored D_released's supernet, A scored B's
    assert all("zero_grad: zero" in (run / "config.yaml").read_text() for run in runs)
    assert paper_run(tmp_path, "E").returncode == 2
