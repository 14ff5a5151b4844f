"""Failure and retry callbacks: always one log line; Airflow's notifiers when configured.

- `SPACEX_ALERT_HTTP_CONN_ID`: an HTTP connection whose host is the webhook URL (e.g.
  `AIRFLOW_CONN_SPACEX_ALERT_WEBHOOK='{"conn_type": "http", "host": "https://hooks…"}'`, or a
  secrets backend) — the http provider's `HttpNotifier` POSTs a JSON body whose `text` field
  Slack/Teams/any incoming webhook shows. The URL (a secret) never sits in the DAG.
- `SPACEX_ALERT_EMAILS` (comma-separated): the smtp provider's `SmtpNotifier` through the
  connection `SPACEX_ALERT_SMTP_CONN_ID` (default `smtp_default`).

Notifiers log a delivery failure instead of raising it, so a broken webhook never hides the
task failure it reports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from spacex_elt_support.config import DagConfig

log = logging.getLogger("spacex_elt.alerts")


def _summary(filters: str) -> str:
    """The one-line summary as a template, every value passed through the Jinja `filters`."""
    v = {
        name: "{{ " + name + " | string" + filters + " }}"
        for name in ("ti.dag_id", "ti.task_id", "ti.run_id", "ti.try_number", "exception")
    }
    return (
        f"[spacex_elt] task failed: {v['ti.dag_id']}.{v['ti.task_id']} run {v['ti.run_id']} "
        f"try {v['ti.try_number']}: {v['exception']}"
    )


# Values come from outside (a trigger-time run id or URL reaches the exception text): each is
# escaped for where it is shown. Airflow renders notifier templates without autoescaping.
ONE_LINE = " | replace('\\r', ' ') | replace('\\n', ' ')"
"""A header or chat line: no line breaks (a newline in an e-mail subject is a new header)."""
CHAT_ESCAPE = " | replace('&', '&amp;') | replace('<', '&lt;') | replace('>', '&gt;')"
"""Slack/Teams-style `text`: `<...>` is a link or a mention there, `&` starts an entity."""
SUMMARY = _summary(ONE_LINE)
"""The e-mail subject (plain text, one line)."""
EMAIL_HTML = "<pre>" + _summary(" | e") + "\n{{ ti.log_url | string | e }}</pre>"
PAYLOAD = {
    "event": "task failed",
    "text": _summary(ONE_LINE + CHAT_ESCAPE),
    # structured fields carry the values as data (JSON-encoded by the notifier, never markup)
    "dag_id": "{{ ti.dag_id }}",
    "task_id": "{{ ti.task_id }}",
    "run_id": "{{ ti.run_id }}",
    "try_number": "{{ ti.try_number }}",
    "logical_date": "{{ logical_date }}",
    "exception": "{{ exception }}",
}


def describe(context: Mapping[str, Any], event: str) -> str:
    """One line naming the task instance and its error."""
    ti = context.get("ti") or context.get("task_instance")
    exception = context.get("exception")
    error = f"{type(exception).__name__}: {exception}" if exception else None
    line = (
        f"[spacex_elt] {event}: {getattr(ti, 'dag_id', None)}.{getattr(ti, 'task_id', None)} "
        f"run {getattr(ti, 'run_id', None)} try {getattr(ti, 'try_number', None)}: {error}"
    )
    return line.replace("\r", "\\r").replace("\n", "\\n")  # one line, whatever it holds


def on_failure(context: Mapping[str, Any]) -> None:
    """`on_failure_callback`: the task failed for good (retries exhausted)."""
    log.error("ALERT %s", describe(context, "task failed"))


def on_retry(context: Mapping[str, Any]) -> None:
    """`on_retry_callback`: one log line only (a retry is not yet an incident)."""
    log.warning("RETRY %s", describe(context, "task retrying"))


def failure_callbacks(cfg: DagConfig) -> list[Callable[..., Any]]:
    """The log line, then one notifier per configured channel."""
    callbacks: list[Callable[..., Any]] = [on_failure]
    if cfg.alert_http_conn_id:
        from airflow.providers.http.notifications.http import HttpNotifier

        callbacks.append(
            HttpNotifier(http_conn_id=cfg.alert_http_conn_id, method="POST", json=PAYLOAD)
        )
    if cfg.alert_emails:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        callbacks.append(
            SmtpNotifier(
                to=cfg.alert_emails,
                smtp_conn_id=cfg.alert_smtp_conn_id,
                subject=SUMMARY,
                html_content=EMAIL_HTML,
            )
        )
    return callbacks
