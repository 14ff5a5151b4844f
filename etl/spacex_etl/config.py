"""Settings, read from `SPACEX_*` environment variables, one section per concern.

`Settings()` builds every section from the environment (each section is its own
pydantic-settings class with its own prefix, so env var names stay flat: `SPACEX_PG_HOST` is
`settings.postgres.host`). A bad value fails at start-up with one line naming the env var:
`Settings()` raises `ConfigError`, which the CLI prints and exits 1 on.

Identifiers that reach SQL (schemas, database users) are checked against
`IDENTIFIER_PATTERN` here, once, so neither the loader nor dbt ever sees a crafted name.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from spacex_etl.errors import ConfigError
from spacex_etl.warehouse import ADAPTERS

DEFAULT_API_URL = "https://api.spacexdata.com/v5/launches"
DEFAULT_CORES_API_URL = "https://api.spacexdata.com/v4/cores"
DEFAULT_ALLOWED_HOSTS = ("api.spacexdata.com",)
SNAPSHOT = "snapshot"
API = "api"
"""The `--input` value that selects the live API: SPACEX_SOURCE_URL (cores: SPACEX_CORES_URL, or
the API's own cores endpoint when SPACEX_SOURCE_URL is the default)."""
"""The `--input` value that selects the bundled real data snapshot (the default)."""

IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
"""A plain SQL identifier (fits PostgreSQL's 63 bytes and Redshift's 127): nothing to quote."""
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]

MiB = 1024 * 1024


def _repo_dbt_dir() -> Path:
    """The dbt project in a checkout (`<repo>/dbt_spacex`), else `./dbt_spacex`."""
    candidate = Path(__file__).resolve().parents[2] / "dbt_spacex"
    return candidate if (candidate / "dbt_project.yml").exists() else Path("dbt_spacex").resolve()


class _Section(BaseSettings):
    """A settings class whose validation errors become one-line `ConfigError`s."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(type(self), exc)) from None

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Field name → the env var that sets it."""
        return settings_env_names(cls)


def settings_env_names(cls: type[BaseSettings]) -> dict[str, str]:
    """Field name → the env var that sets it, for any pydantic-settings class (the DAG's too):
    the field's alias, else env prefix + name. Nested sections are read through their own."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: dict[str, str] = {}
    for name, info in cls.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseSettings):
            continue  # a section, read through its own prefix
        alias = info.validation_alias
        names[name] = str(alias) if isinstance(alias, str) else (prefix + name).upper()
    return names


def _describe(section: type[_Section], exc: ValidationError) -> str:
    """`invalid setting SPACEX_X='value': why` for the first error (secrets never shown)."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    env = section.env_names().get(field, field.upper())
    shown = "" if "password" in field or "secret" in field else f"={first.get('input')!r}"
    return f"invalid setting {env}{shown}: {first['msg']}"


class HttpSettings(_Section):
    """How the extractor talks HTTP (`SPACEX_HTTP_*`)."""

    model_config = SettingsConfigDict(env_prefix="SPACEX_HTTP_")

    timeout_s: float = Field(30.0, gt=0, description="Connect/read timeout per request.")
    deadline_s: float = Field(
        600.0, gt=0, description="Longest a whole download may take, retries included."
    )
    retries: int = Field(5, ge=0, description="Retries on 429/5xx/connection errors.")
    backoff_s: float = Field(1.0, ge=0, description="Exponential backoff factor.")
    backoff_max_s: float = Field(
        60.0, gt=0, description="Longest wait between retries (also caps Retry-After)."
    )
    max_bytes: int = Field(
        256 * MiB, gt=0, description="Largest response body accepted; bigger is refused."
    )


class SourceSettings(_Section):
    """Where data may come from (`SPACEX_SOURCE_*`): the allow-list `sources.check_source` uses."""

    model_config = SettingsConfigDict(env_prefix="SPACEX_SOURCE_")

    url: str = Field(DEFAULT_API_URL, description="Launches endpoint for HTTP extraction.")
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_ALLOWED_HOSTS, description="Hosts HTTP sources may use (comma-separated)."
    )
    allow_http: bool = Field(False, description="Allow plain http:// URLs (local test servers).")
    local_files: bool = Field(
        True,
        description="Allow any local file as --input (the CLI); false where others choose inputs.",
    )
    inbox_dir: Path | None = Field(
        None, description="Folder whose files may be sources outside the CLI (e.g. the DAG)."
    )
    cores_url: str | None = Field(
        None,
        validation_alias="SPACEX_CORES_URL",
        description="Cores endpoint or file. Default: none for URLs, bundled for snapshot.",
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(str(host).strip().lower() for host in value if str(host).strip())
        return value


class QualitySettings(_Section):
    """When a batch is a contract break rather than a few bad records (`SPACEX_QUALITY_*`)."""

    model_config = SettingsConfigDict(env_prefix="SPACEX_QUALITY_")

    max_rule_reject_share: float = Field(
        0.5, ge=0, le=1, description="One rule failing more than this share of records fails."
    )
    min_share_of_last_load: float = Field(
        0.5, ge=0, le=1, description="An extract smaller than this share of the last is refused."
    )


MONITOR_CHECKS = ("volume", "quarantine_share", "drift", "phase_duration", "source_freshness")


class MonitorSettings(_Section):
    """Anomaly checks over the run history (`SPACEX_MONITOR_*`); dbt reads the same variables
    (`transform.dbt_env` passes them, `dbt_spacex/macros/monitor_settings.sql` has the defaults).
    """

    model_config = SettingsConfigDict(env_prefix="SPACEX_MONITOR_")

    baseline_runs: int = Field(
        10, ge=1, description="Successful runs before a run that form its baseline."
    )
    min_history: int = Field(
        3, ge=1, description="Baseline runs needed before a check judges (fewer: pass)."
    )
    mad_k: float = Field(
        3.0, gt=0, description="Band half-width in scaled MADs around the baseline median."
    )
    volume_min_change: float = Field(
        0.1, ge=0, description="Smallest volume change flagged, as a share of the median."
    )
    quarantine_min_change: float = Field(
        0.05, ge=0, le=1, description="Smallest rise in quarantined share flagged (0.05 = 5 pts)."
    )
    phase_min_change: float = Field(
        0.5, ge=0, description="Smallest phase slow-down flagged, as a share of the median."
    )
    phase_min_seconds: float = Field(
        5.0, ge=0, description="Smallest phase slow-down flagged, in seconds."
    )
    source_stale_days: float = Field(
        30.0, gt=0, description="Newest non-upcoming launch older than this: source stale."
    )
    fail_on: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Checks whose anomaly fails instead of warns (comma-separated: "
        + ", ".join(MONITOR_CHECKS)
        + ").",
    )

    @field_validator("fail_on", mode="before")
    @classmethod
    def _split_checks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in value or () if name not in MONITOR_CHECKS]
        if unknown:
            raise ValueError(f"unknown check(s) {', '.join(unknown)}; known: {MONITOR_CHECKS}")
        return tuple(value or ())


class PostgresSettings(_Section):
    """The local PostgreSQL warehouse (`SPACEX_PG_*`)."""

    model_config = SettingsConfigDict(env_prefix="SPACEX_PG_")

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = Field("postgres", description="The load's user (owns the raw schema).")
    password: SecretStr = SecretStr("")
    database: str = "test"
    dbt_user: str | None = Field(
        None, description="dbt's user (owns the dbt schema, reads raw); default: `user`."
    )
    dbt_password: SecretStr | None = Field(None, description="dbt's password; default: `password`.")


class RedshiftSettings(_Section):
    """Amazon Redshift (`SPACEX_REDSHIFT_*`): the loader and dbt log in as different users."""

    model_config = SettingsConfigDict(env_prefix="SPACEX_REDSHIFT_")

    host: str | None = None
    port: int = 5439
    database: str = "dev"
    user: Identifier = Field("loader", description="Database user of the load (raw schema).")
    dbt_user: Identifier = Field(
        "transformer", description="Database user dbt logs in as with IAM auth (dbt schema)."
    )
    password: SecretStr | None = None
    secret_arn: str | None = Field(
        None, description="Secrets Manager secret holding a database user's password."
    )
    iam_role_arn: str | None = Field(
        None, description="IAM role Redshift assumes to COPY from the lake."
    )
    auth_method: Literal["iam", "database"] | None = Field(
        None, description="iam (GetClusterCredentials) or database; default: iam without one."
    )
    cluster_id: str | None = Field(
        None, description="Provisioned cluster id for IAM auth; default: from the host name."
    )

    @property
    def uses_iam(self) -> bool:
        """IAM auth when asked for, or when no password or secret is configured."""
        if self.auth_method is not None:
            return self.auth_method == "iam"
        has_password = self.password is not None and bool(self.password.get_secret_value())
        return not (has_password or self.secret_arn)


class Settings(_Section):
    """Everything configurable: top-level fields are `SPACEX_<FIELD>`, sections have prefixes."""

    model_config = SettingsConfigDict(env_prefix="SPACEX_")
    sections: ClassVar[tuple[str, ...]] = (
        "http",
        "source",
        "quality",
        "monitor",
        "postgres",
        "redshift",
    )

    data_dir: Path = Field(
        Path(".spacex"), description="Local working folder: default lake, DuckDB file, dbt output."
    )
    lake_uri: str | None = Field(
        None, description="Lake root: a folder path or s3://bucket/prefix. Default <data_dir>/lake."
    )
    warehouse: str = Field("duckdb", description=f"Warehouse target: {'|'.join(ADAPTERS)}.")
    duckdb_path: Path | None = Field(
        None, description="DuckDB warehouse file. Default <data_dir>/warehouse.duckdb."
    )
    raw_schema: Identifier = Field(
        "spacex_raw", description="Schema of the raw tables the loader writes."
    )
    dbt_schema: Identifier = Field("spacex", description="Schema dbt builds models into.")
    dbt_project_dir: Path = Field(default_factory=_repo_dbt_dir)
    dbt_target: str | None = Field(None, description="dbt target; default = the warehouse name.")
    aws_region: str | None = None

    http: HttpSettings = Field(default_factory=HttpSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    redshift: RedshiftSettings = Field(default_factory=RedshiftSettings)

    @field_validator("warehouse")
    @classmethod
    def _registered(cls, value: str) -> str:
        """One of the registry's warehouses (`warehouse.ADAPTERS`)."""
        if value not in ADAPTERS:
            *rest, last = (repr(name) for name in ADAPTERS)
            raise PydanticCustomError(
                "literal_error",
                "Input should be {expected}",
                {"expected": f"{', '.join(rest)} or {last}"},
            )
        return value

    @cached_property
    def lake_root(self) -> str:
        """The lake root as a string: `s3://…` or an absolute local path."""
        if self.lake_uri:
            return (
                self.lake_uri
                if self.lake_uri.startswith("s3://")
                else str(Path(self.lake_uri).resolve())
            )
        return str((self.data_dir / "lake").resolve())

    @cached_property
    def duckdb_file(self) -> Path:
        """The DuckDB warehouse file (absolute)."""
        return (self.duckdb_path or self.data_dir / "warehouse.duckdb").resolve()

    @property
    def target(self) -> str:
        """The dbt target to run."""
        return self.dbt_target or self.warehouse


def env_names() -> set[str]:
    """Every environment variable Settings reads (for checks that deployments set real ones)."""
    names = set(Settings.env_names().values())
    for section in Settings.sections:
        annotation = Settings.model_fields[section].annotation
        assert isinstance(annotation, type)
        assert issubclass(annotation, _Section)
        names |= set(annotation.env_names().values())
    return names
