"""Every check that validates an identifier matches the whole value: a trailing newline (which
a bare `$` in Python's `re` lets through) or any other trailing text is refused wherever a name
comes in — run ids, dates and schema names at the CLI, the DAG's `input` param, the Redshift
COPY's manifest URI and role ARN, the cluster read from the host name."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from spacex_etl.config import RedshiftSettings, Settings
from spacex_etl.errors import ConfigError, LoadError
from spacex_etl.sources import source_pattern
from spacex_etl.warehouse.redshift import RedshiftWarehouse, copy_statement
from tests.conftest import run_cli

ROLE = "arn:aws:iam::123456789012:role/spacex-copy"
MANIFEST = "s3://spacex-lake/staged/spacex/launches/manifest.json"
HOST = "spacex.abc123xyz.eu-west-1.redshift.amazonaws.com"


@pytest.mark.parametrize(
    ("args", "env", "refusal"),
    [
        (("--run-id", "r1\n"), {}, "run id 'r1\\n' is not allowed"),
        (("--run-id", "r1\n../x"), {}, "is not allowed"),
        (("--date", "2024-06-01\n"), {}, "2024-06-01"),
        ((), {"SPACEX_RAW_SCHEMA": "spacex_raw\n"}, "invalid setting SPACEX_RAW_SCHEMA="),
        ((), {"SPACEX_DBT_SCHEMA": "analytics\n"}, "invalid setting SPACEX_DBT_SCHEMA="),
    ],
    ids=["run-id", "run-id-two-lines", "date", "raw-schema", "dbt-schema"],
)
def test_a_trailing_newline_is_refused_at_the_cli_before_anything_is_written(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], refusal: str
) -> None:
    data_dir = tmp_path / "work" / "spacex"
    argv = ("extract", *(args if "--date" in args else ("--date", "2024-06-01", *args)))
    proc = run_cli(*argv, env={"SPACEX_DATA_DIR": str(data_dir)} | env)

    assert proc.returncode != 0
    assert refusal in proc.stderr, proc.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("value", ["snapshot\n", "https://api.spacexdata.com/v5/launches\n"])
def test_the_dag_input_param_pattern_refuses_a_trailing_newline(value: str) -> None:
    """Airflow validates params with `jsonschema` (Python's `re.search`)."""
    schema = {"type": "string", "pattern": source_pattern(Settings())}
    jsonschema.validate(value.strip(), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(value, schema)


def test_copy_refuses_a_manifest_or_role_with_anything_after_it() -> None:
    assert MANIFEST in copy_statement("stg", MANIFEST, ROLE)
    with pytest.raises(LoadError, match="is not a plain s3://bucket/key URI"):
        copy_statement("stg", MANIFEST + "\n", ROLE)
    with pytest.raises(ConfigError, match="is not an IAM role ARN"):
        copy_statement("stg", MANIFEST, ROLE + "\n")


def test_the_cluster_is_read_only_from_a_whole_host_name() -> None:
    def cluster(host: str) -> str | None:
        return RedshiftWarehouse(
            RedshiftSettings(host=host), "spacex_raw", "s3://spacex-lake"
        ).cluster_identifier()

    assert cluster(HOST) == "spacex"
    assert cluster(HOST + "\n") is None
