"""Failure and retry callbacks: always one log line; a webhook and/or email when configured.

- `SPACEX_ALERT_WEBHOOK_URL`: POST a JSON body (Slack/Teams/any incoming webhook accepts
  its `text` field) with a bounded timeout (`SPACEX_ALERT_WEBHOOK_TIMEOUT_S`, default 10 s).
- `SPACEX_ALERT_EMAILS` (comma-separated): send through the SMTP connection
  `SPACEX_ALERT_SMTP_CONN_ID` (default `smtp_default`, e.g. from `AIRFLOW_CONN_SMTP_DEFAULT`).

An alert that cannot be delivered is logged, never raised: a broken webhook must not hide
the task failure it reports.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("spacex_elt.alerts")


def describe(context: Mapping[str, Any], event: str) -> dict[str, Any]:
    """The facts of a failed/retried task instance, as plain JSON-able values."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    exception = context.get("exception")
    payload: dict[str, Any] = {
        "event": event,
        "dag_id": getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "logical_date": str(context.get("logical_date") or ""),
        "exception": f"{type(exception).__name__}: {exception}" if exception else None,
        "log_url": getattr(ti, "log_url", None),
    }
    payload["text"] = (
        f"[spacex_elt] {event}: {payload['dag_id']}.{payload['task_id']} "
        f"run {payload['run_id']} try {payload['try_number']}: {payload['exception']}"
    )
    return payload


def post_webhook(url: str, payload: Mapping[str, Any], timeout_s: float) -> int:
    """POST `payload` as JSON; return the HTTP status."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"SPACEX_ALERT_WEBHOOK_URL must be http(s), got {url[:40]!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        return int(response.status)


def send_email(to: list[str], payload: Mapping[str, Any]) -> None:
    """Email the alert through an Airflow SMTP connection."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    conn_id = os.environ.get("SPACEX_ALERT_SMTP_CONN_ID", "smtp_default")
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(
            to=to,
            subject=payload["text"][:200],
            html_content="<pre>" + json.dumps(payload, indent=2, default=str) + "</pre>",
        )


def alert(context: Mapping[str, Any], event: str) -> dict[str, Any]:
    """Log one line, then deliver to each configured channel."""
    payload = describe(context, event)
    log.error("ALERT %s", payload["text"])
    url = os.environ.get("SPACEX_ALERT_WEBHOOK_URL", "").strip()
    if url:
        timeout_s = float(os.environ.get("SPACEX_ALERT_WEBHOOK_TIMEOUT_S", "10"))
        try:
            status = post_webhook(url, payload, timeout_s)
            log.info("alert posted to webhook: HTTP %s", status)
        except Exception as exc:  # delivery problems are reported, not raised
            log.warning("alert webhook failed: %s: %s", type(exc).__name__, exc)
    emails = [e.strip() for e in os.environ.get("SPACEX_ALERT_EMAILS", "").split(",") if e.strip()]
    if emails:
        try:
            send_email(emails, payload)
            log.info("alert emailed to %s", ", ".join(emails))
        except Exception as exc:
            log.warning("alert email failed: %s: %s", type(exc).__name__, exc)
    return payload


def on_failure(context: Mapping[str, Any]) -> None:
    """`on_failure_callback`: the task failed for good (retries exhausted)."""
    alert(context, "task failed")


def on_retry(context: Mapping[str, Any]) -> None:
    """`on_retry_callback`: one log line only (a retry is not yet an incident)."""
    payload = describe(context, "task retrying")
    log.warning("RETRY %s", payload["text"])
