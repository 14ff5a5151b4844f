"""Line and branch coverage of etl/ and dags/, from coverage.py's JSON report: what `make
coverage` prints (python -m tests.coverage_table coverage.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FOLDERS = ("etl/", "dags/")


def share(covered: int, total: int) -> str:
    return f"{100 * covered / total:.1f} % ({covered:,}/{total:,})"


def table(report: dict[str, Any]) -> str:
    rows = ["| folder | lines | branches |", "|---|---|---|"]
    for folder in FOLDERS:
        files = [f["summary"] for name, f in report["files"].items() if name.startswith(folder)]
        lines = share(
            sum(f["covered_lines"] for f in files), sum(f["num_statements"] for f in files)
        )
        branches = share(
            sum(f["covered_branches"] for f in files), sum(f["num_branches"] for f in files)
        )
        rows.append(f"| `{folder}` | {lines} | {branches} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(json.loads(Path(sys.argv[1]).read_text())))
