"""The CLI as a new user meets it, black-box: what each answer covers, dates that cannot poison
later runs, one line per failure (a second run, Ctrl-C, dbt), and help that says what it does."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spacex_etl.config import Settings
from tests.conftest import Server
from tests.reliability.conftest import CLI, DAY1, DAY2, Env, one_line_error, snapshot_records

FUTURE = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ run=")


def write(path: Path, records: object) -> Path:
    path.write_text(json.dumps(records))
    return path


def not_log_lines(stderr: str) -> list[str]:
    """What stderr holds besides the log lines: what a user reads as the failure."""
    return [line for line in stderr.splitlines() if line.strip() and not LOG_LINE.match(line)]


def help_text(*args: str) -> str:
    out = subprocess.run([CLI, *args, "--help"], capture_output=True, text=True, check=True)
    return out.stdout


def test_help_shows_switches_as_switches_and_describes_every_option() -> None:
    for command in ("run", "extract", "load", "transform", "answers", "report"):
        text = help_text(command)
        assert "<bool>" not in text and "<list[" not in text, text
        options = re.findall(r"^\s+(?:-\w, )?(--[\w-]+)(.*)$", text, re.M)
        undocumented = [name for name, rest in options if not rest.strip()]
        assert not undocumented, f"{command}: {undocumented} have no description"
    assert "incremental" in help_text("transform")  # what --full-refresh does


# -- dates -------------------------------------------------------------------------------------
def test_a_future_date_is_refused_naming_the_flag_and_nothing_lands(duck: Env) -> None:
    proc = duck.cli("run", "--date", FUTURE, "--skip-transform", expect=2)

    assert not_log_lines(proc.stderr) == [proc.stderr.strip()]
    assert f"--date {FUTURE} is in the future" in proc.stderr
    assert "--allow-future-date" in proc.stderr
    assert not (duck.data_dir / "lake").exists()


def test_records_skipped_for_newer_ones_are_never_called_loaded(loaded: Env) -> None:
    loaded.cli("run", "--date", FUTURE, "--allow-future-date", "--skip-transform")

    text = loaded.cli("run", "--date", DAY2, "--skip-transform").stdout
    summary = json.loads(loaded.cli("run", "--date", DAY2, "--skip-transform", "--json").stdout)

    assert (
        "launches   received 205 = loaded 0 + skipped 205 (newer already loaded; --force "
        "replaces them) + quarantined 0 + duplicates 0"
    ) in text
    counts = summary["counts"]["by_resource"]["launches"]
    assert (counts["loaded"], counts["skipped_newer_in_warehouse"]) == (0, 205)
    forced = loaded.cli("run", "--date", DAY2, "--skip-transform", "--force").stdout
    assert "launches   received 205 = loaded 205 + quarantined 0" in forced


def test_the_report_page_counts_skipped_and_rejected_loads_and_names_whole_run_ids(
    loaded: Env, tmp_path: Path
) -> None:
    loaded.cli("run", "--date", FUTURE, "--allow-future-date", "--skip-transform")
    loaded.cli(
        "run", "--date", DAY2, "--skip-transform", "--run-id", "manual__2026-12-03T10-00-00.try1"
    )
    empty = write(tmp_path / "empty.json", [])
    loaded.cli("run", "--input", str(empty), "--date", DAY2, "--skip-transform", expect=1)

    uri = json.loads(
        loaded.cli("report", "--run-id", "manual__2026-12-03T10-00-00.try1", "--json").stdout
    )["report_uri"]
    page = Path(uri).read_text()

    assert Path(uri).stat().st_mode & 0o777 == 0o644
    counts = re.sub(r"<[^>]+>", " ", page.split("<h2>Counts", 1)[1].split("<h2>", 1)[0])
    assert "skipped (newer already loaded; --force replaces them)" in counts
    assert "launches 205 0 0 0 205 cores" in " ".join(counts.split())
    alt = page.split('alt="records per load: ', 1)[1].split('"', 1)[0]
    assert f"launches {DAY2} run manual__2026-12-03T10-00-00.try1 succeeded" in alt
    assert re.search(rf"launches {DAY2} run [\w.-]+ rejected", alt)
    assert f"cores {FUTURE} run" in alt  # the chart covers cores too


# -- one line per failure ------------------------------------------------------------------------
@pytest.mark.slow
def test_a_second_run_is_refused_and_ctrl_c_names_the_stage(duck: Env) -> None:
    first = duck.popen("run", "--date", DAY1)
    assert first.stderr is not None
    for line in first.stderr:  # the first run reaches dbt (it holds the data dir's lock)
        if "spacex_etl.transform: dbt build" in line:
            break
    # Frozen there, however slow the second start-up is: Ctrl-C must land while dbt runs.
    first.send_signal(signal.SIGSTOP)
    try:
        second = duck.cli("run", "--date", DAY1, expect=1)
        first.send_signal(signal.SIGINT)
    finally:
        first.send_signal(signal.SIGCONT)
    _, rest = first.communicate(timeout=120)

    line = one_line_error(second)
    assert f"another spacex-etl is working in {duck.data_dir}" in line
    assert f"pid {first.pid}, `run`" in line
    assert first.returncode == 130
    assert not_log_lines(rest) == [
        "spacex-etl: error: interrupted during transform (finished: extract, load; the load is "
        "committed; dbt's models may be partly rebuilt: rerun `spacex-etl transform`)"
    ]
    duck.cli("transform")  # the lock went with the interrupted process


@pytest.mark.slow
def test_a_failing_dbt_test_is_one_line(duck: Env, tmp_path: Path) -> None:
    records = snapshot_records()
    records[0]["cores"][0]["landing_type"] = "Catapult"  # loads, but fails accepted_values
    proc = duck.cli("run", "--input", str(write(tmp_path / "l.json", records)), expect=1)

    [line] = not_log_lines(proc.stderr)
    assert line.startswith("spacex-etl: error: dbt build failed: accepted_values_")
    assert "\x1b[" not in proc.stderr  # no colour codes


# -- scope -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_answers_say_their_scope_and_long_lists_are_cut_with_a_count(
    loaded: Env, tmp_path: Path
) -> None:
    first_20 = write(tmp_path / "launches.json", snapshot_records()[:20])

    over_all = loaded.cli("run", "--input", str(first_20), "--date", DAY2).stdout
    alone = Env(tmp_path / "alone", Settings(data_dir=tmp_path / "alone"))
    over_file = alone.cli("run", "--input", str(first_20), "--date", DAY2).stdout

    assert (
        f"Scope: the 205 launches in the warehouse, from 2 loads (ingest dates {DAY1} … {DAY2})"
        in over_all
    )
    assert "this run's input had 20; the warehouse holds more" in over_all
    assert f"Scope: the 20 launches in the warehouse, from 1 load (ingest date {DAY2})" in over_file
    assert "holds more" not in over_file
    [q1] = [line for line in over_file.splitlines() if line.startswith("Q1")]
    assert re.search(r" … and \d+ more cores tied \(--json lists all\)$", q1), q1
    assert q1.count("flights)") == 5
    page = Path(re.findall(r"^  report +(\S+)$", over_all, re.M)[0]).read_text()
    assert "Scope: the 205 launches in the warehouse, from 2 load(s)" in page
    assert "<td>21.26</td>" in page  # Q2's rows, not only its count


# -- fail fast -----------------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch_failure(duck: Env, url: str, host: str) -> subprocess.CompletedProcess[str]:
    duck.extra |= {
        "SPACEX_SOURCE_ALLOWED_HOSTS": host,
        "SPACEX_SOURCE_ALLOW_HTTP": "true",
        "SPACEX_HTTP_RETRIES": "2",
        "SPACEX_HTTP_BACKOFF_S": "0.01",
    }
    return duck.cli("run", "--input", url, "--date", DAY1, "--skip-transform", expect=1)


def test_what_a_retry_cannot_fix_fails_on_the_first_attempt(
    duck: Env, serve: Callable[[], Server]
) -> None:
    dns = fetch_failure(duck, "https://no-such-host.invalid/v5/launches", "no-such-host.invalid")
    tls = fetch_failure(duck, serve().url().replace("http://", "https://"), "127.0.0.1")

    assert "after 1 attempt(s) (host name not found)" in one_line_error(dns)
    assert "after 1 attempt(s) (TLS verification failed)" in one_line_error(tls)
    for proc in (dns, tls):
        assert " WARNING " not in proc.stderr
    assert not list((duck.data_dir / "lake").rglob("launches.json"))


def test_each_retry_is_one_short_line(duck: Env) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v5/launches"
    proc = fetch_failure(duck, url, "127.0.0.1")

    assert "after 3 attempt(s) (connection refused)" in one_line_error(proc)
    retries = [line for line in proc.stderr.splitlines() if " WARNING " in line]
    assert [line.split("spacex_etl.sources: ", 1)[1].rsplit(" in ", 1)[0] for line in retries] == [
        f"GET 127.0.0.1/v5/launches: connection refused; retry {n} of 2" for n in (1, 2)
    ]
    assert "Retrying (" not in proc.stderr


def test_the_warehouse_is_checked_before_anything_is_fetched(
    duck: Env, serve: Callable[[], Server]
) -> None:
    server = serve()
    duck.extra |= {
        "SPACEX_WAREHOUSE": "postgres",
        "SPACEX_PG_HOST": "127.0.0.1",
        "SPACEX_PG_PORT": str(closed_port()),
        "SPACEX_SOURCE_ALLOWED_HOSTS": "127.0.0.1",
        "SPACEX_SOURCE_ALLOW_HTTP": "true",
    }
    proc = duck.cli("run", "--input", server.url(), "--date", DAY1, expect=1)

    assert "cannot connect" in one_line_error(proc)
    assert server.hits == []
    assert not (duck.data_dir / "lake").exists()


def test_a_refused_load_leaves_no_staged_parts(loaded: Env, tmp_path: Path) -> None:
    staged = loaded.data_dir / "lake" / "staged"
    before = sorted(staged.rglob("*.parquet"))
    empty = write(tmp_path / "launches.json", [])  # an empty extract is refused at load

    proc = loaded.cli("run", "--input", str(empty), "--date", DAY2, "--skip-transform", expect=1)
    assert "empty extract" in one_line_error(proc)

    assert before  # the baseline's load published its parts
    assert sorted(staged.rglob("*.parquet")) == before


# -- exit codes through make -------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


def make_run(duck: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # `-o install`: the suite's venv is installed; no sync under the other tests' feet
        ["make", "--no-print-directory", "-o", "install", "run", *args],
        cwd=REPO,
        env=duck.environ(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_make_run_exits_2_and_shows_the_clis_own_code_last(duck: Env, tmp_path: Path) -> None:
    """GNU make exits 2 whenever a recipe fails (its manual: 0, 2, or 1 under -q); what it can
    show is the CLI's own code, on its last line. Scripts call the CLI to tell 1 from 2."""
    page = tmp_path / "page.html"
    page.write_text("<html>not launches</html>")
    cases = {  # the CLI's code → (INPUT, DATE): 1 a pipeline error, 2 wrong usage
        1: (str(page), DAY1),
        2: ("snapshot", FUTURE),
    }
    for code, (source, day) in cases.items():
        direct = duck.cli("run", "--input", source, "--date", day, expect=code)
        made = make_run(duck, f"INPUT={source}", f"DATE={day}")

        assert made.returncode == 2, made.stderr[-2000:]
        last = made.stderr.strip().splitlines()[-1]
        assert re.fullmatch(
            rf"make(?:\[\d+\])?: \*\*\* \[Makefile:\d+: run\] Error {code}", last
        ), last
        error = not_log_lines(direct.stderr)[-1]
        made_error = made.stderr.strip().splitlines()[-2]  # right above make's line
        assert error.startswith("spacex-etl: error: ")
        assert RUN_ID.sub("<run>", made_error) == RUN_ID.sub("<run>", error)
