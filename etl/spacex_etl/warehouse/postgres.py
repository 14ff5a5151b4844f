"""PostgreSQL: the local stand-in for Redshift (same SQL, same loading algorithm).

Staging uses `COPY … FROM STDIN` in text format, fed row by row from the batch's Arrow table
by psycopg's `Copy.write_row` (which escapes tabs, newlines and backslashes in free text).
Text rather than binary because the server parses each value against the staging column's
type and names the line and column when one does not fit, and because binary COPY would need
the exact wire type of every column (`set_types`) kept in step with `type_names` — for batches
of a few hundred launches the parsing cost does not show (see the README for timings).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pyarrow as pa

from spacex_etl.batch import Batch
from spacex_etl.warehouse.base import SqlWarehouse, ident

CONNECT_TIMEOUT_S = 10


class PostgresWarehouse(SqlWarehouse):
    """Loads with COPY FROM STDIN into temporary staging tables, then the shared merge."""

    name = "postgres"

    def describe(self) -> str:
        s = self.settings.postgres
        return f"postgres://{s.user}@{s.host}:{s.port}/{s.database}"

    def connect(self) -> Any:
        s = self.settings.postgres
        return psycopg.connect(
            host=s.host,
            port=s.port,
            user=s.user,
            password=s.password.get_secret_value() or None,
            dbname=s.database,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="spacex-etl",
        )

    def lock(self, cur: Any) -> None:
        """A transaction-scoped advisory lock named after the raw schema: a second load into
        the same schema waits here until the first commits or rolls back, then merges on top
        of its rows (no interleaving, no duplicates). Loads into other schemas do not wait."""
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"spacex-etl:{self.schema}",))

    def stage(self, cur: Any, batch: Batch, table: str, data: pa.Table, staging: str) -> None:
        names = ", ".join(ident(name) for name in data.column_names)
        statement = f"copy {ident(staging)} ({names}) from stdin"
        with cur.copy(statement) as copy:
            for batch_ in data.to_batches(max_chunksize=10_000):
                columns = [column.to_pylist() for column in batch_.columns]
                for row in zip(*columns, strict=True):
                    copy.write_row(row)
