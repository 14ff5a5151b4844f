"""One Settings object, read from `SPACEX_*` environment variables (and an optional `.env`)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_URL = "https://api.spacexdata.com/v5/launches"
DEFAULT_CORES_API_URL = "https://api.spacexdata.com/v4/cores"
SNAPSHOT = "snapshot"
"""The `--input` value that selects the bundled real data snapshot (the default)."""

Warehouse = Literal["duckdb", "postgres", "redshift"]


def _repo_dbt_dir() -> Path:
    """The dbt project in a checkout (`<repo>/dbt_spacex`), else `./dbt_spacex`."""
    candidate = Path(__file__).resolve().parents[2] / "dbt_spacex"
    return candidate if (candidate / "dbt_project.yml").exists() else Path("dbt_spacex").resolve()


class Settings(BaseSettings):
    """Everything configurable. Each field is the env var `SPACEX_<FIELD>` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="SPACEX_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        Path(".spacex"), description="Local working folder: default lake, DuckDB file, dbt output."
    )
    lake_uri: str | None = Field(
        None, description="Lake root: a folder path or s3://bucket/prefix. Default <data_dir>/lake."
    )
    warehouse: Warehouse = Field(
        "duckdb", description="Warehouse target: duckdb|postgres|redshift."
    )
    duckdb_path: Path | None = Field(
        None, description="DuckDB warehouse file. Default <data_dir>/warehouse.duckdb."
    )
    raw_schema: str = Field("spacex_raw", description="Schema of the raw tables the loader writes.")
    dbt_schema: str = Field("spacex", description="Schema dbt builds models into.")

    source_url: str = Field(DEFAULT_API_URL, description="Launches endpoint for HTTP extraction.")
    cores_url: str | None = Field(
        None, description="Cores endpoint or file. Default: none for URLs, bundled for snapshot."
    )
    http_timeout_s: float = Field(30.0, gt=0, description="Connect/read timeout per request.")
    http_retries: int = Field(5, ge=0, description="Retries on 429/5xx/connection errors.")
    http_backoff_s: float = Field(1.0, ge=0, description="Exponential backoff factor.")
    http_backoff_max_s: float = Field(60.0, gt=0, description="Longest wait between retries.")

    # PostgreSQL (local Redshift stand-in)
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_password: SecretStr = SecretStr("")
    pg_database: str = "test"

    # Amazon Redshift (production)
    redshift_host: str | None = None
    redshift_port: int = 5439
    redshift_database: str = "dev"
    redshift_user: str | None = None
    redshift_password: SecretStr | None = None
    redshift_secret_arn: str | None = Field(
        None, description="Secrets Manager secret holding the Redshift password."
    )
    redshift_iam_role_arn: str | None = Field(
        None, description="IAM role Redshift assumes to COPY from the lake."
    )
    aws_region: str | None = None

    dbt_project_dir: Path = Field(default_factory=_repo_dbt_dir)
    dbt_target: str | None = Field(None, description="dbt target; default = the warehouse name.")

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
