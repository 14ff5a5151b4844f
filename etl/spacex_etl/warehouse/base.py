"""The loading algorithm every warehouse shares, written once in portable SQL.

`load_batch` runs in ONE transaction:
  1. create the raw tables if missing;
  2. bulk-load each table of the batch into a temporary staging table (adapter-specific:
     DuckDB reads Arrow, PostgreSQL uses COPY FROM STDIN, Redshift COPYs from S3);
  3. decide which parent keys (launch ids, core ids) this batch may write: those absent from the
     warehouse or held there by a batch of the same or an older logical date (an older extract
     never overwrites newer data unless forced);
  4. delete those keys' rows from every table of the resource, insert the staged rows;
  5. replace this batch's quarantine rows and its load-ledger row;
then commits. Any error rolls everything back, so a failed load leaves the warehouse as it was
and a rerun of the same batch converges to the same rows (no duplicates).
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from spacex_etl.batch import Batch
from spacex_etl.config import Settings
from spacex_etl.errors import LoadError, SpacexEtlError
from spacex_etl.schema import (
    LEDGER_COLUMNS,
    PARENT_KEY,
    RESOURCE_TABLES,
    TABLES,
    ColumnType,
    columns,
)

log = logging.getLogger(__name__)


def ident(name: str) -> str:
    """Quote an identifier (names come from config, so never trust them raw)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class LoadResult:
    """What one load did."""

    resource: str
    rows: dict[str, int] = field(default_factory=dict)
    keys_written: int = 0
    keys_skipped_newer: int = 0
    quarantined: int = 0


class SqlWarehouse(ABC):
    """A warehouse reachable through a DB-API connection."""

    name: ClassVar[str]
    paramstyle: ClassVar[str] = "%s"
    type_names: ClassVar[dict[ColumnType, str]] = {
        "key": "varchar(256)",
        "text": "text",
        "int": "integer",
        "bigint": "bigint",
        "bool": "boolean",
        "timestamp": "timestamp",
        "date": "date",
    }

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.schema = settings.raw_schema

    # -- adapter hooks -------------------------------------------------------------------
    @abstractmethod
    def connect(self) -> Any:
        """A new DB-API connection (autocommit off)."""

    @abstractmethod
    def stage(self, cur: Any, batch: Batch, table: str, data: pa.Table, staging: str) -> None:
        """Bulk-load `data` into the (already created) temporary table `staging`."""

    def describe(self) -> str:
        """Where the warehouse is, for humans (no secrets)."""
        return self.name

    def staging_ddl(self, staging: str, table: str) -> str:
        """DDL for a temporary staging table shaped like a raw table."""
        return f"create temporary table {ident(staging)} ({self._column_defs(columns(table))})"

    def cursor(self, conn: Any) -> Any:
        """The cursor that runs the transaction's statements."""
        return conn.cursor()

    def begin(self, cur: Any) -> None:  # noqa: B027 - optional hook
        """Start a transaction (DB-API drivers other than DuckDB start one implicitly)."""

    def prepare(self, batch: Batch) -> None:  # noqa: B027 - optional hook
        """Work to do before the transaction opens (Redshift writes its COPY manifests)."""

    def diagnose(self, conn: Any, exc: Exception) -> str | None:
        """Details about a failure, read on `conn` after the rollback (Redshift's load errors).

        Called with the transaction already rolled back; what it returns is added to the
        LoadError message. It must not raise.
        """
        return None

    # -- shared SQL ------------------------------------------------------------------------
    def qualified(self, table: str) -> str:
        return f"{ident(self.schema)}.{ident(table)}"

    def _column_defs(self, cols: Sequence[tuple[str, ColumnType]]) -> str:
        return ", ".join(f"{ident(name)} {self.type_names[kind]}" for name, kind in cols)

    def ddl(self) -> list[str]:
        """Create the raw schema and tables if they do not exist."""
        statements = [f"create schema if not exists {ident(self.schema)}"]
        for table in TABLES:
            statements.append(
                f"create table if not exists {self.qualified(table)} "
                f"({self._column_defs(columns(table))})"
            )
        statements.append(
            f"create table if not exists {self.qualified('load_ledger')} "
            f"({self._column_defs(LEDGER_COLUMNS)})"
        )
        return statements

    def merge_statements(
        self, batch: Batch, staged: dict[str, str], accepted: str, force: bool
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """The statements that move staged rows into the raw tables (see module docstring)."""
        resource = batch.resource
        key = ident(PARENT_KEY[resource])
        parent = RESOURCE_TABLES[resource][0]
        # Forced: every staged key. Otherwise only keys the warehouse holds from no newer batch.
        newer_held = (
            ""
            if force
            else f" where not exists (select 1 from {self.qualified(parent)} t "
            f"where t.{key} = s.{key} and t.{ident('_ingest_date')} > s.{ident('_ingest_date')})"
        )
        statements: list[tuple[str, tuple[Any, ...]]] = [
            (
                f"create temporary table {ident(accepted)} as "
                f"select s.{key} from {ident(staged[parent])} s{newer_held}",
                (),
            )
        ]
        for table in RESOURCE_TABLES[resource]:
            cols = ", ".join(ident(name) for name, _ in columns(table))
            statements.append(
                (
                    f"delete from {self.qualified(table)} "
                    f"where {key} in (select {key} from {ident(accepted)})",
                    (),
                )
            )
            statements.append(
                (
                    f"insert into {self.qualified(table)} ({cols}) "
                    f"select {cols} from {ident(staged[table])} "
                    f"where {key} in (select {key} from {ident(accepted)})",
                    (),
                )
            )
        p = self.paramstyle
        batch_filter = f"{ident('resource')} = {p} and {ident('_source')} = {p} and " + (
            f"{ident('_ingest_date')} = {p}"
        )
        batch_params = (resource, batch.key.source, batch.key.ingest_date)
        qcols = ", ".join(ident(name) for name, _ in columns("quarantine"))
        statements += [
            (f"delete from {self.qualified('quarantine')} where {batch_filter}", batch_params),
            (
                f"insert into {self.qualified('quarantine')} ({qcols}) "
                f"select {qcols} from {ident(staged['quarantine'])}",
                (),
            ),
            (
                f"delete from {self.qualified('load_ledger')} where {ident('resource')} = {p} "
                f"and {ident('source')} = {p} and {ident('ingest_date')} = {p}",
                batch_params,
            ),
        ]
        ledger = batch.ledger_row()
        lcols = ", ".join(ident(name) for name, _ in LEDGER_COLUMNS)
        statements.append(
            (
                f"insert into {self.qualified('load_ledger')} ({lcols}) "
                f"values ({', '.join([p] * len(LEDGER_COLUMNS))})",
                tuple(ledger[name] for name, _ in LEDGER_COLUMNS),
            )
        )
        return statements

    # -- the algorithm -------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction: commit on success, roll back on any error."""
        try:
            conn = self.connect()
        except LoadError:
            raise
        except Exception as exc:
            raise LoadError(f"cannot connect to {self.describe()}: {exc}") from exc
        try:
            cur = self.cursor(conn)
            self.begin(cur)
            yield cur
            conn.commit()
        except BaseException as exc:
            conn.rollback()
            if isinstance(exc, Exception) and (details := self.diagnose(conn, exc)):
                exc.add_note(details)
            raise
        finally:
            conn.close()

    def load_batch(self, batch: Batch, force: bool = False) -> LoadResult:
        """Load one batch in one transaction (see module docstring)."""
        suffix = re.sub(r"[^0-9a-z]", "", batch.run_id.lower())[-12:] or "run"
        staged = {t: f"stg_{t}_{suffix}" for t in [*RESOURCE_TABLES[batch.resource], "quarantine"]}
        accepted = f"accepted_{batch.resource}_{suffix}"
        result = LoadResult(resource=batch.resource, quarantined=len(batch.quarantine))
        try:
            self.prepare(batch)
            with self.transaction() as cur:
                for statement in self.ddl():
                    cur.execute(statement)
                tables = dict(batch.tables)
                tables["quarantine"] = batch.quarantine_table()
                for table, staging in staged.items():
                    cur.execute(self.staging_ddl(staging, table))
                    self.stage(cur, batch, table, tables[table], staging)
                for sql, params in self.merge_statements(batch, staged, accepted, force):
                    cur.execute(sql, params)
                cur.execute(f"select count(*) from {ident(accepted)}")
                result.keys_written = int(cur.fetchall()[0][0])
                parent_rows = tables[RESOURCE_TABLES[batch.resource][0]].num_rows
                result.keys_skipped_newer = parent_rows - result.keys_written
                if result.keys_written == parent_rows:
                    result.rows = batch.row_counts()
                else:
                    result.rows = self._written_rows(cur, batch, staged, accepted)
                for staging in [*staged.values(), accepted]:
                    cur.execute(f"drop table if exists {ident(staging)}")
        except SpacexEtlError:
            raise
        except Exception as exc:
            message = " ".join([str(exc), *getattr(exc, "__notes__", [])])
            raise LoadError(
                f"loading {batch.resource} for {batch.key.ingest_date} into {self.describe()} "
                f"failed and was rolled back: {' '.join(message.split())}"
            ) from exc
        log.info(
            "loaded %s batch %s into %s: %s",
            batch.resource,
            batch.key.ingest_date,
            self.name,
            result.rows,
        )
        return result

    def _written_rows(
        self, cur: Any, batch: Batch, staged: dict[str, str], accepted: str
    ) -> dict[str, int]:
        key = ident(PARENT_KEY[batch.resource])
        counts = {}
        for table in RESOURCE_TABLES[batch.resource]:
            cur.execute(
                f"select count(*) from {ident(staged[table])} "
                f"where {key} in (select {key} from {ident(accepted)})"
            )
            counts[table] = int(cur.fetchall()[0][0])
        return counts

    # -- reading ---------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only query; rows as dicts."""
        try:
            with self.transaction() as cur:
                cur.execute(sql, params)
                names = [d[0] for d in cur.description]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except LoadError:
            raise
        except Exception as exc:
            raise LoadError(f"query on {self.describe()} failed: {exc}") from exc

    def row_counts(self) -> dict[str, int]:
        """Rows in each raw table (0 when the table does not exist yet)."""
        counts: dict[str, int] = {}
        for table in [*TABLES, "load_ledger"]:
            try:
                rows = self.query(f"select count(*) as n from {self.qualified(table)}")
                counts[table] = int(rows[0]["n"])
            except LoadError:
                counts[table] = 0
        return counts
