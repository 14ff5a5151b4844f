"""PostgreSQL: the local stand-in for Redshift (same SQL, same loading algorithm).

Staging uses `COPY … FROM STDIN` in text format, fed from the batch's Parquet parts one
record batch (`COPY_BATCH_ROWS` rows) at a time by psycopg's `Copy.write_row` (which escapes
tabs, newlines and backslashes in free text), so memory stays one record batch whatever the
size of the load. Text rather than binary because the server parses each value against the
staging column's type and names the line and column when one does not fit, and because binary
COPY would need the exact wire type of every column (`set_types`) kept in step with
`type_names`.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pyarrow.parquet as pq

from spacex_etl.batch import Batch
from spacex_etl.config import PostgresSettings, Settings
from spacex_etl.warehouse.base import SqlWarehouse, ident

CONNECT_TIMEOUT_S = 10
COPY_BATCH_ROWS = 10_000


class PostgresWarehouse(SqlWarehouse):
    """Loads with COPY FROM STDIN into temporary staging tables, then the shared merge."""

    name = "postgres"

    def __init__(self, section: PostgresSettings, raw_schema: str) -> None:
        super().__init__(raw_schema)
        self.section = section

    @classmethod
    def from_settings(cls, settings: Settings) -> PostgresWarehouse:
        return cls(settings.postgres, settings.raw_schema)

    def describe(self) -> str:
        s = self.section
        return f"postgres://{s.user}@{s.host}:{s.port}/{s.database}"

    def dbt_env(self) -> dict[str, str]:
        """dbt logs in as its own user where one is configured (it owns the dbt schema and only
        reads raw; see warehouse/roles.sql), else as the load's user."""
        s = self.section
        secret = s.password if s.dbt_user is None else s.dbt_password or s.password
        return {
            "SPACEX_PG_HOST": s.host,
            "SPACEX_PG_PORT": str(s.port),
            "SPACEX_PG_DATABASE": s.database,
            "SPACEX_PG_USER": s.dbt_user or s.user,
            "DBT_ENV_SECRET_SPACEX_PG_PASSWORD": secret.get_secret_value(),
        }

    def lineage_dataset(self, table: str) -> tuple[str, str]:
        s = self.section
        return f"postgres://{s.host}:{s.port}", f"{s.database}.{self.schema}.{table}"

    def connect(self) -> Any:
        s = self.section
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

    def stage(self, cur: Any, batch: Batch, table: str, staging: str) -> None:
        for path in batch.parts[table]:
            parquet = pq.ParquetFile(path)
            names = ", ".join(ident(name) for name in parquet.schema_arrow.names)
            with cur.copy(f"copy {ident(staging)} ({names}) from stdin") as copy:
                for record_batch in parquet.iter_batches(batch_size=COPY_BATCH_ROWS):
                    columns = [column.to_pylist() for column in record_batch.columns]
                    for row in zip(*columns, strict=True):
                        copy.write_row(row)
