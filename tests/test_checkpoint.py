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
