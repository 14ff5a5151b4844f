"""The docs stay honest: what they tell a reader to run exists, and the cheap commands run.

Every fenced ```bash block in the project's Markdown is a runnable block (output is fenced as
```text): its `make` targets must exist, its `spacex-etl` subcommands and options must be in the
CLI's help, the paths it hands to `.venv/bin/*` tools must exist. Relative links and images must
resolve, and a link to a section (`page.md#anchor`) must name a heading of that page. The
README's configuration table lists exactly the environment variables Settings reads.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from functools import cache
from pathlib import Path

import pytest

from spacex_etl.config import env_names
from tests.conftest import run_cli
from tests.tooling import dag_env_names

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".tools", ".git", "target", "dbt_packages", "node_modules", ".spacex"}
DOCS = sorted(
    path
    for path in REPO.rglob("*.md")
    if not SKIP_DIRS.intersection(path.relative_to(REPO).parts) and not path.name.startswith(".")
)
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
ENV_VAR = re.compile(r"\bSPACEX_[A-Z0-9_]+\b")


def doc_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def shell_commands(text: str) -> list[str]:
    """The commands of every ```bash block: comments dropped, continuations joined, split on
    `&&`, `||`, `;` and `|`."""
    commands: list[str] = []
    for lang, body in FENCE.findall(text):
        if lang not in {"bash", "sh", "shell"}:
            continue
        pending = ""
        for raw in re.sub(r"\\\n\s*", " ", body).splitlines():
            pending = f"{pending}\n{raw}" if pending else raw
            try:
                shlex.split(pending, comments=True)
            except ValueError:  # an open quote: the command goes on on the next line
                continue
            line, pending = pending, ""
            if line.lstrip().startswith("#"):
                continue
            line = re.sub(r"\s#\s.*$", "", line).strip()
            commands += [part for part in re.split(r"\s*(?:&&|\|\||;|\s\|\s)\s*", line) if part]
    return commands


@cache
def make_targets() -> frozenset[str]:
    out = subprocess.run(["make", "-qp"], cwd=REPO, capture_output=True, text=True, check=False)
    names = re.findall(r"^([a-zA-Z][\w-]*):", out.stdout, re.MULTILINE)
    return frozenset(names)


@cache
def cli_help(*subcommand: str) -> str:
    cli = REPO / ".venv" / "bin" / "spacex-etl"
    out = subprocess.run(
        [str(cli), *subcommand, "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"},
    )
    assert out.returncode == 0, f"spacex-etl {' '.join(subcommand)} --help: {out.stderr}"
    return out.stdout


def words(command: str) -> list[str]:
    """The words after leading `VAR=value` assignments."""
    try:
        parts = shlex.split(command)
    except ValueError:  # a quote split across `$(… | …)`: only the leading words matter here
        parts = command.split()
    while parts and re.match(r"^[A-Z_][A-Z0-9_]*=", parts[0]):
        parts.pop(0)
    return parts


ALL_COMMANDS = [(doc_id(p), c) for p in DOCS for c in shell_commands(p.read_text())]


def test_the_docs_have_runnable_blocks() -> None:
    """The parser finds the README's commands (a parser that finds nothing would pass anything)."""
    readme = [c for d, c in ALL_COMMANDS if d == "README.md"]
    assert "make run" in readme
    assert "make test" in readme
    assert any(c.startswith(".venv/bin/spacex-etl run") for c in readme)


@pytest.mark.parametrize(("doc", "command"), ALL_COMMANDS, ids=lambda v: str(v)[:60])
def test_each_documented_command_names_what_exists(doc: str, command: str) -> None:
    argv = words(command)
    if not argv:
        return
    tool = argv[0]
    if tool == "make":
        targets = [a for a in argv[1:] if not a.startswith("-") and "=" not in a]
        missing = sorted(set(targets) - make_targets())
        assert not missing, f"{doc}: `{command}` names make targets that do not exist: {missing}"
    elif tool.endswith("spacex-etl"):
        assert tool == ".venv/bin/spacex-etl", f"{doc}: call the CLI as .venv/bin/spacex-etl"
        args = argv[1:]
        sub = args[0] if args and not args[0].startswith("-") else None
        text = cli_help(sub) if sub else cli_help()
        for option in (a.split("=", 1)[0] for a in args if a.startswith("--")):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (
                f"{doc}: `{command}`: {option} is not an option of spacex-etl {sub or ''}"
            )
    elif tool.startswith(".venv/bin/"):
        assert (REPO / tool).exists(), f"{doc}: `{command}`: {tool} is not installed by make"
        for arg in argv[1:]:
            if re.match(r"^(tests|dbt_spacex|etl|dags|terraform|docker|part-\d)/", arg):
                path = REPO / arg.split("::", 1)[0]
                assert path.exists(), f"{doc}: `{command}`: {arg} does not exist"
    elif tool in {"uv", "uvx"}:
        pytest.fail(f"{doc}: `{command}`: a new machine has no uv on PATH; use .tools/bin/{tool}")


@pytest.mark.parametrize("args", [["help"]], ids=["make help"])
def test_cheap_make_targets_run(args: list[str]) -> None:
    out = subprocess.run(["make", *args], cwd=REPO, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "make run" in out.stdout
    assert "make test" in out.stdout


def test_every_cli_subcommand_in_the_docs_answers_help() -> None:
    subs = {
        words(c)[1]
        for _, c in ALL_COMMANDS
        if words(c)[:1] == [".venv/bin/spacex-etl"] and len(words(c)) > 1
    }
    subs.discard("--help")
    assert subs, "the docs show no spacex-etl subcommand"
    for sub in sorted(subs):
        assert "Usage" in cli_help(sub)


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_relative_links_and_images_resolve(doc: Path) -> None:
    text = FENCE.sub("", doc.read_text())
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{doc_id(doc)}: broken relative links: {broken}"


def heading_anchors(doc: Path) -> set[str]:
    """The anchors GitHub gives a file's headings: lowercased, punctuation dropped, spaces to
    hyphens, `-1`, `-2`, … on repeats (headings inside fenced blocks are not headings)."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCE.sub("", doc.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_links_to_a_section_name_one_that_exists(doc: Path) -> None:
    text = FENCE.sub("", doc.read_text())
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or "#" not in target:
            continue
        page, anchor = target.split("#", 1)
        path = (doc.parent / page).resolve() if page else doc
        if path.suffix == ".md" and path.is_file() and anchor not in heading_anchors(path):
            broken.append(target)
    assert not broken, f"{doc_id(doc)}: links to sections that do not exist: {broken}"


def masked(lines: list[str], data_dir: str) -> list[str]:
    """What changes from run to run or machine to machine: run id, dates, paths, timings."""
    out = []
    for line in lines:
        line = line.replace(data_dir, "<repo>/.spacex").rstrip()
        line = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "<run id>", line)
        line = re.sub(r"ingest_date=\d{4}-\d\d-\d\d", "ingest_date=<date>", line)
        line = re.sub(r"data_quality-\d{8}T\d+Z", "data_quality-<time>", line)
        line = re.sub(r"\d+(\.\d+)? days old", "<n> days old", line)  # the source's age
        if line.lstrip().startswith("timings"):
            line = re.sub(r"\d+\.\d+s", "<t>s", line)
        out.append(line)
    return out


@pytest.mark.slow
def test_the_readme_shows_what_make_run_prints(tmp_path: Path) -> None:
    """The README's sample is `make run`'s output line for line (the CLI part; make echoes its
    recipe lines first)."""
    text = (REPO / "README.md").read_text()
    section = text.split("## What `make run` prints", 1)[1].split("\n## ", 1)[0]
    sample = next(body for lang, body in FENCE.findall(section) if lang == "text").splitlines()
    sample = sample[next(i for i, line in enumerate(sample) if line.startswith("spacex-etl ")) :]
    data_dir = tmp_path / "spacex"
    out = run_cli(
        "run",
        "--date",
        "2026-12-02",
        "--input",
        "snapshot",
        env={"SPACEX_DATA_DIR": str(data_dir), "SPACEX_WAREHOUSE": "duckdb"},
    )
    assert out.returncode == 0, out.stderr
    assert masked(sample, str(data_dir)) == masked(out.stdout.splitlines(), str(data_dir))


def readme_config_vars() -> set[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in ENV_VAR.findall(row.split("|")[1])}


def test_the_configuration_table_matches_settings() -> None:
    documented, actual = readme_config_vars(), env_names()
    assert documented, "README has no configuration table"
    assert not documented - actual, f"documented but not read by Settings: {documented - actual}"
    assert not actual - documented, f"read by Settings but not documented: {actual - documented}"


def test_every_env_var_the_docs_mention_exists() -> None:
    actual = env_names() | dag_env_names()
    unknown = {
        (doc_id(doc), name)
        for doc in DOCS
        for name in ENV_VAR.findall(doc.read_text())
        if name not in actual and not name.startswith("SPACEX_TEST_") and not name.endswith("_")
    }
    assert not unknown, f"env vars named in the docs that Settings does not read: {unknown}"
