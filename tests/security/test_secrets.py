"""No secret in logs, the run summary, dbt's logs and artefacts, the lake, or `--debug` output
(issue 14): a whole run on the real PostgreSQL with a canary password (the local server trusts
127.0.0.1, so any password works), then a failing run whose traceback is printed."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from spacex_etl.config import PostgresSettings, RedshiftSettings, Settings
from tests.conftest import PG_DATABASE, PG_HOST, PG_PORT, PG_USER, run_cli

CANARY = f"canary-{uuid.uuid4().hex}"


@pytest.fixture
def pg_env(pg_available: None, tmp_path: Path) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    env = {
        "SPACEX_DATA_DIR": str(tmp_path / "spacex"),
        "SPACEX_WAREHOUSE": "postgres",
        "SPACEX_PG_HOST": PG_HOST,
        "SPACEX_PG_PORT": str(PG_PORT),
        "SPACEX_PG_USER": PG_USER,
        "SPACEX_PG_DATABASE": PG_DATABASE,
        "SPACEX_PG_PASSWORD": CANARY,
        "SPACEX_RAW_SCHEMA": f"t_raw_{suffix}",
        "SPACEX_DBT_SCHEMA": f"t_dbt_{suffix}",
    }
    yield env
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE, autocommit=True
    ) as conn:
        for schema in (env["SPACEX_RAW_SCHEMA"], env["SPACEX_DBT_SCHEMA"]):
            conn.execute(f'drop schema if exists "{schema}" cascade')


def files_containing(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_a_full_run_with_debug_never_shows_the_password(
    pg_env: dict[str, str], tmp_path: Path
) -> None:
    proc = run_cli("run", "--date", "2024-06-01", "--json", "--debug", env=pg_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '"loaded"' in proc.stdout  # the run summary
    assert "Done. PASS=" in proc.stderr  # --debug: dbt logged at info level, not only warnings
    assert CANARY not in proc.stdout
    assert CANARY not in proc.stderr
    data_dir = Path(pg_env["SPACEX_DATA_DIR"])
    assert list(data_dir.rglob("dbt.log")), "dbt wrote no log to check"
    assert files_containing(data_dir, CANARY) == []


def test_a_failing_run_with_debug_never_shows_the_password(
    pg_env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a port nothing listens on: the warehouse is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = run_cli(
        "run", "--date", "2024-06-01", "--debug", env=pg_env | {"SPACEX_PG_PORT": str(port)}
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr  # --debug printed the details
    assert CANARY not in proc.stdout + proc.stderr
    assert files_containing(Path(pg_env["SPACEX_DATA_DIR"]), CANARY) == []


def test_settings_never_print_their_secrets() -> None:
    settings = Settings(
        postgres=PostgresSettings(password=CANARY, dbt_password=CANARY),
        redshift=RedshiftSettings(password=CANARY),
    )
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert CANARY not in text


def test_dbt_gets_passwords_only_in_variables_it_scrubs() -> None:
    """dbt masks the values of DBT_ENV_SECRET_* variables in its logs and messages."""
    from spacex_etl import transform

    settings = Settings(warehouse="postgres", postgres=PostgresSettings(password=CANARY))
    env = transform.dbt_env(settings)
    assert [name for name, value in env.items() if CANARY in value] == [
        "DBT_ENV_SECRET_SPACEX_PG_PASSWORD"
    ]


def test_dbt_reads_only_real_settings_and_passwords_only_as_dbt_secrets() -> None:
    """Every env_var() in the dbt project is a setting (a typo would silently use a default);
    every password dbt reads comes through a DBT_ENV_SECRET_* name that transform.dbt_env sets."""
    import re

    from spacex_etl.config import env_names
    from tests.conftest import REPO

    project = REPO / "dbt_spacex"
    read = {
        name
        for path in [*project.rglob("*.yml"), *project.rglob("*.sql")]
        if "target" not in path.parts and "dbt_packages" not in path.parts
        for name in re.findall(r"env_var\(\s*'([A-Z0-9_]+)'", path.read_text())
    }
    secrets = {name for name in read if name.startswith("DBT_ENV_SECRET_")}
    assert secrets == {
        "DBT_ENV_SECRET_SPACEX_PG_PASSWORD",
        "DBT_ENV_SECRET_SPACEX_REDSHIFT_PASSWORD",
    }
    assert {name.removeprefix("DBT_ENV_SECRET_") for name in secrets} <= env_names()
    assert not {name for name in read - secrets if "PASSWORD" in name}
    from spacex_etl import transform
    from spacex_etl.config import Settings

    set_by_the_job = {  # not settings: values the job derives for dbt (e.g. its memory share)
        name
        for name in transform.dbt_env(Settings(warehouse="duckdb"))
        if not name.startswith("SPACEX_")
    }
    assert set_by_the_job == {"DBT_DUCKDB_MEMORY_LIMIT", "DBT_THREADS"}
    assert read - secrets <= env_names() | set_by_the_job
