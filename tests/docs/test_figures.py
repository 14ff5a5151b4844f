"""Every figure in the docs that a command can produce is held to that command.

Each entry names a doc, a pattern that finds the figure in it, and what computes the true
value. The pattern must match: a rewritten sentence fails here until its entry follows, so a
count cannot drift silently. Measured figures (timings, memory) are not here: they live once,
next to the command that measured them (part-3/bench is written by the bench itself).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TF_TESTS = REPO / "terraform" / "envs" / "dev" / "tests"


@cache
def dbt_resources(tmp: str) -> Counter[str]:
    """Models, data tests and unit tests as `dbt ls` counts them (parse only, no warehouse)."""
    env = {
        **os.environ,
        "SPACEX_DATA_DIR": tmp,
        "SPACEX_DUCKDB_PATH": f"{tmp}/warehouse.duckdb",
        "DBT_TARGET_PATH": f"{tmp}/target",
        "DBT_LOG_PATH": f"{tmp}/logs",
    }
    kinds = ["--resource-type", "model", "--resource-type", "test", "--resource-type", "unit_test"]
    project = ["--project-dir", "dbt_spacex", "--profiles-dir", "dbt_spacex", "--target", "duckdb"]
    output = ["--output", "json", "--output-keys", "resource_type", "--quiet"]
    out = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dbt"), "ls", *project, *kinds, *output],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return Counter(json.loads(line)["resource_type"] for line in out.stdout.splitlines() if line)


def collected(path: str) -> int:
    """How many tests pytest collects from a file."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", path],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return sum(1 for line in out.stdout.splitlines() if "::" in line)


def tftest_runs() -> tuple[int, int]:
    files = sorted(TF_TESTS.glob("*.tftest.hcl"))
    runs = sum(len(re.findall(r'^run\s+"', f.read_text(), re.M)) for f in files)
    return runs, len(files)


def mutations() -> int:
    from tests.infra.test_terraform import MUTATIONS

    return len(MUTATIONS)


@cache
def snapshot_counts() -> dict[str, int]:
    """Counts of the bundled snapshot, with part-4's definitions."""
    data = REPO / "etl" / "spacex_etl" / "data"
    launches = json.loads((data / "launches.json").read_text())
    cores = json.loads((data / "cores_partial_2020_subset.json").read_text())
    slots = [(launch, slot) for launch in launches for slot in launch["cores"]]
    flights = [s["core"] for launch, s in slots if not launch["upcoming"] and s["core"]]
    return {
        "launches": len(launches),
        "upcoming": sum(bool(launch["upcoming"]) for launch in launches),
        "null_slots": sum(s["core"] is None for _, s in slots),
        "flights": len(flights),
        "flown_cores": len(set(flights)),
        "core_ids": len({s["core"] for _, s in slots if s["core"]}),
        "cores_file": len(cores),
    }


def dbt_vars(*names: str) -> Source:
    import yaml

    project = yaml.safe_load((REPO / "dbt_spacex" / "dbt_project.yml").read_text())
    return lambda _: tuple(int(project["vars"][name]) for name in names)


def dag_defaults(*fields: str, per: int = 1) -> Source:
    """Defaults of the DAG's settings (dags/spacex_elt_support/config.py)."""

    def source(_: Path) -> tuple[int, ...]:
        sys.path.insert(0, str(REPO / "dags"))
        try:
            config = importlib.import_module("spacex_elt_support.config")
        finally:
            sys.path.remove(str(REPO / "dags"))
        return tuple(int(config.DagConfig.model_fields[f].default) // per for f in fields)

    return source


def load_constant(name: str) -> Source:
    """A constant of the load path (etl/spacex_etl/parts.py), as a number."""

    def source(_: Path) -> tuple[int, ...]:
        value = getattr(importlib.import_module("spacex_etl.parts"), name)
        return (int(str(value).removesuffix("MB")),)

    return source


def counts(*keys: str) -> Source:
    return lambda _: tuple(snapshot_counts()[key] for key in keys)


Source = Callable[[Path], tuple[int, ...]]

FIGURES: list[tuple[str, str, Source]] = [
    (
        "part-3/README.md",
        r"warns after (\d+) h and errors after (\d+) h",
        dbt_vars("freshness_warn_hours", "freshness_error_hours"),
    ),
    (
        "part-3/README.md",
        r"warn after (\d+) h, error after (\d+) h",
        dbt_vars("freshness_warn_hours", "freshness_error_hours"),
    ),
    (
        "part-3/README.md",
        r"`memory_limit` (\d+)MB",
        lambda _: (int(__import__("spacex_etl.parts").parts.MEMORY_LIMIT.removesuffix("MB")),),
    ),
    (
        "part-3/README.md",
        r"pydantic models, ([\d,]+) at a time",
        load_constant("SLOW_CHUNK"),
    ),
    ("part-2/README.md", r"\| retries per task \| (\d+) \|", dag_defaults("retries")),
    ("part-2/README.md", r"\| first retry delay \| (\d+) s \|", dag_defaults("retry_delay_s")),
    (
        "part-2/README.md",
        r"\| longest delay \| (\d+) min \|",
        dag_defaults("max_retry_delay_s", per=60),
    ),
    ("part-3/README.md", r"one row per core id \((\d+)\)", counts("core_ids")),
    ("part-3/README.md", r"one row per launch \((\d+)\)", counts("launches")),
    (
        "part-3/README.md",
        r"one row per reuse \((\d+)\)",
        lambda _: (snapshot_counts()["flights"] - snapshot_counts()["flown_cores"],),
    ),
    ("part-4/README.md", r"The (\d+) upcoming launches are excluded", counts("upcoming")),
    ("part-4/README.md", r"the (\d+) core\s+slots with `core: null`", counts("null_slots")),
    (
        "part-4/README.md",
        r"On the bundled data: (\d+) flights of (\d+) cores",
        counts("flights", "flown_cores"),
    ),
    ("part-4/README.md", r"\((\d+) of the (\d+) core\s+ids\)", counts("cores_file", "core_ids")),
    ("README.md", r"core slots with no core id\s+\((\d+),", counts("null_slots")),
    ("README.md", r"/v5/launches` response \((\d+) launches", counts("launches")),
    ("README.md", r"`cores_partial_2020_subset.json`, (\d+) cores", counts("cores_file")),
    (
        "part-1/README.md",
        r"the bundled `/v5/launches` response is ([\d,]+) bytes",
        lambda _: ((REPO / "etl/spacex_etl/data/launches.json").stat().st_size,),
    ),
    (
        "part-3/README.md",
        r"\*\*(\d+) models, (\d+) data tests, (\d+) unit tests",
        lambda tmp: tuple(dbt_resources(str(tmp))[k] for k in ("model", "test", "unit_test")),
    ),
    (
        "part-2/README.md",
        r"`dbt\.<model>_run` \(\N{MULTIPLICATION SIGN}(\d+)\)",
        lambda tmp: (dbt_resources(str(tmp))["model"],),
    ),
    (
        "part-2/README.md",
        r"the (\d+) data and unit tests — (\d+) \+ (\d+)",
        lambda tmp: (
            dbt_resources(str(tmp))["test"] + dbt_resources(str(tmp))["unit_test"],
            dbt_resources(str(tmp))["test"],
            dbt_resources(str(tmp))["unit_test"],
        ),
    ),
    (
        "dags/README.md",
        r"runs the (\d+) data and unit\s+tests too",
        lambda tmp: (dbt_resources(str(tmp))["test"] + dbt_resources(str(tmp))["unit_test"],),
    ),
    (
        "terraform/README.md",
        r"`terraform test` \((\d+) runs in (\d+) files",
        lambda _: tftest_runs(),
    ),
    (
        "terraform/README.md",
        r"the same on (\d+) mutated copies",
        lambda _: (mutations(),),
    ),
    (
        "terraform/README.md",
        r"in envs/dev \| all (\d+) modules",
        lambda _: (len([p for p in (REPO / "terraform/modules").iterdir() if p.is_dir()]),),
    ),
    (
        "terraform/README.md",
        r"`tests/infra/test_terraform\.py` \((\d+) tests\)",
        lambda _: (collected("tests/infra/test_terraform.py"),),
    ),
]


@pytest.mark.parametrize(
    ("doc", "pattern", "source"), FIGURES, ids=[f"{d}: {p[:40]}" for d, p, _ in FIGURES]
)
def test_a_figure_equals_what_its_command_gives(
    doc: str, pattern: str, source: Source, tmp_path_factory: pytest.TempPathFactory
) -> None:
    found = re.search(pattern, (REPO / doc).read_text())
    assert found, f"{doc}: no longer says /{pattern}/ — update this entry with the sentence"
    stated = tuple(int(group.replace(",", "")) for group in found.groups())
    actual = source(tmp_path_factory.getbasetemp() / "figures")
    assert stated == actual, f"{doc}: says {stated} where the source gives {actual}"


@cache
def locked_versions() -> dict[str, str]:
    """Package versions in uv.lock (what `make install` installs)."""
    text = (REPO / "uv.lock").read_text()
    return dict(re.findall(r'^name = "([^"]+)"\nversion = "([^"]+)"', text, re.M))


# A version the docs name, by the words before it, and the locked package it must match.
VERSIONS = {
    r"\b(?:Airflow|apache-airflow) (\d+\.\d+(?:\.\d+)?)": "apache-airflow",
    r"\bastronomer-cosmos (\d+\.\d+(?:\.\d+)?)": "astronomer-cosmos",
    r"\bdbt-core (\d+\.\d+(?:\.\d+)?)": "dbt-core",
}


def test_package_versions_the_docs_name_are_the_locked_ones() -> None:
    from tests.docs.test_docs import DOCS, doc_id

    wrong = []
    for doc in DOCS:
        text = doc.read_text()
        for pattern, package in VERSIONS.items():
            locked = locked_versions()[package]
            for stated in re.findall(pattern, text):
                if not (locked == stated or locked.startswith(f"{stated}.")):
                    wrong.append(f"{doc_id(doc)}: {package} {stated} (locked: {locked})")
    assert not wrong, wrong


def test_part4_counts_are_what_their_command_prints() -> None:
    """part-4 shows the command that counts the bundled data and what it prints; run it."""
    from tests.docs.test_docs import FENCE

    text = (REPO / "part-4" / "README.md").read_text()
    section = text.split("## Where the numbers come from", 1)[1].split("\n## ", 1)[0]
    block = next(body for lang, body in FENCE.findall(section) if lang == "bash")
    command = block.split("\n.venv/bin/python -c", 2)[0]  # the first command: the file's counts
    assert command.startswith(".venv/bin/python -c"), command[:80]
    out = subprocess.run(
        ["bash", "-c", command], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    stated = re.search(r"They print `([^`]+)`", section)
    assert stated, "part-4 no longer says what the command prints"
    assert " ".join(stated[1].split()) == " ".join(out.stdout.split())
