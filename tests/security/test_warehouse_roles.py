"""Least privilege in the warehouse (issue 14), on the real PostgreSQL: the versioned bootstrap
creates `loader` and `transformer`; a real load runs as loader and dbt as transformer; neither
can write the other's schema; neither is a superuser. Everything lives in a database of its own,
dropped afterwards."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import IN_CI, PG_DATABASE, PG_HOST, PG_PORT, PG_USER, REPO, run_cli

ROLES_SQL = REPO / "etl" / "spacex_etl" / "warehouse" / "roles.sql"


@dataclass(frozen=True)
class Bootstrapped:
    database: str
    loader: str
    transformer: str
    raw_schema: str
    dbt_schema: str

    def bootstrap(self) -> subprocess.CompletedProcess[str]:
        """What an admin runs (see the file's header)."""
        psql = shutil.which("psql")
        if psql is None:
            reason = "psql (the PostgreSQL client) is not installed"
            if IN_CI:
                pytest.fail(reason)
            print(f"SKIP: {reason}")
            pytest.skip(reason)
        variables = {
            "loader": self.loader,
            "transformer": self.transformer,
            "raw_schema": self.raw_schema,
            "dbt_schema": self.dbt_schema,
            "database": self.database,
        }
        args = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        for name, value in variables.items():
            args += ["-v", f"{name}={value}"]
        conninfo = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={self.database}"
        return subprocess.run(
            [*args, "-f", str(ROLES_SQL), conninfo], capture_output=True, text=True, check=False
        )

    def connect(self, user: str) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=user, dbname=self.database, autocommit=True
        )

    def env(self) -> dict[str, str]:
        return {
            "SPACEX_WAREHOUSE": "postgres",
            "SPACEX_PG_HOST": PG_HOST,
            "SPACEX_PG_PORT": str(PG_PORT),
            "SPACEX_PG_DATABASE": self.database,
            "SPACEX_PG_USER": self.loader,
            "SPACEX_PG_DBT_USER": self.transformer,
            "SPACEX_RAW_SCHEMA": self.raw_schema,
            "SPACEX_DBT_SCHEMA": self.dbt_schema,
        }


def admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE, autocommit=True
    )


@pytest.fixture
def roles(pg_available: None) -> Iterator[Bootstrapped]:
    suffix = uuid.uuid4().hex[:8]
    setup = Bootstrapped(
        database=f"t_roles_{suffix}",
        loader=f"t_loader_{suffix}",
        transformer=f"t_transformer_{suffix}",
        raw_schema=f"raw_{suffix}",
        dbt_schema=f"dbt_{suffix}",
    )
    with admin() as conn:
        conn.execute(f'create database "{setup.database}"')
    try:
        yield setup
    finally:
        with admin() as conn:
            conn.execute(f'drop database if exists "{setup.database}" with (force)')
            for role in (setup.loader, setup.transformer):
                conn.execute(f'drop role if exists "{role}"')


def refused(conn: psycopg.Connection[tuple[object, ...]], sql: str) -> str:
    """Run `sql` and return PostgreSQL's error; fail if it was allowed."""
    try:
        conn.execute(sql)
    except psycopg.errors.InsufficientPrivilege as exc:
        return str(exc)
    raise AssertionError(f"allowed: {sql}")


def test_bootstrap_then_load_as_loader_and_dbt_as_transformer(
    roles: Bootstrapped, tmp_path: Path
) -> None:
    first = roles.bootstrap()
    assert first.returncode == 0, first.stderr
    with roles.connect(PG_USER) as conn:  # what the first version of roles.sql granted
        conn.execute(f'grant create on database "{roles.database}" to "{roles.loader}"')
    again = roles.bootstrap()
    assert again.returncode == 0, again.stderr  # idempotent, and takes that grant back

    env = roles.env() | {"SPACEX_DATA_DIR": str(tmp_path / "spacex")}
    proc = run_cli("run", "--date", "2024-06-01", "--json", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    with roles.connect(PG_USER) as conn:
        owners = dict(
            conn.execute(
                "select table_schema || '.' || table_name, tableowner from "
                "information_schema.tables join pg_tables on schemaname = table_schema "
                "and tablename = table_name where table_schema in (%s, %s)",
                (roles.raw_schema, roles.dbt_schema),
            ).fetchall()
        )
        supers = conn.execute(
            "select rolname, rolsuper or rolcreaterole or rolcreatedb from pg_roles "
            "where rolname in (%s, %s)",
            (roles.loader, roles.transformer),
        ).fetchall()
    assert owners[f"{roles.raw_schema}.launches"] == roles.loader
    assert any(name.startswith(f"{roles.dbt_schema}.") for name in owners), owners
    assert {owner for name, owner in owners.items() if name.startswith(roles.dbt_schema)} == {
        roles.transformer
    }
    assert sorted(supers) == sorted([(roles.loader, False), (roles.transformer, False)])

    raw, dbt = f'"{roles.raw_schema}"', f'"{roles.dbt_schema}"'
    model = next(n.split(".", 1)[1] for n in owners if n.startswith(f"{roles.dbt_schema}."))
    with roles.connect(roles.loader) as loader:
        # The load above ran without CREATE on the database: it found its schema first.
        assert loader.execute(
            "select has_database_privilege(current_user, current_database(), 'CREATE')"
        ).fetchone() == (False,)
        refused(loader, "create schema intruder")
        refused(loader, f"create table {dbt}.intruder (a int)")
        refused(loader, f'drop table {dbt}."{model}"')
        assert loader.execute(f'select count(*) from {dbt}."{model}"').fetchone() is not None
    with roles.connect(roles.transformer) as transformer:
        assert transformer.execute(f"select count(*) from {raw}.launches").fetchone() == (205,)
        refused(transformer, "create schema intruder")
        refused(transformer, f"insert into {raw}.launches default values")
        refused(transformer, f"delete from {raw}.launches")
        refused(transformer, f"create table {raw}.intruder (a int)")
        refused(transformer, f"drop table {raw}.launches")


def rendered(sql_file: str) -> list[str]:
    """A bootstrap file as psql sends it: variables substituted, comments and \\gexec cut,
    one statement per item, whitespace collapsed."""
    values = {
        "loader": "loader",
        "transformer": "transformer",
        "raw_schema": "spacex_raw",
        "dbt_schema": "spacex",
        "database": "dev",
    }
    lines = (REPO / "etl/spacex_etl/warehouse" / sql_file).read_text().splitlines()
    text = "\n".join(line for line in lines if not line.startswith("--"))
    for name, value in values.items():
        text = text.replace(f':"{name}"', f'"{value}"').replace(f":'{name}'", f"'{value}'")
    statements = text.replace("\\gexec", ";").split(";")
    return [" ".join(s.split()) for s in statements if s.strip()]


def test_the_redshift_bootstrap_grants_what_the_tested_postgres_one_grants() -> None:
    """roles_redshift.sql cannot run here; it is held to roles.sql, which the test above runs:
    the same schema ownership and grants, statement for statement (Redshift says `user` where
    PostgreSQL says `role`), and sqlglot parses it as Redshift SQL."""
    import sqlglot

    redshift = rendered("roles_redshift.sql")
    postgres = rendered("roles.sql")

    def schema_level(statements: list[str], dialect_word: str) -> list[str]:
        return [
            s.replace(f"for {dialect_word} ", "for <owner> ")
            for s in statements
            if " schema " in f" {s} "
        ]

    assert schema_level(redshift, "user") == schema_level(postgres, "role")
    for statement in redshift:
        assert ":" not in statement, statement  # every psql variable substituted
        sqlglot.parse_one(statement, read="redshift")  # unknown syntax becomes a Command
    for statement in redshift + postgres:  # the schemas exist: nobody needs to create one
        privileges = statement.partition(" on database ")[0]
        assert not (privileges.startswith("grant") and "create" in privileges), statement
    joined = " ".join(redshift).lower()
    assert "superuser" not in joined
    assert "createuser" not in joined
    assert joined.count("password disable") == 2  # IAM only: no password to leak
