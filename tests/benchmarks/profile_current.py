"""Where the current load path spends time and memory, stage by stage, on one generated file.

`python -m tests.benchmarks.profile_current FILE [--cprofile]`: runs extract (land) and the
pieces of `pipeline.load` one after another in this process, printing per stage the wall time,
the Python heap it leaves behind and its peak (tracemalloc), and the process RSS. With
`--cprofile`, the top functions by own time instead. (`--code DIR` in run.py times another
checkout; here set PYTHONPATH=DIR/etl for the same effect.)
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import psutil

T = TypeVar("T")
MIB = 1024 * 1024


def _stage(name: str, fn: Callable[[], T]) -> T:
    gc.collect()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    current, peak = tracemalloc.get_traced_memory()
    rss = psutil.Process().memory_info().rss
    print(
        f"{name:24} {seconds:7.2f} s  heap after {current / MIB:7.0f} MiB  "
        f"heap peak {peak / MIB:7.0f} MiB  RSS {rss / MIB:7.0f} MiB",
        flush=True,
    )
    return result


def stages(path: Path, work: Path) -> None:
    """The current load path, one stage at a time (the objects each stage keeps stay alive)."""
    from spacex_etl import pipeline
    from spacex_etl.batch import BatchKey, build_batch
    from spacex_etl.config import Settings
    from spacex_etl.lake import open_lake
    from spacex_etl.validate import parse_array, validate_records
    from spacex_etl.warehouse import open_warehouse

    settings = Settings(data_dir=work)
    landed = _stage(
        "extract+land", lambda: pipeline.extract(settings, date(2024, 6, 1), "prof", str(path))
    )[0]
    lake = open_lake(settings.lake_root)
    body = _stage("lake.get (bytes)", lambda: lake.get(lake.key_of(landed.raw_uri)))
    records: list[Any] = _stage("parse_array (orjson)", lambda: parse_array(body, "f"))
    validated = _stage("validate (pydantic)", lambda: validate_records(records, "launches"))
    key = BatchKey("launches", "prof", date(2024, 6, 1))
    batch = _stage(
        "build_batch (Arrow)",
        lambda: build_batch(validated, key, "prof", landed.raw_uri, landed.sha256),
    )
    _stage("stage_batch (Parquet)", lambda: pipeline.stage_batch(lake, batch))
    warehouse = open_warehouse(settings)
    _stage("load_batch (DuckDB)", lambda: warehouse.load_batch(batch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.cprofile:
            profile = cProfile.Profile()
            profile.runcall(stages, args.file, Path(tmp))
            pstats.Stats(profile).sort_stats("tottime").print_stats(15)
        else:
            tracemalloc.start()
            stages(args.file, Path(tmp))


if __name__ == "__main__":
    main()
