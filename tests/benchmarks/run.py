"""`make bench`: speed and memory of the hot paths, as ratios against a baseline measured in the
same run on the same machine (absolute seconds vary between machines; ratios mostly do not).

- validate+flatten: our `validate_file` + `build_batch` vs the floor of just `json.loads` of the
  same bytes (how much the contract and the Arrow tables cost on top of parsing);
- load: our transactional staged merge into DuckDB vs a plain `insert ... select` of the same
  Arrow tables into empty tables (how much idempotency costs);
- memory: peak traced allocations of validate+flatten as a multiple of the input size.
The input is the bundled snapshot repeated with fresh ids (`--scale`, default 100 → 20,500
launches, ~44 MB).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from spacex_etl.batch import BatchKey, build_batch
from spacex_etl.config import Settings
from spacex_etl.sources import snapshot_path
from spacex_etl.validate import validate_file
from spacex_etl.warehouse.duckdb import DuckDBWarehouse


def synthetic(scale: int) -> bytes:
    """The snapshot `scale` times, each copy with its own launch ids (so nothing deduplicates)."""
    launches = json.loads(snapshot_path("launches").read_bytes())
    out = []
    for copy_no in range(scale):
        for launch in launches:
            item = copy.deepcopy(launch)
            item["id"] = f"{copy_no:06x}{launch['id'][6:]}"
            out.append(item)
    return json.dumps(out).encode()


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(".spacex/bench.json"))
    args = parser.parse_args()

    body = synthetic(args.scale)
    key = BatchKey("launches", "bench", date(2024, 6, 1))

    def ours() -> object:
        return build_batch(validate_file(body, "bench", "launches"), key, "bench-run", "u", "h")

    baseline_parse = best_of(args.repeat, lambda: json.loads(body))
    ours_parse = best_of(args.repeat, ours)

    tracemalloc.start()
    batch = ours()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    with tempfile.TemporaryDirectory() as tmp:
        warehouse = DuckDBWarehouse(Settings(data_dir=Path(tmp)))

        def merge() -> object:
            return warehouse.load_batch(batch)

        def plain() -> None:
            con = duckdb.connect(str(Path(tmp) / "plain.duckdb"))
            for name, table in batch.tables.items():
                con.register("t", table)
                con.execute(f"create or replace table {name} as select * from t")
                con.unregister("t")
            con.close()

        baseline_load = best_of(args.repeat, plain)
        ours_load = best_of(args.repeat, merge)  # reruns replace the batch: steady state

    results = {
        "records": batch.received,
        "input_mb": round(len(body) / 1e6, 1),
        "validate_flatten": {
            "baseline_json_loads_s": round(baseline_parse, 3),
            "ours_s": round(ours_parse, 3),
            "ratio": round(ours_parse / baseline_parse, 2),
            "records_per_s": round(batch.received / ours_parse),
        },
        "load_duckdb": {
            "baseline_plain_insert_s": round(baseline_load, 3),
            "ours_merge_s": round(ours_load, 3),
            "ratio": round(ours_load / baseline_load, 2),
        },
        "memory": {
            "peak_mb": round(peak / 1e6, 1),
            "peak_over_input": round(peak / len(body), 2),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(
        f"{results['records']} launches, {results['input_mb']} MB of JSON (best of {args.repeat})"
    )
    v, ld, m = results["validate_flatten"], results["load_duckdb"], results["memory"]
    print(
        f"  validate+flatten  {v['ours_s']:.3f}s = {v['ratio']}x json.loads "
        f"({v['baseline_json_loads_s']:.3f}s), {v['records_per_s']:,} records/s"
    )
    print(
        f"  load into DuckDB  {ld['ours_merge_s']:.3f}s = {ld['ratio']}x a plain insert "
        f"({ld['baseline_plain_insert_s']:.3f}s)"
    )
    print(f"  peak memory       {m['peak_mb']} MB = {m['peak_over_input']}x the input size")
    print(f"  results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
