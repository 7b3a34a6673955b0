import os

import pytest

from common.checkpoint import atomic_write_bytes, atomic_write_text


def test_atomic_write_replaces_whole_files_with_the_usual_mode(tmp_path):
    target = tmp_path / "sub" / "result.json"
    atomic_write_text(target, "first")
    assert target.read_text() == "first"
    mask = os.umask(0o022)
    try:
        atomic_write_text(target, "second")
    finally:
        os.umask(mask)
    assert target.read_text() == "second"
    assert target.stat().st_mode & 0o777 == 0o644  # what open() gives, not mkstemp's 0600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "result.json"
    atomic_write_text(target, "keep me")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # fails inside the write
    assert target.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def _payload():
    import torch

    return {"format": 1, "space": "nas_bench_201", "config": {}, "epoch": 1, "model": {"w": torch.ones(4096)}}


def test_a_truncated_checkpoint_is_refused_with_one_plain_reason(tmp_path):
    from common.checkpoint import UnreadableCheckpoint, load_checkpoint, save_checkpoint

    path = tmp_path / "last.pt"
    save_checkpoint(path, _payload())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UnreadableCheckpoint, match="truncated") as info:
        load_checkpoint(path)
    assert "weights_only=False" not in str(info.value) and "\n" not in str(info.value)


def test_a_pickle_with_objects_is_not_loaded_and_the_message_does_not_advise_unsafe_loading(tmp_path):
    import torch

    from common.checkpoint import UnreadableCheckpoint, load_checkpoint

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, path)
    with pytest.raises(UnreadableCheckpoint, match="objects other than tensors") as info:
        load_checkpoint(path)
    assert not marker.exists()
    assert "weights_only" not in str(info.value)


def test_file_digest_is_the_sha256_of_the_bytes(tmp_path):
    import hashlib

    from common.checkpoint import file_digest

    path = tmp_path / "x.bin"
    path.write_bytes(b"rlnas" * 100000)
    assert file_digest(path) == hashlib.sha256(b"rlnas" * 100000).hexdigest()
