"""What a retry cannot fix fails the task on its first try and alerts once (`dag.test()`, the real
DAG, retries on): a template that cannot render, an invalid setting, a host name that does not
resolve, an HTTP 404. A refused connection still retries: `test_dag_run.py`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.dags.conftest import load_dag
from tests.dags.test_dag_run import _states, alerting_to, webhook  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow

CASES = {
    # ecs mode reads the cluster from an Airflow Variable when SPACEX_ECS_CLUSTER is unset: a
    # deployment without it cannot render the task's `cluster` field
    "template": ({"SPACEX_AIRFLOW_EXECUTION_MODE": "ecs"}, None, "its templates cannot render"),
    # set where the task runs only (the DAG file would refuse it at parse time)
    "setting": ({}, None, "its configuration is invalid"),
    "dns": (
        {"SPACEX_SOURCE_ALLOWED_HOSTS": "no-such-host.invalid"},
        "https://no-such-host.invalid/v5/launches",
        "the source refuses it",
    ),
    "http-404": (
        {"SPACEX_SOURCE_ALLOWED_HOSTS": "127.0.0.1", "SPACEX_SOURCE_ALLOW_HTTP": "true"},
        "{not_found}",
        "the source refuses it",
    ),
}


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def not_found() -> Iterator[str]:
    """A URL whose server answers 404 to everything."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v5/launches"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("case", list(CASES))
def test_what_a_retry_cannot_fix_fails_at_once_and_alerts(
    case: str,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    webhook: tuple[str, list[dict[str, Any]]],  # noqa: F811 - the imported fixture
    caplog: pytest.LogCaptureFixture,
    not_found: str,
) -> None:
    env, source, reason = CASES[case]
    source = source and source.format(not_found=not_found)
    url, received = webhook
    alerting_to(monkeypatch, tmp_path / "spacex", url, retries=2, retry_delay_s=0)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    dag = load_dag()
    if case == "setting":
        monkeypatch.setenv("SPACEX_HTTP_RETRIES", "-1")

    conf = {"input": source} if source else None
    with caplog.at_level("ERROR", logger="spacex_elt.retries"):
        run = dag.test(logical_date=datetime(2024, 6, 3, tzinfo=UTC), run_conf=conf)

    assert str(run.state) == "failed"
    assert _states(run)["extract"] == ("failed", 1)  # no retry
    [alert] = received  # the same alert path as any failure, once
    assert (alert["task_id"], alert["try_number"]) == ("extract", "1")
    [line] = [r.getMessage() for r in caplog.records if r.name == "spacex_elt.retries"]
    assert line.startswith("NOT RETRIED [spacex_elt] spacex_elt.extract run ")
    assert f": {reason}, and a retry would not change that: " in line
    assert "\n" not in line


def test_the_job_exiting_2_in_a_container_is_not_retried_and_exiting_1_is() -> None:
    from airflow.providers.docker.exceptions import DockerContainerFailedException
    from spacex_elt_support.retries import FailFast

    def action(code: int) -> str:
        description = f"Docker container failed: {{'StatusCode': {code}}}"
        failed = DockerContainerFailedException(description)
        return FailFast().evaluate(failed, try_number=1, max_tries=3).action.value

    assert (action(2), action(1)) == ("fail", "default")


@pytest.mark.parametrize("shape", ["watcher", "local", "build"])
def test_every_task_fails_fast_cosmos_ones_included(airflow_db: Path, shape: str) -> None:
    from spacex_elt_support.retries import FailFast

    dag = load_dag(SPACEX_AIRFLOW_DBT_TASKS=shape)

    assert [t.task_id for t in dag.tasks if not isinstance(t.retry_policy, FailFast)] == []
