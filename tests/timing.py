"""Where the suite's time goes, per test folder, from pytest's JUnit XML report: what `make test`
prints after pytest (python -m tests.timing <report.xml>).

A test's time is its setup, call and teardown (pytest's `junit_duration_report = total`); under
pytest-xdist the folders' times add up to more than the wall time, since both cores run tests."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def folder_of(classname: str) -> str:
    """tests.reliability.test_faults.TestX → tests/reliability."""
    parts = classname.split(".")
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def per_folder(report: str) -> dict[str, tuple[int, float]]:
    counts: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    root = ET.fromstring(report)  # noqa: S314 — the report this run's pytest just wrote
    for case in root.iter("testcase"):
        folder = folder_of(case.get("classname", ""))
        counts[folder] += 1
        seconds[folder] += float(case.get("time", 0))
    return {folder: (counts[folder], seconds[folder]) for folder in counts}


def table(report: str) -> str:
    folders = per_folder(report)
    rows = ["| folder | tests | test time |", "|---|---|---|"]
    for folder, (count, secs) in sorted(folders.items(), key=lambda item: -item[1][1]):
        rows.append(f"| `{folder}` | {count} | {secs:,.0f} s |")
    count = sum(c for c, _ in folders.values())
    secs = sum(s for _, s in folders.values())
    rows.append(f"| all | {count} | {secs:,.0f} s |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(Path(sys.argv[1]).read_text()))
