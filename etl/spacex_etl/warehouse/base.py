"""The loading algorithm every warehouse shares, written once in portable SQL.

`load_batch` runs in ONE transaction:
  1. take the raw schema's load lock (PostgreSQL: a transaction-scoped advisory lock; Redshift:
     `lock` on the ledger table; DuckDB: the file admits one writer process), so concurrent
     loads run one after the other, never interleaved;
  2. create the raw tables if missing and add columns a newer release introduced;
  3. refuse an empty extract, or one smaller than a share of the last successful load of the
     same source (unless allowed);
  4. bulk-load each table of the batch from its staged Parquet parts into a temporary staging
     table (adapter-specific: PostgreSQL COPY FROM STDIN fed batch by batch, Redshift COPY of a
     manifest listing the parts in S3), unless the adapter reads the parts in place (DuckDB's
     `read_parquet`: each row is then written once, into its raw table);
  5. decide which parent keys (launch ids, core ids) this batch may write: those absent from the
     warehouse or held there by a batch that is not newer by (logical date, extraction time) —
     an older extract never overwrites newer data unless forced (a resource whose tables hold
     no row yet needs no such decision: every key);
  6. delete those keys' rows from every table of the resource that holds rows, insert the
     staged rows of those keys (all of them, unfiltered, when every key may be written);
  7. replace this batch's quarantine rows and append its load-ledger row;
then commits. Any error rolls everything back, so a failed load leaves the warehouse as it was
and a rerun of the same batch converges to the same rows (no duplicates). The ledger is
append-only: a failed or refused load appends its own row (status `failed` / `rejected`, with
the error) in a separate transaction after the rollback.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from spacex_etl.batch import Batch
from spacex_etl.config import Settings
from spacex_etl.contract import (
    LEDGER_COLUMNS,
    PARENT_KEY,
    PHASE_COLUMNS,
    RESOURCE_TABLES,
    TABLES,
    ColumnType,
    columns,
)
from spacex_etl.errors import (
    ConfigError,
    ConnectError,
    ContractError,
    LoadError,
    SpacexEtlError,
)

log = logging.getLogger(__name__)


def ident(name: str) -> str:
    """Quote an identifier (names come from config, so never trust them raw)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A SQL string literal (for statements that take no bind parameters, e.g. COPY)."""
    return "'" + value.replace("'", "''") + "'"


def plain_row(row: dict[str, Any]) -> dict[str, Any]:
    """A result row with JSON-ready values: decimals as floats, dates and times as ISO text."""
    return {key: _plain(value) for key, value in row.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


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
    stages_from_lake: ClassVar[bool] = False
    """True when `stage` reads the parts' lake copies (`batch.staged_uris`), which must then be
    published before the load; otherwise they are published only once the load has committed,
    so a refused or failed load leaves no staged parts."""
    type_names: ClassVar[dict[ColumnType, str]] = {
        "key": "varchar(256)",
        "text": "text",
        "int": "integer",
        "bigint": "bigint",
        "bool": "boolean",
        "timestamp": "timestamp",
        "date": "date",
    }

    def __init__(self, raw_schema: str) -> None:
        """Each adapter receives only its own settings section, and the raw schema."""
        self.schema = raw_schema
        self._held: Any = None
        """The connection `reads()` holds open for a run's reads (None: one per transaction)."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> SqlWarehouse:
        """The adapter for these settings (given only its own section of them)."""

    # -- adapter hooks -------------------------------------------------------------------
    @abstractmethod
    def connect(self) -> Any:
        """A new DB-API connection (autocommit off)."""

    @abstractmethod
    def stage(self, cur: Any, batch: Batch, table: str, staging: str) -> None:
        """Bulk-load the table's staged parts (`batch.parts[table]`, or their lake copies
        `batch.staged_uris[table]`) into the (already created) temporary table `staging`."""

    def scan(self, batch: Batch, table: str) -> str | None:
        """A relation that reads the table's staged parts in place, or None to bulk-load them
        into a temporary staging table first (`stage`)."""
        return None

    def describe(self) -> str:
        """Where the warehouse is, for humans (no secrets)."""
        return self.name

    # -- what dbt and lineage need (no connection) -----------------------------------------
    @abstractmethod
    def dbt_env(self) -> dict[str, str]:
        """The variables this warehouse's target in dbt_spacex/profiles.yml reads (`env_var()`)
        beyond the schemas: where it is, who dbt logs in as (this may fetch credentials; passwords
        only in `DBT_ENV_SECRET_*` variables, which dbt scrubs from its logs) and its limits."""

    def dbt_threads(self) -> int | None:
        """dbt's threads for this machine, or None to keep the profile's (a remote warehouse
        computes elsewhere)."""
        return None

    @abstractmethod
    def lineage_dataset(self, table: str) -> tuple[str, str]:
        """OpenLineage (namespace, name) of a raw table, named the way the OpenLineage dbt
        integration (which Cosmos runs) names dbt's sources, so the graphs join. Built from
        settings alone: no connection, no credentials."""

    def staging_ddl(self, staging: str, table: str) -> str:
        """DDL for a temporary staging table shaped like a raw table."""
        return f"create temporary table {ident(staging)} ({self._column_defs(columns(table))})"

    def cursor(self, conn: Any) -> Any:
        """The cursor that runs the transaction's statements."""
        return conn.cursor()

    def begin(self, cur: Any) -> None:  # noqa: B027 - optional hook
        """Start a transaction (DB-API drivers other than DuckDB start one implicitly)."""

    def lock(self, cur: Any) -> None:  # noqa: B027 - optional hook
        """Serialise loads into this raw schema until the transaction ends (DuckDB's single
        writer process needs nothing more)."""

    @contextmanager
    def loading(self, cur: Any) -> Iterator[None]:
        """Session settings for the load's statements, undone afterwards (DuckDB: no insertion
        order to keep)."""
        yield

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
        """Create the raw tables if they do not exist (the schema: see `ensure_schema`)."""
        statements = []
        for table, cols in self._raw_tables().items():
            statements.append(
                f"create table if not exists {self.qualified(table)} ({self._column_defs(cols)})"
            )
        return statements

    def _raw_tables(self) -> dict[str, list[tuple[str, ColumnType]]]:
        return {table: columns(table) for table in TABLES} | {
            "load_ledger": LEDGER_COLUMNS,
            "run_phases": PHASE_COLUMNS,
        }

    def migrate(self, cur: Any) -> None:
        """Add the columns a newer release introduced to tables an older one created."""
        cur.execute(
            "select table_name, column_name from information_schema.columns "  # noqa: S608 - identifiers quoted by ident(), values bound
            f"where table_schema = {self.paramstyle}",
            (self.schema,),
        )
        present: dict[str, set[str]] = {}
        for table, column in cur.fetchall():
            present.setdefault(str(table).lower(), set()).add(str(column).lower())
        for table, cols in self._raw_tables().items():
            for name, kind in cols:
                if table in present and name not in present[table]:
                    cur.execute(
                        f"alter table {self.qualified(table)} "
                        f"add column {ident(name)} {self.type_names[kind]}"
                    )

    def ensure_schema(self, cur: Any) -> None:
        """Create the raw schema only when it is missing.

        `create schema if not exists` is checked against the database's CREATE privilege even
        when the schema exists; looking first lets the loader role run without that privilege
        once an admin has created its schema (`warehouse/roles.sql`).
        """
        cur.execute(
            "select 1 from information_schema.schemata "  # noqa: S608 - a placeholder, value bound
            f"where schema_name = {self.paramstyle}",
            (self.schema,),
        )
        if not cur.fetchall():
            cur.execute(f"create schema if not exists {ident(self.schema)}")

    def _prepare_tables(self, cur: Any) -> None:
        self.lock(cur)
        self.ensure_schema(cur)
        for statement in self.ddl():
            cur.execute(statement)
        self.migrate(cur)

    def _ledger_insert(self, row: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        lcols = ", ".join(ident(name) for name, _ in LEDGER_COLUMNS)
        values = ", ".join([self.paramstyle] * len(LEDGER_COLUMNS))
        return (
            f"insert into {self.qualified('load_ledger')} ({lcols}) values ({values})",  # noqa: S608 - identifiers quoted by ident(), values bound
            tuple(row.get(name) for name, _ in LEDGER_COLUMNS),
        )

    def accept_statement(
        self, batch: Batch, sources: dict[str, str], accepted: str, force: bool
    ) -> str:
        """The temporary table `accepted` of the parent keys this batch may write (see module
        docstring): forced, every staged key; otherwise only keys the warehouse holds from no
        newer batch, newer meaning a later logical date, or the same date extracted later."""
        resource = batch.resource
        key = ident(PARENT_KEY[resource])
        parent = RESOURCE_TABLES[resource][0]
        day, extracted = ident("_ingest_date"), ident("_extracted_at")
        newer_held = (
            ""
            if force
            else f" where not exists (select 1 from {self.qualified(parent)} t "  # noqa: S608 - identifiers quoted by ident(), values bound
            f"where t.{key} = s.{key} and (t.{day} > s.{day} or "
            f"(t.{day} = s.{day} and t.{extracted} > s.{extracted})))"
        )
        return (
            f"create temporary table {ident(accepted)} as "  # noqa: S608 - identifiers quoted by ident(), values bound
            f"select s.{key} from {sources[parent]} s{newer_held}"
        )

    def merge_statements(
        self,
        batch: Batch,
        sources: dict[str, str],
        accepted: str,
        held: set[str],
        every_key: bool,
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """The statements that move staged rows (`sources`: a relation per table, a staging table
        or the adapter's `scan`) into the raw tables and replace the batch's quarantine rows (see
        module docstring); the ledger row follows.

        Each table's rows of the accepted keys are deleted, unless the table holds no row at
        all (`held`: a first load deletes nothing). The staged rows are filtered by the accepted
        keys, unless `every_key` of the batch is accepted: every staged row of a child table
        belongs to a staged parent row (one record gives both), so the filter would keep them all.
        """
        resource = batch.resource
        key = ident(PARENT_KEY[resource])
        keys = f"{key} in (select {key} from {ident(accepted)})"  # noqa: S608 - identifiers quoted by ident()
        where = "" if every_key else f" where {keys}"
        statements: list[tuple[str, tuple[Any, ...]]] = []
        for table in RESOURCE_TABLES[resource]:
            if table in held:
                statements.append((f"delete from {self.qualified(table)} where {keys}", ()))  # noqa: S608 - identifiers quoted by ident(), values bound
            cols = ", ".join(ident(name) for name, _ in columns(table))
            statements.append(
                (
                    f"insert into {self.qualified(table)} ({cols}) "  # noqa: S608 - identifiers quoted by ident(), values bound
                    f"select {cols} from {sources[table]}{where}",
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
            (f"delete from {self.qualified('quarantine')} where {batch_filter}", batch_params),  # noqa: S608 - identifiers quoted by ident(), values bound
            (
                f"insert into {self.qualified('quarantine')} ({qcols}) "  # noqa: S608 - identifiers quoted by ident(), values bound
                f"select {qcols} from {sources['quarantine']}",
                (),
            ),
        ]
        return statements

    def held_tables(self, cur: Any, tables: Sequence[str]) -> set[str]:
        """The tables that hold at least one row (a delete from an empty table is skipped: on a
        first load it still built a hash table of every accepted key, per table)."""
        held = set()
        for table in tables:
            cur.execute(f"select 1 from {self.qualified(table)} limit 1")  # noqa: S608 - identifiers quoted by ident()
            if cur.fetchall():
                held.add(table)
        return held

    # -- the algorithm -------------------------------------------------------------------
    def _open(self) -> Any:
        try:
            return self.connect()
        except ConnectError:
            raise
        except LoadError as exc:
            raise ConnectError(*exc.args) from exc
        except Exception as exc:
            raise ConnectError(f"cannot connect to {self.describe()}: {exc}") from exc

    @contextmanager
    def reads(self) -> Iterator[SqlWarehouse]:
        """One connection for every query inside the block (a run's answers and report), each
        still in its own transaction."""
        if self._held is not None:
            yield self
            return
        self._held = self._open()
        try:
            yield self
        finally:
            conn, self._held = self._held, None
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor inside one transaction: commit on success, roll back on any error."""
        held = self._held
        conn = held if held is not None else self._open()
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
            if held is None:
                conn.close()

    def load_batch(
        self, batch: Batch, force: bool = False, min_share: float | None = None
    ) -> LoadResult:
        """Load one batch in one transaction (see module docstring).

        `min_share` guards against an empty or shrunken extract: with a value, an empty batch
        or one with fewer records than `min_share` x the last successful load of the same
        source is refused; None loads whatever came (`--allow-shrink`).
        """
        try:
            return self._load(batch, force, min_share)
        except (ConfigError, ConnectError):
            raise  # nothing reached the warehouse: no attempt to record, nowhere to record it
        except Exception as exc:
            status = "rejected" if isinstance(exc, ContractError) else "failed"
            self.record(batch.ledger_row(status, str(exc)))
            raise

    def record(self, row: dict[str, Any]) -> None:
        """Append a ledger row in its own transaction (a failed load's row outlives its rollback).

        Best effort: when the warehouse itself is what failed, the row cannot be written; the
        failure is then only in the logs and the exit code.
        """
        try:
            with self.transaction() as cur:
                self._prepare_tables(cur)
                cur.execute(*self._ledger_insert(row))
        except Exception as exc:
            log.warning(
                "could not append the %s row of %s run %s to the load ledger: %s",
                row["status"],
                row["resource"],
                row["run_id"],
                " ".join(str(exc).split()),
            )

    def _check_size(self, cur: Any, batch: Batch, min_share: float) -> None:
        if batch.received == 0:
            raise ContractError(
                f"{batch.raw_uri}: empty extract (0 records from {batch.key.source}); nothing "
                "loaded, the warehouse keeps its rows (pass --allow-shrink to accept it)"
            )
        p = self.paramstyle
        cur.execute(
            f"select {ident('records_received')}, {ident('run_id')} "  # noqa: S608 - identifiers quoted by ident(), values bound
            f"from {self.qualified('load_ledger')} where {ident('resource')} = {p} "
            f"and {ident('source')} = {p} and {ident('status')} = {p} "
            f"order by {ident('loaded_at')} desc limit 1",
            (batch.resource, batch.key.source, "succeeded"),
        )
        last = cur.fetchall()
        if last and last[0][0] is not None and batch.received < min_share * int(last[0][0]):
            raise ContractError(
                f"{batch.raw_uri}: shrunken extract: {batch.received} {batch.resource} records, "
                f"fewer than {min_share:.0%} of the {last[0][0]} of the last successful load of "
                f"{batch.key.source} (run {last[0][1]}); nothing loaded, the warehouse keeps its "
                "rows (pass --allow-shrink if the source really shrank)"
            )

    def _load(self, batch: Batch, force: bool, min_share: float | None) -> LoadResult:
        suffix = re.sub(r"[^0-9a-z]", "", batch.run_id.lower())[-12:] or "run"
        staged = {t: f"stg_{t}_{suffix}" for t in [*RESOURCE_TABLES[batch.resource], "quarantine"]}
        accepted = f"accepted_{batch.resource}_{suffix}"
        result = LoadResult(resource=batch.resource, quarantined=len(batch.quarantine))
        try:
            self.prepare(batch)
            with self.transaction() as cur, self.loading(cur):
                self._prepare_tables(cur)
                log.info(
                    "loading %s batch %s (run %s) into %s",
                    batch.resource,
                    batch.key.ingest_date,
                    batch.run_id,
                    self.name,
                )
                if min_share is not None:
                    self._check_size(cur, batch, min_share)
                sources = {}
                for table, staging in staged.items():
                    if (scan := self.scan(batch, table)) is not None:
                        sources[table] = scan
                        continue
                    cur.execute(self.staging_ddl(staging, table))
                    if batch.parts.get(table):  # no part: no rows (an empty quarantine)
                        self.stage(cur, batch, table, staging)
                    sources[table] = ident(staging)
                parent_rows = batch.rows.get(batch.tables[0], 0)
                held = self.held_tables(cur, batch.tables)
                if held:
                    cur.execute(self.accept_statement(batch, sources, accepted, force))
                    cur.execute(f"select count(*) from {ident(accepted)}")  # noqa: S608 - identifiers quoted by ident(), values bound
                    result.keys_written = int(cur.fetchall()[0][0])
                else:  # no row of this resource yet, so none newer: every staged key is written
                    result.keys_written = parent_rows
                every_key = result.keys_written == parent_rows
                for sql, params in self.merge_statements(batch, sources, accepted, held, every_key):
                    cur.execute(sql, params)
                result.keys_skipped_newer = parent_rows - result.keys_written
                # the ledger counts as loaded only the records written, not those skipped
                ledger = batch.ledger_row()
                ledger["records_loaded"] = batch.records_loaded - result.keys_skipped_newer
                cur.execute(*self._ledger_insert(ledger))
                if every_key:
                    result.rows = batch.row_counts()
                else:
                    result.rows = self._written_rows(cur, batch, sources, accepted)
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
        self, cur: Any, batch: Batch, sources: dict[str, str], accepted: str
    ) -> dict[str, int]:
        key = ident(PARENT_KEY[batch.resource])
        counts = {}
        for table in RESOURCE_TABLES[batch.resource]:
            cur.execute(
                f"select count(*) from {sources[table]} "  # noqa: S608 - identifiers quoted by ident(), values bound
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

    def last_loads(self) -> list[dict[str, Any]]:
        """The newest ledger row of each resource (empty before the first load)."""
        try:
            rows = self.query(
                f"select {ident('resource')}, {ident('run_id')}, {ident('status')}, "  # noqa: S608 - identifiers quoted by ident(), values bound
                f"{ident('error')}, {ident('loaded_at')} from {self.qualified('load_ledger')} "
                f"order by {ident('loaded_at')} desc"
            )
        except LoadError:
            return []
        newest: dict[str, dict[str, Any]] = {}
        for row in rows:
            newest.setdefault(row["resource"], row)
        return list(newest.values())

    def row_counts(self) -> dict[str, int]:
        """Rows in each raw table (0 when the table does not exist yet)."""
        counts: dict[str, int] = {}
        for table in [*TABLES, "load_ledger"]:
            try:
                rows = self.query(f"select count(*) as n from {self.qualified(table)}")  # noqa: S608 - identifiers quoted by ident(), values bound
                counts[table] = int(rows[0]["n"])
            except LoadError:
                counts[table] = 0
        return counts
