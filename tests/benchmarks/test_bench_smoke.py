"""`make bench` works, at a tiny N: every contestant answers Q1/Q2 like the DuckDB floor on the
same generated file, and the report is written. No timing is asserted (the machine is shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks import generate
from tests.benchmarks.baselines import floor, naive_pandas
from tests.conftest import REPO


@pytest.mark.slow
def test_bench_runs_every_contestant_and_they_agree(tmp_path: Path) -> None:
    out, data = tmp_path / "report", tmp_path / "data"
    args = ["--n", "400", "--out", str(out), "--data", str(data), "--fresh"]
    result = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.run", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads((out / "results.json").read_text())
    assert sorted(row["contestant"] for row in rows.values()) == sorted(
        ["floor", "pandas", "dlt", "load", "e2e"]
    )
    answers = {row["contestant"]: row["answers"] for row in rows.values()}
    assert all(value == answers["floor"] for value in answers.values()), answers
    assert answers["floor"]["q2_rows"] > 0  # the generated history has quick reuses
    assert (out / "bench.png").stat().st_size > 10_000
    report = (out / "README.md").read_text()
    assert report.count("| yes |") == 5


def test_generator_is_deterministic_and_streams_valid_json(tmp_path: Path) -> None:
    first = generate.write(tmp_path / "a.json", 300, seed=3)
    second = generate.write(tmp_path / "b.json", 300, seed=3)
    other = generate.write(tmp_path / "c.json", 300, seed=4)
    assert first.read_bytes() == second.read_bytes() != other.read_bytes()
    launches = json.loads(first.read_text())
    assert len(launches) == 300
    upcoming = [launch for launch in launches if launch["upcoming"]]
    assert upcoming and all(slot["core"] is None for x in upcoming for slot in x["cores"])
    assert any(len(launch["cores"]) == 3 for launch in launches)  # Falcon Heavy
    assert any(launch["failures"] for launch in launches)


def test_baselines_agree_with_each_other(tmp_path: Path) -> None:
    path = generate.write(tmp_path / "launches.json", 2000, seed=11)
    assert floor(path) == naive_pandas(path)
