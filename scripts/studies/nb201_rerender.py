"""Render a kept NAS-Bench-201 study report again from its ``results.json`` with the current report
code (``nas_bench_201.reproduce.report``): the tables with their statistics (mean, sample SD and
t-interval over supernets; bootstrap intervals of sampled-subset taus from the report's
``val_acc_scores/``), ``report.md``, the CSVs and the plots that need no angles (``tau_per_method.png``,
``tau_epochs.png``, ``figure1.png``). ``results.json`` itself is left as it is unless ``--results``
asks to add the derived statistics to it.

    python scripts/studies/nb201_rerender.py REPORT_DIR [--config STUDY_YAML] [--note TEXT] [--results]

The study config is the one the report names in its first lines (``Preset `x` (`path`)``) unless
``--config`` gives it. Where the supernets' run directories still exist, the taus over the 15,284
architectures with a path are recomputed from their checkpoints; where they are gone, the report
says so. The angle scatter plots need the angles and are kept as they are, and so is an older
report's training table when ``results.json`` lacks the curves. ``--note`` puts a line under the
title (e.g. why the report was rendered again).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # python scripts/studies/X.py from anywhere

from common.checkpoint import atomic_write_text  # noqa: E402
from common.cli import ArgumentParser, run  # noqa: E402
from common.config import from_dict  # noqa: E402
from common.errors import UserError  # noqa: E402
from nas_bench_201.benchmark import SHIPPED_TABLE, BenchmarkTable  # noqa: E402
from nas_bench_201.reproduce.config import ReproduceConfig  # noqa: E402
from nas_bench_201.reproduce.runner import Study  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def config_path_of(report: Path) -> Path:
    """The study config a report names in its header."""
    text = report.read_text() if report.is_file() else ""
    match = re.search(r"^Preset `[^`]*` \(`([^`]+\.yaml)`\)", text, re.MULTILINE)
    if not match:
        raise UserError(f"{report}: no 'Preset `...` (`config.yaml`)' line; give --config")
    path = Path(match.group(1))
    return path if path.is_absolute() else ROOT / path


def rerender(folder: Path, config: Path | None = None, note: str = "", results_too: bool = False) -> Path:
    try:
        results = json.loads((folder / "results.json").read_text())
        rc = from_dict(ReproduceConfig, results["config"])
        records, taus, preset = results["search"], results["tau"], results.get("preset", "")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"{folder}: no study results.json ({error})") from None
    report = folder / "report.md"
    before = report.read_text() if report.is_file() else ""
    study = Study(rc, config or config_path_of(report), Path("."), folder, preset)
    study.records, study.taus = records, taus
    study.table = BenchmarkTable.load(SHIPPED_TABLE)
    if results_too:  # the derived statistics kept in results.json as well (a study whose runs still exist)
        study.write_report()
    else:
        study.complete()
        study.render()
    text = carry_over(before, report.read_text())
    if note:
        lines = text.split("\n")
        text = "\n".join([lines[0], "", note, *lines[1:]])
    atomic_write_text(report, text)
    return report


def carry_over(before: str, after: str, heading: str = "## Supernet training") -> str:
    """The training table of an older report whose ``results.json`` lacks the curves (they were read
    from the runs' TensorBoard logs, now gone): carried over as it was, before the plots' lines."""
    if heading not in before or heading in after:
        return after
    section = heading + re.split(r"\n(?=## |!\[)", before.split(heading, 1)[1])[0].rstrip("\n") + "\n\n"
    at = after.find("\n![angle vs accuracy]")
    return after.rstrip("\n") + "\n\n" + section if at < 0 else after[:at + 1] + section + after[at + 1:]


def main(argv=None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="a report folder with results.json")
    parser.add_argument("--config", type=Path, help="the study config (default: the one the report names)")
    parser.add_argument("--note", default="", help="a line under the title")
    parser.add_argument("--results", action="store_true",
                        help="also write the derived statistics (tau_connected, tau_params, bootstrap intervals) into results.json")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    print(rerender(args.folder, args.config, args.note, args.results))


if __name__ == "__main__":
    sys.exit(run(main))
