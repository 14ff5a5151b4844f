"""Crafted schema names and traversal run ids (issue 14): refused at start-up with one line,
before anything is created or written."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from spacex_etl.config import RedshiftSettings, Settings
from spacex_etl.errors import ConfigError
from tests.conftest import run_cli

CRAFTED = [
    'spacex" from pg_catalog.pg_authid; --',
    "spacex; drop schema public cascade",
    "1starts_with_a_digit",
    "x" * 64,
]


@pytest.mark.parametrize("name", CRAFTED)
@pytest.mark.parametrize("variable", ["SPACEX_RAW_SCHEMA", "SPACEX_DBT_SCHEMA"])
def test_crafted_schema_names_stop_the_cli_at_start_up(
    tmp_path: Path, variable: str, name: str
) -> None:
    data_dir = tmp_path / "spacex"
    proc = run_cli(
        "run", "--date", "2024-06-01", env={"SPACEX_DATA_DIR": str(data_dir), variable: name}
    )
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"spacex-etl: error: invalid setting {variable}=")
    assert "should match pattern" in line
    assert not data_dir.exists(), "something was written before the settings were checked"


def test_good_names_pass_and_database_users_are_identifiers_too() -> None:
    settings = Settings(raw_schema="spacex_raw_2", dbt_schema="_analytics")
    assert (settings.raw_schema, settings.dbt_schema) == ("spacex_raw_2", "_analytics")
    with pytest.raises(ConfigError, match="invalid setting SPACEX_REDSHIFT_DBT_USER="):
        RedshiftSettings(dbt_user='transformer" with superuser')


@pytest.mark.parametrize("run_id", ["../../etc", "..", "a/../../b", "x/y", ".", "-rf", "a" * 129])
def test_traversal_run_ids_are_refused_and_nothing_is_written(tmp_path: Path, run_id: str) -> None:
    data_dir = tmp_path / "work" / "spacex"
    env = {"SPACEX_DATA_DIR": str(data_dir)}
    proc = run_cli("extract", "--date", "2024-06-01", "--run-id", run_id, env=env)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"spacex-etl: error: run id {run_id!r} is not allowed")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == []


def test_a_crafted_manifest_cannot_steer_the_load_out_of_its_partition(tmp_path: Path) -> None:
    """A raw object whose manifest claims run id `../../../outside`: the load refuses it."""
    data_dir = tmp_path / "spacex"
    env = {"SPACEX_DATA_DIR": str(data_dir)}
    assert run_cli("extract", "--date", "2024-06-01", "--run-id", "r1", env=env).returncode == 0
    lake = data_dir / "lake"
    [manifest] = lake.glob("raw/spacex/launches/ingest_date=2024-06-01/r1/_manifest.json")
    fields = orjson.loads(manifest.read_bytes())
    manifest.write_bytes(orjson.dumps(fields | {"run_id": "../../../../outside"}))
    raw_uri = str(manifest.with_name("launches.json"))

    proc = run_cli("load", "--raw-uri", raw_uri, env=env)

    assert proc.returncode == 1
    assert "run id '../../../../outside' is not allowed" in proc.stderr
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and lake not in p.parents]
    assert all(p.suffix != ".parquet" for p in outside), outside
    assert not list(lake.glob("staged/**/*.parquet"))
