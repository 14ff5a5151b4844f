"""Operators the DAG adds on top of Airflow's and the providers': few and small.

- `StepOperator`: a PythonOperator whose step returns `lineage` (OpenLineage datasets it read
  and wrote, known only at run time: the exact raw object, the warehouse's namespace); the
  OpenLineage provider asks for it through `get_openlineage_facets_on_complete`.
- `with_raw_uris`: the docker/ecs load task appends `--raw-uri` for each raw object the
  extract task produced (its XCom), like python mode — never "the newest of the date".
- `with_summary_from_logs`: the ecs extract/report tasks push the CLI's `--json` run summary,
  found in the task's whole CloudWatch log stream — not its last line, which any log line
  written after the summary would displace.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

from airflow.providers.standard.operators.python import PythonOperator

from spacex_elt_support import steps


class StepOperator(PythonOperator):
    """Run a step of `steps`; report its run-time lineage to OpenLineage."""

    lineage: dict[str, list[Any]] | None = None

    def execute(self, context: Any) -> Any:
        result = super().execute(context)
        if isinstance(result, dict):
            self.lineage = result.get("lineage")
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs/outputs of the step that just ran (OpenLineage's DefaultExtractor calls it)."""
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset

        lineage = self.lineage or {}
        return OperatorLineage(
            inputs=[Dataset(namespace=ns, name=name) for ns, name in lineage.get("inputs", [])],
            outputs=[Dataset(namespace=ns, name=name) for ns, name in lineage.get("outputs", [])],
        )


def raw_uri_args(context: Any) -> list[str]:
    """`--raw-uri <uri>` for each raw object the extract task of this run landed."""
    extracted = context["ti"].xcom_pull(task_ids="extract")
    args: list[str] = []
    for uri in steps.raw_uris_of(extracted):
        args += ["--raw-uri", uri]
    return args


def with_raw_uris(base: type[Any]) -> type[Any]:
    """`base` (DockerOperator / EcsRunTaskOperator) whose command gets the extract's raw URIs."""

    class LoadRawUris(base):  # type: ignore[misc]
        def execute(self, context: Any) -> Any:
            extra = raw_uri_args(context)
            if hasattr(self, "overrides"):  # ECS: the container override's command
                for override in self.overrides.get("containerOverrides", []):
                    override["command"] = [*override["command"], *extra]
            else:
                command: list[str] = list(getattr(self, "command", []))
                self.command = [*command, *extra]
            return super().execute(context)

    LoadRawUris.__name__ = f"Load{base.__name__}"
    return LoadRawUris


def summary_line(messages: Iterable[str], where: str) -> str:
    """The last run summary (a JSON object line, see `steps.summary_of`) among log messages."""
    found: dict[str, Any] | None = None
    for message in messages:
        with contextlib.suppress(ValueError):
            found = steps.summary_of(message)
    if found is None:
        raise ValueError(f"no JSON run summary in the task's log {where}: see its log stream")
    return json.dumps(found)


def with_summary_from_logs(base: type[Any]) -> type[Any]:
    """`base` (EcsRunTaskOperator) whose XCom is the run summary read from the whole log stream."""

    class SummaryFromLogs(base):  # type: ignore[misc]
        def execute(self, context: Any) -> Any:
            return self.summary_from_logs(super().execute(context))

        def execute_complete(self, context: Any, event: Any = None) -> Any:
            return self.summary_from_logs(super().execute_complete(context, event))

        def summary_from_logs(self, last_line: Any) -> Any:
            if not (self.do_xcom_push and self._aws_logs_enabled()):
                return last_line
            from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook

            hook = AwsLogsHook(
                aws_conn_id=self.aws_conn_id, region_name=self.resolve_awslogs_region()
            )
            stream = self._get_logs_stream_name()
            events = hook.get_log_events(self.awslogs_group, stream, start_from_head=True)
            return summary_line((e["message"] for e in events), f"{self.awslogs_group}/{stream}")

    SummaryFromLogs.__name__ = f"SummaryFromLogs{base.__name__}"
    return SummaryFromLogs
