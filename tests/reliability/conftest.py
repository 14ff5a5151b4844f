"""Fault injection, black-box: the `spacex-etl` CLI in real subprocesses, on a DuckDB file and on
the real local PostgreSQL. Helpers here know only what a user knows: the command line, its exit
code and stderr, the files in the lake and the rows in the warehouse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from spacex_etl.config import Settings
from spacex_etl.warehouse import open_warehouse
from spacex_etl.warehouse.base import ident
from tests.conftest import (
    PG_DATABASE,
    PG_HOST,
    PG_PORT,
    PG_USER,
    SNAPSHOT_LAUNCHES,
    copy_installation,
)

CLI = str(Path(sys.executable).with_name("spacex-etl"))
DAY1, DAY2 = "2024-06-01", "2024-06-02"


def write(path: Path, records: Any) -> Path:
    path.write_text(json.dumps(records))
    return path


def extract(env: Env, path: Path, day: str, run_id: str | None = None) -> str:
    """Land a file; return the raw URI of its launches."""
    args = ["extract", "--input", str(path), "--date", day, "--json"]
    out = json.loads(env.cli(*args, *(["--run-id", run_id] if run_id else [])).stdout)
    [landed] = [item for item in out["landed"] if item["resource"] == "launches"]
    return str(landed["raw_uri"])


def snapshot_records() -> list[dict[str, Any]]:
    """The 205 real launches, as a fresh list each time (tests edit their copy)."""
    records: list[dict[str, Any]] = json.loads(SNAPSHOT_LAUNCHES.read_text())
    return records


@dataclass
class Env:
    """One isolated installation: a data dir (lake + DuckDB) and a warehouse."""

    data_dir: Path
    settings: Settings
    extra: dict[str, str] = field(default_factory=dict)

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPACEX_")}
        return env | {"SPACEX_DATA_DIR": str(self.data_dir)} | self.extra

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [CLI, *args],
            env=self.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def cli(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [CLI, *args], capture_output=True, text=True, env=self.environ(), timeout=600
        )
        if expect is not None and proc.returncode != expect:
            raise AssertionError(
                f"{args} exited {proc.returncode}, expected {expect}:\n{proc.stderr[-3000:]}"
            )
        return proc

    def counts(self) -> dict[str, int]:
        """Rows in every raw table (ledger included)."""
        return open_warehouse(self.settings).row_counts()

    def query(self, sql: str) -> list[dict[str, Any]]:
        """`select …` with `{raw}` standing for the raw schema."""
        return open_warehouse(self.settings).query(sql.format(raw=ident(self.settings.raw_schema)))

    def ledger(self) -> list[tuple[str, str, str | None]]:
        """(resource, status, error) of every load attempt, oldest first."""
        rows = self.query(
            "select resource, status, error from {raw}.load_ledger order by loaded_at"
        )
        return [(r["resource"], r["status"], r["error"]) for r in rows]

    def raw_files(self, day: str, resource: str = "launches") -> list[Path]:
        folder = self.data_dir / "lake" / "raw" / "spacex" / resource / f"ingest_date={day}"
        return sorted(folder.rglob(f"{resource}.json"))

    def quarantine_lines(self, day: str) -> list[dict[str, Any]]:
        folder = self.data_dir / "lake" / "quarantine" / "spacex" / "launches"
        return [
            json.loads(line)
            for path in sorted((folder / f"ingest_date={day}").rglob("*.jsonl"))
            for line in path.read_text().splitlines()
        ]


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The error line a user sees; asserts it is one line and no traceback."""
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("spacex-etl: error: "), last
    return last


def _pg_env(settings: Settings) -> dict[str, str]:
    return {
        "SPACEX_WAREHOUSE": "postgres",
        "SPACEX_PG_HOST": PG_HOST,
        "SPACEX_PG_PORT": str(PG_PORT),
        "SPACEX_PG_USER": PG_USER,
        "SPACEX_PG_DATABASE": PG_DATABASE,
        "SPACEX_RAW_SCHEMA": settings.raw_schema,
        "SPACEX_DBT_SCHEMA": settings.dbt_schema,
    }


@pytest.fixture
def duck(settings: Settings) -> Env:
    return Env(settings.data_dir, settings)


@pytest.fixture
def pg(pg_settings: Settings) -> Env:
    return Env(pg_settings.data_dir, pg_settings, _pg_env(pg_settings))


@pytest.fixture(params=["duckdb", "postgres"])
def env(request: pytest.FixtureRequest) -> Env:
    """Each test on DuckDB and on the real PostgreSQL."""
    fixture: Env = request.getfixturevalue("duck" if request.param == "duckdb" else "pg")
    return fixture


@pytest.fixture(scope="module")
def _baseline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB installation with the snapshot loaded for DAY1, made once per module."""
    data_dir = tmp_path_factory.mktemp("baseline") / "spacex"
    Env(data_dir, Settings(data_dir=data_dir)).cli("run", "--date", DAY1, "--skip-transform")
    return data_dir


@pytest.fixture
def answered_duck(answered: tuple[Path, dict[str, Any]], tmp_path: Path) -> Env:
    """A private copy of the installation where the snapshot ran for DAY1 (loaded, dbt built)."""
    data_dir = copy_installation(answered[0], tmp_path / "spacex")
    return Env(data_dir, Settings(data_dir=data_dir))


@pytest.fixture
def loaded(_baseline_dir: Path, tmp_path: Path) -> Env:
    """A private copy of the baseline installation (the snapshot loaded for DAY1)."""
    data_dir = tmp_path / "spacex"
    shutil.copytree(_baseline_dir, data_dir)
    return Env(data_dir, Settings(data_dir=data_dir))
