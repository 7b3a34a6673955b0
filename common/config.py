"""Strict YAML configs: ``_base_`` inheritance, ``--set a.b=v`` overrides, typed dataclass schemas.

A config file is a YAML mapping. ``_base_: other.yaml`` (or a list of files) is merged first, the
file's own keys on top (mappings merge key by key, everything else replaces). Strings may name
environment variables as ``${VAR}`` or ``${VAR:-default}``. A variable that is unset (and has no
default) is left in the string as written and is an error only where the value is used
(``require_env``), so a stage that never reads, say, ``data.root`` never needs ``RLNAS_DATA``. The
merged mapping is then checked
against a dataclass schema: unknown keys, wrong types and bad choices are errors that name the key
path, e.g. ``train.lr: expected float, got 'fast'``.
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from .checkpoint import atomic_write_text
from .errors import UserError

T = TypeVar("T")
_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


# ----------------------------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with YAML 1.2 floats (``5e-4``, ``1e-3``) and duplicate keys refused."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 (PyYAML) reads 5e-4 as a string: it wants a dot and a signed exponent. YAML 1.2 does not.
_Loader.yaml_implicit_resolvers = {key: list(value) for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str):
    """One YAML document with the project's rules (YAML 1.2 floats, no duplicate keys)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def _read_yaml(path: Path) -> dict:
    if path.is_dir():
        raise UserError(f"config file {path} is a directory, expected a YAML file")
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not a UTF-8 text file (byte {error.start}), expected a YAML config") from None
    except OSError as error:
        raise UserError(f"config file {path}: {error.strerror}") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None)
        raise UserError(f"{path}: not valid YAML{where}{': ' + problem if problem else ''}") from None
    if data is None:
        raise UserError(f"{path}: the config file is empty (expected a YAML mapping of settings)")
    if not isinstance(data, dict):
        raise UserError(f"{path}: a config must be a mapping, got {type(data).__name__}")
    return data


def merge(base: dict, override: dict) -> dict:
    """Deep merge: mappings merge key by key; any other value in ``override`` replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_yaml_tree(path: str | os.PathLike, _chain: tuple[Path, ...] = (), schema: type | None = None) -> dict:
    """The mapping of ``path`` with its ``_base_`` files merged underneath (paths relative to it);
    with a ``schema``, each file's renamed keys (see ``from_dict``) are renamed before merging."""
    path = Path(path).resolve()
    if path in _chain:
        raise UserError(f"{path}: _base_ cycle through {' -> '.join(p.name for p in _chain)}")
    data = _read_yaml(path)
    bases = data.pop("_base_", [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise UserError(f"{path}: _base_ must be a file name or a list of file names")
    merged: dict = {}
    for base in bases:
        merged = merge(merged, load_yaml_tree(path.parent / base, _chain + (path,), schema))
    return merge(merged, renamed_tree(schema, data) if schema is not None else data)


def apply_override(data: dict, assignment: str) -> None:
    """Apply one ``a.b.c=value`` override in place; the value is parsed as YAML."""
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set {assignment!r}: expected KEY=VALUE, e.g. train.lr=0.1")
    try:
        value = parse_yaml(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    parts = key.strip().split(".")
    node = data
    for index, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise UserError(f"--set {key}: {'.'.join(parts[: index + 1])} is not a section")
        node = child
    node[parts[-1]] = value


def expand_env(value: Any) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of a nested structure.

    A reference to an unset variable without a default stays as written; ``require_env`` reports it
    where the value is used."""
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if os.environ.get(name):
            return os.environ[name]
        return default if default is not None else match.group(0)

    return _ENV_PATTERN.sub(substitute, value)


def require_env(value: T, key: str) -> T:
    """``value`` itself, or a UserError naming ``key`` if it still holds an unset ``${VAR}``."""
    if isinstance(value, str):
        match = _ENV_PATTERN.search(value)
        if match is not None and match.group(2) is None:
            name = match.group(1)
            raise UserError(f"{key}: environment variable {name} is not set (used as ${{{name}}})")
    return value


# ------------------------------------------------------------------------------- validation


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        return "list"
    if origin is dict:
        return "mapping"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, path)
            except UserError as error:
                errors.append(error)
        if len(errors) == 1:
            raise errors[0]
        raise UserError(f"{path}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices or isinstance(value, bool) != isinstance(choices[0], bool):
            raise UserError(f"{path}: expected {_type_name(tp)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserError(f"{path}: expected a mapping, got {value!r}")
        return from_dict(tp, value, path)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{path}: expected a list, got {value!r}")
        (item_type, *_) = typing.get_args(tp) or (Any,)
        items = [_convert(v, item_type, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{path}: expected a mapping, got {value!r}")
        _, value_type = typing.get_args(tp) or (str, Any)
        return {str(k): _convert(v, value_type, f"{path}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise UserError(f"{path}: expected bool, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{path}: expected int, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{path}: expected float, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise UserError(f"{path}: expected str, got {value!r}")
        return value
    raise TypeError(f"{path}: unsupported schema type {tp!r}")


_warned: set[str] = set()


def deprecated(old: str, new: str) -> None:
    """One stderr line (once per process) saying that ``old`` is spelled ``new`` now; ``old`` still works."""
    if old not in _warned:
        _warned.add(old)
        print(f"warning: {old} is deprecated, use {new}", file=sys.stderr)


def _renamed(schema: type, data: dict, path: str) -> dict:
    """``data`` with the old key names of ``schema.RENAMED`` ({old: new}) replaced by the new ones."""
    renamed = getattr(schema, "RENAMED", {})
    if not any(key in renamed for key in data):
        return data
    data = dict(data)
    for old, new in renamed.items():
        if old in data:
            where = f"{path}." if path else ""
            if new in data:
                raise UserError(f"{where}{old} and {where}{new} are the same setting: give only {where}{new}")
            deprecated(f"{where}{old}", f"{where}{new}")
            data[new] = data.pop(old)
    return data


def _section(tp: Any) -> type | None:
    """The dataclass a field of type ``tp`` holds (``Optional`` unwrapped), or None."""
    if dataclasses.is_dataclass(tp):
        return tp
    if typing.get_origin(tp) in (Union, types.UnionType):
        sections = [a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)]
        return sections[0] if len(sections) == 1 else None
    return None


def renamed_tree(schema: type | None, data: Any, path: str = "") -> Any:
    """``data`` with the renamed keys of ``schema`` and of its sections replaced (a deprecation line each)."""
    if schema is None or not isinstance(data, dict):
        return data
    data = _renamed(schema, data, path)
    hints = typing.get_type_hints(schema)
    return {key: renamed_tree(_section(hints.get(key)), value, f"{path}.{key}" if path else str(key))
            for key, value in data.items()}


def renamed_key(schema: type | None, key: str) -> str:
    """The dotted ``--set`` key ``key`` with renamed parts replaced (a deprecation line each)."""
    parts, done = key.split("."), []
    for index, part in enumerate(parts):
        if schema is None:
            return ".".join(done + parts[index:])
        new = getattr(schema, "RENAMED", {}).get(part)
        if new is not None:
            deprecated(".".join(done + [part]), ".".join(done + [new]))
            part = new
        done.append(part)
        fields = {f.name for f in dataclasses.fields(schema)}
        schema = _section(typing.get_type_hints(schema).get(part)) if part in fields else None
    return ".".join(done)


def from_dict(schema: type[T], data: dict, path: str = "") -> T:
    """Build the dataclass ``schema`` from ``data``: every key checked, missing keys take defaults.

    A schema may list renamed keys in ``RENAMED = {old: new}``: the old spelling still works, with a
    deprecation line on stderr."""
    hints = typing.get_type_hints(schema)
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}
    data = _renamed(schema, data, path)
    for key in data:
        if key not in fields:
            where = f"{path}.{key}" if path else str(key)
            raise UserError(f"{where}: unknown key (known keys: {', '.join(sorted(fields))})")
    values = {}
    for name, field in fields.items():
        where = f"{path}.{name}" if path else name
        if name in data:
            values[name] = _convert(data[name], hints[name], where)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise UserError(f"{where}: missing required key")
    try:
        return schema(**values)
    except (ValueError, TypeError) as error:  # __post_init__ checks raise ValueError
        raise UserError(f"{path or 'config'}: {error}") from None


def to_dict(config: Any) -> Any:
    """Plain nested dicts/lists of a config (for YAML, JSON and checkpoints)."""
    if dataclasses.is_dataclass(config):
        return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [to_dict(v) for v in config]
    if isinstance(config, dict):
        return {k: to_dict(v) for k, v in config.items()}
    return config


def config_differences(saved: dict, given: dict, prefix: str = "") -> list[str]:
    """``key: saved -> given`` for every setting that differs between two nested config mappings."""
    differences = []
    for key in sorted(set(saved) | set(given), key=str):
        a, b, name = saved.get(key), given.get(key), f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            differences += config_differences(a, b, f"{name}.")
        elif a != b:
            differences.append(f"{name}: {a!r} -> {b!r}")
    return differences


def differences_text(differences: list[str], limit: int = 4) -> str:
    more = f" and {len(differences) - limit} more" if len(differences) > limit else ""
    return "; ".join(differences[:limit]) + more


def load_config(path: str | os.PathLike, schema: type[T], overrides: typing.Iterable[str] = ()) -> T:
    """Load ``path`` (with bases), apply ``--set`` overrides, expand ``${VAR}``, check against ``schema``."""
    data = load_yaml_tree(path, schema=schema)
    for assignment in overrides:
        key, sep, value = assignment.partition("=")
        apply_override(data, renamed_key(schema, key.strip()) + sep + value if sep else assignment)
    return from_dict(schema, expand_env(data))


def dump_config(config: Any, path: str | os.PathLike) -> None:
    atomic_write_text(Path(path), yaml.safe_dump(to_dict(config), sort_keys=False))


def config_name(path: str | os.PathLike) -> str:
    return Path(path).stem
