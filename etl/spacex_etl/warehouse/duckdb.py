"""DuckDB: the embedded default warehouse (one local file)."""

from __future__ import annotations

from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from spacex_etl.batch import Batch
from spacex_etl.errors import LoadError
from spacex_etl.schema import ColumnType
from spacex_etl.warehouse.base import SqlWarehouse, ident


class DuckDBWarehouse(SqlWarehouse):
    """Loads by scanning the batch's Arrow tables directly (zero-copy)."""

    name = "duckdb"
    paramstyle = "?"
    type_names: ClassVar[dict[ColumnType, str]] = {
        **SqlWarehouse.type_names,
        "key": "varchar",
        "text": "varchar",
    }

    def describe(self) -> str:
        return f"duckdb:{self.settings.duckdb_file}"

    def connect(self) -> Any:
        path = self.settings.duckdb_file
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            raise LoadError(f"cannot open {path}: {exc} (is another process using it?)") from exc

    def cursor(self, conn: Any) -> Any:
        # A DuckDB cursor is a separate connection with its own transaction: use the connection.
        return conn

    def begin(self, cur: Any) -> None:
        cur.execute("begin transaction")

    def stage(self, cur: Any, batch: Batch, table: str, data: pa.Table, staging: str) -> None:
        view = f"arrow_{staging}"
        cur.register(view, data)
        try:
            cur.execute(f"insert into {ident(staging)} select * from {ident(view)}")  # noqa: S608 - identifiers quoted by ident()
        finally:
            cur.unregister(view)
