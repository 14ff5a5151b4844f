"""The Makefile's promises, through `make`: `clean` removes the local state and nothing else,
`airflow` is sized for a 2-core machine, `bench` writes to a scratch folder unless published,
`docs` installs no Airflow and serves the project's own overview, even before the first run."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def make(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_make_clean_removes_the_local_state_and_nothing_else(tmp_path: Path) -> None:
    shutil.copy(REPO / "Makefile", tmp_path)
    state = [".spacex/lake/raw", ".airflow/logs", "dbt_spacex/target", "dbt_spacex/logs"]
    kept = [".venv/bin", ".tools/bin", "dbt_spacex/models", "part-3/bench"]
    for folder in state + kept:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "file").write_text("x")

    make("clean", cwd=tmp_path)

    assert [f for f in state if (tmp_path / f.split("/")[0] / f.split("/")[1]).exists()] == []
    assert not (tmp_path / ".spacex").exists() and not (tmp_path / ".airflow").exists()
    assert [f for f in kept if not (tmp_path / f / "file").is_file()] == []


SIZING = {
    "AIRFLOW__CORE__PARALLELISM": ("core", "parallelism"),
    "AIRFLOW__API__WORKERS": ("api", "workers"),
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": ("dag_processor", "parsing_processes"),
}


def airflow_settings(tmp_path: Path, env: dict[str, str]) -> dict[str, int]:
    """What Airflow itself reads for each sizing option, given `env`."""
    keys = json.dumps({name: list(option) for name, option in SIZING.items()})
    code = (
        "import json; from airflow.configuration import conf; "
        f"print(json.dumps({{n: conf.getint(*o) for n, o in json.loads({keys!r}).items()}}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=clean | {"AIRFLOW_HOME": str(tmp_path)} | env,
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.slow  # reads Airflow's config in two subprocesses: minutes on a busy machine
def test_make_airflow_is_sized_for_two_cores(tmp_path: Path) -> None:
    pytest.importorskip("airflow", reason="the airflow dependency group is not installed")
    recipe = make("-n", "airflow")
    started = dict(re.findall(r"\b(AIRFLOW__[A-Z_]+)=(\S+)", recipe))

    sized = airflow_settings(tmp_path, {k: v for k, v in started.items() if k in SIZING})
    defaults = airflow_settings(tmp_path, {})

    assert sized == {
        "AIRFLOW__CORE__PARALLELISM": 4,  # task processes at once, not Airflow's 32
        "AIRFLOW__API__WORKERS": 1,
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": 1,
    }
    # Airflow's LocalExecutor forks `parallelism` worker processes when it starts (32 by default)
    assert defaults["AIRFLOW__CORE__PARALLELISM"] > sized["AIRFLOW__CORE__PARALLELISM"]
    assert all(defaults[name] >= sized[name] for name in SIZING), defaults
    assert "docker/airflow/standalone.sh" in recipe


def test_make_bench_writes_to_a_scratch_folder_unless_published() -> None:
    for target in ("bench", "bench-dbt"):
        assert "--out .spacex/bench/out" in make("-n", target), target
        assert "--out part-3/bench" in make("-n", target, "PUBLISH=1"), target


def test_make_docs_installs_the_pipeline_without_airflow() -> None:
    recipe = make("-n", "docs")
    [sync] = [line for line in recipe.splitlines() if " sync " in line]
    assert "--no-default-groups" in sync and "--all-groups" not in sync


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body: bytes = response.read()
            return body
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


@pytest.mark.slow
def test_make_docs_serves_the_projects_own_overview_before_any_run(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPACEX_", "DBT_"))}
    env |= {
        "SPACEX_DATA_DIR": str(tmp_path / "never-ran"),  # no run yet: not even the folder
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    server = subprocess.Popen(
        # `-o install`: the suite's venv is installed; no sync under the other tests' feet
        ["make", "-o", "install", "docs", f"DOCS_PORT={port}"],
        cwd=REPO,
        env=env,
        stdout=(tmp_path / "make.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # make, dbt and its server: stopped as one group below
    )
    try:
        deadline = time.monotonic() + 600
        while (page := get(f"http://127.0.0.1:{port}/")) is None:
            log = (tmp_path / "make.log").read_text(errors="replace")
            assert server.poll() is None, f"make docs exited {server.returncode}:\n{log[-3000:]}"
            assert time.monotonic() < deadline, "make docs did not serve within 10 min"
            time.sleep(1)  # polling interval, not synchronisation
        served = json.loads(get(f"http://127.0.0.1:{port}/manifest.json") or b"{}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)

    assert b"dbt Docs" in page or b"dbt-docs" in page or b"<html" in page.lower()
    # dbt's site shows the `__overview__` doc of any package but dbt's own, else dbt's welcome
    overviews = [d for d in served["docs"].values() if d["name"] == "__overview__"]
    [ours] = [d for d in overviews if d["package_name"] != "dbt"]
    assert ours["package_name"] == "spacex"
    text = ours["block_contents"]
    for part in ("q1_max_core_reuse", "q2_cores_reused_within_50_days", "## The layers"):
        assert part in text
    assert "## Where the tests are" in text and "## How to read the lineage" in text
    assert not (REPO / "dbt_spacex" / "target" / "catalog.json").is_relative_to(tmp_path)
    assert (tmp_path / "target" / "catalog.json").is_file()
