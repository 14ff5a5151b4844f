"""`make bench N=100000`: the project against the DuckDB floor and a naive pandas script, on the
same generated files, each in its own process tree, timed with peak RSS of the whole tree.

Contestants (each answers Q1/Q2; every answer is compared with the floor's on the same file):
- floor    DuckDB `read_json` + SQL (tests/benchmarks/baselines.py);
- pandas   the naive in-memory script (same file);
- dlt      dlt with its defaults loading the same file into DuckDB (tests/benchmarks/dlt_load.py);
- load     the project's load path through its CLI: `spacex-etl run --input F --skip-transform`
           (file → raw lake → validate/quarantine → staged Parquet parts → warehouse); answers
           from the loaded raw tables with part-4's definitions;
- e2e      `spacex-etl run --input F` (load + dbt build + answers from the dbt answer models).

Results accumulate in <out>/results.json (one entry per N and contestant, the newest wins), from
which <out>/README.md (tables) and <out>/bench.png (time and memory vs N) are redrawn. <out> is a
scratch folder (.spacex/bench/out) unless asked otherwise (`make bench PUBLISH=1`: part-3/bench);
each row names the machine it was measured on. The exit
code is 1 when any contestant that finished disagrees with the floor or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.benchmarks import generate, measure
from tests.benchmarks.answers import model_answers, warehouse_answers

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
FARGATE_MIB = 1024
CONTESTANTS = ("floor", "pandas", "dlt", "load", "e2e")
FLOOR_KEYS = ("seconds", "cpu_s", "peak_rss_mib", "answers", "measured_at")
LABELS = {
    "floor": "DuckDB floor (read_json + SQL)",
    "pandas": "naive pandas",
    "dlt": "dlt defaults into DuckDB",
    "load": "project load (run --skip-transform)",
    "e2e": "project end to end (run)",
}


@dataclass
class Contestant:
    """How to run one contestant on a file and read its answers afterwards."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    answers: Callable[[measure.Measured], dict[str, Any]]


def _stdout_json(result: measure.Measured) -> dict[str, Any]:
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _e2e_answers(result: measure.Measured, warehouse: Path) -> dict[str, Any]:
    """The dbt answer models' digest, once the run summary's Q2 totals agree with them."""
    found = model_answers(str(warehouse))
    summary = _stdout_json(result)["answers"]
    if (summary["q1_max_reuse"]["value"], summary["q2_flights"]) != (found["q1"], found["q2_rows"]):
        raise ValueError(f"the run summary disagrees with the answer models: {summary}")
    return found


def contestants(path: Path, work: Path, code: Path | None) -> dict[str, Contestant]:
    """The commands, each with its own data dir under `work` (nothing shared between them)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SPACEX_")}
    base["PYTHONPATH"] = os.pathsep.join([*([str(code / "etl")] if code else []), str(REPO)])
    cli = [PY, "-m", "spacex_etl.cli", "run", "--input", str(path), "--date", "2024-06-01"]

    def project_env(name: str) -> dict[str, str]:
        return base | {"SPACEX_DATA_DIR": str(work / name), "SPACEX_WAREHOUSE": "duckdb"}

    def loaded(name: str) -> Callable[[measure.Measured], dict[str, Any]]:
        return lambda _: warehouse_answers(str(work / name / "warehouse.duckdb"))

    return {
        "floor": Contestant(
            "floor",
            [PY, "-m", "tests.benchmarks.baselines", "floor", str(path)],
            base,
            _stdout_json,
        ),
        "pandas": Contestant(
            "pandas",
            [PY, "-m", "tests.benchmarks.baselines", "pandas", str(path)],
            base,
            _stdout_json,
        ),
        "dlt": Contestant(
            "dlt",
            [PY, "-m", "tests.benchmarks.dlt_load", str(path), str(work / "dlt")],
            base,
            _stdout_json,
        ),
        "load": Contestant(
            "load", [*cli, "--skip-transform", "--json"], project_env("load"), loaded("load")
        ),
        "e2e": Contestant(
            "e2e",
            [*cli, "--json"],
            project_env("e2e"),
            lambda result: _e2e_answers(result, work / "e2e" / "warehouse.duckdb"),
        ),
    }


def bench_one(
    n: int, names: list[str], args: argparse.Namespace, results: dict[str, Any]
) -> list[dict[str, Any]]:
    """Generate (or reuse) the file for `n` launches and run each contestant on it once."""
    path = args.data / f"launches-{n}-seed{args.seed}.json"
    if not path.exists():
        print(f"generating {n:,} launches -> {path}", flush=True)
        generate.write(path, n, args.seed)
    size_mb = path.stat().st_size / 1e6
    rows = []
    floor_row: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(dir=args.data, prefix="work-") as tmp:
        runs = contestants(path, Path(tmp), args.code)
        for name in names:
            contestant = runs[name]
            result = measure.run(contestant.cmd, contestant.env, REPO, args.limit_mib)
            row: dict[str, Any] = {
                "n": n,
                "mb": round(size_mb, 1),
                "contestant": name,
                "seconds": round(result.seconds, 2),
                "cpu_s": round(result.cpu_seconds, 1),
                "peak_rss_mib": round(result.peak_rss_mib),
                "ok": result.ok,
                "killed": result.killed_over_mib is not None,
                "note": "",
                "answers": None,
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "commit": _commit(args.code or REPO),
                "machine": _machine(),
            }
            if result.killed_over_mib is not None:
                row["note"] = f"killed: tree RSS over {result.killed_over_mib:.0f} MiB"
            elif result.returncode != 0:
                row["note"] = f"exit {result.returncode}: " + _last_line(result.stderr)
            else:
                try:
                    row["answers"] = contestant.answers(result)
                except Exception as exc:  # a wrong answer shape is a failure to report, not crash
                    row["ok"] = False
                    row["note"] = f"no answers: {exc}"
            if name == "floor":
                floor_row = row
            if floor_row is not None:  # ratios only against the floor of the same run
                row["floor"] = {k: floor_row[k] for k in FLOOR_KEYS}
            rows.append(row)
            results[f"{n}/{name}"] = row
            print(
                f"  {name:9} {row['seconds']:8.2f} s {row['cpu_s']:7.1f} s CPU "
                f"{row['peak_rss_mib']:7} MiB {row['note']}",
                flush=True,
            )
            _save(args, results)
    return rows


def _machine() -> str:
    """Where a row was measured: host, cores and the load on them when it started."""
    return f"{platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def compare(rows: list[dict[str, Any]]) -> bool:
    """Set each row's ratios and `match` against the floor measured in the same run.

    True when every row agrees with its floor or was stopped by the memory limit (a measured
    outcome, not a failure); a crash, a missing floor or a different answer is False.
    """
    good = True
    for row in rows:
        floor = row.get("floor")
        row["match"] = row["answers"] == floor["answers"] if floor and row["ok"] else None
        if floor:
            row["x_time"] = round(row["seconds"] / floor["seconds"], 1)
            row["x_rss"] = round(row["peak_rss_mib"] / floor["peak_rss_mib"], 1)
            if row.get("cpu_s") and floor.get("cpu_s"):
                row["x_cpu"] = round(row["cpu_s"] / floor["cpu_s"], 1)
        good = good and (row["match"] is True or row.get("killed", False))
    return good


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of the rows."""
    lines = [
        "| N launches | JSON MB | contestant | time s | CPU s | peak RSS MiB (tree) "
        "| x floor time | x floor CPU | x floor RSS | answers = floor | measured on | note |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    shown_floor = {r["n"]: r for r in rows if r["contestant"] == "floor"}
    for row in sorted(rows, key=lambda r: (r["n"], CONTESTANTS.index(r["contestant"]))):
        match = {True: "yes", False: "**NO**", None: "-"}[row.get("match")]
        own, shown = row.get("floor"), shown_floor.get(row["n"])
        if own and shown and own["measured_at"] != shown["measured_at"]:
            # The ratios are against the floor of the row's own run, not the floor row above.
            row = {
                **row,
                "note": f"{row['note']} ratios vs its run's floor: {own['seconds']} s, "
                f"{own.get('cpu_s', '-')} s CPU".strip(),
            }
        lines.append(
            f"| {row['n']:,} | {row['mb']:,.0f} | {LABELS[row['contestant']]} | "
            f"{row['seconds']:.2f} | {row.get('cpu_s', '-')} | {row['peak_rss_mib']:,} | "
            f"{row.get('x_time', '-')} | {row.get('x_cpu', '-')} | "
            f"{row.get('x_rss', '-')} | {match} | {row.get('machine', '-')} | {row['note']} |"
        )
    return "\n".join(lines)


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Time and peak RSS vs N per contestant (log-log), with the 1 GiB Fargate task marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.5))
    for name in CONTESTANTS:
        points = sorted((r["n"], r) for r in rows if r["contestant"] == name and r["ok"])
        if not points:
            continue
        ns = [n for n, _ in points]
        left.plot(ns, [r["seconds"] for _, r in points], marker="o", label=LABELS[name])
        cpu = [(n, r["cpu_s"]) for n, r in points if r.get("cpu_s")]
        middle.plot([n for n, _ in cpu], [c for _, c in cpu], marker="o", label=LABELS[name])
        right.plot(ns, [r["peak_rss_mib"] for _, r in points], marker="o", label=LABELS[name])
    right.axhline(FARGATE_MIB, color="red", linestyle="--", label="1 GiB Fargate task")
    panels = (
        (left, "wall time (shared machine: noisy)", "seconds"),
        (middle, "CPU time of the tree (user + system)", "seconds"),
        (right, "peak RSS (tree)", "MiB"),
    )
    for axis, title, unit in panels:
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("launches (N)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _save(args: argparse.Namespace, results: dict[str, Any]) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Redraw README.md and bench.png in `out` from every result so far."""
    rows = list(results.values())
    compare(rows)
    chart(rows, args.out / "bench.png")
    (args.out / "README.md").write_text(
        "# `make bench` results\n\n"
        "Written by `tests/benchmarks/run.py` (each row's commit and time are in results.json; "
        "the machine it was measured on is in its row). "
        "Each contestant runs once, alone, in its own process tree, on the same generated file "
        "(`tests/benchmarks/generate.py`, seed "
        f"{args.seed}); peak RSS is the whole tree's (see `tests/benchmarks/measure.py`). "
        "Ratios are to the DuckDB floor on the same file in the same run. CPU s is user + system "
        "time of the tree (less sensitive than wall time to other load on a shared machine, which "
        "this one is: several engineers run tests on its 2 cores).\n\n"
        f"{table(rows)}\n\n![time and memory vs N](bench.png)\n"
    )


def _commit(tree: Path) -> str:
    """The commit measured: a checkout's HEAD, or the COMMIT file of an exported tree."""
    marker = tree / "COMMIT"
    if marker.is_file():
        return marker.read_text().strip()
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=tree
    )
    return found.stdout.strip() or "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="100000", help="launches; a comma list runs several")
    parser.add_argument("--only", default=",".join(CONTESTANTS), help="contestants to run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path, default=REPO / ".spacex" / "bench")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / ".spacex" / "bench" / "out",
        help="where results go (scratch by default; part-3/bench publishes them)",
    )
    parser.add_argument(
        "--limit-mib", type=float, default=12_288, help="kill a contestant's tree above this"
    )
    parser.add_argument("--code", type=Path, help="time the spacex_etl of another checkout")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results in --out")
    parser.add_argument(
        "--report-only", action="store_true", help="redraw the report from results.json"
    )
    args = parser.parse_args(argv)
    args.data = args.data.resolve()
    args.data.mkdir(parents=True, exist_ok=True)
    names = [name for name in args.only.split(",") if name]
    unknown = set(names) - set(CONTESTANTS)
    if unknown:
        parser.error(f"unknown contestant(s) {sorted(unknown)}; choose from {CONTESTANTS}")
    if "floor" not in names:
        names.insert(0, "floor")  # every ratio and answer check is against it
    results_file = args.out / "results.json"
    results: dict[str, Any] = (
        {} if args.fresh or not results_file.exists() else json.loads(results_file.read_text())
    )
    if args.report_only:
        report(args, results)
        return 0
    this_run = []
    for n in [int(part.replace("_", "")) for part in args.n.split(",")]:
        print(f"N = {n:,}", flush=True)
        this_run += bench_one(n, names, args, results)
    report(args, results)
    good = compare(this_run)
    print(table(this_run))
    print(f"\nwritten: {args.out / 'README.md'}, {args.out / 'bench.png'}")
    if not good:
        print("FAILED: a contestant disagrees with the floor or failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
