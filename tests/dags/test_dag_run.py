"""Real runs of the DAG with `dag.test()` on the embedded default (local lake + DuckDB file)."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import matplotlib.image
import pytest

from tests.dags.conftest import OPENLINEAGE_FILE, load_dag

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


def _ledger(data_dir: Path, run_id: str) -> dict[str, tuple[int, int, int, int]]:
    rows = _warehouse(
        data_dir,
        "select resource, records_received, records_loaded, records_quarantined, "
        f"records_deduplicated from spacex_raw.load_ledger where run_id = '{run_id}'",
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def _openlineage(namespace_part: str) -> dict[str, dict[str, Any]]:
    """COMPLETE events (by job name) whose inputs/outputs mention `namespace_part`."""
    events: dict[str, dict[str, Any]] = {}
    for line in OPENLINEAGE_FILE.read_text().splitlines():
        event = json.loads(line)
        datasets = event.get("inputs", []) + event.get("outputs", [])
        if event.get("eventType") == "COMPLETE" and any(
            namespace_part in d["namespace"] + d["name"] for d in datasets
        ):
            events[event["job"]["name"]] = event
    return events


def _names(datasets: list[dict[str, Any]]) -> set[str]:
    return {d["name"] for d in datasets}


def test_daily_run_models_lineage_report_and_rerun_without_duplicates(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "spacex"
    monkeypatch.setenv("SPACEX_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SPACEX_AIRFLOW_RETRIES", "0")
    dag = load_dag()

    started = time.perf_counter()
    first = dag.test(logical_date=DAY_1)
    print(f"dag.test day 1: {time.perf_counter() - started:.1f}s")
    states = _states(first)
    assert str(first.state) == "success", states
    assert {state for state, _ in states.values()} == {"success"}
    assert {"dbt.q1_max_core_reuse_run", "dbt.dbt_producer_watcher", "report"} <= set(states)
    assert _counts(data_dir)["launches"] == 205
    assert _counts(data_dir)["launch_cores"] == 215

    # extract handed load references: raw objects of this data interval and run, in the lake.
    extracted = _xcom(first, "extract")
    assert extracted["ingest_date"] == "2024-06-01"
    assert extracted["run_id"] == first.run_id.replace(":", "-").replace("+", "-") + ".try1"
    for uri in extracted["raw_uris"]:
        assert "/ingest_date=2024-06-01/" in uri
        assert Path(uri).is_file()
    ledger = _ledger(data_dir, extracted["run_id"])
    assert ledger["launches"] == (205, 205, 0, 0)

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

    # the data-quality page: in the lake's reports zone, its counts are the ledger's, its
    # chart a real PNG embedded in the page
    page_path = Path(report["report_uri"])
    assert page_path.is_file()
    assert f"/reports/spacex/run/ingest_date=2024-06-01/{extracted['run_id']}/" in str(page_path)
    page = page_path.read_text()
    for resource, counts in ledger.items():
        cells = "".join(f"<td>{n}</td>" for n in (*counts, 0))  # a first load skips nothing
        assert f"<tr><td>{resource}</td>{cells}</tr>" in page, resource
    (chart,) = re.findall(r'alt="records per load[^"]*" src="data:image/png;base64,([^"]+)"', page)
    png = base64.b64decode(chart)
    assert report["anomalies"]["verdict"] in ("pass", "warn")  # the frozen snapshot: stale
    assert "<h2>Anomalies: " in page
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert matplotlib.image.imread(io.BytesIO(png), format="png").shape[0] > 100
    assert "Q1</b> max times a core was reused: <b>13</b>" in page

    # OpenLineage: extract names the raw objects, load reads them and writes the raw tables,
    # dbt reads raw tables and writes the models, marts included
    events = _openlineage(str(data_dir))
    extract, load = events["spacex_elt.extract"], events["spacex_elt.load"]
    raw_objects = set(extracted["raw_uris"])
    assert _names(extract["outputs"]) == raw_objects
    assert _names(load["inputs"]) == raw_objects
    assert {"warehouse.spacex_raw.launches", "warehouse.spacex_raw.cores"} <= _names(
        load["outputs"]
    )
    # the one dbt build (the model tasks read its results) reads the raw tables, writes the models
    build = events["spacex_elt.dbt.dbt_producer_watcher"]
    assert "warehouse.spacex_raw.launches" in _names(build["inputs"])
    assert "warehouse.spacex.q1_max_core_reuse" in _names(build["outputs"])
    assert {d["namespace"] for d in load["outputs"] + build["outputs"]} == {
        f"duckdb://{data_dir / 'warehouse.duckdb'}"
    }

    # the same logical date again (what "Clear" on the run does): same rows, no duplicates
    started = time.perf_counter()
    again = dag.test(logical_date=DAY_1)
    print(f"dag.test day 1 rerun: {time.perf_counter() - started:.1f}s")
    assert str(again.state) == "success", _states(again)
    assert _counts(data_dir)["launches"] == 205
    assert _counts(data_dir)["launch_cores"] == 215
    rerun = _xcom(again, "extract")
    assert set(rerun["raw_uris"]).isdisjoint(extracted["raw_uris"])  # a new immutable object
    assert _ledger(data_dir, rerun["run_id"])["launches"] == (205, 205, 0, 0)
    assert _xcom(again, "report")["report_uri"] != report["report_uri"]


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


def alerting_to(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, url: str, *, retries: int, retry_delay_s: int
) -> None:
    """The DAG's settings for a run whose tasks retry `retries` times and alert to `url`."""
    monkeypatch.setenv("SPACEX_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SPACEX_AIRFLOW_RETRIES", str(retries))
    monkeypatch.setenv("SPACEX_AIRFLOW_RETRY_DELAY_S", str(retry_delay_s))
    monkeypatch.setenv("SPACEX_ALERT_HTTP_CONN_ID", "spacex_alert_webhook")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPACEX_ALERT_WEBHOOK", json.dumps({"conn_type": "http", "host": url})
    )


def test_failing_task_is_retried_then_alerts(
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    alerting_to(monkeypatch, tmp_path / "spacex", url, retries=1, retry_delay_s=1)
    monkeypatch.setenv("SPACEX_HTTP_RETRIES", "0")
    monkeypatch.setenv("SPACEX_SOURCE_ALLOWED_HOSTS", "127.0.0.1")  # the param lets it through
    missing = "https://127.0.0.1:9/no-such-launches.json"  # nothing listens on port 9
    dag = load_dag()

    run = dag.test(logical_date=datetime(2024, 6, 3, tzinfo=UTC), run_conf={"input": missing})

    states = _states(run)
    assert str(run.state) == "failed"
    assert states["extract"] == ("failed", 2)  # first try, then one retry
    assert states["load"][0] == "upstream_failed"
    assert len(received) == 1  # the retry only logs; the final failure alerts once
    (alert,) = received
    assert alert["event"] == "task failed"
    assert (alert["dag_id"], alert["task_id"], alert["try_number"]) == (
        "spacex_elt",
        "extract",
        "2",
    )
    assert "127.0.0.1:9" in alert["exception"]
    assert alert["text"].startswith("[spacex_elt] task failed: spacex_elt.extract")
    assert not (tmp_path / "spacex" / "warehouse.duckdb").exists()
