"""Real runs of the DAG with `dag.test()` on the embedded default (local lake + DuckDB file)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pytest

from tests.dags.conftest import load_dag

pytestmark = pytest.mark.slow

DAY_1 = datetime(2024, 6, 1, tzinfo=UTC)
DAY_2 = datetime(2024, 6, 2, tzinfo=UTC)


def _states(dag_run: Any) -> dict[str, tuple[str, int]]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            ti.task_id: (str(ti.state), ti.try_number)
            for ti in dag_run.get_task_instances(session=session)
        }


def _xcom(dag_run: Any, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="return_value"
            )
        ).first()
        assert row is not None, f"no XCom from {task_id}"
        value = row.value
    return json.loads(value) if isinstance(value, str) else value


def _warehouse(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    # Not read_only: dbt-duckdb keeps the file open in this process (dag.test runs tasks
    # in-process) and DuckDB refuses a second connection with another configuration.
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        return con.sql(sql).fetchall()


def _counts(data_dir: Path) -> dict[str, int]:
    return {
        table: _warehouse(data_dir, f"select count(*) from spacex_raw.{table}")[0][0]
        for table in ("launches", "launch_cores", "load_ledger")
    }


def test_daily_runs_load_answer_and_rerun_without_duplicates(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "spacex"
    monkeypatch.setenv("SPACEX_DATA_DIR", str(data_dir))
    dag = load_dag()

    started = time.perf_counter()
    first = dag.test(logical_date=DAY_1)
    print(f"dag.test day 1: {time.perf_counter() - started:.1f}s")
    states = _states(first)
    assert str(first.state) == "success", states
    assert {task: state for task, (state, _) in states.items()} == dict.fromkeys(
        ["extract", "load", "dbt_run", "dbt_test", "report"], "success"
    )
    assert _counts(data_dir) == {"launches": 205, "launch_cores": 215, "load_ledger": 2}

    # extract handed load references: raw objects of this data interval and run, in the lake.
    extracted = _xcom(first, "extract")
    assert extracted["ingest_date"] == "2024-06-01"
    assert extracted["run_id"] == first.run_id.replace(":", "-").replace("+", "-") + ".try1"
    for uri in extracted["raw_uris"]:
        assert "/ingest_date=2024-06-01/" in uri
        assert Path(uri).is_file()

    # the answers, as the report task published them and as the warehouse holds them
    report = _xcom(first, "report")
    assert report["rows"]["launches"] == 205
    assert report["q1_max_reuse"] == 13
    assert report["q1_cores"] == ["B1058"]
    q2_rows = _warehouse(
        data_dir,
        "select count(*), count(distinct core_id) from spacex.q2_cores_reused_within_50_days",
    )[0]
    assert (report["q2_flights"], report["q2_distinct_cores"]) == q2_rows
    assert report["q2_flights"] > 0
    assert all(row["days_since_previous_launch"] < 50 for row in report["answers"]["q2_cores"])
    assert [d["command"] for d in report["dbt"]] == ["run", "test"]
    assert report["dbt"][1]["statuses"].get("pass", 0) > 0

    # the same logical date again (what "Clear" in the UI does): same rows, no duplicates
    started = time.perf_counter()
    again = dag.test(logical_date=DAY_1)
    print(f"dag.test day 1 rerun: {time.perf_counter() - started:.1f}s")
    assert str(again.state) == "success", _states(again)
    assert _counts(data_dir) == {"launches": 205, "launch_cores": 215, "load_ledger": 2}
    rerun_uris = _xcom(again, "extract")["raw_uris"]
    assert set(rerun_uris).isdisjoint(extracted["raw_uris"])  # a new immutable raw object
    ledger_uris = _warehouse(data_dir, "select raw_uri from spacex_raw.load_ledger")
    assert sorted(uri for (uri,) in ledger_uris) == sorted(rerun_uris)

    # a second day adds its own batch
    started = time.perf_counter()
    second = dag.test(logical_date=DAY_2)
    print(f"dag.test day 2: {time.perf_counter() - started:.1f}s")
    assert str(second.state) == "success", _states(second)
    ledger = _warehouse(
        data_dir,
        "select resource, count(*), count(distinct ingest_date) from spacex_raw.load_ledger "
        "group by resource order by resource",
    )
    assert ledger == [("cores", 2, 2), ("launches", 2, 2)]
    assert _xcom(second, "report")["q1_max_reuse"] == 13


class _Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: ClassVar[list[dict[str, Any]]] = []
    handler = type("Handler", (_Webhook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_failing_task_is_retried_then_alerts(
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    monkeypatch.setenv("SPACEX_DATA_DIR", str(tmp_path / "spacex"))
    monkeypatch.setenv("SPACEX_AIRFLOW_RETRIES", "1")
    monkeypatch.setenv("SPACEX_AIRFLOW_RETRY_DELAY_S", "1")
    monkeypatch.setenv("SPACEX_ALERT_WEBHOOK_URL", url)
    dag = load_dag()
    missing = tmp_path / "no-such-launches.json"

    run = dag.test(logical_date=datetime(2024, 6, 3, tzinfo=UTC), run_conf={"input": str(missing)})

    states = _states(run)
    assert str(run.state) == "failed"
    assert states["extract"] == ("failed", 2)  # first try, then one retry
    assert states["load"][0] == "upstream_failed"
    assert len(received) == 1  # the retry only logs; the final failure alerts once
    (alert,) = received
    assert alert["event"] == "task failed"
    assert (alert["dag_id"], alert["task_id"], alert["try_number"]) == ("spacex_elt", "extract", 2)
    assert str(missing) in alert["exception"]
    assert alert["text"].startswith("[spacex_elt] task failed: spacex_elt.extract")
    assert not (tmp_path / "spacex" / "warehouse.duckdb").exists()
