"""Faults around the load, black-box: concurrent loads, a second DuckDB writer, loads killed
mid-transaction."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from tests.conftest import PG_DATABASE, PG_HOST, PG_PORT, PG_USER
from tests.reliability.conftest import (
    DAY1,
    DAY2,
    Env,
    extract,
    one_line_error,
    snapshot_records,
    write,
)

POLL_S = 0.05
WAIT_LIMIT_S = 120


def launch_ids(env: Env) -> tuple[int, int]:
    """(rows, distinct ids) of the launches table."""
    [row] = env.query("select count(*) as n, count(distinct launch_id) as d from {raw}.launches")
    return int(row["n"]), int(row["d"])


# -- concurrency -----------------------------------------------------------------------------
@contextmanager
def gate(env: Env, table: str) -> Iterator[psycopg.Connection[Any]]:
    """Hold an exclusive lock on a raw table, so loads block inside their transaction."""
    conn = psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE)
    try:
        conn.execute(f'lock table "{env.settings.raw_schema}"."{table}" in access exclusive mode')
        yield conn
    finally:
        conn.rollback()
        conn.close()


def waiting_loaders(conn: psycopg.Connection[Any]) -> list[str]:
    """Wait events of the loads (application_name spacex-etl) blocked on a lock right now."""
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE, autocommit=True
    ) as other:
        rows = other.execute(
            "select wait_event from pg_stat_activity where application_name = 'spacex-etl' "
            "and wait_event_type = 'Lock'"
        ).fetchall()
    return [str(row[0]) for row in rows]


def two_or_none(events: list[str]) -> list[str] | None:
    return events if len(events) == 2 else None


def wait_for(condition: Any, what: str) -> Any:
    """Poll an observable condition (not a sleep standing in for synchronisation)."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


def test_concurrent_loads_on_postgres_run_one_after_the_other(pg: Env, tmp_path: Path) -> None:
    pg.cli("run", "--date", DAY1, "--skip-transform")  # the tables exist and hold the snapshot
    records = snapshot_records()
    uris = [
        extract(pg, write(tmp_path / f"launches-{n}.json", records), DAY2, f"run-{n}")
        for n in (1, 2)
    ]

    with gate(pg, "launches") as conn:
        loads = [pg.popen("load", "--raw-uri", uri) for uri in uris]
        # one load waits on the table (inside its transaction), the other on the load lock
        events = wait_for(lambda: two_or_none(waiting_loaders(conn)), "both loads to block")
    results = [load.communicate(timeout=WAIT_LIMIT_S) for load in loads]

    assert [load.returncode for load in loads] == [0, 0], results
    assert launch_ids(pg) == (205, 205)  # no duplicates: 205 rows for 205 ids
    assert sorted(events) == ["advisory", "relation"]  # the second waited for the first
    statuses = [status for _, status, _ in pg.ledger()]
    assert statuses.count("succeeded") == 2 + 2  # the first run's two batches + both loads


def test_a_second_duckdb_writer_fails_with_a_clear_error(loaded: Env) -> None:
    before = loaded.counts()
    with duckdb.connect(str(loaded.settings.duckdb_file)):  # another process holds the file
        proc = loaded.cli("load", "--date", DAY1, expect=1)
    line = one_line_error(proc)
    assert str(loaded.settings.duckdb_file) in line and "another process" in line
    assert " WARNING " not in proc.stderr  # no second attempt to reach it for the ledger
    assert loaded.counts() == before


# -- kills -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_postgres_load_killed_mid_transaction_leaves_the_warehouse_as_it_was(
    pg: Env, tmp_path: Path, sig: signal.Signals
) -> None:
    pg.cli("run", "--date", DAY1, "--skip-transform")
    records = snapshot_records()
    for record in records:
        record["name"] += " (renamed)"
    uri = extract(pg, write(tmp_path / "launches.json", records), DAY2)
    before = pg.counts()

    with gate(pg, "launches") as conn:
        load = pg.popen("load", "--raw-uri", uri)
        wait_for(lambda: waiting_loaders(conn), "the load to block inside its transaction")
        load.send_signal(sig)
        load.communicate(timeout=WAIT_LIMIT_S)
    assert load.returncode == -sig

    assert pg.counts() == before
    assert not pg.query("select 1 from {raw}.launches where strpos(name, '(renamed)') > 0")
    pg.cli("load", "--raw-uri", uri)  # the rerun converges
    assert launch_ids(pg) == (205, 205)
    assert len(pg.query("select 1 from {raw}.launches where strpos(name, '(renamed)') > 0")) == 205


def test_duckdb_load_killed_midway_is_all_or_nothing_and_the_rerun_converges(
    loaded: Env, tmp_path: Path
) -> None:
    records = snapshot_records()
    for record in records:
        record["name"] += " (renamed)"
    uri = extract(loaded, write(tmp_path / "launches.json", records), DAY2)

    load = loaded.popen("load", "--raw-uri", uri)
    assert load.stderr is not None
    for line in load.stderr:  # the load announces its transaction; kill it right there
        if "loading launches batch" in line:
            break
    load.send_signal(signal.SIGKILL)  # inside its transaction, or just after the commit
    load.communicate(timeout=WAIT_LIMIT_S)
    assert load.returncode == -signal.SIGKILL

    renamed = len(loaded.query("select 1 from {raw}.launches where strpos(name, '(renamed)') > 0"))
    assert renamed in (0, 205)  # never a mix
    assert launch_ids(loaded) == (205, 205)
    loaded.cli("load", "--raw-uri", uri)
    assert (
        len(loaded.query("select 1 from {raw}.launches where strpos(name, '(renamed)') > 0")) == 205
    )
    assert launch_ids(loaded) == (205, 205)
