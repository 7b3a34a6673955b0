"""The command line of ``nas_bench_201.reproduce`` (see the package docstring)."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from common.cli import ArgumentParser, run_directory, setup_logging
from common.config import load_config
from common.errors import UserError

from .config import EXPERIMENT_DIR, EXPERIMENTS, PRESETS, ReproduceConfig
from .runner import Study

logger = logging.getLogger("rlnas")


def main(argv=None) -> None:
    parser = ArgumentParser(prog="python -m nas_bench_201.reproduce",
                            description="Reproduce the paper's NAS-Bench-201 study (Tables 1-2, 6, 7, Figure 1, proxies, EPS).")
    parser.add_argument("experiment", choices=EXPERIMENTS, help="which table or figure")
    parser.add_argument("--preset", choices=PRESETS, default="cpu",
                        help="cpu: reduced scale for a CPU (about an hour); cpu_long: a CPU study that can tell the "
                             "methods apart (seeds, val_acc on 5,000 images; several hours); paper: the paper's scale (GPU)")
    parser.add_argument("--config", default=None,
                        help="study config (default: the package's experiments/<experiment>_<preset>.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a study config value, e.g. --set 'train_seeds=[0,1]' (repeatable)")
    parser.add_argument("--runs", default="runs/reproduce", help="where supernet runs live (shared between studies)")
    parser.add_argument("--out", default=None, help="report folder (default: reports/nb201_<experiment>)")
    parser.add_argument("--keep", action="append", default=[], metavar="RESULTS_JSON",
                        help="an earlier study's results.json: its supernets that this study does not run are reported "
                             "with this study's (e.g. rerun one method with --set 'run_order=[A]'); repeatable")
    parser.add_argument("--scores", action="append", default=[], metavar="DIR",
                        help="val_acc scores kept elsewhere (an earlier report's val_acc_scores/), used where a "
                             "supernet's weights are the same as theirs; repeatable")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    config_path = Path(args.config) if args.config else EXPERIMENT_DIR / f"{args.experiment}_{args.preset}.yaml"
    if not config_path.is_file():
        raise UserError(f"no study config {config_path} (preset {args.preset} of {args.experiment})")
    rc = load_config(config_path, ReproduceConfig, args.overrides)
    if rc.experiment != args.experiment:
        raise UserError(f"{config_path}: a study config for '{rc.experiment}', not '{args.experiment}'")
    out = run_directory(Path(args.out) if args.out else Path("reports") / f"nb201_{args.experiment}", "--out")
    run_directory(args.runs, "--runs")
    setup_logging(Path(args.runs) / config_path.stem)  # the study's log: runs/<config name>/log.txt
    for folder in args.scores:
        if not Path(folder).is_dir():
            raise UserError(f"--scores {folder}: not a directory")
    study = Study(rc, config_path, Path(args.runs), out, "custom" if args.config else args.preset, args.scores)
    for results in args.keep:
        logger.info("kept %d supernets' results from %s", study.keep(Path(results)), results)
    started = time.perf_counter()
    study.run()
    study.write_report()
    logger.info("report written to %s (%.1f min)", out / "report.md", (time.perf_counter() - started) / 60)
    print((out / "report.md").read_text())
