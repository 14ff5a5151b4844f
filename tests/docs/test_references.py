"""What the docs cite exists: every test file and test name, every repo path, every `make`
target named in running text (the ```bash blocks are checked in test_docs.py), and the README's
first screen links every part and discussion question of the brief to its answer.

A citation is an inline code span: `tests/unit/test_lake.py`, `security/test_sources.py::test_x`
(a path relative to tests/ is found by its suffix), `…::test_y` (the same file as the citation
before it in that doc), `test_faults.py::test_killed_…` / `test_oversized_*` (a prefix),
`…_dbt_build_failed` (a suffix), `::test_z[param]` (parameters are not checked).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from tests.docs.test_docs import DOCS, FENCE, doc_id, heading_anchors, make_targets

REPO = Path(__file__).resolve().parents[2]
SPAN = re.compile(r"`([^`\n]+)`")
TOP_DIRS = ("tests", "etl", "dags", "dbt_spacex", "terraform", "docker", "part-1", "part-2")
REPO_PATH = re.compile(rf"^(?:{'|'.join(re.escape(d) for d in TOP_DIRS)}|part-\d)/[\w./*-]+$")
TEST_CITATION = re.compile(r"^(?P<file>[\w./-]*\.py)?(?:::(?P<test>.+))?$")
ELLIPSIS = "…"
FILE_NAME = re.compile(r"^[\w.-]+\.(?:py|sql)$")  # modules and models, by name alone
SKIP_DIRS = {".venv", ".tools", ".git", "target", "dbt_packages", "node_modules", ".spacex"}


@cache
def repo_file_names() -> frozenset[str]:
    """Names of the files in the checkout (a doc may name a module by its file name alone)."""
    return frozenset(
        path.name
        for path in REPO.rglob("*")
        if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(REPO).parts)
    )


@cache
def defined_tests() -> dict[str, frozenset[str]]:
    """Each test file under tests/ (relative to the repo) and the test functions it defines."""
    found = {}
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        names = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")
        }
        found[str(path.relative_to(REPO))] = frozenset(names)
    return found


def cited_test_file(cited: str) -> str | None:
    """The test file a citation names: a repo path, or a unique suffix under tests/."""
    if cited in defined_tests():
        return cited
    matches = [path for path in defined_tests() if path.endswith(f"/{cited}")]
    return matches[0] if len(matches) == 1 else None


def name_matches(cited: str, names: frozenset[str]) -> bool:
    cited = cited.split("[", 1)[0].strip()
    if cited.startswith(ELLIPSIS):
        return any(name.endswith(cited.lstrip(ELLIPSIS)) for name in names)
    if cited.endswith((ELLIPSIS, "*")):
        return any(name.startswith(cited.rstrip(ELLIPSIS + "*")) for name in names)
    return cited in names


def citations(doc: Path) -> list[str]:
    text = FENCE.sub("", doc.read_text())
    return SPAN.findall(text)


def broken_citations(doc: Path) -> list[str]:
    broken: list[str] = []
    previous_file: str | None = None
    all_names = frozenset(n for names in defined_tests().values() for n in names)
    for span in citations(doc):
        span = span.strip()
        if span.startswith(ELLIPSIS + "::"):
            if previous_file is None or not name_matches(span[3:], defined_tests()[previous_file]):
                broken.append(span)
            continue
        match = TEST_CITATION.match(span)
        if match and match["file"] and re.search(r"(^|/)test_\w+\.py$", match["file"]):
            found = cited_test_file(match["file"])
            if found is None:
                broken.append(span)
                continue
            previous_file = found
            if match["test"] and not name_matches(match["test"], defined_tests()[found]):
                broken.append(span)
        elif re.fullmatch(rf"{ELLIPSIS}?test_\w+{ELLIPSIS}?\*?|{ELLIPSIS}_\w+", span):
            if not name_matches(span, all_names):
                broken.append(span)
        elif FILE_NAME.match(span):
            if span not in repo_file_names():
                broken.append(span)
        elif REPO_PATH.match(span.split("::", 1)[0]) and not re.search(r"<|/target/", span):
            path = span.split("::", 1)[0].rstrip("/")
            if not (any(REPO.glob(path)) if "*" in path else (REPO / path).exists()):
                broken.append(span)
    return broken


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_cited_tests_and_paths_exist(doc: Path) -> None:
    broken = broken_citations(doc)
    assert not broken, f"{doc_id(doc)} cites tests or paths that do not exist: {broken}"


def test_the_citation_check_can_fail(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "`tests/docs/test_references.py::test_cited_tests_and_paths_exist` "
        "`…::test_no_such_test` `security/test_nowhere.py` `tests/nowhere/` `test_gone_*` "
        "`gone_module.py` `contract.py`"
    )
    assert broken_citations(doc) == [
        "…::test_no_such_test",
        "security/test_nowhere.py",
        "tests/nowhere/",
        "test_gone_*",
        "gone_module.py",
    ]


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_make_targets_named_in_the_text_exist(doc: Path) -> None:
    named = {
        word
        for span in citations(doc)
        if span.startswith("make ")
        for word in span.split()[1:]
        if re.fullmatch(r"[a-z][\w-]*", word)
    }
    missing = sorted(named - make_targets())
    assert not missing, f"{doc_id(doc)} names make targets that do not exist: {missing}"


# The brief's parts and discussion questions, each a row of the README's first table.
BRIEF = {
    "Part 1": "part-1/README.md",
    "Part 2": "part-2/README.md",
    "Part 3": "part-3/README.md",
    "Part 4": "part-4/README.md",
    "Extraction": "part-1/README.md#",
    "S3": "part-1/README.md#",
    "Redshift": "part-1/README.md#",
    "scale": "#",
    "optimised": "part-3/README.md#",
    "types of tests": "#",
    "Data quality": "part-3/README.md#",
    "Schema changes": "part-3/README.md#",
    "Observability": "#",
    "Retries": "#",
    "failure handling": "#",
    "Security": "part-1/README.md#",
}


def test_the_readme_first_screen_answers_the_brief() -> None:
    """Within the first 40 lines, one table row per part and question, linking to a section."""
    lines = (REPO / "README.md").read_text().splitlines()[:40]
    rows = [line for line in lines if line.startswith("| ") and "](" in line]
    for topic, target in BRIEF.items():
        row = next((r for r in rows if topic in r.split("|")[1]), None)
        assert row, f"the README's first screen has no row for {topic!r}"
        links = re.findall(r"\]\(([^)]+)\)", row.split("|")[2])
        assert any(target in link for link in links), f"{topic!r} does not link to {target}"
        for link in links:
            page, _, anchor = link.partition("#")
            if anchor and page.endswith(".md"):
                assert anchor in heading_anchors(REPO / page), f"{topic!r}: {link} has no section"


NARRATIVE = re.compile(
    r"\bissues? #?\d+|\(issue|\bBefore(?::| \(commit)|\bbefore (?:this|these) (?:change|fix)"
    r"|not re-run|previous session|\bused to (?:accept|be)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_no_development_narrative(doc: Path) -> None:
    """Docs speak to users about what is; how it came to be is git's history."""
    found = [m[0] for m in NARRATIVE.finditer(doc.read_text())]
    assert not found, f"{doc_id(doc)}: development narrative (history belongs in git): {found}"


def test_the_readme_layout_names_every_module_of_the_package_and_only_those() -> None:
    """README "## Layout": each module (and folder) of etl/spacex_etl/ has its line, and every
    name written under `etl/spacex_etl/` is one that exists there."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Layout", 1)[1].split("```")[1]
    package = REPO / "etl" / "spacex_etl"
    lines = block.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("etl/spacex_etl/"))
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"\S", lines[i]))
    named = set(re.findall(r"\b[\w]+\.py\b|\b[a-z_]+/", "\n".join(lines[start + 1 : end])))
    existing = {p.name for p in package.glob("*.py") if p.name != "__init__.py"} | {
        f"{p.name}/" for p in package.iterdir() if p.is_dir() and p.name != "__pycache__"
    }
    adapters = {p.name for p in (package / "warehouse").glob("*.py")}
    assert existing - named == set(), "modules the layout does not describe"
    assert named - existing - adapters == set(), "names in the layout that are not modules"
