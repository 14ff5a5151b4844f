"""What a retry cannot fix fails the task at once: an Airflow `retry_policy` on every task.

Retries (with exponential backoff) are for what may pass: a refused connection, a timeout, a
5xx, a busy warehouse. A retry changes nothing when the task is wrong rather than unlucky, and
would hold the DAG's only active-run slot through every backoff before the alert. So the task
fails on its first try — one `NOT RETRIED …` log line saying why, then the usual failure
callbacks (`alerts`: the `ALERT` line and the configured notifiers) — when:

- its **templates cannot render**: a bad Jinja expression, a name missing from the context, a
  filter or an Airflow Variable that raises (anything raised while Airflow renders the task's
  template fields, whatever its type, and any Jinja error);
- the job says so: its error's `retryable` is False (`spacex_etl.errors`) — an invalid or
  missing `SPACEX_*` setting (`ConfigError`), a source whose host name does not resolve, whose
  TLS fails or which answers an HTTP status the job itself does not retry (4xx other than 429:
  `SourceRefusedError`); or a pydantic validation error of the DAG's or the job's settings;
- the job's container **exits 2** (wrong usage: the command line the DAG built is wrong) in the
  docker mode, and in the ecs mode when the ECS task's description is in the error.

Exceptions are matched along the whole chain (`raise … from`, the context), by their class's
dotted name or the job's `retryable` flag: nothing is imported to decide, so the policy works
in every execution mode, with or without the pipeline installed beside Airflow. Only
`has_retry_policy` is serialised; the worker evaluates the live object it parsed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from airflow.sdk import RetryDecision, RetryPolicy

log = logging.getLogger("spacex_elt.retries")

RENDERING = "render_template_fields"
"""The operator method Airflow renders every templated field through."""

PERMANENT: dict[str, str] = {
    "jinja2.exceptions.TemplateError": "its templates cannot render",
    "pydantic_core._pydantic_core.ValidationError": "its configuration is invalid",
}
"""Exception classes (and their subclasses) → why a retry cannot help."""
FINAL_KINDS = {"config": "its configuration is invalid", "extract": "the source refuses it"}
"""The job's final errors (`retryable = False`) by their `kind` → why a retry cannot help."""

USAGE_EXIT = re.compile(r"""['"](?:StatusCode|exitCode)['"]: 2\b""")
"""Exit code 2 in a failed container's description (DockerOperator: `{'StatusCode': 2, …}`;
EcsRunTaskOperator without CloudWatch logs: the ECS task's `containers[…]['exitCode']`)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, its causes and contexts, each once."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)


def _rendering(exc: BaseException) -> bool:
    """Raised while Airflow rendered the task's templated fields (before `execute`)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == RENDERING:
            return True
        tb = tb.tb_next
    return False


def why_permanent(exc: BaseException) -> str | None:
    """Why retrying `exc` cannot help, or None when a retry may."""
    if _rendering(exc):
        return PERMANENT["jinja2.exceptions.TemplateError"]
    for link in _chain(exc):
        if getattr(link, "retryable", True) is False:
            return FINAL_KINDS.get(str(getattr(link, "kind", "")), "the job's error is final")
        for cls in type(link).__mro__:
            reason = PERMANENT.get(f"{cls.__module__}.{cls.__qualname__}")
            if reason:
                return reason
        if USAGE_EXIT.search(str(link)):
            return "the job exited 2 (wrong usage: its command line or settings)"
    return None


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line, whatever the message holds."""
    text = f"{type(exc).__name__}: {exc}"
    return text.replace("\r", "\\r").replace("\n", "\\n")


class FailFast(RetryPolicy):
    """Fail at once on what a retry cannot fix (see the module); otherwise the task's retries."""

    def evaluate(
        self, exception: BaseException, try_number: int, max_tries: int, context: Any = None
    ) -> RetryDecision:
        reason = why_permanent(exception)
        if reason is None:
            return RetryDecision.default()
        ti = (context or {}).get("ti")
        log.error(
            "NOT RETRIED [spacex_elt] %s.%s run %s try %s: %s, and a retry would not change "
            "that: %s",
            getattr(ti, "dag_id", None),
            getattr(ti, "task_id", None),
            getattr(ti, "run_id", None),
            try_number,
            reason,
            one_line(exception),
        )
        return RetryDecision.fail(reason=f"not retried: {reason}")

    def serialize(self) -> dict[str, Any]:
        return {"__type": type(self).__name__}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> FailFast:
        return cls()
