"""`make bench-dbt`: what dbt's fixed cost leaves of a run, measured side by side.

(a) The DAG on `airflow standalone`, once per shape of its dbt tasks, on the bundled data:
    `build` (one `dbt build` task), `watcher` (one task per model fed by one dbt build; the
    default) and, with `--dag local`, `local` (one dbt start-up per model). Each shape gets its
    own standalone (a fresh home and data dir), started and made healthy before the clock
    runs; the time is the DAG run's own (start to end, as the grid shows it), plus the
    summed duration of the dbt tasks.
(b) `spacex-etl run` on the bundled data, phase by phase (the run summary's `timings_s`), a
    cold run (no dbt state) then warm runs (the state the previous run left), median of these.

Results go to <out>/dbt.json and <out>/dbt.md; every row says where and when it was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHAPES = ("build", "watcher", "watcher-serial", "local")
"""`SPACEX_AIRFLOW_DBT_TASKS` values, and `watcher-serial`: watcher with one task at a time (what
DuckDB's single writer got before its model tasks, which only read the build's results, ran side
by side)."""
SHAPE_ENV = {
    "watcher-serial": {
        "SPACEX_AIRFLOW_DBT_TASKS": "watcher",
        "SPACEX_AIRFLOW_MAX_ACTIVE_TASKS": "1",
    }
}
DAG_LIMIT_S = 1200


def machine() -> dict[str, Any]:
    """Where a row was measured (rows measured elsewhere keep their own)."""
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_1m": round(os.getloadavg()[0], 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def screenshot(url: str, path: Path) -> None:
    """The page at `url` as headless Chromium renders it (the UI is a JavaScript app)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print(f"no chromium on PATH: no screenshot {path.name}")
        return
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1600,1100",
            "--virtual-time-budget=20000",
            f"--screenshot={path}",
            url,
        ],
        check=False,
        capture_output=True,
        timeout=120,
    )


def dag_run(shape: str, work: Path, shots: Path | None = None) -> dict[str, Any]:
    """One DAG run with `SPACEX_AIRFLOW_DBT_TASKS=shape` on a fresh standalone; with `shots`,
    screenshots of its grid and its task instances there."""
    from tests.dags.standalone import standalone

    env = {"SPACEX_AIRFLOW_DBT_TASKS": shape, "SPACEX_AIRFLOW_RETRIES": "0"}
    # a task whose first call to the API server times out fails unrun (seen at load 17, default
    # timeout): on a busy machine the run would measure that, not the shape
    env["AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT"] = "60"
    env |= SHAPE_ENV.get(shape, {})
    if shots:  # the UI without a login page, for the screenshots (127.0.0.1 only)
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
    with standalone(work / shape, DAG_LIMIT_S, **env) as airflow:
        airflow.trigger("bench", "2024-06-01T00:00:00Z")
        run = airflow.finished("bench")
        tis = airflow.task_instances("bench")
        if shots:
            shots.mkdir(parents=True, exist_ok=True)
            screenshot(f"{airflow.base}/dags/spacex_elt/runs/bench", shots / f"grid-{shape}.png")
            screenshot(
                f"{airflow.base}/dags/spacex_elt/runs/bench/task_instances",
                shots / f"task-instances-{shape}.png",
            )
    dbt_tasks = {k: t for k, t in tis.items() if k.startswith("dbt")}
    return {
        "shape": shape,
        "state": run["state"],
        "run_s": _seconds(run.get("start_date"), run.get("end_date")),
        "dbt_s": round(
            sum(_seconds(t.get("start_date"), t.get("end_date")) or 0 for t in dbt_tasks.values()),
            1,
        ),
        "tasks": len(tis),
        "dbt_tasks": len(dbt_tasks),
        "task_s": {
            k: _seconds(t.get("start_date"), t.get("end_date")) for k, t in sorted(tis.items())
        },
        "machine": machine(),
    }


def _children_cpu() -> float:
    """CPU seconds (user + system) of finished child processes: less sensitive to other load
    on a shared machine than wall time."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def phases(work: Path, runs: int) -> dict[str, Any]:
    """`spacex-etl run --json` on the bundled data: one cold run, then `runs` warm ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPACEX_")}
    env |= {"SPACEX_DATA_DIR": str(work / "phases"), "SPACEX_WAREHOUSE": "duckdb"}
    cli = [sys.executable, "-m", "spacex_etl.cli", "run", "--date", "2024-06-01", "--json"]
    timings = []
    for _ in range(runs + 1):
        started, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(cli, env=env, cwd=REPO, capture_output=True, text=True, check=True)
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        timings.append(
            summary["timings_s"]
            | {"process": time.perf_counter() - started, "process_cpu": _children_cpu() - cpu}
        )
    warm = timings[1:]
    return {
        "cold": {k: round(v, 2) for k, v in timings[0].items()},
        "warm_median": {k: round(statistics.median(t[k] for t in warm), 2) for k in warm[0]},
        "warm_runs": len(warm),
        "machine": machine(),
    }


def markdown(results: dict[str, Any]) -> str:
    lines = ["## (a) The DAG on `airflow standalone`, bundled data\n"]
    lines += [
        "| dbt tasks | run state | DAG run s | x build | dbt tasks | sum of dbt task s "
        "| host, cores, load | measured |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    dag = results.get("dag", {})
    base = (dag.get("build") or {}).get("run_s")
    for shape in SHAPES:
        row = dag.get(shape)
        if not row:
            continue
        m = row["machine"]
        ratio = round(row["run_s"] / base, 2) if base and row["run_s"] else "-"
        lines.append(
            f"| {shape} | {row['state']} | {row['run_s']:.1f} | {ratio} | {row['dbt_tasks']} | "
            f"{row['dbt_s']} | {m['host']}, {m['cpus']}, {m['load_1m']} | {m['measured_at']} |"
        )
    found = results.get("phases")
    if found:
        m = found["machine"]
        lines += [
            "\n## (b) `spacex-etl run` on the bundled data, phase by phase (seconds)\n",
            f"Measured on {m['host']} ({m['cpus']} cores, load {m['load_1m']}) at "
            f"{m['measured_at']}; warm = median of {found['warm_runs']} runs.\n",
            "| run | " + " | ".join(found["cold"]) + " |",
            "|---|" + "---:|" * len(found["cold"]),
            "| first (state prebuilt for another data dir: full parse) | "
            + " | ".join(str(v) for v in found["cold"].values())
            + " |",
            "| warm | " + " | ".join(str(v) for v in found["warm_median"].values()) + " |",
        ]
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    """(a) DAG run time per shape beside the sum of its dbt tasks; (b) `run`'s phases."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    dag = results.get("dag", {})
    shapes = [s for s in SHAPES if s in dag]
    xs = range(len(shapes))
    left.bar([x - 0.2 for x in xs], [dag[s]["run_s"] for s in shapes], 0.4, label="DAG run")
    left.bar([x + 0.2 for x in xs], [dag[s]["dbt_s"] for s in shapes], 0.4, label="dbt tasks (sum)")
    left.set_xticks(list(xs), shapes)
    left.set_ylabel("seconds")
    left.set_title("(a) the DAG on airflow standalone, per dbt task shape")
    left.legend()
    found = results.get("phases")
    if found:
        names = [k for k in found["cold"] if k != "process"]
        ys = range(len(names))
        right.barh([y + 0.2 for y in ys], [found["cold"][k] for k in names], 0.4, label="cold")
        right.barh(
            [y - 0.2 for y in ys], [found["warm_median"][k] for k in names], 0.4, label="warm"
        )
        right.axvline(5, color="red", linestyle="--", label="5 s target (transform)")
        right.set_yticks(list(ys), names)
        right.set_xlabel("seconds")
        right.set_title("(b) spacex-etl run on the bundled data, by phase")
        right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / ".spacex" / "bench" / "out")
    parser.add_argument("--dag", default="build,watcher", help=f"shapes among {SHAPES}; '' skips")
    parser.add_argument("--runs", type=int, default=3, help="warm `spacex-etl run`s; 0 skips")
    parser.add_argument("--screenshots", type=Path, help="grid screenshots of the watcher run")
    args = parser.parse_args(argv)
    shapes = [s for s in args.dag.split(",") if s]
    if set(shapes) - set(SHAPES):
        parser.error(f"--dag: choose among {SHAPES}")
    path = args.out / "dbt.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-dbt-") as tmp:
        if args.runs:
            results["phases"] = phases(Path(tmp), args.runs)
            print(json.dumps(results["phases"]), flush=True)
        for shape in shapes:
            shots = args.screenshots if shape == "watcher" else None
            results.setdefault("dag", {})[shape] = dag_run(shape, Path(tmp), shots)
            row = results["dag"][shape]
            print(f"{shape}: {row['state']} {row['run_s']} s ({row['dbt_tasks']} dbt tasks)")
            path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    chart(results, args.out / "dbt.png")
    (args.out / "dbt.md").write_text(
        "# dbt's fixed cost (`make bench-dbt`)\n\n"
        "Written by `tests/benchmarks/dbt_cost.py`; every row names the machine and the load on "
        "it when it ran (a shared machine: compare ratios within one run, not absolute times). "
        "[ANALYSIS.md](ANALYSIS.md#dbts-fixed-cost) reads them.\n\n"
        + markdown(results)
        + "\n![the DAG per shape, and run's phases](dbt.png)\n"
    )
    print(markdown(results))
    return 0 if all(r["state"] == "success" for r in results.get("dag", {}).values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
