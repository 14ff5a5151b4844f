"""Text from outside (the data, a source URL, a trigger-time run id or exception) is escaped where
it is shown: on the terminal (`spacex-etl answers`), in log lines, in error messages (a refused
URL's credentials masked) and in the failure alerts (e-mail HTML and subject, webhook text)."""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jinja2.sandbox import SandboxedEnvironment

from spacex_etl import pipeline
from spacex_etl.errors import ExtractError
from tests.conftest import REPO, SNAPSHOT_CORES, SNAPSHOT_LAUNCHES, run_cli
from tests.security.test_sources import dag_settings

HOSTILE = "\x1b]0;owned\x07\x1b[2J\r\u202e"
"""Set the terminal title, clear the screen, return the cursor, reverse the text direction."""
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ run=\S+ [\w.]+: ")


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.mark.slow
def test_control_characters_in_the_data_reach_the_terminal_escaped(tmp_path: Path) -> None:
    launches = json.loads(SNAPSHOT_LAUNCHES.read_text())
    for launch in launches:
        launch["name"] = HOSTILE + launch["name"] + "\nQ1  max times a core was reused: 99"
    cores = json.loads(SNAPSHOT_CORES.read_text())
    for core in cores:
        core["serial"] = f"{HOSTILE}{core['serial']}"
    env = {
        "SPACEX_DATA_DIR": str(tmp_path / "spacex"),
        "SPACEX_CORES_URL": str(_write(tmp_path / "cores.json", cores)),
    }
    launches_file = _write(tmp_path / "launches.json", launches)
    assert (
        run_cli("run", "--input", str(launches_file), "--date", "2024-06-01", env=env).returncode
        == 0
    )

    proc = run_cli("answers", env=env)

    assert proc.returncode == 0, proc.stderr
    shown = proc.stdout + proc.stderr
    assert not {"\x1b", "\x07", "\r", "\u202e"} & set(shown)
    assert "\\x1b]0;owned\\x07\\x1b[2J\\r\\u202e" in proc.stdout  # shown, inert
    assert [line for line in proc.stdout.splitlines() if line.startswith("Q1 ")] == [
        next(line for line in proc.stdout.splitlines() if line.startswith("Q1 "))
    ]
    assert "reused: 99" not in "\n".join(
        line for line in proc.stdout.splitlines() if line.startswith("Q1")
    )


def test_a_field_name_with_a_newline_cannot_forge_a_log_line(tmp_path: Path) -> None:
    """Unknown fields are logged as schema drift; each log record stays one line."""
    forged = "2030-01-01 00:00:00,000 ERROR run=forged spacex_etl.pipeline: forged"
    launches = json.loads(SNAPSHOT_LAUNCHES.read_text())
    launches[0][f"note\n{forged}\x1b[8m"] = 1
    path = _write(tmp_path / "launches.json", launches)
    env = {"SPACEX_DATA_DIR": str(tmp_path / "spacex")}

    proc = run_cli("run", "--input", str(path), "--date", "2024-06-01", "--skip-transform", env=env)

    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and all(LOG_LINE.match(line) for line in lines), lines
    assert not any("run=forged" in line.split(": ", 1)[0] for line in lines)
    assert any(f"note\\n{forged}\\x1b[8m" in line for line in lines)
    assert "\x1b" not in proc.stderr


SECRET_URL = "https://loader:hunter2@api.spacexdata.com/v5/launches"


def test_a_refused_url_never_echoes_its_credentials(tmp_path: Path) -> None:
    proc = run_cli(
        "run", "--input", SECRET_URL, "--date", "2024-06-01",
        env={"SPACEX_DATA_DIR": str(tmp_path / "spacex")},
    )  # fmt: skip

    assert proc.returncode == 1
    assert "hunter2" not in proc.stderr + proc.stdout and "loader" not in proc.stderr
    assert "'https://***@api.spacexdata.com/v5/launches' refused: credentials" in proc.stderr

    with pytest.raises(ExtractError) as raised:  # the DAG's extract step, same rule
        pipeline.extract(
            dag_settings(tmp_path), date(2024, 6, 1), "r1", SECRET_URL, local_files=False
        )
    assert "hunter2" not in str(raised.value) and "***@" in str(raised.value)


# -- alerts: rendered as Airflow renders notifier templates (a sandboxed Jinja environment without
# autoescaping), with a run id and an exception an outsider chose at trigger time
class _TI:
    dag_id = "spacex_elt"
    task_id = "extract"
    run_id = "manual__<img src=x onerror=alert(1)>\nBcc: victim@example.com"
    try_number = 1
    log_url = "http://airflow/log?x=1&y=<script>"


EXCEPTION = ExtractError(
    "source 'https://evil.example/<script>alert(1)</script>' refused\n<!channel>"
)


def _render(template: str) -> str:
    return SandboxedEnvironment().from_string(template).render(ti=_TI(), exception=EXCEPTION)


@pytest.fixture
def alerts() -> Any:
    dags = str(REPO / "dags")
    if dags not in sys.path:
        sys.path.insert(0, dags)
    from spacex_elt_support import alerts

    return alerts


def test_the_failure_email_escapes_every_outside_value(alerts: Any) -> None:
    html = _render(alerts.EMAIL_HTML)
    subject = _render(alerts.SUMMARY)

    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "x=1&amp;y=&lt;script&gt;" in html
    assert html.startswith("<pre>") and html.endswith("</pre>")
    assert "\n" not in subject and "\r" not in subject  # no header injection
    assert "Bcc: victim@example.com" in subject  # shown as text on the subject line


def test_the_webhook_text_escapes_markup_and_stays_one_line(alerts: Any) -> None:
    text = _render(alerts.PAYLOAD["text"])

    assert "<" not in text and ">" not in text and "\n" not in text
    assert "&lt;!channel&gt;" in text  # a chat tool shows it, does not notify everyone
    assert _render(alerts.PAYLOAD["run_id"]) == _TI.run_id  # data fields stay exact (JSON)
    line = alerts.describe({"ti": _TI(), "exception": EXCEPTION}, "task failed")
    assert "\n" not in line and "\\nBcc: victim" in line
