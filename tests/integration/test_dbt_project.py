"""The dbt project on a real DuckDB file seeded by the real loader (`spacex-etl run
--skip-transform`): build green (models, data tests, unit tests), lineage in the docs manifest,
incremental == full refresh for `fct_launches`, the answers against plain Python, and the
part-4 Redshift SQL giving the same answers as the marts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import sqlglot

from tests.conftest import PG_DATABASE, PG_HOST, PG_PORT, PG_USER
from tests.independent import independent_flights

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO / "dbt_spacex"
PART4 = REPO / "part-4"
SNAPSHOT_LAUNCHES = REPO / "etl" / "spacex_etl" / "data" / "launches.json"
CLI = str(Path(sys.executable).with_name("spacex-etl"))
DBT = str(Path(sys.executable).with_name("dbt"))
DBT_SCHEMA = "spacex"
# Build only the selected models' own tests, not tests that also touch unbuilt models.
CAUTIOUS = ("--indirect-selection", "cautious")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Warehouse:
    """A warehouse seeded by the loader, its schemas, and the folder dbt writes into for it."""

    root: Path
    target: str = "duckdb"
    raw_schema: str = "spacex_raw"
    dbt_schema: str = DBT_SCHEMA

    @property
    def data_dir(self) -> Path:
        return self.root / "spacex"

    @property
    def path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def dbt_out(self) -> Path:
        return self.root / "dbt"

    def env(self) -> dict[str, str]:
        """The environment for the loader and dbt: this warehouse only, no developer settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPACEX_", "DBT_"))}
        env.update(
            {
                "SPACEX_DATA_DIR": str(self.data_dir),
                "SPACEX_WAREHOUSE": self.target,
                "SPACEX_DUCKDB_PATH": str(self.path),
                "SPACEX_RAW_SCHEMA": self.raw_schema,
                "SPACEX_DBT_SCHEMA": self.dbt_schema,
                "SPACEX_PG_HOST": PG_HOST,
                "SPACEX_PG_PORT": str(PG_PORT),
                "SPACEX_PG_USER": PG_USER,
                "SPACEX_PG_DATABASE": PG_DATABASE,
                "DBT_TARGET_PATH": str(self.dbt_out / "target"),
                "DBT_LOG_PATH": str(self.dbt_out / "logs"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            }
        )
        return env


def spacex_etl(warehouse: Warehouse, *args: str) -> None:
    """Run the loader CLI (`spacex-etl`) against `warehouse`."""
    proc = subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=warehouse.env(), timeout=600, check=False
    )
    assert proc.returncode == 0, f"spacex-etl {args} exited {proc.returncode}:\n{proc.stderr}"


def seed(warehouse: Warehouse) -> Warehouse:
    """Load the bundled snapshot into `warehouse` through the real loader."""
    spacex_etl(warehouse, "run", "--date", "2024-06-01", "--skip-transform")
    return warehouse


def dbt(warehouse: Warehouse, *args: str, check: bool = True) -> list[dict[str, Any]]:
    """Run dbt against `warehouse` in a subprocess, writing target/ and logs/ outside the repo.

    A subprocess, not dbtRunner: in-process dbt-duckdb keeps the DuckDB file open (and locked)
    after the invocation, which would block the loader's next batch. Returns run_results.
    """
    command = [DBT, *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    proc = subprocess.run(
        [*command, "--target", warehouse.target],
        capture_output=True,
        text=True,
        env=warehouse.env(),
        cwd=warehouse.root,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0 or not check, (
        f"dbt {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}"
    )
    name = "sources.json" if args[:2] == ("source", "freshness") else "run_results.json"
    results = json.loads((warehouse.dbt_out / "target" / name).read_text())
    return list(results["results"])


def query(warehouse: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    if warehouse.target == "postgres":
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE) as conn:
            return conn.execute(sql).fetchall()
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, list[dict[str, Any]]]:
    """The snapshot loaded and `dbt build` run once for the module's read-only checks."""
    warehouse = seed(Warehouse(tmp_path_factory.mktemp("dbt_build")))
    return warehouse, dbt(warehouse, "build")


# --- build ------------------------------------------------------------------------------------
def test_build_runs_models_data_tests_and_unit_tests(
    built: tuple[Warehouse, list[dict[str, Any]]],
) -> None:
    _, results = built
    kinds: dict[str, int] = defaultdict(int)
    for r in results:
        kinds[r["unique_id"].split(".")[0]] += 1
        assert r["status"] in {"success", "pass"}, f"{r['unique_id']}: {r['status']} {r['message']}"
    assert kinds["model"] >= 11
    assert kinds["unit_test"] >= 5
    assert kinds["test"] >= 70


def test_answer_models_match_plain_python(built: tuple[Warehouse, list[dict[str, Any]]]) -> None:
    warehouse, _ = built
    flights = independent_flights()
    max_reuse = max(len(f) for f in flights.values()) - 1
    q1 = query(
        warehouse,
        f"select core_id, core_serial, flights, reuse_count from {DBT_SCHEMA}.q1_max_core_reuse",
    )
    assert {(core, reuse) for core, _, _, reuse in q1} == {
        (core, len(f) - 1) for core, f in flights.items() if len(f) - 1 == max_reuse
    }
    assert q1 == [("5e9e28a7f3591817f23b2663", "B1058", 14, 13)]

    expected_q2 = {
        (core, after[2])
        for core, items in flights.items()
        for before, after in pairwise(items)
        if (after[0] - before[0]).total_seconds() / 86400 < 50
    }
    q2 = query(
        warehouse,
        f"select core_id, launch_id, days_since_previous_launch, calendar_days_since_previous "
        f"from {DBT_SCHEMA}.q2_cores_reused_within_50_days",
    )
    assert {(core, launch) for core, launch, _, _ in q2} == expected_q2
    assert len(q2) == 25
    assert all(0 <= float(days) < 50 and calendar < 50 for _, _, days, calendar in q2)


def test_api_counters_disagreements_are_explained(
    built: tuple[Warehouse, list[dict[str, Any]]],
) -> None:
    warehouse, _ = built
    rows = dict(
        query(
            warehouse,
            f"select core_id, api_flight_counter_check from {DBT_SCHEMA}.dim_cores "
            "where has_api_disagreement and api_disagreement_reason is not null",
        )
    )
    assert rows["5f57c54a0622a633027900a1"] == "gap_or_duplicate"
    assert query(warehouse, f"select count(*) from {DBT_SCHEMA}.dim_cores") == [(78,)]


# --- docs and lineage -------------------------------------------------------------------------
def test_docs_generate_has_the_lineage(built: tuple[Warehouse, list[dict[str, Any]]]) -> None:
    warehouse, _ = built
    dbt(warehouse, "docs", "generate")
    target = warehouse.dbt_out / "target"
    assert (target / "index.html").exists()
    assert (target / "catalog.json").exists()
    parents = json.loads((target / "manifest.json").read_text())["parent_map"]

    def edge(parent: str, child: str) -> bool:
        return parent in parents.get(child, [])

    expected = [
        ("source.spacex.spacex.launches", "model.spacex.stg_spacex__launches"),
        ("source.spacex.spacex.launch_cores", "model.spacex.stg_spacex__launch_cores"),
        ("source.spacex.spacex.cores", "model.spacex.stg_spacex__cores"),
        ("model.spacex.stg_spacex__launches", "model.spacex.int_core_flights"),
        ("model.spacex.stg_spacex__launch_cores", "model.spacex.int_core_flights"),
        ("model.spacex.int_core_flights", "model.spacex.dim_cores"),
        ("model.spacex.stg_spacex__cores", "model.spacex.dim_cores"),
        ("model.spacex.int_core_flights", "model.spacex.fct_core_reuse"),
        ("model.spacex.stg_spacex__launches", "model.spacex.fct_launches"),
        ("model.spacex.dim_cores", "model.spacex.q1_max_core_reuse"),
        ("model.spacex.fct_core_reuse", "model.spacex.q2_cores_reused_within_50_days"),
    ]
    missing = [pair for pair in expected if not edge(*pair)]
    assert not missing, f"lineage edges missing from the manifest: {missing}"


def test_answer_models_keep_the_columns_the_cli_reads(
    built: tuple[Warehouse, list[dict[str, Any]]],
) -> None:
    warehouse, _ = built
    columns = {
        table: [
            name
            for (name,) in query(
                warehouse,
                "select column_name from information_schema.columns "
                f"where table_schema = '{DBT_SCHEMA}' and table_name = '{table}' "
                "order by ordinal_position",
            )
        ]
        for table in ("q1_max_core_reuse", "q2_cores_reused_within_50_days")
    }
    assert columns["q1_max_core_reuse"] == [
        "core_id", "core_serial", "flights", "reuse_count", "first_launch_utc", "last_launch_utc",
    ]  # fmt: skip
    assert columns["q2_cores_reused_within_50_days"] == [
        "core_id", "core_serial", "launch_id", "launch_name", "launch_date_utc",
        "previous_launch_id", "previous_launch_name", "previous_launch_date_utc",
        "days_since_previous_launch", "calendar_days_since_previous",
    ]  # fmt: skip


# --- part-4 SQL -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "order_by"),
    [
        ("q1_max_core_reuse", "core_id"),
        ("q2_cores_reused_within_50_days", "launch_date_utc, core_id"),
    ],
)
def test_part4_redshift_sql_gives_the_marts_answers(
    built: tuple[Warehouse, list[dict[str, Any]]], name: str, order_by: str
) -> None:
    """The part-4 file parses as Redshift; transpiled by sqlglot to DuckDB (the only rewrite)
    it returns exactly the rows of the dbt answer model. DuckDB's date_diff counts boundaries
    like Redshift's datediff, so the calendar-day column survives the transpilation."""
    warehouse, _ = built
    redshift_sql = (PART4 / f"{name}.sql").read_text()
    sqlglot.parse_one(redshift_sql, read="redshift")
    duckdb_sql = sqlglot.transpile(redshift_sql, read="redshift", write="duckdb")[0]
    expected = query(warehouse, f"select * from {DBT_SCHEMA}.{name} order by {order_by}")
    assert query(warehouse, duckdb_sql) == expected
    assert expected


# --- incremental ------------------------------------------------------------------------------
def test_incremental_fct_launches_equals_full_refresh(tmp_path: Path) -> None:
    """A later batch renames one launch and adds a new one; after an incremental run
    `fct_launches` shows both changes and has the same rows as after a full refresh."""
    warehouse = seed(Warehouse(tmp_path))
    dbt(warehouse, "build", "--select", "+fct_launches", *CAUTIOUS)

    launches = json.loads(SNAPSHOT_LAUNCHES.read_text())
    renamed = dict(launches[-30], name="Renamed in a later batch")
    added = dict(launches[-1], id="ffffffffffffffffffffffff", flight_number=999, name="New launch")
    later = tmp_path / "later_batch.json"
    later.write_text(json.dumps([renamed, added]))
    spacex_etl(warehouse, "run", "--input", str(later), "--date", "2024-06-02", "--skip-transform")

    dbt(warehouse, "build", "--select", "fct_launches", *CAUTIOUS)
    incremental = query(warehouse, f"select * from {DBT_SCHEMA}.fct_launches order by launch_id")
    assert len(incremental) == len(launches) + 1
    assert ("Renamed in a later batch",) in query(
        warehouse,
        f"select launch_name from {DBT_SCHEMA}.fct_launches where launch_id = '{renamed['id']}'",
    )

    dbt(warehouse, "build", "--select", "fct_launches", "--full-refresh", *CAUTIOUS)
    full_refresh = query(warehouse, f"select * from {DBT_SCHEMA}.fct_launches order by launch_id")
    assert incremental == full_refresh


# --- freshness --------------------------------------------------------------------------------
def test_source_freshness_passes_after_a_load_and_fails_when_the_job_stops(
    tmp_path: Path,
) -> None:
    warehouse = seed(Warehouse(tmp_path))
    fresh = {r["unique_id"]: r["status"] for r in dbt(warehouse, "source", "freshness")}
    assert fresh["source.spacex.spacex.launches"] == "pass"

    with duckdb.connect(str(warehouse.path)) as con:  # the last load was three days ago
        for table in ("launches", "launch_cores", "launch_payloads", "cores"):
            con.execute(f"update spacex_raw.{table} set _loaded_at = _loaded_at - interval 3 day")
    stale = {
        r["unique_id"]: r["status"] for r in dbt(warehouse, "source", "freshness", check=False)
    }
    assert stale["source.spacex.spacex.launches"] == "error"
    assert stale["source.spacex.spacex.cores"] == "error"
    assert "source.spacex.spacex.quarantine" not in stale  # no freshness: normally empty


# --- PostgreSQL -------------------------------------------------------------------------------
COMPARED = {
    "dim_cores": "core_id",
    "fct_core_reuse": "core_reuse_id",
    "q1_max_core_reuse": "core_id",
    "q2_cores_reused_within_50_days": "launch_id, core_id",
}


@pytest.mark.postgres
def test_postgres_builds_the_same_marts_as_duckdb(
    built: tuple[Warehouse, list[dict[str, Any]]], pg_available: None, tmp_path: Path
) -> None:
    """The same project on PostgreSQL (loaded by the real loader into schemas unique to this
    test): green build, and every row of the marts equal to DuckDB's, day gaps included —
    the dispatched day macros agree across warehouses."""
    on_duckdb, _ = built
    suffix = uuid.uuid4().hex[:8]
    on_postgres = Warehouse(
        tmp_path, target="postgres", raw_schema=f"t_raw_{suffix}", dbt_schema=f"t_dbt_{suffix}"
    )
    try:
        seed(on_postgres)
        dbt(on_postgres, "build")
        for model, order_by in COMPARED.items():
            sql = "select * from {schema}." + model + " order by " + order_by
            expected = query(on_duckdb, sql.format(schema=on_duckdb.dbt_schema))
            assert query(on_postgres, sql.format(schema=on_postgres.dbt_schema)) == expected, model
    finally:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE, autocommit=True
        ) as conn:
            for schema in (on_postgres.raw_schema, on_postgres.dbt_schema):
                conn.execute(f'drop schema if exists "{schema}" cascade')
