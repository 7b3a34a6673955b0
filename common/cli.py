"""Entry-point plumbing shared by every stage: arguments, run directories, error reporting.

Bad input is reported as one line on stderr with exit code 2 (a traceback only with ``--debug``).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from .errors import UserError


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as a UserError (one line, exit code 2)."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise UserError(f"{self.prog}: {message}")


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
        return Path(run_dir)
    if not config_path:
        raise UserError("--run-dir is required when no --config is given")
    path = Path(config_path).resolve()
    return Path("runs") / path.parent.name / path.stem


def setup_logging(run_dir: Path | None = None, rank: int = 0) -> logging.Logger:
    """Log to stderr and, on rank 0, to ``run_dir/log.txt``."""
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
        run_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(run_dir / "log.txt")
        file_handler.setFormatter(fmt)
        logger.addHandler(file_handler)
    logger.propagate = False
    return logger


def run(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None) -> int:
    """Call ``main(argv)``; turn a UserError into one stderr line and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        main(args)
    except UserError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def parse_stage(parser: ArgumentParser, schema: type, argv: Sequence[str] | None):
    """Parse a stage's arguments, load its config and set up logging: ``(args, config, run_dir)``."""
    from .config import load_config

    args = parser.parse_args(argv)
    config = load_config(args.config, schema, args.overrides) if args.config else None
    run_dir = default_run_dir(args.config, args.run_dir)
    setup_logging(run_dir)
    return args, config, run_dir
