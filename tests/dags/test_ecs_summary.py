"""ecs mode: the extract/report XCom is the CLI's run summary, wherever it sits in the log stream.

The provider pushes the stream's last line; a log line written after the `--json` summary (a
library's warning at exit, a flushed handler) would then hand the load task a non-summary. The
operator reads the whole stream from CloudWatch Logs (moto here) and pushes the summary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

GROUP = "/ecs/spacex-elt"
TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task/spacex-elt/0f1e2d3c"
STREAM = "etl/etl/0f1e2d3c"  # <prefix>/<container>/<task id>, as the provider names it


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", "aws://")
    with mock_aws():
        client = boto3.client("logs", region_name="eu-west-1")
        client.create_log_group(logGroupName=GROUP)
        client.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
        yield client


def operator() -> Any:
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator
    from spacex_elt_support.operators import with_summary_from_logs

    op = with_summary_from_logs(EcsRunTaskOperator)(
        task_id="extract",
        cluster="spacex-elt",
        task_definition="spacex-elt-etl",
        overrides={},
        awslogs_group=GROUP,
        awslogs_stream_prefix="etl",
        container_name="etl",
        awslogs_region="eu-west-1",
        region_name="eu-west-1",
        do_xcom_push=True,
    )
    op.arn = TASK_ARN
    return op


def put(logs: Any, *messages: str) -> None:
    now = int(time.time() * 1000)  # CloudWatch (and moto) reject events older than 14 days
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate(messages)]
    logs.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=events)


def test_the_summary_is_found_when_a_log_line_follows_it(logs: Any) -> None:
    summary = {"run_id": "manual__1.try1", "landed": [{"raw_uri": "s3://lake/raw/x.json"}]}
    put(logs, "INFO extract start", json.dumps(summary), "WARNING urllib3: pool closed")
    pushed = operator().summary_from_logs("WARNING urllib3: pool closed")
    assert json.loads(pushed) == summary


def test_a_stream_without_a_summary_fails_naming_the_stream(logs: Any) -> None:
    put(logs, "INFO extract start", "ERROR boom")
    with pytest.raises(ValueError, match=f"no JSON run summary in the task's log {GROUP}/{STREAM}"):
        operator().summary_from_logs("ERROR boom")


def test_only_extract_and_report_read_the_summary(airflow_db: Any) -> None:
    from tests.dags.conftest import load_dag

    dag = load_dag(SPACEX_AIRFLOW_EXECUTION_MODE="ecs", SPACEX_ECS_AWSLOGS_GROUP=GROUP)
    reads = {t.task_id for t in dag.tasks if hasattr(t, "summary_from_logs")}
    assert reads == {"extract", "report"}
