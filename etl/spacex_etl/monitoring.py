"""The run history and the anomaly checks over it.

The history lives in the warehouse: the load ledger's row per run and resource (counts,
quarantine by rule, drift, bytes, the newest source event) and `run_phases` (each phase's wall
time). The checks are the dbt models in `dbt_spacex/models/monitoring/` (one definition, the
same SQL on DuckDB, PostgreSQL and Redshift); they are views, so reading `mon_anomalies` after
the phases are recorded judges the current run. This module records phases, reads the
verdicts, words them for people and draws the trend charts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from spacex_etl.config import Settings
from spacex_etl.errors import AnomalyError, SpacexEtlError
from spacex_etl.warehouse.base import SqlWarehouse, ident, plain_row

log = logging.getLogger(__name__)

PHASES: dict[str, str] = {
    "extract": "extract",
    "load": "load",
    "transform": "dbt",
    "answers": "report",
    "report": "report",
}
"""The pipeline's timed stages → the history's phases."""
VERDICTS = ("pass", "warn", "fail")
CHART_RUNS = 30


# -- recording ---------------------------------------------------------------------------------
def newest_source_at(resource: str, parts: Mapping[str, list[Path]]) -> datetime | None:
    """The newest event a batch reports: launches' latest non-upcoming `date_utc` (naive UTC),
    read from the staged Parquet parts (two columns); None for other resources."""
    if resource != "launches" or not parts.get("launches"):
        return None
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    newest: datetime | None = None
    for path in parts["launches"]:
        table = pq.read_table(path, columns=["date_utc", "upcoming"])
        flown = table.filter(pc.invert(pc.fill_null(table["upcoming"], False)))
        value = pc.max(flown["date_utc"]).as_py()
        if isinstance(value, datetime):
            value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
            newest = value if newest is None else max(newest, value)
    return newest


def phase_rows(
    run_id: str, ingest_date: str | date, timings: Mapping[str, float], stages: Iterable[str]
) -> list[dict[str, Any]]:
    """`run_phases` rows for the given stages of `timings` (stages of one phase add up)."""
    seconds: dict[str, float] = {}
    for stage in stages:
        if stage in timings:
            phase = PHASES.get(stage, stage)
            seconds[phase] = seconds.get(phase, 0.0) + timings[stage]
    now = datetime.now(UTC).replace(tzinfo=None)
    day = date.fromisoformat(ingest_date) if isinstance(ingest_date, str) else ingest_date
    return [
        {
            "run_id": run_id,
            "ingest_date": day,
            "phase": phase,
            "milliseconds": round(value * 1000),
            "recorded_at": now,
        }
        for phase, value in seconds.items()
    ]


def record_phases(warehouse: SqlWarehouse, rows: list[dict[str, Any]]) -> None:
    """Append phase rows to `run_phases`. Best effort, like a failed load's ledger row: a
    warehouse that cannot take them costs a warning, never the run."""
    from spacex_etl.contract import PHASE_COLUMNS

    if not rows:
        return
    names = [name for name, _ in PHASE_COLUMNS]
    sql = (
        f"insert into {warehouse.qualified('run_phases')} "  # noqa: S608 - identifiers quoted by ident(), values bound
        f"({', '.join(ident(n) for n in names)}) "
        f"values ({', '.join([warehouse.paramstyle] * len(names))})"
    )
    try:
        with warehouse.transaction() as cur:
            warehouse._prepare_tables(cur)  # creates run_phases beside the ledger if missing
            for row in rows:
                cur.execute(sql, tuple(row[n] for n in names))
    except Exception as exc:
        log.warning("could not record the run's phase times: %s", " ".join(str(exc).split()))


# -- reading the verdicts ----------------------------------------------------------------------
def _model(settings: Settings, name: str) -> str:
    return f"{ident(settings.dbt_schema)}.{ident(name)}"


def anomalies(
    settings: Settings, warehouse: SqlWarehouse, run_id: str | None = None
) -> dict[str, Any]:
    """The checks' verdicts for a run (default: the newest run in the history).

    `verdict` is the worst of them; `flagged` lists the anomalies, each with a `message` that
    says what, against which baseline and since when. Raises LoadError when the monitoring
    models have not been built (dbt has not run on this warehouse yet).
    """
    table = _model(settings, "mon_anomalies")
    if run_id is None:
        newest = warehouse.query(
            f"select run_id from {table} order by run_at desc, run_id desc limit 1"  # noqa: S608 - identifiers quoted by ident()
        )
        if not newest:
            return {"run_id": None, "verdict": "pass", "checks": 0, "judged": 0, "flagged": []}
        run_id = str(newest[0]["run_id"])
    rows = warehouse.query(
        f"select * from {table} where run_id = {warehouse.paramstyle} "  # noqa: S608 - identifiers quoted by ident(), run id bound
        "order by check_name, subject, metric",
        (run_id,),
    )
    checks = [plain_row(row) for row in rows]
    flagged = [c | {"message": describe(c, settings)} for c in checks if c["verdict"] != "pass"]
    worst = max((VERDICTS.index(c["verdict"]) for c in checks), default=0)
    return {
        "run_id": run_id,
        "verdict": VERDICTS[worst],
        "checks": len(checks),
        "judged": sum(1 for c in checks if c["judged"]),
        "flagged": flagged,
        "model": f"{settings.dbt_schema}.mon_anomalies",
    }


def try_anomalies(
    settings: Settings, warehouse: SqlWarehouse, run_id: str | None = None
) -> dict[str, Any]:
    """`anomalies`, or a `verdict: unknown` with the reason when they cannot be read (the
    monitoring models not built yet): the run summary and the page still appear."""
    try:
        return anomalies(settings, warehouse, run_id)
    except SpacexEtlError as exc:
        log.warning("anomaly checks not available: %s", exc)
        return {"run_id": run_id, "verdict": "unknown", "error": str(exc), "flagged": []}


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "?"
    if unit == "%":
        return f"{value * 100:.1f}%"
    text = f"{value:.1f}" if abs(value - round(value)) > 1e-9 else f"{round(value)}"
    return f"{text}{unit}"


def describe(check: Mapping[str, Any], settings: Settings | None = None) -> str:
    """One line: what is anomalous, against which baseline, since when."""
    name, subject, value = check["check_name"], check["subject"], check["metric_value"]
    median, runs = check.get("baseline_median"), check.get("baseline_runs")
    baseline = f"median {{}} over the previous {runs} runs, MAD {{}}"
    if name == "volume":
        text = (
            f"{subject} {check['metric']} {_num(value)} is outside "
            f"{_num(check['lower_bound'])} to {_num(check['upper_bound'])} ("
            + baseline.format(_num(median), _num(check.get("baseline_mad")))
            + ")"
        )
    elif name == "quarantine_share":
        text = (
            f"{subject}: {_num(value, '%')} of the records quarantined, above "
            f"{_num(check['upper_bound'], '%')} ("
            + baseline.format(_num(median, "%"), _num(check.get("baseline_mad"), "%"))
            + ")"
        )
    elif name == "drift":
        text = (
            f"{subject}: {_num(value)} drifted paths, more than any of the previous {runs} runs "
            f"(at most {_num(check['upper_bound'])})"
        )
    elif name == "phase_duration":
        text = (
            f"phase {subject} took {_num(value, ' s')}, above {_num(check['upper_bound'], ' s')} ("
            + baseline.format(_num(median, " s"), _num(check.get("baseline_mad"), " s"))
            + ")"
        )
    elif name == "source_freshness":
        text = (
            f"{subject}: the newest launch was {_num(value)} days old when the source was read "
            f"(stale after {_num(check['upper_bound'])} days): the source looks frozen, "
            "however fresh the loads"
        )
    else:
        text = f"{name} {subject} {check['metric']} = {_num(value)}"
    since = check.get("since_run_id")
    if since and since != check.get("run_id"):
        at = str(check.get("since_at"))[:16].replace("T", " ")
        text += f"; since run {since} ({at} UTC, {check.get('anomalous_runs')} runs)"
    elif since:
        text += "; new in this run"
    return text


def raise_on_fail(found: Mapping[str, Any]) -> None:
    """AnomalyError when a check configured to fail flagged the run."""
    failing = [c for c in found.get("flagged", []) if c["verdict"] == "fail"]
    if failing:
        raise AnomalyError(
            f"{len(failing)} anomaly check(s) set to fail flagged run {found.get('run_id')}: "
            + "; ".join(f"{c['check_name']}: {c['message']}" for c in failing)
            + " (the data is loaded; SPACEX_MONITOR_FAIL_ON lists the checks that fail)"
        )


# -- trends ------------------------------------------------------------------------------------
def trend(
    settings: Settings, warehouse: SqlWarehouse, runs: int = CHART_RUNS
) -> list[dict[str, Any]]:
    """`mon_run_metrics` rows of the newest `runs` runs, oldest first."""
    rows = warehouse.query(
        f"select * from {_model(settings, 'mon_run_metrics')}"  # noqa: S608 - identifiers quoted by ident()
    )
    first_seen: dict[str, str] = {}
    for row in rows:
        at = str(row["run_at"])
        first_seen[row["run_id"]] = min(at, first_seen.get(row["run_id"], at))
    keep = set(sorted(first_seen, key=lambda r: (first_seen[r], r))[-runs:])
    ordered = sorted(
        (row for row in rows if row["run_id"] in keep),
        key=lambda r: (first_seen[r["run_id"]], r["run_id"]),
    )
    return [plain_row(row) for row in ordered]


def trend_png(rows: list[dict[str, Any]]) -> bytes:
    """Three small charts over the runs: records per resource (received, loaded), quarantined
    share, seconds per phase."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    run_ids = list(dict.fromkeys(row["run_id"] for row in rows))
    labels = {
        row["run_id"]: f"{str(row['ingest_date'])[:10]}\n{row['run_id'][-6:]}" for row in rows
    }
    series: dict[tuple[str, str, str], dict[str, float]] = {}
    for row in rows:
        key = (row["check_name"], row["subject"], row["metric"])
        series.setdefault(key, {})[row["run_id"]] = float(row["metric_value"])
    figure = Figure(figsize=(9, 7.2), dpi=100)
    panels = figure.subplots(3, 1, sharex=True)
    wanted = [
        (panels[0], "volume", "records", 1.0),
        (panels[1], "quarantine_share", "quarantined (%)", 100.0),
        (panels[2], "phase_duration", "seconds", 1.0),
    ]
    xs = range(len(run_ids))
    for axes, check, ylabel, scale in wanted:
        for (name, subject, metric), values in sorted(series.items()):
            if name != check:
                continue
            label = subject if check != "volume" else f"{subject} {metric}"
            axes.plot(
                [x for x, r in zip(xs, run_ids, strict=True) if r in values],
                [values[r] * scale for r in run_ids if r in values],
                marker="o",
                markersize=3,
                linestyle="--" if metric == "loaded" else "-",  # loaded often equals received
                label=label,
            )
        axes.set_ylabel(ylabel)
        axes.set_ylim(bottom=0, top=max(axes.get_ylim()[1], 5.0))
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=7, ncols=4, loc="lower left")
    panels[0].set_title(f"the last {len(run_ids)} runs")
    panels[2].set_xticks(list(xs))
    panels[2].set_xticklabels([labels[r] for r in run_ids], fontsize=6, rotation=30)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def section_html(found: Mapping[str, Any], png: bytes | None) -> str:
    """The page's first section: the verdict, each anomaly in words, the trend charts."""
    import base64
    from html import escape

    verdict = str(found.get("verdict"))
    colour = {"pass": "#2a7", "warn": "#c80", "fail": "#c22"}.get(verdict, "#777")
    if verdict == "unknown":
        head = f"not available: {escape(str(found.get('error')))}"
    else:
        head = (
            f"{len(found['flagged'])} anomalies in {found['checks']} checks of run "
            f"{escape(str(found['run_id']))} ({found['judged']} judged; a check whose history "
            f"is still too short passes). Model: {escape(str(found.get('model')))}."
        )
    items = "".join(
        f"<li><b>{escape(c['verdict'])}</b> {escape(c['check_name'])}: {escape(c['message'])}</li>"
        for c in found.get("flagged", [])
    )
    chart = (
        f'<img alt="trends over the last runs" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}">'
        if png
        else ""
    )
    return (
        f'<h2>Anomalies: <span style="color:{colour}">{escape(verdict)}</span></h2>\n'
        f"<p>{head}</p>\n" + (f"<ul>{items}</ul>\n" if items else "") + chart + "\n"
    )


def section(
    settings: Settings,
    warehouse: SqlWarehouse,
    run_id: str,
    found: Mapping[str, Any] | None = None,
) -> str:
    """`section_html` for a run, reading what it needs (verdicts unless given, trends)."""
    found = found if found is not None else try_anomalies(settings, warehouse, run_id)
    png: bytes | None = None
    try:
        rows = trend(settings, warehouse)
        png = trend_png(rows) if rows else None
    except SpacexEtlError as exc:
        log.warning("run history not available for the trend charts: %s", exc)
    return section_html(found, png)
