"""Redshift without a cluster: the SQL it sends, in which order, and what a failure looks like.

- Every statement of a load parses as Redshift (sqlglot) and equals a reviewed snapshot
  (`tests/unit/snapshots/redshift_*.sql`; regenerate with `UPDATE_SNAPSHOTS=1 pytest …`).
- A fake connection records statements the way redshift_connector sends them (an implicit
  BEGIN before the first statement of a transaction, no autocommit).
- The COPY manifests are real objects in a (moto) S3 lake, next to the Parquet parts that
  `pipeline.publish_parts` copied there.
- The dbt project compiles for the redshift target with dbt-redshift's connection replaced by
  an offline stand-in, and the compiled SQL parses as Redshift.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redshift_connector
import sqlglot
from moto import mock_aws
from sqlglot import exp

from spacex_etl import pipeline, transform
from spacex_etl.batch import Batch, BatchKey
from spacex_etl.config import RedshiftSettings, Settings
from spacex_etl.contract import columns
from spacex_etl.errors import ConfigError, LoadError
from spacex_etl.lake import Lake, open_lake
from spacex_etl.warehouse import open_warehouse
from spacex_etl.warehouse.redshift import RedshiftWarehouse
from tests.staging import stage_records

SNAPSHOTS = Path(__file__).parent / "snapshots"
LAKE_ROOT = "s3://spacex-lake/elt"
ROLE = "arn:aws:iam::123456789012:role/spacex-redshift-copy"
HOST = "spacex-dw.c1a2b3c4d5e6.eu-west-1.redshift.amazonaws.com"
PASSWORD = "pw-that-must-never-show"
LOADED_AT = datetime(2024, 6, 1, 12, 0, 0)
LAUNCHES = [
    {
        "id": "5eb87cd9ffd86e000604b32a",
        "name": "FalconSat",
        "flight_number": 1,
        "date_utc": "2006-03-24T22:30:00.000Z",
        "upcoming": False,
        "success": False,
        "cores": [{"core": "5e9d0d95eda69955f709d1eb", "flight": 1, "reused": False}],
        "payloads": ["5eb0e4b5b6c3bb0006eeb1e1"],
        "failures": [{"time": 33, "altitude": None, "reason": "merlin engine failure"}],
    },
    {
        "id": "5eb87cdaffd86e000604b32b",
        "name": "DemoSat",
        "flight_number": "2",  # quarantined: a string is not a flight number
        "date_utc": "2007-03-21T01:10:00.000Z",
        "upcoming": False,
        "cores": [],
    },
]


# -- a fake redshift_connector connection ---------------------------------------------------
@dataclass
class FakeRedshift:
    """Records statements; fails the first one containing `fail_on` like Redshift does."""

    fail_on: str | None = None
    count: int = 1
    load_errors: list[tuple[Any, ...]] = field(default_factory=list)
    log: list[tuple[str, Any]] = field(default_factory=list)
    in_transaction: bool = False
    aborted: bool = False
    closed: bool = False
    autocommit: bool = True

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def commit(self) -> None:
        self.log.append(("COMMIT", None))
        self.in_transaction = False

    def rollback(self) -> None:
        self.log.append(("ROLLBACK", None))
        self.in_transaction = self.aborted = False

    def close(self) -> None:
        self.closed = True

    def statements(self) -> list[str]:
        return [sql for sql, _ in self.log]


@dataclass
class FakeCursor:
    conn: FakeRedshift
    last: str = ""

    def execute(self, sql: str, params: Any = None) -> None:
        conn = self.conn
        if conn.aborted:
            raise redshift_connector.ProgrammingError(
                "current transaction is aborted, commands ignored until end of transaction block"
            )
        if not conn.in_transaction:  # redshift_connector begins implicitly (autocommit off)
            conn.log.append(("BEGIN", None))
            conn.in_transaction = True
        conn.log.append((sql, params))
        self.last = sql
        if conn.fail_on and conn.fail_on in sql:
            conn.aborted = True
            raise redshift_connector.ProgrammingError(
                "{'S': 'ERROR', 'C': 'XX000', 'M': \"Load into table 'stg' failed. "
                "Check 'sys_load_error_detail' system table for details.\"}"
            )

    def fetchall(self) -> list[Any]:
        if "sys_load_error_detail" in self.last:
            return self.conn.load_errors
        if "count(*)" in self.last:
            return [[self.conn.count]]
        if self.last.endswith(" limit 1"):  # the raw tables hold rows: a load after the first
            return [[1]]
        return []


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture
def s3_lake() -> Iterator[Lake]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="spacex-lake")
        yield open_lake(LAKE_ROOT, s3_client=client)


def rs_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Redshift settings; `redshift_<field>` overrides go to the redshift section."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "spacex",
        "warehouse": "redshift",
        "lake_uri": LAKE_ROOT,
        "redshift_host": HOST,
        "redshift_database": "analytics",
        "redshift_user": "spacex_loader",
        "redshift_password": PASSWORD,
        "redshift_iam_role_arn": ROLE,
    } | overrides
    section = {
        k.removeprefix("redshift_"): v for k, v in values.items() if k.startswith("redshift_")
    }
    top = {k: v for k, v in values.items() if not k.startswith("redshift_")}
    return Settings(**top, redshift=RedshiftSettings(**section))


@pytest.fixture
def staged_batch(s3_lake: Lake) -> Batch:
    """A small batch (one launch, one quarantined) staged as Parquet in the S3 lake."""
    key = BatchKey(resource="launches", source="snapshot", ingest_date=date(2024, 6, 1))
    raw_uri = f"{LAKE_ROOT}/raw/spacex/launches/ingest_date=2024-06-01/run/launches.json"
    batch = stage_records(  # a fixed load time keeps the snapshot stable
        LAUNCHES, key, "20240601T000000Z-abc123", raw_uri, "ab" * 32, loaded_at=LOADED_AT
    )
    pipeline.publish_parts(s3_lake, batch)
    return batch


def load(
    tmp_path: Path, lake: Lake, batch: Batch, fake: FakeRedshift, **overrides: Any
) -> tuple[RedshiftWarehouse, dict[str, Any]]:
    seen: dict[str, Any] = {}

    def connect(**kwargs: Any) -> FakeRedshift:
        seen.update(kwargs)
        return fake

    wh = RedshiftWarehouse.from_settings(
        rs_settings(tmp_path, **overrides), lake=lake, connect=connect
    )
    wh.load_batch(batch)
    return wh, seen


def render(log: list[tuple[str, Any]]) -> str:
    """Statements as a reviewable SQL file (parameters as a comment under their statement)."""
    parts = []
    for sql, params in log:
        text = sql + ";"
        if params:
            text += f"\n-- params: {params!r}"
        parts.append(text)
    return "\n\n".join(parts) + "\n"


def assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with UPDATE_SNAPSHOTS=1 and review the diff"
    assert text == path.read_text(), f"{name} changed: review, then UPDATE_SNAPSHOTS=1"


def kind(sql: str) -> str:
    """A statement's role in the load, for comparing sequences."""
    for pattern, name in [
        (r"^(BEGIN|COMMIT|ROLLBACK)$", None),
        (r"^create schema", "create schema"),
        (r"information_schema\.schemata", "find schema"),
        (r"^lock ", "lock"),
        (r"information_schema\.columns", "read columns"),
        (r"^insert into \"spacex_raw\".\"load_ledger\"", "append ledger"),
        (r"^create table if not exists", "create raw table"),
        (r"^create temporary table \"stg_", "create staging"),
        (r"^copy ", "COPY"),
        (r"^select 1 from \"spacex_raw\"\.\"\w+\" limit 1$", "find rows"),
        (r"^(create temporary table \"accepted_|delete from|insert into|select count)", "merge"),
        (r"^drop table", "drop staging"),
        (r"sys_load_error_detail", "read load errors"),
    ]:
        if re.search(pattern, sql):
            return name or sql
    raise AssertionError(f"unexpected statement: {sql}")


def collapse(kinds: list[str]) -> list[str]:
    return [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]


# -- the load ----------------------------------------------------------------------------------
def test_load_sequence_is_one_transaction_copy_then_merge(
    tmp_path: Path, s3_lake: Lake, staged_batch: Batch
) -> None:
    fake = FakeRedshift(count=1)
    _, kwargs = load(tmp_path, s3_lake, staged_batch, fake)

    kinds = [kind(sql) for sql in fake.statements()]
    assert collapse(kinds) == [
        "BEGIN",
        "find schema",  # created only when missing: the loader needs no CREATE on the database
        "create schema",
        "create raw table",
        "lock",  # concurrent loads into the schema wait here until this one ends
        "find schema",
        "create schema",
        "create raw table",
        "read columns",
        *["create staging", "COPY"] * 5,
        "find rows",  # which raw tables hold rows (a delete from an empty one is skipped)
        "merge",  # the accepted keys, counted, then the merge
        "append ledger",  # whose loaded count is those keys' records
        "drop staging",
        "COMMIT",
    ]
    assert (
        kinds.count("COPY") == 5
    )  # launches, launch_cores, launch_payloads, launch_failures, quarantine
    assert kinds.count("BEGIN") == kinds.count("COMMIT") == 1
    assert fake.closed
    assert kwargs["user"] == "spacex_loader"
    assert kwargs["ssl"] is True


def test_every_statement_parses_as_redshift_and_matches_the_snapshot(
    tmp_path: Path, s3_lake: Lake, staged_batch: Batch
) -> None:
    fake = FakeRedshift(count=1)
    load(tmp_path, s3_lake, staged_batch, fake)
    skipped = FakeRedshift(count=0)  # its key is held from a newer batch: the filtered merge
    load(tmp_path, s3_lake, staged_batch, skipped)
    filtered = [s for s in skipped.statements() if s.startswith("insert into") and " where " in s]
    assert len(filtered) == 4  # every data table's rows, filtered by the accepted keys

    for sql in fake.statements() + skipped.statements():
        parsed = sqlglot.parse_one(sql, read="redshift")  # raises ParseError on bad SQL
        assert parsed is not None
    copies = [
        sqlglot.parse_one(s, read="redshift") for s in fake.statements() if s.startswith("copy")
    ]
    assert all(isinstance(c, exp.Copy) for c in copies)
    assert_snapshot("redshift_load.sql", render(fake.log))


def test_copy_reads_a_manifest_listing_exactly_this_batch_file(
    tmp_path: Path, s3_lake: Lake, staged_batch: Batch
) -> None:
    fake = FakeRedshift(count=1)
    load(tmp_path, s3_lake, staged_batch, fake)

    copies = [s for s in fake.statements() if s.startswith("copy")]
    for table, part_uris in staged_batch.staged_uris.items():
        manifest_uri = part_uris[0].rsplit("/", 1)[0] + "/copy.manifest"
        statement = next(s for s in copies if f'"stg_{table}_' in s)
        assert statement == (
            f"copy \"stg_{table}_00000zabc123\" from '{manifest_uri}' "
            f"iam_role '{ROLE}' manifest format as parquet"
        )
        manifest = json.loads(s3_lake.get(s3_lake.key_of(manifest_uri)))
        assert manifest == {
            "entries": [
                {
                    "url": uri,
                    "mandatory": True,
                    "meta": {"content_length": len(s3_lake.get(s3_lake.key_of(uri)))},
                }
                for uri in part_uris
            ]
        }


def test_staging_columns_are_in_parquet_order(
    tmp_path: Path, s3_lake: Lake, staged_batch: Batch
) -> None:
    """Redshift maps Parquet columns by position, so the two orders must be the same."""
    fake = FakeRedshift(count=1)
    load(tmp_path, s3_lake, staged_batch, fake)

    for table, [uri, *_] in staged_batch.staged_uris.items():
        ddl = next(
            s for s in fake.statements() if s.startswith(f'create temporary table "stg_{table}_')
        )
        created = [
            col.name for col in sqlglot.parse_one(ddl, read="redshift").find_all(exp.ColumnDef)
        ]
        parquet = pq.read_schema(pa.BufferReader(s3_lake.get(s3_lake.key_of(uri)))).names
        assert created == parquet == [name for name, _ in columns(table)]
    assert "varchar(65535)" in next(s for s in fake.statements() if '"stg_launches_' in s)


def test_failed_copy_rolls_back_and_reports_the_load_errors(
    tmp_path: Path, s3_lake: Lake, staged_batch: Batch, caplog: pytest.LogCaptureFixture
) -> None:
    [cores_uri] = staged_batch.staged_uris["launch_cores"]
    fake = FakeRedshift(
        fail_on='copy "stg_launch_cores_',
        load_errors=[
            (cores_uri + " " * 8, 1, "core_id   ", 1216, "Invalid digit, Value 'x'", "x   "),
        ],
    )
    caplog.set_level(logging.DEBUG)

    with pytest.raises(LoadError) as failure:
        load(tmp_path, s3_lake, staged_batch, fake)

    message = str(failure.value)
    assert "failed and was rolled back" in message
    assert "COPY into stg_launch_cores_00000zabc123" in message
    assert f"load errors: {cores_uri} line 1 column core_id: [1216] Invalid digit" in message
    kinds = [kind(sql) for sql in fake.statements()]
    after_copy = kinds[kinds.index("COPY", kinds.index("COPY") + 1) :]
    failed, record = after_copy[:5], after_copy[5:]
    assert failed == ["COPY", "ROLLBACK", "BEGIN", "read load errors", "ROLLBACK"]
    # then, in a transaction of its own, the ledger gets this attempt's `failed` row
    assert collapse(record) == [
        "BEGIN",
        "find schema",
        "create schema",
        "create raw table",
        "lock",
        "find schema",
        "create schema",
        "create raw table",
        "read columns",
        "append ledger",
        "COMMIT",
    ]
    appended = next(p for sql, p in fake.log if kind(sql) == "append ledger")
    assert "failed" in appended and any("COPY into stg_launch_cores" in str(v) for v in appended)
    assert kinds.count("COMMIT") == 1
    lookup = next((sql, p) for sql, p in fake.log if "sys_load_error_detail" in sql)
    assert lookup[1] == (cores_uri,)  # this load's file, as a parameter
    sqlglot.parse_one(lookup[0], read="redshift")
    assert_snapshot("redshift_load_errors.sql", render([lookup]))
    everything = message + caplog.text + repr(fake.log)
    assert PASSWORD not in everything


def test_failed_lookup_of_load_errors_still_raises_the_copy_error(
    tmp_path: Path, s3_lake: Lake, staged_batch: Batch
) -> None:
    fake = FakeRedshift(fail_on="copy ")
    real_fetchall = FakeCursor.fetchall

    def fetchall(self: FakeCursor) -> list[Any]:
        if "sys_load_error_detail" in self.last:
            raise RuntimeError("permission denied")
        return real_fetchall(self)

    lookup_fails = mock.patch.object(FakeCursor, "fetchall", fetchall)
    expected = "could not read sys_load_error_detail: permission denied"
    with lookup_fails, pytest.raises(LoadError, match=expected):
        load(tmp_path, s3_lake, staged_batch, fake)
    statements = fake.statements()  # the load rolled back; only its `failed` ledger row commits
    assert statements.count("COMMIT") == 1
    assert kind(statements[statements.index("COMMIT") - 1]) == "append ledger"


def test_no_password_in_sql_or_logs(
    tmp_path: Path, s3_lake: Lake, staged_batch: Batch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeRedshift(count=1)
    wh, _ = load(tmp_path, s3_lake, staged_batch, fake)
    assert PASSWORD not in repr(fake.log) + caplog.text + wh.describe()


# -- configuration and authentication -----------------------------------------------------------
class FakeSecrets:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        self.asked.append(SecretId)
        secret = {"username": "admin_from_secret", "password": "from-secrets-manager"}
        return {"SecretString": json.dumps(secret | {"engine": "redshift", "port": 5439})}


def test_password_comes_from_secrets_manager(tmp_path: Path) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift!spacex-admin-AbCdEf"
    secrets = FakeSecrets()
    settings = rs_settings(tmp_path, redshift_password=None, redshift_secret_arn=arn)
    wh = RedshiftWarehouse.from_settings(settings, secrets_client=secrets)
    kwargs = wh.connect_kwargs()
    assert (kwargs["user"], kwargs["password"]) == ("admin_from_secret", "from-secrets-manager")
    assert "iam" not in kwargs
    assert secrets.asked == [arn]
    with mock.patch("boto3.client", return_value=secrets):
        env = transform.dbt_env(settings)
    assert env["DBT_ENV_SECRET_SPACEX_REDSHIFT_PASSWORD"] == "from-secrets-manager"
    assert "SPACEX_REDSHIFT_PASSWORD" not in env
    assert env["SPACEX_REDSHIFT_HOST"] == HOST
    assert env["SPACEX_WAREHOUSE"] == "redshift"


def test_without_password_or_secret_it_uses_iam_authentication(tmp_path: Path) -> None:
    settings = rs_settings(tmp_path, redshift_password=None, aws_region="eu-west-1")
    wh = RedshiftWarehouse.from_settings(settings)
    kwargs = wh.connect_kwargs()
    assert kwargs["iam"] is True
    assert kwargs["db_user"] == "spacex_loader"
    assert kwargs["cluster_identifier"] == "spacex-dw"
    assert kwargs["region"] == "eu-west-1"
    assert "password" not in kwargs
    env = transform.dbt_env(settings)
    assert env["SPACEX_REDSHIFT_AUTH_METHOD"] == "iam"
    assert env["SPACEX_REDSHIFT_DBT_USER"] == "transformer"  # dbt is not the loader
    assert env["SPACEX_REDSHIFT_CLUSTER_ID"] == "spacex-dw"
    assert env["DBT_ENV_SECRET_SPACEX_REDSHIFT_PASSWORD"] == ""


def dbt_redshift_connect_kwargs(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Any:
    """Render dbt_spacex/profiles.yml's redshift output with `env` and capture the arguments
    dbt-redshift would hand to `redshift_connector.connect` (nothing is contacted)."""
    from argparse import Namespace
    from types import SimpleNamespace

    from dbt.adapters.redshift import connections
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    set_from_args(Namespace(), None)
    set_invocation_context(os.environ)
    project = Path(__file__).resolve().parents[2] / "dbt_spacex"
    profile = Profile.from_raw_profiles(
        read_profile(str(project)), "spacex", ProfileRenderer({}), target_override="redshift"
    )
    captured: dict[str, Any] = {}

    def connect(**kwargs: Any) -> Any:
        captured.update(kwargs)
        cursor = SimpleNamespace(execute=lambda *a: None, close=lambda: None)
        return SimpleNamespace(autocommit=False, cursor=lambda: cursor)

    with mock.patch("redshift_connector.connect", connect):
        connections.get_connection_method(profile.credentials)()
    return captured


def test_dbt_profile_uses_iam_authentication_when_the_loader_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = rs_settings(tmp_path, redshift_password=None, aws_region="eu-west-1")
    kwargs = dbt_redshift_connect_kwargs(monkeypatch, transform.dbt_env(settings))
    assert kwargs["iam"] is True
    assert (kwargs["db_user"], kwargs["cluster_identifier"]) == ("transformer", "spacex-dw")
    assert kwargs["sslmode"] == "verify-full"
    assert kwargs["password"] == ""


def test_dbt_profile_uses_the_secrets_manager_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift!spacex-admin-AbCdEf"
    settings = rs_settings(tmp_path, redshift_password=None, redshift_secret_arn=arn)
    with mock.patch("boto3.client", return_value=FakeSecrets()):
        env = transform.dbt_env(settings)
    kwargs = dbt_redshift_connect_kwargs(monkeypatch, env)
    assert not kwargs.get("iam")
    assert (kwargs["user"], kwargs["password"]) == ("admin_from_secret", "from-secrets-manager")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"lake_uri": None}, "Redshift COPY reads from S3"),
        ({"redshift_iam_role_arn": None}, "SPACEX_REDSHIFT_IAM_ROLE_ARN is not set"),
        ({"redshift_iam_role_arn": "arn:aws:iam::1:role/x' --"}, "is not an IAM role ARN"),
    ],
)
def test_misconfiguration_is_one_clear_error_before_any_sql(
    tmp_path: Path, s3_lake: Lake, staged_batch: Batch, overrides: dict[str, Any], error: str
) -> None:
    fake = FakeRedshift(count=1)
    with pytest.raises((ConfigError, LoadError), match=re.escape(error)):
        load(tmp_path, s3_lake, staged_batch, fake, **overrides)
    assert "COMMIT" not in fake.statements()


def test_open_warehouse_selects_redshift(tmp_path: Path) -> None:
    assert isinstance(open_warehouse(rs_settings(tmp_path)), RedshiftWarehouse)


# -- dbt on the redshift target -----------------------------------------------------------------
class OfflineCursor:
    """Answers dbt's introspection queries with 'nothing there' (a fresh cluster)."""

    description = None
    rowcount = -1

    def __enter__(self) -> OfflineCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, bindings: Any = None) -> OfflineCursor:
        return self

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def fetchmany(self, size: int) -> list[Any]:
        return []

    def close(self) -> None:
        return None


class OfflineConnection:
    autocommit = False

    def cursor(self) -> OfflineCursor:
        return OfflineCursor()

    def commit(self) -> None:
        return None

    def rollback(self) -> None:
        return None

    def close(self) -> None:
        return None


@pytest.mark.slow
def test_dbt_models_compile_for_redshift_and_parse_as_redshift(tmp_path: Path) -> None:
    """`dbt compile --target redshift`, dbt-redshift's connect() replaced by an offline stand-in.

    dbt needs a connection only for introspection (does the incremental model exist? which
    relations are in the schema?); the stand-in answers "nothing", as a fresh cluster would, so
    models render as their first (full) build.
    """
    settings = rs_settings(tmp_path)
    with mock.patch(
        "dbt.adapters.redshift.connections.get_connection_method",
        return_value=OfflineConnection,
    ):
        result = transform.invoke(settings, ["compile"])
    assert result.success

    compiled = tmp_path / "spacex" / "dbt" / "redshift" / "target" / "compiled" / "spacex"
    files = sorted(compiled.rglob("*.sql"))
    assert {f.stem for f in files} >= {
        "int_core_flights",
        "fct_core_reuse",
        "q2_cores_reused_within_50_days",
    }
    for path in files:
        sqlglot.parse(path.read_text(), read="redshift")  # raises ParseError on bad SQL
    rendered = "\n".join(f.read_text() for f in files)
    assert "datediff(millisecond" in rendered  # the redshift__ day-gap macro was dispatched
    assert '"analytics"."spacex_raw"."launches"' in rendered  # sources point at the raw tables
