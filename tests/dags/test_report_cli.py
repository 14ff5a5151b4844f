"""`spacex-etl report`, as the docker/ecs report task and a user run it: the page lands in the
lake's reports zone with the ledger's numbers; with nothing loaded it fails in one line."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import duckdb

from tests.conftest import run_cli


def test_report_writes_the_page_with_the_ledgers_counts(tmp_path: Path) -> None:
    env = {"SPACEX_DATA_DIR": str(tmp_path / "spacex")}
    for day, run_id in (("2024-06-01", "day1"), ("2024-06-02", "day2")):
        loaded = run_cli("run", "--date", day, "--run-id", run_id, "--skip-transform", env=env)
        assert loaded.returncode == 0, loaded.stderr[-2000:]

    done = run_cli("report", "--run-id", "day1", "--json", env=env)

    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    page = Path(result["report_uri"])
    assert page.is_file()
    assert page.parent == tmp_path / "spacex/lake/reports/spacex/run/ingest_date=2024-06-01/day1"
    with duckdb.connect(str(tmp_path / "spacex" / "warehouse.duckdb"), read_only=True) as con:
        ledger = con.sql(
            "select resource, records_received, records_loaded, records_quarantined, "
            "records_deduplicated from spacex_raw.load_ledger where run_id = 'day1'"
        ).fetchall()
    assert len(ledger) == 2
    html = page.read_text()
    for resource, *counts in ledger:
        assert result["counts"][resource] == dict(
            zip(["received", "loaded", "quarantined", "deduplicated"], counts, strict=True)
        )
        cells = "".join(f"<td>{n}</td>" for n in [*counts, 0])  # then skipped: none
        assert f"<tr><td>{resource}</td>{cells}</tr>" in html
    (chart,) = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert base64.b64decode(chart).startswith(b"\x89PNG\r\n\x1a\n")
    assert "not available (dbt has not built the answer models)" in html  # --skip-transform


def test_report_without_a_load_fails_in_one_line(tmp_path: Path) -> None:
    env = {"SPACEX_DATA_DIR": str(tmp_path / "spacex")}
    done = run_cli("report", env=env)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("spacex-etl: error: ")
    assert not (tmp_path / "spacex" / "lake" / "reports").exists()
