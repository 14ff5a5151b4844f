"""What each task does in `python` mode: call the pipeline's stage functions, nothing more.

Each function imports `spacex_etl` when it runs (never at DAG-parse time), takes and returns
small JSON-able values — references such as lake URIs and counts, never data — and raises on
failure so that Airflow retries and alerts.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any

log = logging.getLogger("spacex_elt.steps")


def extract(
    ingest_date: date, run_id: str, input_location: str, cores_input: str | None
) -> dict[str, Any]:
    """Land the source, unchanged, in the lake's raw zone for this data interval."""
    from dataclasses import asdict

    from spacex_etl import pipeline
    from spacex_etl.config import Settings

    start = time.perf_counter()
    landed = pipeline.extract(Settings(), ingest_date, run_id, input_location, cores_input)
    log.info(
        "extract ingest_date=%s run_id=%s landed=%s in %.1fs",
        ingest_date,
        run_id,
        {item.resource: item.record_count for item in landed},
        time.perf_counter() - start,
    )
    return {
        "ingest_date": ingest_date.isoformat(),
        "run_id": run_id,
        "raw_uris": [item.raw_uri for item in landed],
        "landed": [asdict(item) for item in landed],
    }


def load(raw_uris: list[str]) -> dict[str, Any]:
    """Validate, stage and load exactly the raw objects the extract task landed."""
    from spacex_etl import pipeline
    from spacex_etl.config import Settings

    start = time.perf_counter()
    loaded = pipeline.load(Settings(), raw_uris=list(raw_uris))
    rows: dict[str, int] = {}
    for item in loaded:
        rows.update(item.rows)
    summary = {
        "raw_uris": list(raw_uris),
        "rows": rows,
        "by_resource": {
            item.resource: item.counts() | {"quarantine_uri": item.quarantine_uri}
            for item in loaded
        },
        "seconds": round(time.perf_counter() - start, 3),
    }
    log.info("load rows=%s in %.1fs", rows, summary["seconds"])
    return summary


def dbt(command: list[str]) -> dict[str, Any]:
    """Run `dbt run` or `dbt test` in-process; a failing model or test fails the task."""
    from spacex_etl import transform
    from spacex_etl.config import Settings

    start = time.perf_counter()
    summary = transform.run_dbt(Settings(), command[0])  # type: ignore[arg-type]
    summary["seconds"] = round(time.perf_counter() - start, 3)
    log.info(
        "dbt %s statuses=%s in %.1fs", summary["command"], summary["statuses"], summary["seconds"]
    )
    return summary


def report(
    ingest_date: str, run_id: str, load_summary: dict[str, Any], dbt_summaries: list[Any]
) -> dict[str, Any]:
    """Read Q1/Q2 from the answer models and publish them with the run's stats."""
    from spacex_etl import report as answers_report
    from spacex_etl.config import Settings

    settings = Settings()
    answers = answers_report.answers(settings)
    q1 = answers["q1_max_reuse"]
    published = {
        "ingest_date": ingest_date,
        "run_id": run_id,
        "warehouse": settings.warehouse,
        "rows": load_summary.get("rows", {}),
        "by_resource": load_summary.get("by_resource", {}),
        "dbt": [s for s in dbt_summaries if s],
        "q1_max_reuse": q1["value"],
        "q1_cores": [c.get("core_serial") or c.get("core_id") for c in q1["cores"]],
        "q2_flights": len(answers["q2_cores"]),
        "q2_distinct_cores": answers["q2_distinct_cores"],
        "answers": answers,
    }
    log.info(
        "report ingest_date=%s run_id=%s rows=%s Q1=%s (%s) Q2=%s flights by %s cores",
        ingest_date,
        run_id,
        published["rows"],
        published["q1_max_reuse"],
        ", ".join(str(c) for c in published["q1_cores"]),
        published["q2_flights"],
        published["q2_distinct_cores"],
    )
    return published
