"""terraform/ checked by Terraform itself and by checkov; here only what no tool knows.

Terraform formats (`fmt -check`), installs the pinned provider from the committed lock file
(`init -lockfile=readonly`, offline from a provider mirror when the machine has one), validates
envs/dev (every module as wired) and runs the native tests in `terraform/envs/dev/tests/`,
which plan and apply each module as a root of its own against a mocked AWS provider. Each
mutation below breaks one security property in a copy of the tree and shows that `terraform
test` fails naming it. checkov runs isolated (`uv tool run`) and its skips must match the
allow-list in terraform/README.md. Left for this file: that the variables Terraform hands the
job and the DAG are ones they actually read.

Without `terraform` on PATH the Terraform tests skip with the reason; with CI=true they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spacex_etl.config import env_names
from tests.tooling import dag_env_names, uv_tool_run

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
ROOT = Path("envs/dev")
MODULES = sorted(p.relative_to(TERRAFORM) for p in (TERRAFORM / "modules").iterdir())
CHECKOV = "checkov==3.3.30"
README = TERRAFORM / "README.md"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
MIRROR_ENV = "TF_PLUGIN_MIRROR"
AWS_PROVIDER = Path("registry.terraform.io/hashicorp/aws")
UNMUTATED = "unmutated"
Proc = subprocess.CompletedProcess[str]


def terraform() -> str:
    """The terraform binary; skip (with the reason) without one, except under CI."""
    found = shutil.which("terraform")
    if found:
        return found
    reason = "terraform is not on PATH: install Terraform >= 1.7 to run the Terraform checks"
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: they must run)")
    print(f"SKIP: {reason}")
    pytest.skip(reason)


def provider_mirror() -> Path | None:
    """A local copy of the AWS provider for an offline `init` (None: init downloads it).

    `$TF_PLUGIN_MIRROR` names it; otherwise a mirror folder under /opt or in Terraform's own
    plugin folders is used (a machine image may carry one, see ../shared/ENVIRONMENT.md).
    """
    if explicit := os.environ.get(MIRROR_ENV):
        return Path(explicit)
    candidates = [
        *sorted(Path("/opt").glob("*")),
        Path.home() / ".terraform.d" / "plugins",
        Path("/usr/local/share/terraform/plugins"),
        Path("/usr/share/terraform/plugins"),
    ]
    return next((c for c in candidates if (c / AWS_PROVIDER).is_dir()), None)


def tf(workdir: Path, *args: str) -> Proc:
    """Run `terraform <args>` in workdir, non-interactive, without colour or update checks."""
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    env.pop("TF_DATA_DIR", None)
    if not Path(env.get("TF_CLI_CONFIG_FILE") or "/").is_file():
        env.pop("TF_CLI_CONFIG_FILE", None)  # a dangling setting only adds a warning
    command = [terraform(), f"-chdir={workdir}", *args, "-no-color"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def init(workdir: Path, *extra: str) -> None:
    """`terraform init` without a backend, from the provider mirror when there is one."""
    mirror = provider_mirror()
    plugin_dir = [f"-plugin-dir={mirror}"] if mirror else []
    proc = tf(workdir, "init", "-backend=false", "-input=false", *plugin_dir, *extra)
    hint = "(a platform missing from the lock file: see terraform/README.md, Lock file)"
    assert proc.returncode == 0, f"terraform init in {workdir} {hint}:\n{proc.stdout}{proc.stderr}"


def copy_tree(source: Path, target: Path, *skip: str) -> Path:
    """A private copy, so no test writes .terraform/ or state into the checkout."""
    ignore = shutil.ignore_patterns("*.tfstate*", "terraform.tfvars", *skip)
    shutil.copytree(source, target, symlinks=True, ignore=ignore)
    return target


@pytest.fixture(scope="module")
def checkov_run() -> Iterator[subprocess.Popen[str]]:
    """checkov, started first so it runs while Terraform works (it needs no terraform)."""
    command = [*uv_tool_run("--from", CHECKOV), "checkov", "-d", str(TERRAFORM)]
    command += ["--framework", "terraform", "--skip-download", "-o", "json"]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory, checkov_run: object) -> Path:
    """A copy of terraform/ with envs/dev initialised from the committed lock file."""
    copy = copy_tree(TERRAFORM, tmp_path_factory.mktemp("tf") / "terraform")
    assert (copy / ROOT / ".terraform.lock.hcl").is_file(), "commit envs/dev/.terraform.lock.hcl"
    # readonly: init fails if the committed lock file does not cover the pinned provider.
    init(copy / ROOT, "-lockfile=readonly")
    return copy


def test_terraform_fmt_has_nothing_to_change() -> None:
    proc = tf(TERRAFORM, "fmt", "-check", "-recursive", "-diff")
    assert proc.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{proc.stdout}"


def test_root_validates_and_every_module_is_tested_as_a_root(tree: Path) -> None:
    """`validate` on envs/dev checks every module as wired; `terraform test` then plans and
    applies each module as a root of its own (a superset of validating it alone)."""
    proc = tf(tree / ROOT, "validate", "-no-tests")  # `terraform test` validates those
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tests = "\n".join(p.read_text() for p in (tree / ROOT / "tests").glob("*.tftest.hcl"))
    run_as_root = set(re.findall(r'source = "\.\./\.\./(modules/\w+)"', tests))
    assert len(MODULES) >= 7
    assert sorted(str(m) for m in MODULES if str(m) not in run_as_root) == []


def run_blocks(tests_dir: Path) -> int:
    return sum(
        len(re.findall(r'^run "', p.read_text(), re.M)) for p in tests_dir.glob("*.tftest.hcl")
    )


def test_terraform_test_passes(tree: Path, terraform_test_runs: dict[str, Proc]) -> None:
    proc = terraform_test_runs[UNMUTATED]
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-4000:]
    runs = run_blocks(tree / ROOT / "tests")
    assert runs >= 11
    assert f"Success! {runs} passed, 0 failed." in proc.stdout, proc.stdout[-3000:]


# One attribute broken in a copy of the tree; `terraform test` on the file that guards it must
# fail and name the check (the tag its error_message starts with).
MUTATIONS: dict[str, tuple[str, str, str, str, str]] = {
    "redshift-public": (
        "modules/warehouse/main.tf",
        "publicly_accessible          = false",
        "publicly_accessible          = true",
        "warehouse",
        "redshift-private",
    ),
    "copy-role-reads-raw": (
        "modules/warehouse/variables.tf",
        'default     = ["staged/spacex/"]',
        'default     = ["raw/spacex/", "staged/spacex/"]',
        "warehouse",
        "copy-role-staged-only",
    ),
    "copy-role-trusts-any-cluster": (
        "modules/warehouse/iam.tf",
        'variable = "aws:SourceArn"',
        'variable = "aws:SourceVpc"',
        "warehouse",
        "copy-role-trust",
    ),
    "copy-role-trust-not-equals": (
        "modules/warehouse/iam.tf",
        '"ArnEqualsIfExists"',
        '"ArnNotEqualsIfExists"',
        "warehouse",
        "copy-role-trust",
    ),
    "copy-role-other-trust-document": (
        "modules/warehouse/iam.tf",
        "assume_role_policy = data.aws_iam_policy_document.copy_assume.json",
        "assume_role_policy = data.aws_iam_policy_document.copy_read_lake.json",
        "warehouse",
        "copy-role-trust",
    ),
    "bucket-allows-plain-http": (
        "modules/secure_bucket/main.tf",
        'variable = "aws:SecureTransport"\n      values   = ["false"]',
        'variable = "aws:SecureTransport"\n      values   = ["true"]',
        "buckets",
        "bucket-tls-only",
    ),
    "ingress-from-anywhere": (
        "modules/network/security_groups.tf",
        '  ip_protocol                  = "-1"\n'
        "  referenced_security_group_id = aws_security_group.orchestrator.id\n}\n\n"
        'resource "aws_vpc_security_group_egress_rule" "orchestrator_self"',
        '  ip_protocol                  = "-1"\n  cidr_ipv4 = "0.0.0.0/0"\n}\n\n'
        'resource "aws_vpc_security_group_egress_rule" "orchestrator_self"',
        "network",
        "network-no-cidr-ingress",
    ),
    "mwaa-public": (
        "modules/orchestration/mwaa.tf",
        '"PRIVATE_ONLY"',
        '"PUBLIC_ONLY"',
        "mwaa",
        "mwaa-private",
    ),
    "task-role-reads-secrets": (
        "modules/etl_job/iam.tf",
        '    actions   = ["redshift:GetClusterCredentials"]\n',
        '    actions   = ["redshift:GetClusterCredentials", "secretsmanager:GetSecretValue"]\n',
        "etl_job",
        "task-role-actions",
    ),
}


@pytest.fixture(scope="module")
def terraform_test_runs(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Proc]:
    """`terraform test` on the tree and on each mutant, side by side: CPU-bound, and minutes
    one after the other. A mutant's run is filtered to the file that guards the property."""
    jobs: dict[str, tuple[Path, list[str]]] = {UNMUTATED: (tree / ROOT, [])}
    for name, (file, old, new, tests_file, _) in MUTATIONS.items():
        # The installed provider (hundreds of MB unless a link to a mirror) is shared.
        mutant = copy_tree(tree, tmp_path_factory.mktemp(name) / "terraform", "providers")
        (mutant / ROOT / ".terraform" / "providers").symlink_to(
            tree / ROOT / ".terraform" / "providers"
        )
        text = (mutant / file).read_text()
        assert text.count(old) == 1, f"{name}: anchor not found exactly once in {file}: {old!r}"
        (mutant / file).write_text(text.replace(old, new))
        jobs[name] = (mutant / ROOT, [f"-filter=tests/{tests_file}.tftest.hcl"])
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {name: pool.submit(tf, d, "test", *args) for name, (d, args) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_terraform_test_catches_the_mutation(
    terraform_test_runs: dict[str, Proc], mutation: str
) -> None:
    file, _, _, _, check = MUTATIONS[mutation]
    proc = terraform_test_runs[mutation]
    assert proc.returncode != 0, f"terraform test passed with {file} mutated:\n{proc.stdout}"
    assert f"{check}:" in proc.stdout + proc.stderr, proc.stdout[-4000:] + proc.stderr[-2000:]


SKIP_ROW = re.compile(r"^\| (CKV2?_AWS_\d+) \| `([^`]+)` \| (.+?) \|$", re.M)


def test_checkov_passes_and_every_skip_is_listed_in_the_readme(
    checkov_run: subprocess.Popen[str],
) -> None:
    stdout, stderr = checkov_run.communicate(timeout=900)
    assert checkov_run.returncode == 0, stdout[-6000:] + stderr[-3000:]
    report = json.loads(stdout)
    assert report["summary"]["failed"] == 0
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 100, report["summary"]
    skipped = {(c["check_id"], c["resource"]) for c in report["results"]["skipped_checks"]}
    listed = {(check, resource) for check, resource, _ in SKIP_ROW.findall(README.read_text())}
    assert len(skipped) == report["summary"]["skipped"]
    assert sorted(skipped - listed) == [], "checkov skips missing from terraform/README.md"
    assert sorted(listed - skipped) == [], "terraform/README.md lists skips checkov no longer makes"


def terraform_env_names(module: str) -> set[str]:
    """The SPACEX_* variables a module's .tf files set (as map keys)."""
    names: set[str] = set()
    for path in (TERRAFORM / module).rglob("*.tf"):
        names |= set(re.findall(r"^\s*(SPACEX_[A-Z0-9_]+)\s*=", path.read_text(), re.M))
    return names


def test_the_task_gets_only_variables_the_job_or_dbt_reads() -> None:
    names = terraform_env_names("modules/etl_job")
    profile = (REPO / "dbt_spacex" / "profiles.yml").read_text()
    read_by_dbt = set(re.findall(r"env_var\('(SPACEX_[A-Z0-9_]+)'", profile))
    assert sorted(names - env_names() - read_by_dbt) == [], "the task sets names nothing reads"
    # IAM auth as the two users: the job's own settings, not only dbt's.
    iam_auth = {"SPACEX_REDSHIFT_AUTH_METHOD", "SPACEX_REDSHIFT_CLUSTER_ID"}
    iam_auth |= {"SPACEX_REDSHIFT_USER", "SPACEX_REDSHIFT_DBT_USER"}
    assert iam_auth <= names & env_names()
    assert "SPACEX_REDSHIFT_SECRET_ARN" not in names


def test_mwaa_gets_only_variables_the_dag_reads() -> None:
    names = terraform_env_names("envs/dev")
    assert {"SPACEX_AIRFLOW_EXECUTION_MODE", "SPACEX_ECS_CLUSTER"} <= names
    assert sorted(names - dag_env_names()) == [], "the MWAA startup sets names the DAG ignores"


def test_git_ignores_terraform_state_plans_and_variables_but_not_the_lock_file() -> None:
    def ignored(path: str) -> bool:
        command = ["git", "-C", str(REPO), "check-ignore", "-q", "--no-index", path]
        return subprocess.run(command, check=False).returncode == 0

    dev = "terraform/envs/dev/"
    local_only = [".terraform/providers/x", "terraform.tfstate", "terraform.tfstate.backup"]
    local_only += ["tfplan", "prod.tfplan", "terraform.tfvars", "crash.log"]
    assert [p for p in local_only if not ignored(dev + p)] == []
    assert not ignored(dev + ".terraform.lock.hcl")
    assert not ignored(dev + "terraform.tfvars.example")
