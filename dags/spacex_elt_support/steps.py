"""What each task does in `python` mode: call the pipeline's stage functions, nothing more.

Each function imports `spacex_etl` when it runs (never at DAG-parse time), takes and returns
small JSON-able values — references such as lake URIs and counts, never data — and raises on
failure so that Airflow retries and alerts. Extract and load also return `lineage`: the
OpenLineage datasets they read and wrote (see `operators.StepOperator`).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger("spacex_elt.steps")


def summary_of(pushed: Any) -> dict[str, Any]:
    """The run summary in a task's XCom: a dict (python mode), or the CLI's `--json` line among
    the container's output lines (docker/ecs modes push their log lines, stderr included, so
    the summary is the last line that is a JSON object, not necessarily the last line)."""
    if isinstance(pushed, dict):
        return pushed
    lines = pushed.splitlines() if isinstance(pushed, str) else [str(x) for x in pushed or []]
    for line in reversed(lines):
        line = line.strip()
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except ValueError:
                continue
            if isinstance(found, dict):
                return found
    raise ValueError(f"no JSON run summary in the task's output: {pushed!r:.200}")


def raw_uris_of(extracted: Any) -> list[str]:
    """The raw URIs in an extract task's XCom (see `summary_of`). The one contract every mode's
    load follows."""
    extracted = summary_of(extracted)
    uris = [str(item["raw_uri"]) for item in extracted.get("landed", [])]
    if not uris:
        raise ValueError(f"the extract task handed over no raw objects: {extracted!r:.200}")
    return uris


def run_id_of(extracted: Any) -> str:
    """The lake run id in an extract task's XCom (dict or the CLI's `--json` line)."""
    return str(summary_of(extracted)["run_id"])


def dbt_environment() -> dict[str, str]:
    """The variables `dbt_spacex/profiles.yml` reads, for the configured warehouse, and dbt's
    threads for this machine."""
    from spacex_etl import transform
    from spacex_etl.config import Settings

    return transform.dbt_env(Settings())


def object_dataset(uri: str) -> tuple[str, str]:
    """OpenLineage (namespace, name) of a lake object: `s3://bucket` + key, or `file` + path."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return f"s3://{parsed.netloc}", parsed.path.lstrip("/")
    return "file", uri


def extract(
    ingest_date: str, run_id: str, input_location: str, cores_input: str | None
) -> dict[str, Any]:
    """Land the source, unchanged, in the lake's raw zone for this data interval."""
    from dataclasses import asdict

    from spacex_etl import pipeline
    from spacex_etl.config import Settings
    from spacex_etl.warehouse import open_warehouse

    start = time.perf_counter()
    settings = Settings()
    landed = pipeline.extract(  # opens the lake once its sources pass their checks
        settings,
        date.fromisoformat(ingest_date),
        run_id,
        input_location,
        cores_input or None,
        local_files=False,  # acting for whoever triggered the run: no local files
    )
    seconds = time.perf_counter() - start
    record_phase(open_warehouse(settings), run_id, ingest_date, "extract", seconds)
    log.info(
        "extract ingest_date=%s run_id=%s landed=%s in %.1fs",
        ingest_date,
        run_id,
        {item.resource: item.record_count for item in landed},
        time.perf_counter() - start,
    )
    return {
        "ingest_date": ingest_date,
        "run_id": run_id,
        "raw_uris": [item.raw_uri for item in landed],
        "landed": [asdict(item) for item in landed],
        "lineage": {"inputs": [], "outputs": [object_dataset(i.raw_uri) for i in landed]},
    }


def load(extracted: Any) -> dict[str, Any]:
    """Validate, stage and load exactly the raw objects the extract task landed."""
    from spacex_etl import pipeline
    from spacex_etl.config import Settings
    from spacex_etl.lake import open_lake
    from spacex_etl.warehouse import open_warehouse

    raw_uris = raw_uris_of(extracted)
    settings = Settings()
    warehouse = open_warehouse(settings)
    start = time.perf_counter()
    loaded = pipeline.load(
        settings, raw_uris=raw_uris, lake=open_lake(settings.lake_root), warehouse=warehouse
    )
    seconds = time.perf_counter() - start
    rows: dict[str, int] = {}
    for item in loaded:
        rows.update(item.result.rows if item.result else {})
    summary = {
        "raw_uris": raw_uris,
        "rows": rows,
        "by_resource": {
            item.resource: item.counts() | {"quarantine_uri": item.quarantine_uri}
            for item in loaded
        },
        "seconds": round(seconds, 3),
        "finished_at": time.time(),  # the report task times the dbt phase from here
        "lineage": {
            "inputs": [object_dataset(uri) for uri in raw_uris],
            # named from the settings alone: no credentials fetched for lineage
            "outputs": [warehouse.lineage_dataset(t) for t in [*rows, "load_ledger"]],
        },
    }
    log.info("load rows=%s in %.1fs", rows, summary["seconds"])
    facts = summary_of(extracted)
    if "ingest_date" in facts:
        record_phase(warehouse, run_id_of(extracted), facts["ingest_date"], "load", seconds)
    return summary


def transform() -> dict[str, Any]:
    """One `dbt build` of the whole project (models, data and unit tests) in this process."""
    from spacex_etl import transform as dbt
    from spacex_etl.config import Settings

    return dbt.build(Settings())


def record_phase(warehouse: Any, run_id: str, ingest_date: str, phase: str, seconds: float) -> None:
    """Add a phase's time to the run history (best effort). The DAG's dbt phase is the time from
    the end of the load task to the start of the report task (its dbt tasks and their queueing)."""
    from spacex_etl import monitoring

    rows = monitoring.phase_rows(run_id, ingest_date, {phase: seconds}, [phase])
    monitoring.record_phases(warehouse, rows)


def release_duckdb() -> None:
    """Close the DuckDB connection dbt-duckdb keeps after an in-process dbt run (Cosmos's dbt
    runner, `dag.test`), so the next task in this process can open the file."""
    from spacex_etl import transform

    transform.release_duckdb()


def report(ingest_date: str, extracted: Any, load_summary: dict[str, Any]) -> dict[str, Any]:
    """Read Q1/Q2 and the anomaly checks' verdicts, write the data-quality page to the lake's
    reports zone, publish both. An anomaly warns in the log; one of a check set to fail
    (`SPACEX_MONITOR_FAIL_ON`) fails the task without retries, so the failure alerts fire."""
    from airflow.sdk.exceptions import AirflowFailException

    from spacex_etl import monitoring
    from spacex_etl.config import Settings
    from spacex_etl.errors import AnomalyError
    from spacex_etl.warehouse import open_warehouse

    release_duckdb()
    run_id = run_id_of(extracted)
    settings = Settings()
    warehouse = open_warehouse(settings)
    start = time.perf_counter()
    with warehouse.reads():  # one connection for the answers, the checks, the page, the phases
        published = _report(settings, warehouse, ingest_date, run_id, load_summary, start)
    try:
        monitoring.raise_on_fail(published["anomalies"])
    except AnomalyError as exc:
        raise AirflowFailException(str(exc)) from exc
    return published


def _report(
    settings: Any,
    warehouse: Any,
    ingest_date: str,
    run_id: str,
    load_summary: dict[str, Any],
    start: float,
) -> dict[str, Any]:
    """What the report task reads and publishes, on the warehouse connection it holds."""
    from spacex_etl import monitoring
    from spacex_etl import report as reporting
    from spacex_etl.lake import open_lake

    answers = reporting.answers(settings, warehouse)
    found = monitoring.try_anomalies(settings, warehouse, run_id)
    report_uri = reporting.publish(
        settings,
        run_id=run_id,
        found=answers,
        anomalies=found,
        lake=open_lake(settings.lake_root),
        warehouse=warehouse,
    )
    for check in found["flagged"]:
        log.warning("anomaly (%s) %s: %s", check["verdict"], check["check_name"], check["message"])
    q1 = answers["q1_max_reuse"]
    published = {
        "ingest_date": ingest_date,
        "run_id": run_id,
        "warehouse": settings.warehouse,
        "rows": load_summary.get("rows", {}),
        "by_resource": load_summary.get("by_resource", {}),
        "report_uri": report_uri,
        "q1_max_reuse": q1["value"],
        "q1_cores": [c.get("core_serial") or c.get("core_id") for c in q1["cores"]],
        "q2_flights": answers["q2_flights"],
        "q2_distinct_cores": answers["q2_distinct_cores"],
        "answers": answers,
        "anomalies": found,
    }
    log.info(
        "report ingest_date=%s run_id=%s rows=%s Q1=%s (%s) Q2=%s flights by %s cores; "
        "data-quality report %s",
        ingest_date,
        run_id,
        published["rows"],
        published["q1_max_reuse"],
        ", ".join(str(c) for c in published["q1_cores"]),
        published["q2_flights"],
        published["q2_distinct_cores"],
        report_uri,
    )
    if isinstance(load_summary.get("finished_at"), float):  # dbt ran between load and report
        dbt_seconds = time.time() - load_summary["finished_at"] - (time.perf_counter() - start)
        record_phase(warehouse, run_id, ingest_date, "dbt", dbt_seconds)
    record_phase(warehouse, run_id, ingest_date, "report", time.perf_counter() - start)
    return published
