"""Entry-point plumbing shared by every stage: arguments, run directories, error reporting.

Bad input is reported as one line on stderr with exit code 2 (a traceback only with ``--debug``).
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path
from typing import Callable, Sequence

from .errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as a UserError (one line, exit code 2).

    The description keeps its paragraphs (a module docstring passes whole, see ``describe``).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        if kwargs.get("description"):
            kwargs["description"] = describe(kwargs["description"])
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UserError(f"{self.prog}: {message}")


def describe(doc: str | None) -> str:
    """A docstring as ``--help`` text: whole, dedented, without reST markup."""
    import inspect

    text = inspect.cleandoc(doc or "")
    text = re.sub(r"``([^`]+)``", r"\1", text)
    return re.sub(r":\w+:`([^`]+)`", r"\1", text)


def headed(headline: str, doc: str) -> str:
    """``doc`` with its first line replaced by ``headline`` (a shared stage's help names its space)."""
    rest = doc.strip().split("\n", 1)[1] if "\n" in doc.strip() else ""
    return f"{headline}\n{rest}"


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _bounded_int(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _bounded_int(text, 0)


def _bounded_int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
    return value


def output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """Check that ``path`` can be written as a file (before any work is done); return it."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a directory, expected a file name")
    parent = _existing_ancestor(path.parent)
    if not parent.is_dir():
        raise UserError(f"{what} {path}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"{what} {path}: permission denied")
    return path


def run_directory(path: str | os.PathLike, what: str = "run directory") -> Path:
    """Check that ``path`` can be a directory to write in (exists as one, or can be made); return it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} is a file, expected a directory")
    parent = _existing_ancestor(path)
    if not parent.is_dir():
        raise UserError(f"{what} {path}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{what} {path}: permission denied")
    return path


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def stage_parser(prog: str, description: str, config_required: bool = True) -> ArgumentParser:
    parser = ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", required=config_required, help="YAML config file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.epochs=10 (repeatable)")
    parser.add_argument("--run-dir", default=None, help="run directory (default: runs/<config folder>/<config name>)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def default_run_dir(config_path: str | None, run_dir: str | None) -> Path:
    """``--run-dir``, else ``runs/<config folder>/<config name>`` (configs/darts/quickstart.yaml ->
    runs/darts/quickstart), so that configs of the same name in different spaces never share a run."""
    if run_dir:
        return run_directory(run_dir)
    if not config_path:
        raise UserError("--run-dir is required when no --config is given")
    path = Path(config_path).resolve()
    return run_directory(Path("runs") / path.parent.name / path.stem)


class _RunLog(logging.FileHandler):
    """``run_dir/log.txt``, made on the first line logged: a run refused early leaves nothing behind."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        super().__init__(run_dir / "log.txt", delay=True)

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        super().emit(record)


def setup_logging(run_dir: Path | None = None, rank: int = 0) -> logging.Logger:
    """Log to stderr and, on rank 0, to ``run_dir/log.txt`` (opened when the first line comes)."""
    logger = logging.getLogger("rlnas")
    logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(fmt)
    logger.addHandler(stream)
    if run_dir is not None and rank == 0:
        file_handler = _RunLog(Path(run_dir))
        file_handler.setFormatter(fmt)
        logger.addHandler(file_handler)
    logger.propagate = False
    return logger


def run(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None) -> int:
    """Call ``main(argv)``; a UserError or a file-system error becomes one stderr line and exit code 2.

    The line also goes to the run's ``log.txt`` when the run had already written one.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        main(args)
    except (UserError, OSError) as error:
        if debug:
            raise
        message = str(error) if isinstance(error, UserError) else _os_error_line(error)
        print(f"error: {message}", file=sys.stderr)
        _log_error(message)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def _os_error_line(error: OSError) -> str:
    names = [str(name) for name in (error.filename, error.filename2) if name is not None]
    return f"{error.strerror or type(error).__name__}: {' -> '.join(names)}" if names else str(error)


def _log_error(message: str) -> None:
    """Append the error line to an already open run log (a run never logged to gets no file)."""
    for handler in logging.getLogger("rlnas").handlers:
        if isinstance(handler, _RunLog) and handler.stream is not None:
            handler.stream.write(f"error: {message}\n")
            handler.flush()


def parse_stage(parser: ArgumentParser, schema: type, argv: Sequence[str] | None):
    """Parse a stage's arguments, load its config and set up logging: ``(args, config, run_dir)``."""
    from .config import load_config

    args = parser.parse_args(argv)
    config = load_config(args.config, schema, args.overrides) if args.config else None
    run_dir = default_run_dir(args.config, args.run_dir)
    setup_logging(run_dir)
    return args, config, run_dir
