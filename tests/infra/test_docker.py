"""What no tool checks about the images: that they agree with the rest of the repo.

The images are built and run for real by `make stack-test` (tests/stack/run_stack.py) and linted
by hadolint in `make lint`; here only the agreements between files, which neither does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.tooling import dag_env_names

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "docker").glob("*.Dockerfile"))
BASE_ARG = re.compile(r"^ARG PYTHON_IMAGE=(\S+)$", re.MULTILINE)


def compose_default(variable: str) -> set[str]:
    """The defaults docker-compose.yml gives `${variable:-…}`."""
    text = (REPO / "docker-compose.yml").read_text()
    return set(re.findall(rf"\$\{{{variable}:-([^}}]+)\}}", text))


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_base_image_is_a_pinned_build_arg(path: Path) -> None:
    """Users get the digest-pinned base; stack-test can pass a stand-in; no registry frontend."""
    text = path.read_text()
    assert not text.startswith("# syntax="), "a syntax line makes BuildKit pull a frontend"
    (default,) = BASE_ARG.findall(text)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", default), default
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert froms and set(froms) == {"${PYTHON_IMAGE}"}, froms
    assert compose_default("PYTHON_IMAGE") == {default}, "compose builds with another base"


def test_both_images_use_the_uv_make_bootstraps() -> None:
    makefile = (REPO / "Makefile").read_text()
    (wanted,) = re.findall(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    for path in DOCKERFILES:
        assert re.findall(r"\buv==(\S+)", path.read_text()) == [wanted], path.name


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_image_settings_are_read_by_the_pipeline(path: Path) -> None:
    """Every SPACEX_* an image sets is a setting spacex_etl or the DAG reads (a typo would be
    ignored)."""
    from spacex_etl.config import env_names

    code = "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith("#"))
    names = set(re.findall(r"\b(SPACEX_[A-Z_]+)=", code))
    read = set(env_names()) | dag_env_names()
    assert names, path.name
    assert names <= read, sorted(names - read)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_final_stage_runs_as_a_fixed_non_root_uid(path: Path) -> None:
    final = path.read_text().rsplit("\nFROM ", 1)[1]
    users = re.findall(r"^USER (\S+)$", final, re.MULTILINE)
    assert users and re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]), users


def test_dependency_layers_do_not_depend_on_the_readme() -> None:
    """The slow dependency layer is rebuilt only when pyproject.toml or uv.lock change."""
    for path in DOCKERFILES:
        text = path.read_text()
        deps = text.index("--no-install-project")
        copies = re.findall(r"^COPY (?!--from)(.+)$", text[:deps], re.MULTILINE)
        assert copies == ["pyproject.toml uv.lock ./"], (path.name, copies)
