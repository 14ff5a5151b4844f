"""`spacex-etl`: the command line. Parsing, progress, one-line errors, `--json`; no business rules.

Exit codes: 0 success; 1 a pipeline error (one line on stderr naming the cause) or an anomaly
check set to fail (`SPACEX_MONITOR_FAIL_ON`: the summary is printed first); 2 wrong usage;
130 interrupted (Ctrl-C: one line naming the stage and what was committed).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError as SettingsValidationError

from spacex_etl import __version__, locks, pipeline
from spacex_etl.batch import Batch
from spacex_etl.config import SNAPSHOT, Settings
from spacex_etl.errors import BusyError, SpacexEtlError
from spacex_etl.lake import open_lake
from spacex_etl.warehouse import open_warehouse, single_writer

app = typer.Typer(
    help="SpaceX launches ELT: extract → land raw → load → dbt → answers to Q1/Q2.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: switches show no `<bool>` value they do not take
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
    typer.Option(
        "--date",
        "-d",
        help="Logical (ingest) date YYYY-MM-DD. Default: today (UTC). A date after tomorrow "
        "(UTC) is refused unless --allow-future-date.",
    ),
]
FutureOpt = Annotated[
    bool,
    typer.Option(
        "--allow-future-date",
        help="Accept a --date after tomorrow (UTC). Its rows then count as newer than every "
        "later run's, which skips them until one passes --force.",
    ),
]
RunIdOpt = Annotated[
    str | None,
    typer.Option("--run-id", help="Run id (default: generated; Airflow passes its own)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Let this batch replace rows loaded from a newer batch (a later ingest date, or "
        "the same date extracted later); without it those records are skipped.",
    ),
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


def _fail(message: str, debug: bool, code: int = 1) -> NoReturn:
    if debug:
        traceback.print_exc()
    _echo(f"spacex-etl: error: {message}", err=True)
    raise typer.Exit(code)


INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT, as shells report it)."""

AFTER_INTERRUPT = {
    "extract": "nothing half-written: each lake object is written whole or not at all",
    "load": "each batch loads in one transaction: the one in progress was rolled back",
    "transform": "the load is committed; dbt's models may be partly rebuilt: rerun "
    "`spacex-etl transform`",
    "answers": "the load and dbt are committed",
    "report": "the load and dbt are committed; the report was not written",
}


@dataclass
class Stages:
    """The stage in progress and the ones finished, for the line Ctrl-C prints."""

    command: str
    current: str | None = None
    done: list[str] = field(default_factory=list)

    def enter(self, stage: str) -> None:
        if self.current and self.current not in self.done:
            self.done.append(self.current)
        self.current = stage

    def interrupted(self) -> str:
        stage = self.current or self.command
        done = f"finished: {', '.join(self.done)}; " if self.done else ""
        after = AFTER_INTERRUPT.get(stage, "nothing was committed")
        return f"interrupted during {stage} ({done}{after})"


def _guard(debug: bool, action: Callable[[], T], stages: Stages | None = None) -> T:
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
        _fail((stages or Stages("the command")).interrupted(), debug, INTERRUPTED)
    except Exception as exc:  # an unexpected bug: still one line, the traceback with --debug
        _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)", debug)


LOCK_NAME = "spacex-etl.lock"
DBT_COMMANDS = ("run", "transform")


@contextlib.contextmanager
def _exclusive(settings: Settings, command: str) -> Iterator[None]:
    """One `spacex-etl` at a time per data dir where two would collide: anything on a warehouse
    that admits one writer process (`warehouse.single_writer`: DuckDB's file), and dbt (its
    output folder is in the data dir). A second one is refused with one line naming the first,
    instead of failing midway in DuckDB or dbt. Loads into PostgreSQL or Redshift need no such
    lock: they queue on the warehouse's load lock.

    The lock is an flock on `<data dir>/spacex-etl.lock`, released by the kernel when the
    process ends however it ends, so a crashed run never blocks the next."""
    if command not in DBT_COMMANDS and not single_writer(settings.warehouse):
        yield
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = Path(settings.data_dir, LOCK_NAME).resolve()

    def refuse(holder: str) -> None:
        raise BusyError(
            f"another spacex-etl is working in {settings.data_dir.resolve()} "
            f"({holder or 'unknown process'}); wait for it to finish, or use another "
            f"SPACEX_DATA_DIR (lock: {path})"
        ) from None

    with locks.held(path, f"`{command}`, started", refuse):
        yield


@contextlib.contextmanager
def _spinner(enabled: bool) -> Iterator[Callable[[str], None] | None]:
    """A one-line spinner naming the current stage, only on an interactive terminal."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    from rich.console import Console

    with Console(stderr=True).status("starting…") as status:
        yield lambda stage: status.update(f"{stage}…")


FUTURE_TOLERANCE = timedelta(days=1)
"""How far ahead of today (UTC) a --date may be without --allow-future-date: a user east of UTC
is already on tomorrow."""


def _date(value: str | None, allow_future: bool = False) -> date:
    today = datetime.now(UTC).date()
    if value is None:
        return today
    try:
        day = date.fromisoformat(value)
    except ValueError:
        msg = f"{value!r} is not a date (YYYY-MM-DD)"
        raise typer.BadParameter(msg, param_hint="--date") from None
    if day > today + FUTURE_TOLERANCE and not allow_future:
        _echo(
            f"spacex-etl: error: --date {value} is in the future (today is {today} UTC): its "
            "rows would count as newer than every later run's; pass --allow-future-date if you "
            "mean it",
            err=True,
        )
        raise typer.Exit(2)
    return day


def _emit_json(payload: Any) -> None:
    # One line: the last line of stdout is what DockerOperator/ECS hand to XCom.
    sys.stdout.write(json.dumps(payload, default=str) + "\n")


def _counts_line(c: dict[str, Any]) -> str:
    """`received N = loaded N + …`: every record of the batch in exactly one term."""
    skipped = c.get("skipped_newer_in_warehouse") or 0
    return (
        f"received {c['received']} = loaded {c['loaded']}"
        + (f" + skipped {skipped} (newer already loaded; --force replaces them)" if skipped else "")
        + f" + quarantined {c['quarantined']} + duplicates {c['deduplicated']}"
    )


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
        echo(f"  {resource:<10} {_counts_line(c)}")
    echo("  rows       " + ", ".join(f"{t}={n}" for t, n in counts["loaded"].items()))
    if summary["quarantine_uri"]:
        echo(f"  quarantine {summary['quarantine_uri']}")
    if summary.get("report_uri"):
        echo(f"  report     {summary['report_uri']}")
    if summary.get("anomalies"):
        _print_anomalies(summary["anomalies"])
    if summary["answers"]:
        received = counts["by_resource"].get("launches", {}).get("received")
        _print_answers(summary["answers"], received)
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


Q1_CORES_SHOWN = 5
Q2_ROWS_SHOWN = 30
"""Lines of each answer printed; the rest is counted (`--json` and the answer models have all)."""


def _scope_lines(scope: dict[str, Any], received: int | None) -> list[str]:
    """What the answers cover: the warehouse's launches and the loads they came from."""
    loads = scope["loads"]
    dates = (
        f"ingest date {scope['first_ingest_date']}"
        if scope["first_ingest_date"] == scope["last_ingest_date"]
        else f"ingest dates {scope['first_ingest_date']} … {scope['last_ingest_date']}"
    )
    lines = [
        f"Scope: the {scope['launches']} launches in the warehouse, from {loads} "
        f"load{'s' if loads != 1 else ''} ({dates})"
    ]
    if received is not None and received < scope["launches"]:
        lines.append(
            f"       this run's input had {received}; the warehouse holds more. To answer over "
            "one file alone, run it with an empty SPACEX_DATA_DIR (README: Commands)"
        )
    return lines


def _print_answers(answers: dict[str, Any], received: int | None = None) -> None:
    echo = _echo
    q1 = answers["q1_max_reuse"]
    shown = q1["cores"][:Q1_CORES_SHOWN]
    cores = ", ".join(
        f"{c['core_serial'] or '?'} ({c['core_id']}, {c['flights']} flights)" for c in shown
    )
    if len(q1["cores"]) > len(shown):
        cores += f" … and {len(q1['cores']) - len(shown)} more cores tied (--json lists all)"
    echo("")
    for line in _scope_lines(answers["scope"], received) if answers.get("scope") else []:
        echo(line)
    echo(f"Q1  max times a core was reused: {q1['value']}  — {cores}")
    echo(f"    definition: {q1['definition']}")
    echo(
        f"Q2  reuses < 50 days after the core's previous launch: {answers['q2_flights']} "
        f"flights by {answers['q2_distinct_cores']} cores"
    )
    echo(f"    definition: {answers['q2_definition']}")
    rows = answers["q2_cores"][:Q2_ROWS_SHOWN]
    for row in rows:
        echo(
            f"    {row['core_serial'] or '?':<6} {row['core_id']}  "
            f"{str(row['previous_launch_date_utc'])[:10]} → {str(row['launch_date_utc'])[:10]}  "
            f"{float(row['days_since_previous_launch']):6.2f} days  {row['launch_name']}"
        )
    more = answers["q2_flights"] - len(rows)
    if more > 0:
        echo(f"    … and {more:,} more, longer gaps: the whole answer is {answers['q2_model']}")
    unknown = [c for c in [*shown, *rows] if not c["core_serial"]]
    if unknown:
        echo(
            "    ? = no serial: the cores file does not list that core id (the bundled one is a "
            "2020 subset); --cores-input <cores.json> or --input api fills them"
        )


@app.command()
def run(
    input: InputOpt = SNAPSHOT,
    cores_input: CoresOpt = None,
    date_: DateOpt = None,
    allow_future_date: FutureOpt = False,
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
    ingest_date = _date(date_, allow_future_date)
    stages = Stages("run")

    def action() -> dict[str, Any]:
        settings = Settings()
        with _exclusive(settings, "run"), _spinner(enabled=not json_) as spinner:

            def progress(stage: str) -> None:
                stages.enter(stage)
                if spinner:
                    spinner(stage)

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

    summary = _guard(debug, action, stages)
    _emit_json(summary) if json_ else _print_summary(summary)
    _fail_on_anomalies(summary.get("anomalies"), debug)


@app.command()
def extract(
    input: InputOpt = SNAPSHOT,
    cores_input: CoresOpt = None,
    date_: DateOpt = None,
    allow_future_date: FutureOpt = False,
    run_id: RunIdOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Fetch the source and land it, unchanged, in the lake's raw zone (+ manifest)."""
    ingest_date = _date(date_, allow_future_date)
    rid = run_id or pipeline.new_run_id()
    landed = _guard(
        debug,
        lambda: pipeline.extract(Settings(), ingest_date, rid, input, cores_input),  # one lake
        Stages("extract", "extract"),
    )
    if json_:
        _emit_json({"run_id": rid, "landed": [vars(item) for item in landed]})
    else:
        for item in landed:
            _echo(f"{item.resource}: {item.raw_uri} ({item.record_count} records)")


@app.command()
def load(
    date_: DateOpt = None,
    allow_future_date: FutureOpt = False,
    raw_uri: Annotated[
        list[str] | None,
        typer.Option(
            "--raw-uri",
            metavar="<uri>",
            help="A raw object to load; repeat for several. Default: the newest of the date.",
        ),
    ] = None,
    force: ForceOpt = False,
    allow_shrink: AllowShrinkOpt = False,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Validate, stage (Parquet) and load raw objects: one warehouse transaction per batch."""
    ingest_date = _date(date_, allow_future_date)

    def action() -> list[Batch]:
        settings = Settings()
        with _exclusive(settings, "load"):
            return pipeline.load(
                settings,
                ingest_date,
                raw_uri,
                force,
                allow_shrink,
                lake=open_lake(settings.lake_root),
                warehouse=open_warehouse(settings),
            )

    loaded = _guard(debug, action, Stages("load", "load"))
    if json_:
        _emit_json({"loaded": [pipeline.load_summary(item) for item in loaded]})
    else:
        for item in loaded:
            rows = item.result.rows if item.result else {}
            _echo(
                f"{item.resource}: {_counts_line(item.counts())}; rows {rows}"
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
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Rebuild incremental models (fct_launches) from all raw rows instead of "
            "merging the newest loads (ignored by --command test).",
        ),
    ] = False,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run dbt on the warehouse (`build` by default); a failing model or test exits 1."""
    from spacex_etl import transform as dbt

    if command not in ("build", "run", "test", "parse"):
        raise typer.BadParameter(
            f"{command!r} is not one of build, run, test, parse", param_hint="--command"
        )

    def action() -> dict[str, Any]:
        settings = Settings()
        with _exclusive(settings, "transform"):
            return dbt.run_dbt(settings, command, select, full_refresh)  # type: ignore[arg-type]

    result = _guard(debug, action, Stages("transform", "transform"))
    if json_:
        _emit_json(result)
    else:
        _echo(f"dbt {command} ok: {result.get('statuses') or result.get('manifest')}")


@app.command()
def answers(json_: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Print the answers to Q1 and Q2 from the warehouse's answer models, and what they cover."""
    from spacex_etl import report

    def action() -> tuple[dict[str, Any], list[str]]:
        settings = Settings()
        warehouse = open_warehouse(settings)
        with _exclusive(settings, "answers"), warehouse.reads():  # one connection for both
            return report.answers(settings, warehouse), pipeline.stale_warnings(settings, warehouse)

    result, warnings = _guard(debug, action, Stages("answers", "answers"))
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
        warehouse = open_warehouse(settings)
        with _exclusive(settings, "report"), warehouse.reads():  # one connection for every query
            facts = reporting.data_quality(settings, warehouse, run_id)
            found = monitoring.try_anomalies(settings, warehouse, facts["run_id"])
            uri = reporting.publish(
                settings,
                facts["run_id"],
                anomalies=found,
                lake=open_lake(settings.lake_root),
                warehouse=warehouse,
            )
        return {
            "run_id": facts["run_id"],
            "report_uri": uri,
            "counts": facts["counts"],
            "anomalies": found,
        }

    result = _guard(debug, action, Stages("report", "report"))
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
