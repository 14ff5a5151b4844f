"""`spacex-etl`: the command line. Parsing, progress, one-line errors, `--json`; no business rules.

Exit codes: 0 success; 1 a pipeline error (one line on stderr naming the cause) or an anomaly
check set to fail (`SPACEX_MONITOR_FAIL_ON`: the summary is printed first); 2 wrong usage.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError as SettingsValidationError

from spacex_etl import __version__, pipeline
from spacex_etl.config import SNAPSHOT, Settings
from spacex_etl.errors import SpacexEtlError

app = typer.Typer(
    help="SpaceX launches ELT: extract → land raw → load → dbt → answers to Q1/Q2.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")

InputOpt = Annotated[
    str,
    typer.Option(
        "--input",
        "-i",
        help="Launches source: 'snapshot' (the bundled real data), 'api' (SPACEX_SOURCE_URL), "
        "an https URL (API v4/v5 launches) or a JSON file.",
    ),
]
CoresOpt = Annotated[
    str | None,
    typer.Option(
        "--cores-input", help="Cores source (URL or file). Default: bundled with snapshot."
    ),
]
DateOpt = Annotated[
    str | None,
    typer.Option("--date", "-d", help="Logical (ingest) date YYYY-MM-DD. Default: today (UTC)."),
]
RunIdOpt = Annotated[
    str | None,
    typer.Option("--run-id", help="Run id (default: generated; Airflow passes its own)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Let an older batch overwrite newer rows in the warehouse.")
]
AllowShrinkOpt = Annotated[
    bool,
    typer.Option(
        "--allow-shrink",
        help="Load an empty extract, or one smaller than SPACEX_QUALITY_MIN_SHARE_OF_LAST_LOAD "
        "x the last successful load of the same source (refused by default).",
    ),
]


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Characters a terminal or a log reader acts on (C0/C1 controls, escape, bidi overrides)."""


def printable(text: str) -> str:
    """`text` as one inert line: each control character written as its escape (`\\x1b`, `\\n`),
    so data (a launch name, a field name, an API's error text) can neither drive the terminal
    nor start a forged line."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def _echo(line: str, err: bool = False) -> None:
    typer.echo(printable(line), err=err)


class _OneLine(logging.Formatter):
    """Log lines whose message is `printable` (a traceback with --debug stays as it is)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)


class RunIdFilter(logging.Filter):
    """Stamp each record with the current run id, so every log line names its run."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = pipeline.current_run_id.get()
        return True


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RunIdFilter())
    handler.setFormatter(_OneLine("%(asctime)s %(levelname)s run=%(run_id)s %(name)s: %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO, handlers=[handler], force=True
    )
    for noisy in ("botocore", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(message: str, debug: bool) -> NoReturn:
    if debug:
        traceback.print_exc()
    _echo(f"spacex-etl: error: {message}", err=True)
    raise typer.Exit(1)


def _guard(debug: bool, action: Callable[[], T]) -> T:
    """Run `action`; expected failures become one line on stderr and exit 1."""
    _setup_logging(debug)
    try:
        return action()
    except SpacexEtlError as exc:
        _fail(str(exc), debug)
    except SettingsValidationError as exc:
        first = exc.errors()[0]
        _fail(f"invalid setting SPACEX_{str(first['loc'][0]).upper()}: {first['msg']}", debug)
    except KeyboardInterrupt:
        _fail("interrupted", debug)
    except Exception as exc:  # an unexpected bug: still one line, the traceback with --debug
        _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)", debug)


@contextlib.contextmanager
def _spinner(enabled: bool) -> Iterator[Callable[[str], None] | None]:
    """A one-line spinner naming the current stage, only on an interactive terminal."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    from rich.console import Console

    with Console(stderr=True).status("starting…") as status:
        yield lambda stage: status.update(f"{stage}…")


def _date(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        msg = f"{value!r} is not a date (YYYY-MM-DD)"
        raise typer.BadParameter(msg, param_hint="--date") from None


def _emit_json(payload: Any) -> None:
    # One line: the last line of stdout is what DockerOperator/ECS hand to XCom.
    sys.stdout.write(json.dumps(payload, default=str) + "\n")


def _print_summary(summary: dict[str, Any]) -> None:
    echo = _echo
    counts = summary["counts"]
    echo(f"spacex-etl run {summary['run_id']}  ingest_date={summary['ingest_date']}")
    echo(f"  source     {summary['source']}")
    echo(f"  lake       {summary['lake']}")
    for item in summary["landed"]:
        echo(
            f"  raw        {item['raw_uri']}  ({item['record_count']} records, "
            f"sha256 {item['sha256'][:12]}…)"
        )
    echo(f"  warehouse  {summary['warehouse']}")
    for resource, c in counts["by_resource"].items():
        echo(
            f"  {resource:<10} received {c['received']} = loaded {c['loaded']} + quarantined "
            f"{c['quarantined']} + duplicates {c['deduplicated']}"
            + (
                f" (kept {c['skipped_newer_in_warehouse']} newer records already loaded)"
                if c["skipped_newer_in_warehouse"]
                else ""
            )
        )
    echo("  rows       " + ", ".join(f"{t}={n}" for t, n in counts["loaded"].items()))
    if summary["quarantine_uri"]:
        echo(f"  quarantine {summary['quarantine_uri']}")
    if summary.get("report_uri"):
        echo(f"  report     {summary['report_uri']}")
    if summary.get("anomalies"):
        _print_anomalies(summary["anomalies"])
    if summary["answers"]:
        _print_answers(summary["answers"])
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in summary["timings_s"].items())
    echo(f"  timings    {timings}")


def _print_anomalies(found: dict[str, Any]) -> None:
    if found["verdict"] == "unknown":
        _echo(f"  anomalies  unknown: {found.get('error')}")
        return
    _echo(
        f"  anomalies  {found['verdict']}: {len(found['flagged'])} of {found['checks']} checks "
        f"flagged ({found['judged']} judged; model {found.get('model')})"
    )
    for check in found["flagged"]:
        _echo(f"    {check['verdict']:<4} {check['check_name']}: {check['message']}")


def _fail_on_anomalies(found: dict[str, Any] | None, debug: bool) -> None:
    """Exit 1 after the output when a check set to fail flagged the run."""
    from spacex_etl.monitoring import raise_on_fail

    try:
        raise_on_fail(found or {})
    except SpacexEtlError as exc:
        _fail(str(exc), debug)


def _print_answers(answers: dict[str, Any]) -> None:
    echo = _echo
    q1 = answers["q1_max_reuse"]
    cores = ", ".join(
        f"{c['core_serial'] or '?'} ({c['core_id']}, {c['flights']} flights)" for c in q1["cores"]
    )
    echo("")
    echo(f"Q1  max times a core was reused: {q1['value']}  — {cores}")
    echo(f"    definition: {q1['definition']}")
    echo(
        f"Q2  reuses < 50 days after the core's previous launch: {answers['q2_flights']} "
        f"flights by {answers['q2_distinct_cores']} cores"
    )
    echo(f"    definition: {answers['q2_definition']}")
    for row in answers["q2_cores"]:
        echo(
            f"    {row['core_serial'] or '?':<6} {row['core_id']}  "
            f"{str(row['previous_launch_date_utc'])[:10]} → {str(row['launch_date_utc'])[:10]}  "
            f"{float(row['days_since_previous_launch']):6.2f} days  {row['launch_name']}"
        )
    more = answers["q2_flights"] - len(answers["q2_cores"])
    if more > 0:
        echo(f"    … and {more:,} more, longer gaps: the whole answer is {answers['q2_model']}")


@app.command()
def run(
    input: InputOpt = SNAPSHOT,
    cores_input: CoresOpt = None,
    date_: DateOpt = None,
    run_id: RunIdOpt = None,
    force: ForceOpt = False,
    allow_shrink: AllowShrinkOpt = False,
    skip_transform: Annotated[
        bool, typer.Option("--skip-transform", help="Stop after loading (no dbt, no answers).")
    ] = False,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run the whole pipeline: extract, land raw, load, dbt build, answers."""
    ingest_date = _date(date_)

    def action() -> dict[str, Any]:
        settings = Settings()
        with _spinner(enabled=not json_) as progress:
            summary = pipeline.run(
                settings,
                ingest_date,
                input,
                run_id,
                cores_input,
                force,
                not skip_transform,
                progress=progress,
                allow_shrink=allow_shrink,
            )
        return summary.as_dict()

    summary = _guard(debug, action)
    _emit_json(summary) if json_ else _print_summary(summary)
    _fail_on_anomalies(summary.get("anomalies"), debug)


@app.command()
def extract(
    input: InputOpt = SNAPSHOT,
    cores_input: CoresOpt = None,
    date_: DateOpt = None,
    run_id: RunIdOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Fetch the source and land it, unchanged, in the lake's raw zone (+ manifest)."""
    ingest_date = _date(date_)
    rid = run_id or pipeline.new_run_id()
    landed = _guard(
        debug, lambda: pipeline.extract(Settings(), ingest_date, rid, input, cores_input)
    )
    if json_:
        _emit_json({"run_id": rid, "landed": [vars(item) for item in landed]})
    else:
        for item in landed:
            _echo(f"{item.resource}: {item.raw_uri} ({item.record_count} records)")


@app.command()
def load(
    date_: DateOpt = None,
    raw_uri: Annotated[
        list[str] | None,
        typer.Option("--raw-uri", help="Raw object(s) to load. Default: newest of the date."),
    ] = None,
    force: ForceOpt = False,
    allow_shrink: AllowShrinkOpt = False,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Validate, stage (Parquet) and load raw objects: one warehouse transaction per batch."""
    ingest_date = _date(date_)
    loaded = _guard(
        debug, lambda: pipeline.load(Settings(), ingest_date, raw_uri, force, allow_shrink)
    )
    if json_:
        _emit_json({"loaded": [vars(item) for item in loaded]})
    else:
        for item in loaded:
            _echo(
                f"{item.resource}: received {item.received} = loaded {item.loaded} + quarantined "
                f"{item.quarantined} + duplicates {item.deduplicated}; rows {item.rows}"
                + (f"; quarantine {item.quarantine_uri}" if item.quarantine_uri else "")
            )


@app.command()
def transform(
    command: Annotated[
        str,
        typer.Option(
            "--command",
            "-c",
            help="dbt command: build (models + tests), run (models), test, or parse (the "
            "manifest and partial-parse state later runs start from; no warehouse needed).",
        ),
    ] = "build",
    select: Annotated[str | None, typer.Option("--select", "-s", help="dbt selector.")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh")] = False,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run dbt on the warehouse (`build` by default); a failing model or test exits 1."""
    from spacex_etl import transform as dbt

    if command not in ("build", "run", "test", "parse"):
        raise typer.BadParameter(
            f"{command!r} is not one of build, run, test, parse", param_hint="--command"
        )
    result = _guard(
        debug,
        lambda: dbt.run_dbt(Settings(), command, select, full_refresh),  # type: ignore[arg-type]
    )
    if json_:
        _emit_json(result)
    else:
        _echo(f"dbt {command} ok: {result.get('statuses') or result.get('manifest')}")


@app.command()
def answers(json_: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Print the answers to Q1 and Q2 from the warehouse's answer models."""
    from spacex_etl import report

    def action() -> tuple[dict[str, Any], list[str]]:
        settings = Settings()
        return report.answers(settings), pipeline.stale_warnings(settings)

    result, warnings = _guard(debug, action)
    for warning in warnings:
        _echo(f"spacex-etl: warning: {warning}", err=True)
    _emit_json(result) if json_ else _print_answers(result)


@app.command()
def version() -> None:
    """Print the version."""
    _echo(__version__)


@app.command()
def report(
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Lake run id in the load ledger. Default: the newest."),
    ] = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write a run's data-quality page (HTML with a chart) into the lake's reports zone."""
    from spacex_etl import monitoring
    from spacex_etl import report as reporting

    def action() -> dict[str, Any]:
        settings = Settings()
        facts = reporting.data_quality(settings, run_id)
        found = monitoring.try_anomalies(settings, facts["run_id"])
        uri = reporting.publish(settings, facts["run_id"], anomalies=found)
        return {
            "run_id": facts["run_id"],
            "report_uri": uri,
            "counts": facts["counts"],
            "anomalies": found,
        }

    result = _guard(debug, action)
    if json_:
        _emit_json(result)
    else:
        _echo(f"data-quality report: {result['report_uri']}")
        _print_anomalies(result["anomalies"])
    _fail_on_anomalies(result["anomalies"], debug)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
