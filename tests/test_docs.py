"""The documentation stays true: README.md and docs/**/*.md are checked as plain files.

- every relative link resolves to a file or folder of the repository, and every ``#anchor`` (in the
  same page or in another page) names a heading there, with GitHub's heading slugs;
- every command in their code (fenced ``bash``/``sh``/``shell``/``console`` blocks, unlabelled blocks'
  lines that start with ``bash ``, ``python -m `` or ``torchrun``, and inline code that starts like a
  command) names a script, module and config file that exist;
- the README stays a landing page (at most 200 lines, the two set-up commands first), and its
  quickstart transcript is what ``nas_bench_201.pipeline`` prints for those results.

Everything but the last test is pure file parsing: no imports of the project, no subprocesses.
"""
from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
COMMAND_LANGUAGES = {"bash", "sh", "shell", "console"}
COMMAND_STARTS = ("bash ", "python -m ", "torchrun")  # unlabelled blocks: the lines that are commands
WRAPPERS = ("sudo", "exec", "time", "nohup")
INLINE_COMMAND = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S+ )*(?:bash |sh |source |python3? |torchrun )")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ------------------------------------------------------------------------------ markdown parsing


def split_fences(text: str):
    """``(prose_lines, blocks)``: the page's lines with fenced code blanked out (line numbers kept), and
    every fenced block as ``(info string, first line number, lines)``."""
    prose, blocks, fence, info, start, body = [], [], None, "", 0, []
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.lstrip()
        if fence is None:
            match = re.match(r"(`{3,}|~{3,})\s*([^`\s]*)", stripped)
            if match:
                fence, info, start, body = match.group(1), match.group(2).lower(), number + 1, []
                prose.append("")
            else:
                prose.append(line)
        else:
            if stripped.startswith(fence) and not stripped[len(fence):].strip():
                blocks.append((info, start, body))
                fence = None
            else:
                body.append(line)
            prose.append("")
    assert fence is None, "a code fence is never closed"
    return prose, blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lowercased, without punctuation (hyphens and
    underscores stay), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in " -_" or category[0] in "LNM":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors a page defines: its headings' slugs (repeats get -1, -2, ...) and explicit ids."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    result = set()
    for line in prose:
        match = re.match(r" {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
        result.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", line))
    return result


def links(path: Path):
    """``(line number, target)`` of every inline link, image and reference definition outside code."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    for number, line in enumerate(prose, 1):
        line = re.sub(r"`[^`]*`", "", line)  # inline code is not a link
        for match in re.finditer(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)", line):
            yield number, match.group(1)
        match = re.match(r" {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", line)
        if match:
            yield number, match.group(1)


# ------------------------------------------------------------------------------ commands


def fenced_commands(path: Path):
    """``(line number, command line)`` from the page's code blocks; continuation lines are joined."""
    _, blocks = split_fences(path.read_text(encoding="utf-8"))
    for info, start, body in blocks:
        if info and info not in COMMAND_LANGUAGES:
            continue
        pending, first = "", start
        for offset, line in enumerate(body):
            text = line.strip()
            if info == "console" or text.startswith("$ "):
                if not text.startswith("$ ") and not pending:
                    continue  # console output
                text = text[2:] if text.startswith("$ ") else text
            if not pending:
                first = start + offset
            if text.endswith("\\"):
                pending += text[:-1] + " "
                continue
            command, pending = pending + text, ""
            if not info and not command.startswith(COMMAND_STARTS):
                continue  # an unlabelled block: only its command lines
            if command and not command.startswith("#"):
                yield first, command


def inline_commands(path: Path):
    """``(line number, command)`` of inline code in prose and tables that starts like a command."""
    prose, _ = split_fences(path.read_text(encoding="utf-8"))
    text = "\n".join(prose)
    for match in re.finditer(r"(?<!`)`([^`]+)`(?!`)", text):
        code = " ".join(match.group(1).replace("\\|", "|").split())
        if INLINE_COMMAND.match(code):
            yield text.count("\n", 0, match.start()) + 1, code


def placeholder(token: str) -> bool:
    """A token that stands for a user's value (``CFG``, ``FILE``, ``<package>.<stage>``, ``...``)."""
    name = token.rstrip("/").rsplit("/", 1)[-1]
    return (bool(re.search(r"[<>$*{}]|\.\.\.", token))
            or bool(re.fullmatch(r"[A-Z][A-Z0-9_]*(\.[a-z]+)?", name)))


def module_exists(module: str) -> bool:
    """``python -m module`` can run from the repository root: module.py or module/__main__.py."""
    path = ROOT / module.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


def tokens_of(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=True)
    except ValueError:  # unbalanced quotes in an example: fall back to whitespace
        return command.split("#", 1)[0].split()


def problems_of(command: str) -> list[str]:
    """What a command names that does not exist."""
    problems = []
    words = tokens_of(command)
    commands, current = [], []
    for word in words:
        if word in ("&&", "||", ";", "|", "&"):
            commands.append(current)
            current = []
        else:
            current.append(word)
    commands.append(current)
    for words in commands:
        while words and (re.match(r"[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in WRAPPERS):
            words = words[1:]  # environment assignments and wrappers
        if not words:
            continue
        program, args = words[0], words[1:]
        if program in ("bash", "sh", "source", "."):
            script = next((a for a in args if not a.startswith("-")), None)
            if script and not placeholder(script) and not (ROOT / script).is_file():
                problems.append(f"script {script} does not exist")
        elif re.match(r"(\./)?scripts/", program):
            if not (ROOT / program).is_file():
                problems.append(f"script {program} does not exist")
        elif re.fullmatch(r"(\S*/)?python3?|torchrun", program):
            if "-m" in args:
                module = args[args.index("-m") + 1] if args.index("-m") + 1 < len(args) else ""
                if not placeholder(module) and not module_exists(module):
                    problems.append(f"module {module} has no {module.replace('.', '/')}.py or __main__.py")
            elif program != "torchrun":
                script = next((a for a in args if not a.startswith("-")), None)
                if script and script.endswith(".py") and not placeholder(script) and not (ROOT / script).is_file():
                    problems.append(f"script {script} does not exist")
        for i, word in enumerate(words):
            config = None
            if word == "--config" and i + 1 < len(words):
                config = words[i + 1]
            elif word.startswith("--config="):
                config = word.split("=", 1)[1]
            elif re.fullmatch(r"(\./)?configs/\S+\.ya?ml", word) and words[i - 1] != "--config":
                config = word
            if config and not placeholder(config) and not (ROOT / config).is_file():
                problems.append(f"config {config} does not exist")
    return problems


# ------------------------------------------------------------------------------ the tests


def test_the_pages_are_found():
    names = {rel(p) for p in PAGES}
    assert {"README.md", "docs/design.md", "docs/adding_a_space.md", "docs/nas_bench_201.md"} <= names


def test_slugs_follow_github():
    assert slug("Tables 1 and 2 at the CPU long scale (`--preset cpu_long`)") == \
        "tables-1-and-2-at-the-cpu-long-scale---preset-cpu_long"
    assert slug("One RLNAS run per dataset at paper scale (Table 1 row D, Table 2)") == \
        "one-rlnas-run-per-dataset-at-paper-scale-table-1-row-d-table-2"
    assert slug("Reproducing the paper's study: Tables 1, 2 & 7") == "reproducing-the-papers-study-tables-1-2--7"
    assert slug("2. Layout and interfaces") == "2-layout-and-interfaces"
    assert slug("RLNAS† (uniform) **bold** [link](x.md)") == "rlnas-uniform-bold-link"


def test_duplicate_headings_get_numbered_anchors(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n## Runs\n```\n## not a heading\n```\n## Runs\n## Runs\n")
    assert anchors(page) == {"title", "runs", "runs-1", "runs-2"}


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for number, target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            continue  # http(s), mailto: not checked here
        path_part, _, anchor = target.partition("#")
        linked = page if not path_part else (page.parent / path_part).resolve()
        where = f"{rel(page)}:{number}: {target}"
        if not linked.exists():
            broken.append(f"{where}: {path_part} does not exist")
            continue
        if ROOT not in linked.parents and linked != ROOT:
            broken.append(f"{where}: points outside the repository")
            continue
        if anchor:
            if linked.suffix != ".md":
                broken.append(f"{where}: an anchor into a file that is not Markdown")
            elif anchor not in anchors(linked):
                broken.append(f"{where}: no heading with anchor #{anchor} in {rel(linked)}")
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_command_names_files_that_exist(page):
    broken = []
    for number, command in [*fenced_commands(page), *inline_commands(page)]:
        broken += [f"{rel(page)}:{number}: {problem} ({command[:100]})" for problem in problems_of(command)]
    assert not broken, "commands naming missing files:\n" + "\n".join(broken)


def test_the_command_check_catches_what_it_should():
    assert problems_of("bash scripts/nas_bench_201/no_such_stage.sh --config configs/nas_bench_201/cifar10.yaml")
    assert problems_of("bash scripts/quickstart.sh --config configs/nas_bench_201/no_such.yaml")
    assert problems_of("NPROC=8 python -m nas_bench_201.no_such_module --config CFG")
    assert problems_of("torchrun --nproc_per_node=8 -m darts_search_space.no_such --config configs/darts/imagenet.yaml")
    assert problems_of("scripts/darts/train_supernet_ddp.sh 8 configs/darts/no_such.yaml")
    assert not problems_of("NPROC=8 bash scripts/darts/retrain.sh --config configs/darts/retrain_imagenet.yaml "
                           "--arch X")
    assert not problems_of("python -m common.stages search --space NAME --config FILE")  # common/stages/__main__.py
    assert not problems_of("python -m <package>.<stage> --config FILE [--set key=value ...]")
    assert not problems_of("python -m nas_bench_201.info --arch '|nor_conv_3x3~0|+|none~0|none~1|'  # a comment")


def test_readme_is_a_landing_page():
    text = README.read_text(encoding="utf-8")
    lines = text.split("\n")
    assert len(lines) - (lines[-1] == "") <= 200, f"README.md has {len(lines)} lines; the details belong in docs/"
    _, blocks = split_fences(text)
    first = [line.split("#")[0].strip() for line in blocks[0][2]]
    assert first == ["bash scripts/quickstart.sh", "bash scripts/test.sh"], \
        "the README's first code block: the two set-up commands"
    assert text.index("```") < text.index("\n## "), "the two commands come before the first section"


def test_readme_transcript_is_what_the_pipeline_prints():
    """The quickstart transcript in the README, rebuilt from its own numbers by the code that prints it:
    the format of every line, each index's architecture string and the order of tied angles."""
    from types import SimpleNamespace

    import numpy as np

    from nas_bench_201.pipeline import summary
    from nas_bench_201.space import benchmark_archs, to_str

    _, blocks = split_fences(README.read_text(encoding="utf-8"))
    transcript = next(body for info, _, body in blocks if body and body[0].startswith("RLNAS on NAS-Bench-201 ("))
    head = re.fullmatch(r"RLNAS on NAS-Bench-201 \((\w+), labels: (\w+)\), run directory (\S+)", transcript[0])
    search = next(re.fullmatch(r"(\w+) search \((\d+) scored\) found (\S+) \(index (\d+), (\w+) ([\d.]+)\)", line)
                  for line in transcript if " search (" in line)
    accuracies = next(line for line in transcript if "accuracies (%):" in line).split(": ", 1)[1]
    tau = next(re.fullmatch(r"Kendall tau \(angle vs (\w+), all (\d+) architectures\): (-?[\d.]+)", line)
               for line in transcript if line.startswith("Kendall tau"))
    assert head and search and tau, "the transcript's lines are not the pipeline's"

    angles = np.zeros(len(benchmark_archs()))
    for line in transcript:
        top = re.fullmatch(r"  ([\d.]+)  #(\d+)\s+\S+", line)
        if top:
            angles[int(top.group(2))] = float(top.group(1))
    cfg = SimpleNamespace(data=SimpleNamespace(dataset=head.group(1)), labels=SimpleNamespace(mode=head.group(2)),
                          search=SimpleNamespace(strategy=search.group(1), score=search.group(5)),
                          benchmark=SimpleNamespace(dataset=tau.group(1).rsplit("_", 1)[0]))
    benchmark = {name: float(value) for name, value in (pair.rsplit(" ", 1) for pair in accuracies.split(", "))}
    result = {"evaluated": int(search.group(2)),
              "best": {"arch_str": search.group(3), "index": int(search.group(4)), "score": float(search.group(6)),
                       "benchmark": benchmark}}
    corr = {"metric": tau.group(1), "n": int(tau.group(2)), "kendall_tau": float(tau.group(3))}
    printed = summary(cfg, Path(head.group(3)), angles, result, corr).strip("\n").split("\n")
    assert printed == transcript
    assert to_str(benchmark_archs()[result["best"]["index"]]) == result["best"]["arch_str"]
