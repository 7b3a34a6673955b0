from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from common.config import apply_override, from_dict, load_config, require_env, to_dict
from common.errors import UserError


@dataclass
class Inner:
    lr: float = 0.1
    epochs: int = 3
    mode: Literal["a", "b"] = "a"
    path: Optional[str] = None


@dataclass
class Outer:
    seed: int = 0
    inner: Inner = field(default_factory=Inner)
    tags: list[str] = field(default_factory=list)


def write(path, text):
    path.write_text(text)
    return path


def test_base_inheritance_and_overrides(tmp_path):
    write(tmp_path / "base.yaml", "seed: 1\ninner: {lr: 0.5, epochs: 7}\n")
    child = write(tmp_path / "child.yaml", "_base_: base.yaml\ninner: {epochs: 9}\ntags: [x]\n")
    cfg = load_config(child, Outer, ["inner.mode=b", "seed=5"])
    assert cfg == Outer(seed=5, inner=Inner(lr=0.5, epochs=9, mode="b"), tags=["x"])
    assert to_dict(cfg)["inner"] == {"lr": 0.5, "epochs": 9, "mode": "b", "path": None}


def test_int_accepted_as_float_and_env_expansion(tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_DIR", "/data")
    cfg = load_config(write(tmp_path / "c.yaml", "inner: {lr: 1, path: '${SOME_DIR}/x'}\n"), Outer)
    assert cfg.inner.lr == 1.0 and isinstance(cfg.inner.lr, float)
    assert cfg.inner.path == "/data/x"
    cfg = load_config(write(tmp_path / "d.yaml", "inner: {path: '${UNSET_RLNAS_VAR:-fallback}'}\n"), Outer)
    assert cfg.inner.path == "fallback"


@pytest.mark.parametrize("text, message", [
    ("inner: {lrr: 1}\n", "inner.lrr: unknown key"),
    ("inner: {lr: fast}\n", "inner.lr: expected float, got 'fast'"),
    ("inner: {epochs: 2.5}\n", "inner.epochs: expected int, got 2.5"),
    ("inner: {epochs: true}\n", "inner.epochs: expected int, got True"),
    ("inner: {mode: c}\n", "inner.mode: expected one of 'a', 'b', got 'c'"),
    ("tags: 3\n", "tags: expected a list, got 3"),
    ("[1, 2]\n", "a config must be a mapping"),
    ("inner: {lr: [\n", "not valid YAML"),
])
def test_errors_name_the_key(tmp_path, text, message):
    with pytest.raises(UserError, match=None) as error:
        load_config(write(tmp_path / "c.yaml", text), Outer)
    assert message in str(error.value)


def test_an_unset_variable_is_an_error_only_where_the_value_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv("UNSET_RLNAS_VAR", raising=False)
    cfg = load_config(write(tmp_path / "c.yaml", "inner: {path: '${UNSET_RLNAS_VAR}/x'}\n"), Outer)
    assert cfg.inner.path == "${UNSET_RLNAS_VAR}/x"  # loading (and a stage that never reads it) is fine
    with pytest.raises(UserError) as error:
        require_env(cfg.inner.path, "inner.path")
    assert str(error.value) == "inner.path: environment variable UNSET_RLNAS_VAR is not set (used as ${UNSET_RLNAS_VAR})"
    assert require_env("/data/x", "inner.path") == "/data/x" and require_env(None, "inner.path") is None


def test_missing_file_and_base_cycle(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", Outer)
    write(tmp_path / "a.yaml", "_base_: b.yaml\n")
    write(tmp_path / "b.yaml", "_base_: a.yaml\n")
    with pytest.raises(UserError, match="_base_ cycle"):
        load_config(tmp_path / "a.yaml", Outer)


def test_override_syntax():
    data = {}
    apply_override(data, "a.b.c=[1, 2]")
    assert data == {"a": {"b": {"c": [1, 2]}}}
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        apply_override(data, "novalue")
    with pytest.raises(UserError, match="is not a section"):
        apply_override({"a": 1}, "a.b=2")


def test_post_init_errors_become_user_errors():
    @dataclass
    class Checked:
        n: int = 1

        def __post_init__(self):
            if self.n < 1:
                raise ValueError("n must be positive")

    with pytest.raises(UserError, match="n must be positive"):
        from_dict(Checked, {"n": 0})


@pytest.mark.parametrize("text", ["5e-4", "5E-4", "1e3", "-2.5e+1", "1.0e-3"])
def test_scientific_notation_is_a_float_in_files_and_overrides(tmp_path, text):
    expected = float(text)
    config = load_config(write(tmp_path / "c.yaml", f"inner:\n  lr: {text}\n"), Outer)
    assert config.inner.lr == expected
    config = load_config(write(tmp_path / "d.yaml", "seed: 1\n"), Outer, [f"inner.lr={text}"])
    assert config.inner.lr == expected


def test_strings_that_only_look_numeric_stay_strings(tmp_path):
    config = load_config(write(tmp_path / "c.yaml", "tags: [x1e3, 1e, e5, '5e-4']\n"), Outer)
    assert config.tags == ["x1e3", "1e", "e5", "5e-4"]


@pytest.mark.parametrize("content, message", [
    (b"seed: 1\ninner:\n  lr: 0.1\nseed: 2\n", "key 'seed' appears twice"),
    (b"inner:\n  lr: 0.1\n  lr: 0.2\n", "key 'lr' appears twice"),
    (b"", "the config file is empty"),
    (b"# only a comment\n", "the config file is empty"),
    (b"seed: 1 # caf\xe9\n", "not a UTF-8 text file"),
])
def test_bad_config_files_are_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        load_config(path, Outer)


def test_a_directory_is_not_a_config(tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        load_config(tmp_path, Outer)
