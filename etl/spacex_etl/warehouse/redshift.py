"""Amazon Redshift: COPY the batch's Parquet parts from the S3 lake, then the shared merge.

`pipeline.publish_parts` has already copied each table's Parquet parts to the lake
(`batch.staged_uris`: several files per big table, a multiple of the slice count, so every
slice loads a file at once; see `parts.part_count`). Before the transaction opens,
`prepare` writes one COPY manifest per table beside its parts, listing exactly those parts
(with their `content_length`, which Redshift requires for Parquet manifests), so a COPY can
never pick up a file of another run sharing the prefix. Inside the one transaction `stage` runs

    copy "stg_launches_…" from 's3://…/launches.manifest'
    iam_role 'arn:aws:iam::…' manifest format as parquet

Parquet columns map to table columns by position: the staging table is created from the same
column list as the Parquet schema (both derive from `contract.CONTRACTS`).

COPY takes no bind parameters, so its two values (manifest URI, role ARN) are checked against
strict patterns and written as quoted literals; every other value goes as a parameter.
The role ARN names what Redshift may assume; it is not a credential. The database password
never appears in SQL or logs: it comes from AWS Secrets Manager (`SPACEX_REDSHIFT_SECRET_ARN`,
the JSON secret Redshift/RDS manage, with "username" and "password"), from
`SPACEX_REDSHIFT_PASSWORD`, or — when neither is set — from IAM authentication
(`redshift_connector` with `iam=True`: temporary credentials for `SPACEX_REDSHIFT_USER` from
the AWS credential chain).

When COPY fails the transaction is rolled back and the rows of `sys_load_error_detail` for
this batch's files are read on the same connection and put into the LoadError message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlparse

from spacex_etl.batch import Batch
from spacex_etl.config import RedshiftSettings, Settings
from spacex_etl.contract import LEDGER_COLUMNS, ColumnType
from spacex_etl.errors import ConfigError, LakeError, LoadError
from spacex_etl.lake import Lake, S3Lake, open_lake
from spacex_etl.warehouse.base import SqlWarehouse, ident, quote_literal

S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[A-Za-z0-9!\-_.*()/=+:@,]+")
IAM_ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_\-/]{1,512}")
PROVISIONED_HOST = re.compile(
    r"([a-z0-9\-]+)\.[a-z0-9]+\.[a-z0-9\-]+\.redshift(-dev)?\.amazonaws\.com(\.cn)?"
)
LOAD_ERROR_ROWS = 20

LOAD_ERRORS_SQL = (
    "select file_name, line_number, column_name, error_code, error_message, raw_field_value "  # noqa: S608 - only placeholders and a constant
    "from sys_load_error_detail where file_name in ({files}) "
    f"order by start_time desc, line_number limit {LOAD_ERROR_ROWS}"
)


def manifest_uri(part_uri: str) -> str:
    """The manifest of a table's parts, in their folder: `…/launches/copy.manifest`."""
    return part_uri.rsplit("/", 1)[0] + "/copy.manifest"


def build_manifest(entries: list[tuple[str, int]]) -> bytes:
    """A COPY manifest for Parquet: every file mandatory, with its size in bytes."""
    body = {
        "entries": [
            {"url": url, "mandatory": True, "meta": {"content_length": size}}
            for url, size in entries
        ]
    }
    return json.dumps(body, indent=2).encode()


def copy_statement(staging: str, manifest: str, iam_role_arn: str) -> str:
    """COPY one staging table from a manifest of Parquet files."""
    if not S3_URI.fullmatch(manifest):
        raise LoadError(f"COPY manifest URI {manifest!r} is not a plain s3://bucket/key URI")
    if not IAM_ROLE_ARN.fullmatch(iam_role_arn):
        raise ConfigError(
            f"SPACEX_REDSHIFT_IAM_ROLE_ARN {iam_role_arn!r} is not an IAM role ARN "
            "(arn:aws:iam::<account>:role/<name>)"
        )
    return (
        f"copy {ident(staging)} from {quote_literal(manifest)} "
        f"iam_role {quote_literal(iam_role_arn)} manifest format as parquet"
    )


@dataclass
class CopyFailed(Exception):
    """A COPY failed; carries the files it read so their load errors can be looked up."""

    staging: str
    manifest: str
    files: list[str]
    cause: str

    def __str__(self) -> str:
        return f"COPY into {self.staging} from {self.manifest} failed: {self.cause}"


def object_size(lake: Lake, uri: str) -> int:
    """Size in bytes of a lake object (a HEAD request on S3)."""
    if isinstance(lake, S3Lake):
        parsed = urlparse(uri)
        try:
            head = lake.client.head_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
        except Exception as exc:
            raise LakeError(f"cannot read the size of {uri}: {exc}") from exc
        return int(head["ContentLength"])
    return len(lake.get(lake.key_of(uri)))


class RedshiftWarehouse(SqlWarehouse):
    """COPY from S3 (manifest, IAM role, Parquet) into temporary tables, then the shared merge."""

    name = "redshift"
    stages_from_lake = True
    type_names: ClassVar[dict[ColumnType, str]] = {
        **SqlWarehouse.type_names,
        "key": "varchar(256)",
        "text": "varchar(65535)",
    }

    def __init__(
        self,
        section: RedshiftSettings,
        raw_schema: str,
        lake_root: str,
        aws_region: str | None = None,
        *,
        lake: Lake | None = None,
        connect: Callable[..., Any] | None = None,
        secrets_client: Any | None = None,
    ) -> None:
        """`lake`, `connect` and `secrets_client` default to the real ones (tests pass fakes)."""
        super().__init__(raw_schema)
        self.section = section
        self.lake_root = lake_root
        self.aws_region = aws_region
        self._lake = lake
        self._connect = connect
        self._secrets_client = secrets_client
        self._manifests: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings, **fakes: Any) -> RedshiftWarehouse:
        return cls(
            settings.redshift, settings.raw_schema, settings.lake_root, settings.aws_region, **fakes
        )

    # -- configuration ---------------------------------------------------------------------
    @property
    def lake(self) -> Lake:
        if self._lake is None:
            self._lake = open_lake(self.lake_root)
        return self._lake

    def _require(self, value: str | None, env: str) -> str:
        if not value:
            raise ConfigError(f"{env} is not set; the redshift warehouse needs it")
        return value

    def describe(self) -> str:
        s = self.section
        return f"redshift://{s.user or '?'}@{s.host or '?'}:{s.port}/{s.database}"

    def credentials(self) -> tuple[str, str] | None:
        """(user, password) from Secrets Manager or the settings; None means IAM auth."""
        s = self.section
        if s.uses_iam:
            return None
        if s.secret_arn:
            client = self._secrets_client
            if client is None:
                import boto3

                client = boto3.client("secretsmanager", region_name=self.aws_region)
            try:
                secret = json.loads(client.get_secret_value(SecretId=s.secret_arn)["SecretString"])
                return str(secret.get("username") or s.user), str(secret["password"])
            except Exception as exc:
                raise LoadError(
                    f"cannot read the Redshift password from Secrets Manager secret "
                    f"{s.secret_arn}: {type(exc).__name__}"
                ) from exc
        if s.password is not None and s.password.get_secret_value():
            return self._require(s.user, "SPACEX_REDSHIFT_USER"), s.password.get_secret_value()
        return None

    def connect_kwargs(self) -> dict[str, Any]:
        """Arguments for `redshift_connector.connect` (password or IAM authentication)."""
        s = self.section
        host = self._require(s.host, "SPACEX_REDSHIFT_HOST")
        kwargs: dict[str, Any] = {
            "host": host,
            "port": s.port,
            "database": s.database,
            "ssl": True,
            "sslmode": "verify-full",
            "timeout": 30,
            "application_name": "spacex-etl",
        }
        creds = self.credentials()
        if creds is not None:
            kwargs["user"], kwargs["password"] = creds
            return kwargs
        kwargs |= {
            "iam": True,
            "db_user": self._require(s.user, "SPACEX_REDSHIFT_USER"),
            "auto_create": False,
        }
        if self.aws_region:
            kwargs["region"] = self.aws_region
        if cluster := self.cluster_identifier():
            kwargs["cluster_identifier"] = cluster
        return kwargs

    def dbt_env(self) -> dict[str, str]:
        """dbt logs in as `SPACEX_REDSHIFT_DBT_USER` with IAM auth (it owns the dbt schema and
        only reads raw), or with the password's user (from Secrets Manager or the settings)."""
        s = self.section
        host = self._require(s.host, "SPACEX_REDSHIFT_HOST")
        creds = self.credentials()
        user, password = creds if creds is not None else (s.dbt_user, "")
        return {
            "SPACEX_REDSHIFT_HOST": host,
            "SPACEX_REDSHIFT_PORT": str(s.port),
            "SPACEX_REDSHIFT_DATABASE": s.database,
            "SPACEX_REDSHIFT_AUTH_METHOD": "database" if creds is not None else "iam",
            "SPACEX_REDSHIFT_CLUSTER_ID": self.cluster_identifier() or "",
            "SPACEX_REDSHIFT_DBT_USER": user,
            "DBT_ENV_SECRET_SPACEX_REDSHIFT_PASSWORD": password,
        }

    def lineage_dataset(self, table: str) -> tuple[str, str]:
        s = self.section
        host = self._require(s.host, "SPACEX_REDSHIFT_HOST")
        return f"redshift://{host}:{s.port}", f"{s.database}.{self.schema}.{table}"

    def cluster_identifier(self) -> str | None:
        """The provisioned cluster for IAM auth: the setting, else the host name's first label."""
        s = self.section
        match = PROVISIONED_HOST.fullmatch(s.host or "")
        return s.cluster_id or (match.group(1) if match else None)

    # -- adapter hooks ---------------------------------------------------------------------
    def connect(self) -> Any:
        connect = self._connect
        if connect is None:
            import redshift_connector

            connect = redshift_connector.connect
        conn = connect(**self.connect_kwargs())
        conn.autocommit = False
        return conn

    def lock(self, cur: Any) -> None:
        """`lock` the ledger table (created first if needed) until the transaction ends: every
        load appends to it, so a second load into the same schema waits here."""
        ledger = self.qualified("load_ledger")
        self.ensure_schema(cur)
        cur.execute(f"create table if not exists {ledger} ({self._column_defs(LEDGER_COLUMNS)})")
        cur.execute(f"lock {ledger}")

    def prepare(self, batch: Batch) -> None:
        """Write one manifest per table listing its staged parts, beside them in the lake."""
        self._require(self.section.iam_role_arn, "SPACEX_REDSHIFT_IAM_ROLE_ARN")
        if not self.lake_root.startswith("s3://"):
            raise ConfigError(
                f"Redshift COPY reads from S3 but the lake is {self.lake_root}: "
                "set SPACEX_LAKE_URI=s3://bucket/prefix"
            )
        expected = [table for table in [*batch.tables, "quarantine"] if batch.parts.get(table)]
        missing = [table for table in expected if not batch.staged_uris.get(table)]
        if missing:
            raise LoadError(
                f"batch {batch.run_id} has no staged Parquet for {', '.join(missing)}; "
                "pipeline.publish_parts must run before the Redshift load"
            )
        self._manifests = {}
        for table in expected:
            uris = batch.staged_uris[table]
            local = batch.parts.get(table, [])
            sizes = (
                [path.stat().st_size for path in local]
                if len(local) == len(uris)
                else [object_size(self.lake, uri) for uri in uris]
            )
            key = manifest_uri(self.lake.key_of(uris[0]))
            self._manifests[table] = self.lake.put(
                key, build_manifest(list(zip(uris, sizes, strict=True)))
            )

    def stage(self, cur: Any, batch: Batch, table: str, staging: str) -> None:
        manifest = self._manifests[table]
        statement = copy_statement(staging, manifest, self.section.iam_role_arn or "")
        try:
            cur.execute(statement)
        except Exception as exc:
            raise CopyFailed(staging, manifest, batch.staged_uris[table], str(exc)) from exc

    def diagnose(self, conn: Any, exc: Exception) -> str | None:
        """The load errors Redshift recorded for the failed COPY's files (after the rollback)."""
        if not isinstance(exc, CopyFailed):
            return None
        try:
            cur = conn.cursor()
            placeholders = ", ".join([self.paramstyle] * len(exc.files))
            cur.execute(LOAD_ERRORS_SQL.format(files=placeholders), tuple(exc.files))
            rows = cur.fetchall()
            conn.rollback()
        except Exception as lookup:
            return f"(could not read sys_load_error_detail: {' '.join(str(lookup).split())})"
        if not rows:
            return "(sys_load_error_detail has no rows for this load; see SYS_LOAD_HISTORY)"
        shown = "; ".join(
            f"{str(file).strip()} line {line} column {str(column).strip()}: "
            f"[{code}] {str(message).strip()} (value {str(value).strip()!r})"
            for file, line, column, code, message, value in rows
        )
        return f"load errors: {shown}"
