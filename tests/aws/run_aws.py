"""`make aws-test`: `terraform apply` of envs/dev for real, on a local AWS emulator, then the job
against the applied stack, every AWS call it makes judged by the policies the apply created.

1. Starts moto's server on 127.0.0.1 (tests/aws/moto_server.py: moto plus the patches it needs,
   each naming the moto limitation) on a free port (or $AWS_TEST_PORT).
2. Copies terraform/ to a temporary folder and adds a provider override there (every endpoint
   at the emulator, dummy keys, few retries); envs/dev itself is never touched. `terraform
   init` uses the machine's provider mirror when there is one (as tests/infra does), else the
   registry. `terraform apply` with the defaults plus test-only variables (an image tag, no
   final snapshot). MWAA stays off, its default: moto has no MWAA backend.
3. A second `terraform plan`: every attribute it would change is printed, and is either a known
   emulator gap (KNOWN_DRIFT, one place) or fails the run.
4. Runs `spacex-etl run` with the environment of the applied ECS task definition: its lake is
   the applied bucket in the emulator (its bucket policy lifted for the run, because moto
   applies the Deny statements while ignoring their conditions, and put back afterwards); the
   warehouse is the local PostgreSQL (schemas unique to the run), standing in for Redshift.
   Every AWS call is recorded (botocore event hooks, tests/aws/calls.py), and so are the calls
   the job would make on AWS that the stand-ins hide: S3 asking KMS for data keys, Redshift IAM
   authentication for both users, the COPY manifest, and COPY reading the staged objects as
   the COPY role. Each is evaluated (tests/aws/policy_eval.py) against the policies in
   `terraform show -json` of the applied state: role policies, bucket policy, key policy.
5. Mutations: with one prefix the job writes removed from the task role, then one KMS action
   it needs, a targeted apply and the same evaluation must fail naming the call.
6. `terraform destroy` (versioned buckets emptied first) runs on success and on failure alike;
   the server stops. One summary line; a failure is one line naming the cause and the log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from tests.aws.calls import Check, read_calls, requests_for
from tests.aws.policy_eval import Policy, Request, UnsupportedPolicy, evaluate

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / ".spacex" / "aws-test" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
HOST = "127.0.0.1"
REGION = "eu-west-1"
TEST_VARS = {"etl_image_tag": "aws-test", "redshift_skip_final_snapshot": "true"}
SERVICES = ["cloudwatchlogs", "ec2", "ecr", "ecs", "iam", "kms", "redshift", "s3", "sts"]
MIRROR_ENV = "TF_PLUGIN_MIRROR"
AWS_PROVIDER = Path("registry.terraform.io/hashicorp/aws")
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres", "dbname": "test"}

# What a second plan after apply wants to change because moto answers differently from AWS,
# by (resource type, attribute). Anything else that drifts fails the run.
KNOWN_DRIFT = {
    ("aws_vpc_security_group_ingress_rule", "description"): "moto keeps no rule Description",
    ("aws_vpc_security_group_egress_rule", "description"): "moto keeps no rule Description",
    ("aws_redshift_cluster", "default_iam_role_arn"): "moto's DescribeClusters omits it",
    ("aws_redshift_cluster", "maintenance_track_name"): "moto's DescribeClusters omits it",
    ("aws_redshift_cluster", "manual_snapshot_retention_period"): "moto answers 0, not -1",
    ("aws_redshift_cluster", "master_password_secret_kms_key_id"): "moto omits it",
}

# One prefix the job writes, one KMS action it needs: removing either must fail the evaluation.
MUTATIONS = {
    "no reports/ prefix": (
        "modules/etl_job/variables.tf",
        '"quarantine/spacex/", "reports/spacex/"]',
        '"quarantine/spacex/"]',
        "module.etl_job.aws_iam_role_policy.task",
    ),
    "no kms:GenerateDataKey": (
        "modules/etl_job/iam.tf",
        'actions   = ["kms:GenerateDataKey", "kms:Decrypt"]',
        'actions   = ["kms:Decrypt"]',
        "module.etl_job.aws_iam_role_policy.task",
    ),
}


class AwsTestError(Exception):
    """One line for the user: the cause, and the log to read."""

    def __init__(self, cause: str, log: Path | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.log = log

    def __str__(self) -> str:
        return f"{self.cause} (log: {self.log})" if self.log else self.cause


@dataclass
class Result:
    applied: int = 0
    planned: int = 0
    drift: list[tuple[str, str, str]] = field(default_factory=list)  # address, attribute, why
    calls: int = 0
    checks: list[tuple[Check, bool, str]] = field(default_factory=list)
    mutations: list[str] = field(default_factory=list)
    destroy: str = "not needed (nothing applied)"


def log(message: str) -> None:
    print(f"aws-test: {message}", flush=True)


# --- terraform ---------------------------------------------------------------------------------
def provider_mirror() -> Path | None:
    """The machine's AWS provider mirror (see tests/infra/test_terraform.py), or None."""
    from tests.infra.test_terraform import provider_mirror as find

    return find()


def terraform(workdir: Path, logfile: Path, *args: str, timeout: int = 900) -> str:
    """`terraform <args>` in workdir, output appended to logfile; its stdout on success."""
    binary = shutil.which("terraform")
    if not binary:
        raise AwsTestError("terraform is not on PATH: install Terraform >= 1.7")
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    env.pop("TF_DATA_DIR", None)
    if not Path(env.get("TF_CLI_CONFIG_FILE") or "/").is_file():
        env.pop("TF_CLI_CONFIG_FILE", None)
    command = [binary, f"-chdir={workdir}", *args, "-no-color"]
    with logfile.open("a") as out:
        out.write(f"\n$ terraform {' '.join(args)}\n")
        out.flush()
        proc = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=out, text=True, env=env, timeout=timeout
        )
        if args[0] not in {"show", "state"}:  # the state as JSON: large
            out.write(proc.stdout)
    if proc.returncode != 0:
        errors = re.findall(r"^Error: (.*)$", logfile.read_text(), re.M)
        why = errors[-1] if errors else f"exit {proc.returncode}"
        raise AwsTestError(f"terraform {args[0]} failed: {why}", logfile)
    return proc.stdout


def var_args() -> list[str]:
    return [arg for name, value in TEST_VARS.items() for arg in ("-var", f"{name}={value}")]


def write_override(envdir: Path, endpoint: str) -> None:
    """Point the provider at the emulator: an override file in the copy, never in envs/dev."""
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in SERVICES)
    (envdir / "aws_test_override.tf").write_text(
        f"""provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  # moto answers an unimplemented call with HTTP 500, which the provider retries for minutes
  max_retries = 2
  endpoints {{
{endpoints}
  }}
}}
"""
    )


def init(envdir: Path, logs: Path) -> None:
    mirror = provider_mirror()
    if mirror is not None and not (mirror / AWS_PROVIDER).is_dir():
        raise AwsTestError(f"the provider mirror {mirror} (${MIRROR_ENV}) holds no {AWS_PROVIDER}")
    if mirror is None:
        try:
            requests.head("https://registry.terraform.io/.well-known/terraform.json", timeout=10)
        except requests.RequestException as exc:
            raise AwsTestError(
                f"no AWS provider mirror on this machine (set ${MIRROR_ENV}) and the Terraform "
                f"registry is unreachable: {type(exc).__name__}"
            ) from exc
    plugin_dir = [f"-plugin-dir={mirror}"] if mirror else []
    terraform(
        envdir, logs / "terraform-init.log", "init", "-backend=false", "-input=false", *plugin_dir
    )


def resources(state: dict[str, Any]) -> list[dict[str, Any]]:
    def walk(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    root = state.get("values", {}).get("root_module", {})
    return [r for r in walk(root) if r.get("mode") == "managed"]


def pulled_resources(envdir: Path, logs: Path) -> list[dict[str, Any]]:
    """The managed resources in the state, read with `terraform state pull` (no provider
    start, so cheap), in the shape `resources` gives for `terraform show -json`."""
    raw = json.loads(terraform(envdir, logs / "terraform-state.log", "state", "pull") or "{}")
    found = []
    for r in raw.get("resources", []):
        if r.get("mode") != "managed":
            continue
        base = ".".join(p for p in (r.get("module"), r["type"], r["name"]) if p)
        for instance in r.get("instances", []):
            key = instance.get("index_key")
            address = base if key is None else f"{base}[{json.dumps(key)}]"
            found.append({"address": address, "type": r["type"], "values": instance["attributes"]})
    return found


def show_state(envdir: Path, logs: Path) -> dict[str, Any]:
    out = terraform(envdir, logs / "terraform-show.log", "show", "-json")
    return json.loads(out) if out.strip() else {}


def plan_drift(envdir: Path, logs: Path) -> list[tuple[str, str, str]]:
    """(address, attribute, known gap or "") for every attribute a second plan would change."""
    logfile = logs / "terraform-plan.log"
    terraform(envdir, logfile, "plan", "-input=false", "-out=drift.tfplan", *var_args())
    plan = json.loads(terraform(envdir, logfile, "show", "-json", "drift.tfplan"))
    drift = []
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        if actions != ["update"]:
            drift.append((change["address"], "/".join(actions), ""))
            continue
        before, after = change["change"]["before"] or {}, change["change"]["after"] or {}
        unknown = change["change"].get("after_unknown") or {}
        for attribute in sorted(set(before) | set(after)):
            if before.get(attribute) != after.get(attribute) and not unknown.get(attribute):
                why = KNOWN_DRIFT.get((change["type"], attribute), "")
                drift.append((change["address"], attribute, why))
    return drift


# --- the emulator ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server(logs: Path) -> Iterator[str]:
    """moto's server (patched, tests/aws/moto_server.py) on 127.0.0.1; stopped on exit."""
    port = int(os.environ.get("AWS_TEST_PORT") or free_port())
    logfile = logs / "moto.log"
    with socket.socket() as sock:
        if sock.connect_ex((HOST, port)) == 0:
            raise AwsTestError(f"port {port} on {HOST} is taken: free it or set AWS_TEST_PORT")
    with logfile.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.aws.moto_server", "-H", HOST, "-p", str(port)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AwsTestError(f"moto server exited at start (code {proc.returncode})", logfile)
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{endpoint}/moto-api/", timeout=2).ok:
                    break
            if time.monotonic() > deadline:
                raise AwsTestError(f"moto server did not answer on {endpoint} within 60 s", logfile)
            time.sleep(0.5)
        yield endpoint
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def empty_buckets(endpoint: str) -> None:
    """Delete every object version and delete marker (versioned buckets refuse to go else).
    The bucket policies go first: moto would apply their Deny statements (raw/ deletes, TLS)
    regardless of conditions, and destroy removes them anyway."""
    s3 = s3_client(endpoint)
    buckets = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    for bucket in buckets:  # moto logs every request: stop that, or the log bucket refills
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    for bucket in buckets:
        s3.delete_bucket_policy(Bucket=bucket)
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket):
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])


def destroy(envdir: Path, endpoint: str, logs: Path) -> str:
    """`terraform destroy` until nothing is left (emptying the buckets first; a second round if
    anything remains); "clean" or why not."""
    logfile = logs / "terraform-destroy.log"
    for _ in range(3):
        try:
            empty_buckets(endpoint)
        except Exception as exc:
            with logfile.open("a") as out:
                out.write(f"emptying the buckets failed: {exc!r}\n")
        with contextlib.suppress(AwsTestError):
            # the state is current (nothing else touches the emulator): no refresh needed
            terraform(
                envdir,
                logfile,
                "destroy",
                "-auto-approve",
                "-input=false",
                "-refresh=false",
                *var_args(),
            )
        left = pulled_resources(envdir, logs)
        if not left:
            buckets = s3_client(endpoint).list_buckets().get("Buckets", [])
            return "clean" if not buckets else f"{len(buckets)} bucket(s) left in the emulator"
    return f"{len(left)} resource(s) left, e.g. {left[0]['address']} (log: {logfile})"


# --- the job and its calls ---------------------------------------------------------------------
@dataclass
class Applied:
    """What the evaluation needs from `terraform show -json` of the applied state."""

    account: str
    task_env: dict[str, str]
    task_role: str
    role_policies: dict[str, list[Policy]]  # role ARN -> its policies
    bucket_policies: dict[str, Policy]
    bucket_keys: dict[str, str]  # bucket -> default SSE-KMS key ARN
    key_policies: dict[str, Policy]  # key ARN -> key policy

    @classmethod
    def from_resources(cls, found: list[dict[str, Any]]) -> Applied:
        def of(kind: str) -> list[dict[str, Any]]:
            return [r["values"] for r in found if r["type"] == kind]

        (task,) = of("aws_ecs_task_definition")
        container = json.loads(task["container_definitions"])[0]
        roles = {r["name"]: r["arn"] for r in of("aws_iam_role")}
        if of("aws_iam_role_policy_attachment") or of("aws_iam_policy"):
            raise UnsupportedPolicy("managed policies: the evaluation reads inline role policies")
        role_policies: dict[str, list[Policy]] = {arn: [] for arn in roles.values()}
        for p in of("aws_iam_role_policy"):
            role_policies[roles[p["role"]]].append(
                Policy(f"role policy {p['name']}", json.loads(p["policy"]))
            )
        keys = {k["arn"]: k for k in of("aws_kms_key")}
        key_arn = {k["key_id"]: arn for arn, k in keys.items()} | {arn: arn for arn in keys}
        bucket_keys = {}
        for c in of("aws_s3_bucket_server_side_encryption_configuration"):
            default = c["rule"][0]["apply_server_side_encryption_by_default"][0]
            if default.get("kms_master_key_id"):
                bucket_keys[c["bucket"]] = key_arn.get(default["kms_master_key_id"], "")
        return cls(
            account=task["arn"].split(":")[4],
            task_env={e["name"]: e["value"] for e in container.get("environment", [])},
            task_role=task["task_role_arn"],
            role_policies=role_policies,
            bucket_policies={
                b["bucket"]: Policy(f"bucket policy {b['bucket']}", json.loads(b["policy"]))
                for b in of("aws_s3_bucket_policy")
            },
            bucket_keys=bucket_keys,
            key_policies={
                arn: Policy(f"key policy {k['key_id']}", json.loads(k["policy"]))
                for arn, k in keys.items()
            },
        )


def run_job(applied: Applied, endpoint: str, logs: Path, work: Path) -> Path:
    """`spacex-etl run` with the task definition's environment; returns the recorded calls."""
    import psycopg
    from psycopg import sql

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPACEX_", "AWS_", "DBT_"))}
    env |= applied.task_env
    suffix = uuid.uuid4().hex[:8]
    schemas = (f"aws_raw_{suffix}", f"aws_dbt_{suffix}")
    env |= {
        # the emulator, reached through the SDK's own endpoint setting (not the job's)
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # PostgreSQL stands in for Redshift
        "SPACEX_WAREHOUSE": "postgres",
        "SPACEX_PG_HOST": PG["host"],
        "SPACEX_PG_PORT": PG["port"],
        "SPACEX_PG_USER": PG["user"],
        "SPACEX_PG_DATABASE": PG["dbname"],
        "SPACEX_RAW_SCHEMA": schemas[0],
        "SPACEX_DBT_SCHEMA": schemas[1],
        "SPACEX_DATA_DIR": str(work / "data"),
        "DBT_LOG_PATH": str(work / "dbt-logs"),
        "DBT_TARGET_PATH": str(work / "dbt-target"),
    }
    bucket = applied.task_env["SPACEX_LAKE_URI"].removeprefix("s3://").split("/")[0]
    s3 = s3_client(endpoint)
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    calls = logs / "job-calls.jsonl"
    logfile = logs / "job.log"
    command = [sys.executable, "-m", "tests.aws.job", str(calls), "run", "--input", "snapshot"]
    s3.delete_bucket_policy(Bucket=bucket)  # moto would apply its Deny statements unconditionally
    try:
        with logfile.open("w") as out:
            proc = subprocess.run(
                [*command, "--date", "2026-12-01", "--json"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=600,
            )
        if proc.returncode != 0:
            lines = logfile.read_text().strip().splitlines() or ["no output"]
            raise AwsTestError(f"spacex-etl run failed: {lines[-1][:200]}", logfile)
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)
        with psycopg.connect(conninfo(), autocommit=True) as conn:
            for schema in schemas:
                conn.execute(
                    sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema))
                )
    return calls


def conninfo() -> str:
    return " ".join(f"{k}={v}" for k, v in PG.items())


def implied_checks(applied: Applied, staged: list[str], bucket: str) -> Iterator[Check]:
    """Calls the job makes on AWS that the stand-in warehouse hides."""
    from spacex_etl.warehouse.redshift import manifest_uri

    env, task = applied.task_env, applied.task_role
    cluster, database = env["SPACEX_REDSHIFT_CLUSTER_ID"], env["SPACEX_REDSHIFT_DATABASE"]
    if env.get("SPACEX_REDSHIFT_AUTH_METHOD") == "iam":
        for user in (env["SPACEX_REDSHIFT_USER"], env["SPACEX_REDSHIFT_DBT_USER"]):
            origin = f"redshift:GetClusterCredentials as {user} (IAM auth)"
            arn = f"arn:aws:redshift:{REGION}:{applied.account}"
            for resource in (
                f"{arn}:dbuser:{cluster}/{user}",
                f"{arn}:dbname:{cluster}/{database}",
            ):
                yield Check(Request(task, "redshift:GetClusterCredentials", resource), origin)
    key = applied.bucket_keys.get(bucket, "")
    via = {"kms:ViaService": f"s3.{REGION}.amazonaws.com", "aws:SecureTransport": "true"}
    copy_role = env["SPACEX_REDSHIFT_IAM_ROLE_ARN"]
    manifests = sorted({manifest_uri(f"s3://{bucket}/{k}").split("/", 3)[3] for k in staged})
    for manifest in manifests:
        resource = f"arn:aws:s3:::{bucket}/{manifest}"
        origin = "s3:PutObject of the COPY manifest (Redshift load)"
        yield Check(Request(task, "s3:PutObject", resource, via), origin)
        yield Check(Request(task, "kms:GenerateDataKey", key, via), origin + " (S3 calls KMS)")
    for obj in [*manifests, *staged]:
        origin = "Redshift COPY reads as the COPY role"
        yield Check(Request(copy_role, "s3:GetObject", f"arn:aws:s3:::{bucket}/{obj}", via), origin)
        yield Check(Request(copy_role, "kms:Decrypt", key, via), origin + " (S3 calls KMS)")


def evaluate_calls(
    applied: Applied, calls: list[dict[str, Any]], endpoint: str
) -> list[tuple[Check, bool, str]]:
    bucket = applied.task_env["SPACEX_LAKE_URI"].removeprefix("s3://").split("/")[0]
    checks: list[Check] = []
    for call in calls:
        try:
            checks += requests_for(
                call,
                principal=applied.task_role,
                emulator=endpoint,
                bucket_keys=applied.bucket_keys,
                region=REGION,
            )
        except ValueError as exc:
            raise AwsTestError(str(exc)) from exc
    staged = [
        c["params"]["Key"]
        for c in calls
        if c["operation"] == "PutObject" and c["params"].get("Key", "").startswith("staged/")
    ]
    checks += implied_checks(applied, staged, bucket)
    results = []
    for check in checks:
        request = check.request
        resource_policy = key_policy = None
        if request.action.startswith("s3:"):
            resource_policy = applied.bucket_policies.get(
                request.resource.split(":::")[1].split("/")[0]
            )
        if request.action.startswith("kms:"):
            key_policy = applied.key_policies.get(request.resource)
            if key_policy is None:
                results.append(
                    (check, False, f"no KMS key {request.resource} in the applied state")
                )
                continue
        identity = applied.role_policies.get(request.principal, [])
        decision = evaluate(request, identity, resource_policy, key_policy)
        results.append((check, decision.allowed, decision.reason))
    return results


def write_evaluation(results: list[tuple[Check, bool, str]], path: Path) -> None:
    lines = []
    for check, allowed, reason in results:
        r = check.request
        context = " ".join(f"{k}={v}" for k, v in sorted(r.context.items()))
        lines.append(
            f"{'ALLOW' if allowed else 'DENY '} {r.action} {r.resource} principal={r.principal} "
            f"[{check.origin}] {context} -> {reason}"
        )
    path.write_text("\n".join(lines) + "\n")


def first_denied(results: list[tuple[Check, bool, str]]) -> str:
    denied = [(c, why) for c, allowed, why in results if not allowed]
    if not denied:
        return ""
    check, why = denied[0]
    more = f" (+{len(denied) - 1} more)" if len(denied) > 1 else ""
    return f"{check.request.action} on {check.request.resource} [{check.origin}]: {why}{more}"


def mutate(envdir: Path, calls: list[dict[str, Any]], endpoint: str, logs: Path) -> list[str]:
    """Each mutation applied to the stack (a targeted apply of the policy it changes) and
    evaluated: the evaluation must fail naming a call. The files are restored after each (the
    next targeted apply rebuilds the whole policy from them)."""
    caught = []
    tree = envdir.parents[1]
    for name, (file, old, new, target) in MUTATIONS.items():
        path = tree / file
        original = path.read_text()
        if old not in original:
            raise AwsTestError(f"mutation {name!r}: {old!r} is no longer in {file}")
        path.write_text(original.replace(old, new))
        logfile = logs / "terraform-mutations.log"
        try:
            terraform(
                envdir,
                logfile,
                "apply",
                "-auto-approve",
                "-input=false",
                "-refresh=false",  # only the mutated policy changes
                f"-target={target}",
                *var_args(),
            )
            applied = Applied.from_resources(pulled_resources(envdir, logs))
            results = evaluate_calls(applied, calls, endpoint)
        finally:
            path.write_text(original)
        denied = first_denied(results)
        if not denied:
            raise AwsTestError(
                f"mutation {name!r} went unnoticed: every call was still allowed", logfile
            )
        log(f"mutation {name}: caught — denied {denied}")
        caught.append(name)
    return caught


# --- the run -----------------------------------------------------------------------------------
def run(logs: Path, result: Result) -> None:
    with tempfile.TemporaryDirectory(prefix="aws-test-") as tmp, moto_server(logs) as endpoint:
        work = Path(tmp)
        tree = work / "terraform"
        shutil.copytree(
            REPO / "terraform",
            tree,
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "terraform.tfvars"),
        )
        envdir = tree / "envs" / "dev"
        write_override(envdir, endpoint)
        log(f"moto on {endpoint}; terraform init (logs in {logs})")
        init(envdir, logs)
        try:
            started = time.monotonic()
            apply_log = logs / "terraform-apply.log"
            try:
                out = terraform(
                    envdir, apply_log, "apply", "-auto-approve", "-input=false", *var_args()
                )
            finally:
                result.applied = len(pulled_resources(envdir, logs))
            added = re.search(r"Resources: (\d+) added", out)
            result.planned = int(added.group(1)) if added else result.applied
            log(f"apply {result.applied}/{result.planned} in {time.monotonic() - started:.0f}s")
            started = time.monotonic()
            result.drift = plan_drift(envdir, logs)
            log(f"second plan in {time.monotonic() - started:.0f}s")
            for address, attribute, why in result.drift:
                log(f"plan drift: {address}.{attribute} — {why or 'NOT a known emulator gap'}")
            unknown = [f"{a}.{b}" for a, b, why in result.drift if not why]
            if unknown:
                raise AwsTestError(
                    f"the plan after apply would change {', '.join(unknown)} (not a known emulator "
                    "gap: fix it or add it to KNOWN_DRIFT in tests/aws/run_aws.py)",
                    logs / "terraform-plan.log",
                )
            applied = Applied.from_resources(resources(show_state(envdir, logs)))
            started = time.monotonic()
            calls = read_calls(run_job(applied, endpoint, logs, work))
            result.calls = len(calls)
            result.checks = evaluate_calls(applied, calls, endpoint)
            write_evaluation(result.checks, logs / "evaluation.txt")
            log(
                f"job: {len(calls)} AWS calls in {time.monotonic() - started:.0f}s "
                f"(evaluated in {logs / 'evaluation.txt'})"
            )
            if denied := first_denied(result.checks):
                raise AwsTestError(f"a job call is not allowed: {denied}", logs / "evaluation.txt")
            started = time.monotonic()
            result.mutations = mutate(envdir, calls, endpoint, logs)
            log(f"mutations in {time.monotonic() - started:.0f}s")
        finally:
            started = time.monotonic()
            result.destroy = destroy(envdir, endpoint, logs)
            log(f"destroy {result.destroy} in {time.monotonic() - started:.0f}s")


def summary(result: Result, seconds: float) -> str:
    counts: dict[str, int] = {}
    for _, attribute, why in result.drift:
        if why:
            counts[attribute] = counts.get(attribute, 0) + 1
    known = [f"{a} ({n})" if n > 1 else a for a, n in sorted(counts.items())]
    implied = len(result.checks)
    allowed = sum(1 for _, ok, _ in result.checks if ok)
    minutes, secs = divmod(int(seconds), 60)
    return (
        f"aws: apply {result.applied}/{result.planned} · plan drift {len(result.drift)}"
        f" (known: {', '.join(known) or 'none'}) · job calls {result.calls}"
        f" ({implied} IAM checks with the calls they imply), allowed {allowed}/{implied}"
        f" · mutations caught {len(result.mutations)}/{len(MUTATIONS)}"
        f" · destroy {result.destroy} · {minutes}m{secs:02d}s"
    )


def _emulator_answered_a_retried_create(exc: AwsTestError, result: Result) -> bool:
    return (
        exc.cause.startswith("terraform apply failed")
        and ("already exists" in exc.cause or ".Duplicate" in exc.cause)
        and result.destroy == "clean"
    )


def main() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = Result()
    try:
        try:
            run(LOGS, result)
        except AwsTestError as exc:
            if not _emulator_answered_a_retried_create(exc, result):
                raise
            # The provider retried a create that moto had already carried out (the second answer
            # is "already exists"): an emulator race, not our Terraform. Once, on a fresh emulator.
            log(f"apply hit an emulator race ({exc.cause[:160]}); once more on a fresh emulator")
            result = Result()
            (LOGS / "second-attempt").mkdir(exist_ok=True)
            run(LOGS / "second-attempt", result)
    except AwsTestError as exc:
        print(f"aws-test: FAILED: {exc} · destroy {result.destroy}", file=sys.stderr)
        return 1
    except Exception as exc:
        trace = LOGS / "traceback.log"
        trace.write_text(traceback.format_exc())
        print(
            f"aws-test: FAILED: {type(exc).__name__}: {exc} (log: {trace})"
            f" · destroy {result.destroy}",
            file=sys.stderr,
        )
        return 1
    line = summary(result, time.monotonic() - started)
    (LOGS / "summary.txt").write_text(line + "\n")
    print(line)
    if result.destroy != "clean":
        print(f"aws-test: FAILED: destroy left something: {result.destroy}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
