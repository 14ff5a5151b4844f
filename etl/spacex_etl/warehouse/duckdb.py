"""DuckDB: the embedded default warehouse (one local file)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from spacex_etl.batch import Batch
from spacex_etl.config import Settings
from spacex_etl.contract import ColumnType
from spacex_etl.errors import LoadError
from spacex_etl.parts import MEMORY_LIMIT
from spacex_etl.warehouse.base import SqlWarehouse, quote_literal

MAX_DBT_THREADS = 8
STORAGE_VERSION = "v1.4.0"
"""The storage format a new warehouse file is written in; DuckDB's default is v0.10.2, for
DuckDBs older than any pyproject.toml admits (duckdb>=1.4). The newer string compression
loaded the 1M-launch parts with 1.2-1.5 s less CPU (of ~6 s) into a file of the same size."""


class DuckDBWarehouse(SqlWarehouse):
    """Loads by scanning the batch's Parquet parts in place (`read_parquet`), inside a memory
    limit: no staging table, each row is written once."""

    name = "duckdb"
    paramstyle = "?"
    type_names: ClassVar[dict[ColumnType, str]] = {
        **SqlWarehouse.type_names,
        "key": "varchar",
        "text": "varchar",
    }

    def __init__(self, path: Path, raw_schema: str, memory_limit: str = MEMORY_LIMIT) -> None:
        super().__init__(raw_schema)
        self.path = path
        self.memory_limit = memory_limit

    @classmethod
    def from_settings(cls, settings: Settings) -> DuckDBWarehouse:
        return cls(settings.duckdb_file, settings.raw_schema)

    def describe(self) -> str:
        return f"duckdb:{self.path}"

    def dbt_env(self) -> dict[str, str]:
        # dbt's DuckDB stays inside the job's share of its 1 GiB task, as the load does
        return {"SPACEX_DUCKDB_PATH": str(self.path), "DBT_DUCKDB_MEMORY_LIMIT": self.memory_limit}

    def dbt_threads(self) -> int | None:
        """DuckDB computes on this machine (`DBT_THREADS`, which the duckdb profile reads): one
        per core, at least 2, at most MAX_DBT_THREADS — dbt's own work per node is Python under
        one lock, so more threads than cores only queue (measured in part-3/bench)."""
        return max(2, min(MAX_DBT_THREADS, os.cpu_count() or 1))

    def lineage_dataset(self, table: str) -> tuple[str, str]:
        return f"duckdb://{self.path}", f"{self.path.stem}.{self.schema}.{table}"

    def connect(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # only for a new file: an existing one keeps its format, and an instance already open
        # on it in this process (dbt's) refuses a connection with another configuration
        config: dict[str, str | bool | int | float | list[str]] = (
            {} if self.path.exists() else {"storage_compatibility_version": STORAGE_VERSION}
        )
        try:
            conn = duckdb.connect(str(self.path), config=config)
        except duckdb.IOException as exc:
            raise LoadError(
                f"cannot open {self.path}: {exc} (is another process using it?)"
            ) from exc
        # the job's share of a 1 GiB task; larger loads spill beside the warehouse file
        conn.execute(f"set memory_limit = {quote_literal(self.memory_limit)}")
        return conn

    def cursor(self, conn: Any) -> Any:
        # A DuckDB cursor is a separate connection with its own transaction: use the connection.
        return conn

    def begin(self, cur: Any) -> None:
        cur.execute("begin transaction")

    @contextmanager
    def loading(self, cur: Any) -> Iterator[None]:
        """Rows go into the raw tables in no particular order (they are read by key, and the
        Parquet parts are written unordered too): each insert then fills whole row groups on
        every thread. Keeping the order made DuckDB write partial row groups and rewrite them
        when the file was checkpointed: at 1M launches ~3 s more CPU and a 125 MiB file, not 81."""
        cur.execute("set preserve_insertion_order = false")
        try:
            yield
        finally:
            cur.execute("reset preserve_insertion_order")

    def scan(self, batch: Batch, table: str) -> str | None:
        if not batch.parts.get(table):  # no part: no rows (an empty staging table stands in)
            return None
        files = ", ".join(quote_literal(str(path)) for path in batch.parts[table])
        return f"read_parquet([{files}])"

    def stage(self, cur: Any, batch: Batch, table: str, staging: str) -> None:
        """Never called: `scan` reads every table that has parts in place."""
        raise NotImplementedError("DuckDB reads the staged parts in place (scan)")
