"""Read the answers to Q1 and Q2 from the dbt answer models; write the data-quality report."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spacex_etl.config import Settings
from spacex_etl.errors import LoadError, SpacexEtlError
from spacex_etl.warehouse.base import SqlWarehouse, ident, plain_row

if TYPE_CHECKING:
    from spacex_etl.lake import Lake

log = logging.getLogger(__name__)

Q1_DEFINITION = (
    "reuse count of a core = (number of non-upcoming launches it flew) - 1; Q1 is the maximum "
    "over cores with a known id"
)
Q2_DEFINITION = (
    "consecutive flights of the same core (ordered by launch date_utc, upcoming launches and "
    "unknown core ids excluded) with less than 50 days between launches, in elapsed "
    "fractional days (seconds / 86400)"
)


ANSWER_ROWS = 100
"""Q2 rows carried in the run summary (printed, published to XCom); at scale Q2 has hundreds of
thousands of rows (560k at 1M generated launches), which belong in the warehouse model, not in
the job's memory."""


def answers(settings: Settings, warehouse: SqlWarehouse) -> dict[str, Any]:
    """Q1 and Q2 as plain JSON-able values: Q2's totals and its first `ANSWER_ROWS` rows (the
    shortest gaps); the whole answer is `<dbt schema>.q2_cores_reused_within_50_days`."""
    schema = ident(settings.dbt_schema)
    q2_model = f"{schema}.q2_cores_reused_within_50_days"
    q1_rows = warehouse.query(
        f"select core_id, core_serial, flights, reuse_count from {schema}.q1_max_core_reuse "  # noqa: S608 - schema quoted by ident(), no value in the SQL
        "order by core_id"
    )
    [q2_totals] = warehouse.query(
        f"select count(*) as flights, count(distinct core_id) as cores from {q2_model}"  # noqa: S608 - schema quoted by ident(), no value in the SQL
    )
    q2_rows = warehouse.query(
        "select core_id, core_serial, launch_id, launch_name, launch_date_utc, "  # noqa: S608 - schema quoted by ident(), no value in the SQL
        "previous_launch_id, previous_launch_name, previous_launch_date_utc, "
        "days_since_previous_launch, calendar_days_since_previous "
        f"from {q2_model} order by days_since_previous_launch, core_id, launch_id "
        f"limit {ANSWER_ROWS}"
    )
    q1_value = int(q1_rows[0]["reuse_count"]) if q1_rows else 0
    [scope] = warehouse.query(
        "select count(*) as launches, count(distinct _run_id) as loads, "  # noqa: S608 - schema quoted by ident(), no value in the SQL
        "min(_ingest_date) as first_ingest_date, max(_ingest_date) as last_ingest_date "
        f"from {ident(settings.raw_schema)}.launches"
    )
    return {
        "q1_max_reuse": {
            "value": q1_value,
            "cores": [plain_row(row) for row in q1_rows],
            "definition": Q1_DEFINITION,
        },
        "q2_cores": [plain_row(row) for row in q2_rows],
        "q2_flights": int(q2_totals["flights"]),
        "q2_distinct_cores": int(q2_totals["cores"]),
        "q2_model": f"{settings.dbt_schema}.q2_cores_reused_within_50_days",
        "q2_definition": Q2_DEFINITION,
        "scope": plain_row(scope),
    }


# -- the data-quality report ------------------------------------------------------------------
REPORT_ZONE = "reports"
CHART_RUNS = 30
COUNTS = ("received", "loaded", "quarantined", "deduplicated")


def _ledger(settings: Settings, warehouse: SqlWarehouse) -> list[dict[str, Any]]:
    """Every load-ledger row, oldest first, reduced to the columns `LEDGER_COLUMNS` names.

    `select *` rather than naming columns: a ledger written before a column was added still
    reads (the missing column is absent from the row, e.g. `status` on older ledgers).
    """
    from spacex_etl.contract import LEDGER_COLUMNS

    names = {name for name, _ in LEDGER_COLUMNS}
    table = f"{ident(settings.raw_schema)}.{ident('load_ledger')}"
    rows = warehouse.query(f"select * from {table}")  # noqa: S608 - table quoted by ident(), no value in the SQL
    ledger = [{k: v for k, v in row.items() if k in names} for row in rows]
    return sorted(ledger, key=lambda r: (str(r.get("loaded_at")), str(r.get("resource"))))


def _quarantine(settings: Settings, warehouse: SqlWarehouse, run_id: str) -> list[dict[str, Any]]:
    """Quarantined records of a run, counted by resource, rule and field."""
    table = f"{ident(settings.raw_schema)}.{ident('quarantine')}"
    return warehouse.query(
        f"select resource, rule, field, count(*) as records from {table} "  # noqa: S608 - table quoted by ident(), run id bound
        f"where _run_id = {warehouse.paramstyle} "
        "group by resource, rule, field order by resource, rule, field",
        (run_id,),
    )


def _freshness(
    settings: Settings, ledger: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Per resource: the newest successful load and its age against dbt's freshness vars."""
    import yaml  # type: ignore[import-untyped,unused-ignore]  # no stubs in the lock

    settings_vars: dict[str, Any] = {}
    project = settings.dbt_project_dir / "dbt_project.yml"
    if project.is_file():
        settings_vars = (yaml.safe_load(project.read_text()) or {}).get("vars", {})
    warn_h = float(settings_vars.get("freshness_warn_hours", 26))
    error_h = float(settings_vars.get("freshness_error_hours", 50))
    newest: dict[str, datetime] = {}
    for row in ledger:
        loaded_at = row.get("loaded_at")
        if row.get("status", "succeeded") == "succeeded" and isinstance(loaded_at, datetime):
            newest[row["resource"]] = max(loaded_at, newest.get(row["resource"], loaded_at))
    result = []
    for resource, loaded_at in sorted(newest.items()):
        age_h = (now - loaded_at).total_seconds() / 3600
        status = "error" if age_h > error_h else "warn" if age_h > warn_h else "pass"
        result.append(
            {"resource": resource, "loaded_at": loaded_at, "age_hours": age_h, "status": status}
        )
    return result


SKIPPED = "skipped (newer already loaded)"


def _counts(row: dict[str, Any]) -> dict[str, int]:
    return {name: int(row.get(f"records_{name}") or 0) for name in COUNTS}


def _skipped(row: dict[str, Any]) -> int:
    """Records a succeeded load skipped because newer ones were loaded: the ledger counts as
    loaded only the records written, so they are the rest of received."""
    if row.get("status", "succeeded") != "succeeded":
        return 0
    return max(sum(_counts(row)[name] * (1 if name == "received" else -1) for name in COUNTS), 0)


def _counts_with_skipped(row: dict[str, Any]) -> dict[str, int]:
    return _counts(row) | {SKIPPED: _skipped(row)}


def _run_label(row: dict[str, Any]) -> str:
    """An x label: the ingest date, the whole run id (wrapped, never cut) and a failed or
    rejected load's status, so that a load with no bars still says why."""
    import textwrap

    run_id = "\n".join(textwrap.wrap(str(row.get("run_id")), 24, break_on_hyphens=False))
    status = row.get("status", "succeeded")
    return f"{row.get('ingest_date')}\n{run_id}" + ("" if status == "succeeded" else f"\n{status}")


def chart_png(
    ledger: list[dict[str, Any]], resources: tuple[str, ...] = ("launches", "cores")
) -> bytes:
    """A PNG bar chart per resource: its counts over its last `CHART_RUNS` ledger rows."""
    import io

    import matplotlib

    matplotlib.use("Agg")  # no display, no server
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2 * len(resources)), dpi=100)
    names = [*COUNTS, SKIPPED]
    width = 0.8 / len(names)
    for axes, resource in zip(
        figure.subplots(len(resources), 1, squeeze=False)[:, 0], resources, strict=True
    ):
        rows = [row for row in ledger if row.get("resource") == resource][-CHART_RUNS:]
        for offset, name in enumerate(names):
            xs = [i + (offset - (len(names) - 1) / 2) * width for i in range(len(rows))]
            values = [_counts_with_skipped(row)[name] for row in rows]
            axes.bar(xs, values, width=width, label=name)
        for i, row in enumerate(rows):
            if row.get("status", "succeeded") != "succeeded":
                axes.axvspan(i - 0.45, i + 0.45, color="#d62728", alpha=0.12, lw=0)
        axes.set_xticks(range(len(rows)))
        axes.set_xticklabels([_run_label(row) for row in rows], fontsize=6)
        axes.set_ylabel("records")
        axes.set_title(
            f"{resource}: records per load (last {len(rows)} ledger rows; "
            "shaded: rejected or failed, nothing loaded)"
        )
        axes.margins(y=0.25)  # room above the bars for the legend
        axes.legend(fontsize=7, ncols=5, loc="upper left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def data_quality(
    settings: Settings, warehouse: SqlWarehouse, run_id: str | None = None
) -> dict[str, Any]:
    """The facts on the report page: a run's ledger rows, quarantine, freshness, history."""
    ledger = _ledger(settings, warehouse)
    if not ledger:
        raise LoadError(f"the load ledger in {settings.raw_schema} is empty: load a batch first")
    run_id = run_id or str(ledger[-1]["run_id"])
    rows = [row for row in ledger if row.get("run_id") == run_id]
    if not rows:
        raise LoadError(f"run {run_id} has no row in the load ledger")
    return {
        "run_id": run_id,
        "ingest_date": str(rows[-1].get("ingest_date")),
        "runs": rows,
        "counts": {str(row["resource"]): _counts(row) for row in rows},
        "quarantine": _quarantine(settings, warehouse, run_id),
        "freshness": _freshness(settings, ledger, datetime.now(UTC).replace(tzinfo=None)),
        "ledger": ledger,
    }


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    from html import escape

    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body or '<tr><td>none</td></tr>'}</table>"


Q2_PAGE_ROWS = 30
"""Q2 rows shown on the page (the shortest gaps); the rest is counted."""


def _q2_table(found: dict[str, Any]) -> str:
    from html import escape

    rows = [
        [
            r.get("core_serial") or "?",
            r["core_id"],
            str(r["previous_launch_date_utc"])[:10],
            str(r["launch_date_utc"])[:10],
            f"{float(r['days_since_previous_launch']):.2f}",
            r["launch_name"],
        ]
        for r in found["q2_cores"][:Q2_PAGE_ROWS]
    ]
    more = found["q2_flights"] - len(rows)
    model = escape(found["q2_model"])
    note = f"<p>… and {more:,} more, longer gaps: the whole answer is {model}</p>"
    headers = ["serial", "core id", "previous launch", "launch", "days", "launch name"]
    return _table(headers, rows) + (note if more > 0 else "")


def _scope_html(scope: dict[str, Any] | None) -> str:
    if not scope:
        return ""
    return (
        f"<p><small>Scope: the {scope['launches']} launches in the warehouse, from "
        f"{scope['loads']} load(s), ingest dates {scope['first_ingest_date']} … "
        f"{scope['last_ingest_date']}.</small></p>"
    )


def render_html(
    facts: dict[str, Any], found: dict[str, Any] | None, png: bytes, monitoring_html: str = ""
) -> str:
    """One self-contained page: inline CSS, the chart as a data: URI, no external request.
    `monitoring_html` (the anomalies and trends, `monitoring.section`) opens the page."""
    import base64
    from html import escape

    counts = [[row["resource"], *_counts_with_skipped(row).values()] for row in facts["runs"]]
    count_names = [*COUNTS, "skipped (newer already loaded; --force replaces them)"]
    quarantine = [[q["resource"], q["rule"], q["field"], q["records"]] for q in facts["quarantine"]]
    freshness = [
        [f["resource"], f["loaded_at"], f"{f['age_hours']:.1f}", f["status"]]
        for f in facts["freshness"]
    ]
    statuses = [
        [r.get("resource"), r.get("status", "succeeded"), r.get("error") or ""]
        for r in facts["runs"]
    ]
    answer_html = "<p>not available (dbt has not built the answer models)</p>"
    if found:
        q1 = found["q1_max_reuse"]
        cores = ", ".join(str(c.get("core_serial") or c.get("core_id")) for c in q1["cores"])
        answer_html = (
            f"<p><b>Q1</b> max times a core was reused: <b>{q1['value']}</b> ({escape(cores)})"
            f"<br><small>{escape(q1['definition'])}</small></p>"
            f"<p><b>Q2</b> reuses &lt; 50 days after the core's previous launch: "
            f"<b>{found['q2_flights']}</b> flights by "
            f"<b>{found['q2_distinct_cores']}</b> cores"
            f"<br><small>{escape(found['q2_definition'])}</small></p>"
            + _q2_table(found)
            + _scope_html(found.get("scope"))
        )
    chart = base64.b64encode(png).decode()
    chart_alt = "records per load: " + "; ".join(
        f"{r.get('resource')} {r.get('ingest_date')} run {r.get('run_id')} "
        f"{r.get('status', 'succeeded')}"
        for r in facts["ledger"][-2 * CHART_RUNS :]
    )
    title = f"spacex-elt data quality — run {facts['run_id']}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse;
margin:.5em 0 1.5em}}td,th{{border:1px solid #bbb;padding:.25em .6em;text-align:left}}
th{{background:#eee}}</style></head><body>
<h1>{escape(title)}</h1>
<p>ingest date {escape(facts["ingest_date"])}</p>
{monitoring_html}
<h2>Counts (received = loaded + quarantined + deduplicated + skipped)</h2>
{_table(["resource", *count_names], counts)}
<h2>Load status</h2>
{_table(["resource", "status", "error"], statuses)}
<h2>Quarantine by rule and field</h2>
{_table(["resource", "rule", "field", "records"], quarantine)}
<h2>Source freshness (newest successful load)</h2>
{_table(["resource", "loaded at (UTC)", "age (hours)", "status"], freshness)}
<h2>Answers</h2>
{answer_html}
<h2>Counts over the last loads</h2>
<img alt="{escape(chart_alt)}" src="data:image/png;base64,{chart}">
</body></html>
"""


def publish(
    settings: Settings,
    run_id: str | None = None,
    found: dict[str, Any] | None = None,
    anomalies: dict[str, Any] | None = None,
    *,
    lake: Lake,
    warehouse: SqlWarehouse,
) -> str:
    """Write the run's data-quality page into the lake's reports zone; return its URI.

    One page per run and generation time (`reports/spacex/run/ingest_date=…/<run>/
    data_quality-<UTC time>.html`): lake objects are write-once, and freshness changes
    between two renderings of the same run.
    """
    from spacex_etl.lake import zone_key

    facts = data_quality(settings, warehouse, run_id)
    if found is None:
        try:
            found = answers(settings, warehouse)
        except SpacexEtlError as exc:  # the page still reports the load when dbt has not run
            log.warning("answers not available for the report: %s", exc)
    from spacex_etl import monitoring

    section = monitoring.section(settings, warehouse, facts["run_id"], anomalies)
    page = render_html(facts, found, chart_png(facts["ledger"]), section)
    name = f"data_quality-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.html"
    key = zone_key(REPORT_ZONE, "run", facts["ingest_date"], facts["run_id"], name)
    uri = lake.put(key, page.encode())
    if "://" not in uri:  # a page to open and share, not private data: readable like any file
        Path(uri).chmod(0o644)
    log.info("data-quality report: %s", uri)
    return uri
