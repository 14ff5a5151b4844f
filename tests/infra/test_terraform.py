"""Static checks of terraform/: the security properties terraform/README.md promises.

There is no terraform binary here, so every `.tf` file is parsed with python-hcl2
and each property is checked on the parsed blocks. Every check returns a list of
violations and reports "none found" as a violation too, so it cannot pass on an
empty or unparsed tree; the regression tests mutate a copy of the tree and show
that each check notices. checkov runs isolated through `uvx`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.tooling import uv_tool_run

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
ROOT_MODULE = Path("envs/dev")
CHECKOV = "checkov==3.3.30"

HCL_FILE_PATTERNS = ("*.tf", "*.tf.example", "*.tfvars.example")
ROOT_VERSION_CONSTRAINT = ">= 1.6, < 2.0"
JOB_ENV_VARS = {
    "SPACEX_LAKE_URI",
    "SPACEX_WAREHOUSE",
    "SPACEX_REDSHIFT_HOST",
    "SPACEX_REDSHIFT_DATABASE",
    "SPACEX_REDSHIFT_IAM_ROLE_ARN",
    "SPACEX_REDSHIFT_SECRET_ARN",
}
REDSHIFT_AUDIT_LOGS = {"connectionlog", "useractivitylog", "userlog"}
WILDCARD_REASON = "Wildcard:"


# --------------------------------------------------------------------------- parsing


def _clean(value: Any) -> Any:
    """python-hcl2 keeps string quotes and block markers; strip them, keep comments."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        return value
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if k != "__is_block__"}
    return value


@dataclass(frozen=True)
class Block:
    """One `resource` or `data` block."""

    kind: str
    type: str
    name: str
    body: dict[str, Any]
    file: Path

    @property
    def module(self) -> Path:
        return self.file.parent

    @property
    def address(self) -> str:
        prefix = "data." if self.kind == "data" else ""
        return f"{self.file}: {prefix}{self.type}.{self.name}"

    def ref(self, attr: str) -> str:
        """The interpolation another block in the same module uses to point here."""
        prefix = "data." if self.kind == "data" else ""
        return f"${{{prefix}{self.type}.{self.name}.{attr}}}"


@dataclass
class Config:
    """Every HCL construct of a terraform/ tree, flattened."""

    root: Path
    blocks: list[Block] = field(default_factory=list)
    variables: list[tuple[Path, str, dict[str, Any]]] = field(default_factory=list)
    outputs: list[tuple[Path, str, dict[str, Any]]] = field(default_factory=list)
    terraform: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)
    locals: dict[Path, dict[str, Any]] = field(default_factory=dict)
    module_calls: list[tuple[Path, str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def load(cls, root: Path) -> Config:
        cfg = cls(root=root)
        for path in sorted(root.rglob("*.tf")):
            rel = path.relative_to(root)
            with path.open() as handle:
                doc = _clean(hcl2.load(handle))
            for kind in ("resource", "data"):
                for entry in doc.get(kind, []):
                    for rtype, named in entry.items():
                        for name, body in named.items():
                            cfg.blocks.append(Block(kind, rtype, name, body, rel))
            for entry in doc.get("variable", []):
                cfg.variables.extend((rel, n, b) for n, b in entry.items())
            for entry in doc.get("output", []):
                cfg.outputs.extend((rel, n, b) for n, b in entry.items())
            for entry in doc.get("module", []):
                cfg.module_calls.extend((rel, n, b) for n, b in entry.items())
            cfg.terraform.extend((rel, b) for b in doc.get("terraform", []))
            for entry in doc.get("locals", []):
                cfg.locals.setdefault(rel.parent, {}).update(entry)
        return cfg

    def calls_of(self, module: str) -> list[tuple[Path, str, dict[str, Any]]]:
        """Every `module` block whose source is modules/<module>."""
        return [c for c in self.module_calls if c[2].get("source", "").endswith(f"/{module}")]

    def of_type(self, rtype: str, kind: str = "resource") -> list[Block]:
        return [b for b in self.blocks if b.type == rtype and b.kind == kind]

    def pointing_at(self, target: Block, rtype: str, attr: str, target_attr: str) -> list[Block]:
        """Blocks of `rtype` in target's module whose `attr` is `target.<target_attr>`."""
        ref = target.ref(target_attr)
        return [
            b for b in self.of_type(rtype) if b.module == target.module and b.body.get(attr) == ref
        ]

    def resolve(self, module: Path, expr: Any) -> Any:
        """Resolve a bare `${local.x}` reference; anything else is returned as is."""
        if isinstance(expr, str) and (m := re.fullmatch(r"\$\{local\.(\w+)\}", expr)):
            return self.locals.get(module, {}).get(m.group(1), expr)
        return expr

    def policy_document(self, holder: Block, attr: str) -> Block | None:
        """The aws_iam_policy_document whose `.json` fills `holder.<attr>`."""
        m = re.fullmatch(
            r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", holder.body.get(attr, "")
        )
        if not m:
            return None
        docs = [
            b
            for b in self.of_type("aws_iam_policy_document", kind="data")
            if b.module == holder.module and b.name == m.group(1)
        ]
        return docs[0] if docs else None


def _one(body: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested block that appears once (hcl2 gives a list)."""
    value = body.get(key) or [{}]
    return value[0] if isinstance(value, list) else value


def _statements(doc: Block) -> list[dict[str, Any]]:
    """Literal `statement` blocks and the `content` of `dynamic "statement"` blocks."""
    dynamic = [
        content
        for d in doc.body.get("dynamic", [])
        for content in (d.get("statement") or {}).get("content", [])
    ]
    return list(doc.body.get("statement", [])) + dynamic


def _comments(body: dict[str, Any]) -> list[str]:
    return [c["value"].strip() for c in body.get("__comments__", [])]


def _principal_ids(statement: dict[str, Any]) -> list[str]:
    return [i for p in statement.get("principals", []) for i in p.get("identifiers", [])]


# --------------------------------------------------------------------------- checks


SECURE_BUCKET = Path("modules/secure_bucket")
KMS_KEY = Path("modules/kms_key")
LOG_TARGET_FLAG = "is_access_log_target"


def bucket_violations(cfg: Config) -> list[str]:
    """Every bucket is an instance of modules/secure_bucket, whose one bucket is
    public-access-blocked, versioned, owner-enforced, TLS-only and housekept
    unconditionally; every instance but the access-log target passes a KMS key
    and a log bucket (the module's preconditions enforce it at plan time too)."""
    problems: list[str] = []
    buckets = cfg.of_type("aws_s3_bucket")
    if not buckets:
        return ["no aws_s3_bucket found"]
    problems.extend(
        f"{b.address}: bucket outside {SECURE_BUCKET}; use the module"
        for b in buckets
        if b.module != SECURE_BUCKET
    )
    inside = [b for b in buckets if b.module == SECURE_BUCKET]
    if len(inside) != 1:
        return [*problems, f"{SECURE_BUCKET}: expected exactly one aws_s3_bucket"]
    problems.extend(_secure_bucket_module_violations(cfg, inside[0]))
    problems.extend(_secure_bucket_call_violations(cfg))
    return problems


def _secure_bucket_module_violations(cfg: Config, bucket: Block) -> list[str]:
    problems: list[str] = []
    where = bucket.address
    module_blocks = [b for b in cfg.blocks if b.module == SECURE_BUCKET and b.kind == "resource"]
    problems.extend(
        f"{b.address}: must not be conditional (count/for_each)"
        for b in module_blocks
        if ("count" in b.body or "for_each" in b.body) and b.type != "aws_s3_bucket_logging"
    )
    if bucket.body.get("force_destroy") is not False:
        problems.append(f"{where}: force_destroy must be false")

    pabs = cfg.pointing_at(bucket, "aws_s3_bucket_public_access_block", "bucket", "id")
    flags = (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    )
    if len(pabs) != 1 or any(pabs[0].body.get(f) is not True for f in flags):
        problems.append(f"{where}: public access block missing or not all four flags true")

    versioning = cfg.pointing_at(bucket, "aws_s3_bucket_versioning", "bucket", "id")
    if (
        not versioning
        or _one(versioning[0].body, "versioning_configuration").get("status") != "Enabled"
    ):
        problems.append(f"{where}: versioning not Enabled")

    ownership = cfg.pointing_at(bucket, "aws_s3_bucket_ownership_controls", "bucket", "id")
    if not ownership or _one(ownership[0].body, "rule").get("object_ownership") != (
        "BucketOwnerEnforced"
    ):
        problems.append(f"{where}: object ownership is not BucketOwnerEnforced")

    # SSE-KMS with the caller's key; SSE-S3 only for the access-log target,
    # because S3 cannot deliver server access logs into an SSE-KMS bucket.
    sse = cfg.pointing_at(
        bucket, "aws_s3_bucket_server_side_encryption_configuration", "bucket", "id"
    )
    default = (
        _one(_one(sse[0].body, "rule"), "apply_server_side_encryption_by_default") if sse else {}
    )
    if default.get("sse_algorithm") != f'${{var.{LOG_TARGET_FLAG} ? "AES256" : "aws:kms"}}' or (
        "var.kms_key_arn" not in str(default.get("kms_master_key_id"))
    ):
        problems.append(f"{where}: default encryption is not SSE-KMS with var.kms_key_arn")
    preconditions = [
        str(p.get("condition"))
        for lc in bucket.body.get("lifecycle", [])
        for p in lc.get("precondition", [])
    ]
    for var in ("kms_key_arn", "access_log_bucket_name"):
        wanted = f"var.{LOG_TARGET_FLAG} ? var.{var} == null : var.{var} != null"
        if not any(wanted in c for c in preconditions):
            problems.append(f"{where}: no precondition requiring var.{var} off the log target")

    logging = cfg.pointing_at(bucket, "aws_s3_bucket_logging", "bucket", "id")
    if len(logging) != 1 or logging[0].body.get("count") != (f"${{var.{LOG_TARGET_FLAG} ? 0 : 1}}"):
        problems.append(f"{where}: server access logging must be on unless it is the log target")

    problems.extend(_tls_only_violations(cfg, bucket))

    lifecycle = cfg.pointing_at(bucket, "aws_s3_bucket_lifecycle_configuration", "bucket", "id")
    rules = lifecycle[0].body.get("rule", []) if lifecycle else []
    if not any(
        r.get("status") == "Enabled"
        and r.get("abort_incomplete_multipart_upload")
        and r.get("noncurrent_version_expiration")
        and _one(r, "filter") == {}
        for r in rules
    ):
        problems.append(
            f"{where}: no whole-bucket lifecycle rule aborting incomplete multipart uploads"
            " and expiring noncurrent versions"
        )
    return problems


def _secure_bucket_call_violations(cfg: Config) -> list[str]:
    problems: list[str] = []
    calls = cfg.calls_of("secure_bucket")
    if not calls:
        return ["no module call of secure_bucket"]
    targets = [c for c in calls if c[2].get(LOG_TARGET_FLAG) is True]
    if len(targets) > 1:
        problems.append(f"more than one access-log target bucket: {[c[1] for c in targets]}")
    for path, name, body in calls:
        where = f"{path}: module {name}"
        if body.get(LOG_TARGET_FLAG) is True:
            # Only a bucket that others really log into may go without KMS/logging.
            ref = f"${{module.{name}.id}}"
            if not any(
                o[0].parent == path.parent and o[2].get("access_log_bucket_name") == ref
                for o in calls
            ):
                problems.append(f"{where}: is_access_log_target but no bucket logs into it")
            for var in ("kms_key_arn", "access_log_bucket_name"):
                if body.get(var) is not None:
                    problems.append(f"{where}: the log target must not set {var}")
            continue
        if body.get(LOG_TARGET_FLAG) not in (None, False):
            problems.append(f"{where}: {LOG_TARGET_FLAG} must be a literal bool")
        for var in ("kms_key_arn", "access_log_bucket_name"):
            if not body.get(var):
                problems.append(f"{where}: {var} not set (SSE-KMS and access logging)")
    return problems


def _tls_only_violations(cfg: Config, bucket: Block) -> list[str]:
    policies = cfg.pointing_at(bucket, "aws_s3_bucket_policy", "bucket", "id")
    doc = cfg.policy_document(policies[0], "policy") if policies else None
    if doc is None:
        return [f"{bucket.address}: no bucket policy built from an aws_iam_policy_document"]
    arn = bucket.ref("arn")
    for st in _statements(doc):
        conditions = [
            c
            for c in st.get("condition", [])
            if c.get("test") == "Bool"
            and c.get("variable") == "aws:SecureTransport"
            and c.get("values") == ["false"]
        ]
        if (
            st.get("effect") == "Deny"
            and st.get("actions") == ["s3:*"]
            and _principal_ids(st) == ["*"]
            and conditions
            and arn in st.get("resources", [])
            and f"{arn}/*" in st.get("resources", [])
        ):
            return []
    return [f"{bucket.address}: no Deny s3:* statement for aws:SecureTransport = false"]


def lake_lifecycle_violations(cfg: Config) -> list[str]:
    """raw/ moves to STANDARD_IA and later to GLACIER (a caller's rule, enabled by the module)."""
    dynamic_rules = [
        content
        for lc in cfg.of_type("aws_s3_bucket_lifecycle_configuration")
        if lc.module == SECURE_BUCKET
        for d in lc.body.get("dynamic", [])
        for content in (d.get("rule") or {}).get("content", [])
    ]
    if not dynamic_rules or any(r.get("status") != "Enabled" for r in dynamic_rules):
        return [f"{SECURE_BUCKET}: the callers' lifecycle rules must all be Enabled"]
    for path, name, body in cfg.calls_of("secure_bucket"):
        for rule in body.get("lifecycle_rules", []):
            if rule.get("prefix") != "raw/":
                continue
            classes = [t.get("storage_class") for t in rule.get("transitions", [])]
            if classes == ["STANDARD_IA", "GLACIER"]:
                return []
            return [
                f"{path}: module {name}: raw/ transitions are {classes}, want STANDARD_IA, GLACIER"
            ]
    return ["no lifecycle rule for the raw/ prefix"]


def redshift_violations(cfg: Config) -> list[str]:
    """Private, encrypted, TLS-only, audited, AWS-managed password, 5439 from SGs only."""
    clusters = cfg.of_type("aws_redshift_cluster")
    if not clusters:
        return ["no aws_redshift_cluster found"]
    problems: list[str] = []
    for cluster in clusters:
        body, where = cluster.body, cluster.address
        expected = {
            "publicly_accessible": False,
            "encrypted": True,
            "enhanced_vpc_routing": True,
            "manage_master_password": True,
        }
        problems.extend(
            f"{where}: {key} must be {value}"
            for key, value in expected.items()
            if body.get(key) is not value
        )
        for key in ("kms_key_id", "master_password_secret_kms_key_id"):
            if not body.get(key):
                problems.append(f"{where}: {key} not set")
        if "master_password" in body:
            problems.append(f"{where}: master_password set; let Redshift manage it")

        groups = [
            g
            for g in cfg.of_type("aws_redshift_parameter_group")
            if g.ref("name") == body.get("cluster_parameter_group_name")
        ]
        params = {
            p.get("name"): p.get("value") for g in groups for p in g.body.get("parameter", [])
        }
        for name in ("require_ssl", "enable_user_activity_logging"):
            if params.get(name) != "true":
                problems.append(f"{where}: parameter group does not set {name} = true")

        logging = cfg.pointing_at(
            cluster, "aws_redshift_logging", "cluster_identifier", "cluster_identifier"
        )
        exports = (
            set(cfg.resolve(cluster.module, logging[0].body.get("log_exports")))
            if logging
            else set()
        )
        if not logging or exports != REDSHIFT_AUDIT_LOGS:
            problems.append(
                f"{where}: aws_redshift_logging must export {sorted(REDSHIFT_AUDIT_LOGS)}"
            )

        problems.extend(_redshift_ingress_violations(cfg, cluster))
    return problems


def _redshift_ingress_violations(cfg: Config, cluster: Block) -> list[str]:
    sg_refs = cluster.body.get("vpc_security_group_ids", [])
    groups = [
        g
        for g in cfg.of_type("aws_security_group")
        if g.module == cluster.module and g.ref("id") in sg_refs
    ]
    if len(groups) != 1 or groups[0].body.get("ingress"):
        return [f"{cluster.address}: expected one security group without inline ingress"]
    rules = cfg.pointing_at(
        groups[0], "aws_vpc_security_group_ingress_rule", "security_group_id", "id"
    )
    rules += cfg.pointing_at(groups[0], "aws_security_group_rule", "security_group_id", "id")
    if not rules:
        return [f"{cluster.address}: no ingress rule admits the job"]
    port = cluster.body.get("port")
    problems = []
    for rule in rules:
        by_group_only = rule.body.get("referenced_security_group_id") and not any(
            rule.body.get(k) for k in ("cidr_ipv4", "cidr_ipv6", "prefix_list_id", "cidr_blocks")
        )
        if (
            not by_group_only
            or rule.body.get("from_port") != port
            or rule.body.get("to_port") != port
        ):
            problems.append(
                f"{rule.address}: must admit only the Redshift port from a security group"
            )
    return problems


def _is_wildcard_action(action: str) -> bool:
    return action == "*" or bool(re.fullmatch(r"[\w-]+:\*", action))


def iam_violations(cfg: Config) -> list[str]:
    """Every policy comes from an aws_iam_policy_document; Allow statements use no
    wildcard action or resource unless a `# Wildcard: <reason>` comment says why,
    never allow a wildcard principal, and never allow deleting from S3."""
    problems: list[str] = []
    holders = {
        "aws_iam_role": "assume_role_policy",
        "aws_iam_role_policy": "policy",
        "aws_iam_policy": "policy",
        "aws_s3_bucket_policy": "policy",
        "aws_kms_key": "policy",
    }
    for rtype, attr in holders.items():
        for holder in cfg.of_type(rtype):
            if cfg.policy_document(holder, attr) is None:
                problems.append(f"{holder.address}: {attr} is not an aws_iam_policy_document")
    for banned in ("aws_iam_role_policy_attachment", "aws_iam_policy_attachment"):
        problems.extend(
            f"{b.address}: attaches a (managed) policy; write a scoped one"
            for b in cfg.of_type(banned)
        )

    docs = cfg.of_type("aws_iam_policy_document", kind="data")
    if not docs:
        return ["no aws_iam_policy_document found"]
    for doc in docs:
        for st in _statements(doc):
            if st.get("effect", "Allow") != "Allow":
                continue
            label = f"{doc.address} statement {st.get('sid', '(no sid)')}"
            if "*" in _principal_ids(st):
                problems.append(f"{label}: Allow to principal *")
            if st.get("not_actions") or st.get("not_resources"):
                problems.append(f"{label}: NotAction/NotResource in an Allow")
            actions = st.get("actions", [])
            if any(a.lower().startswith("s3:delete") for a in actions):
                problems.append(f"{label}: allows an S3 delete")
            wildcard = any(map(_is_wildcard_action, actions)) or "*" in st.get("resources", [])
            reason = " ".join(_comments(st))
            if wildcard and not (
                WILDCARD_REASON in reason and len(reason) > len(WILDCARD_REASON) + 20
            ):
                problems.append(
                    f"{label}: wildcard without a '# {WILDCARD_REASON} <reason>' comment"
                )
    return problems


def logging_violations(cfg: Config) -> list[str]:
    """VPC flow logs on (all traffic, to CloudWatch); every log group KMS + retention."""
    problems: list[str] = []
    flow_logs = cfg.of_type("aws_flow_log")
    if not flow_logs:
        problems.append("no aws_flow_log found")
    for flow in flow_logs:
        if (
            flow.body.get("traffic_type") != "ALL"
            or flow.body.get("log_destination_type") != "cloud-watch-logs"
        ):
            problems.append(f"{flow.address}: must capture ALL traffic into CloudWatch Logs")
        if not flow.body.get("vpc_id"):
            problems.append(f"{flow.address}: not attached to a VPC")
    groups = cfg.of_type("aws_cloudwatch_log_group")
    if not groups:
        problems.append("no aws_cloudwatch_log_group found")
    for group in groups:
        if not group.body.get("kms_key_id") or not group.body.get("retention_in_days"):
            problems.append(f"{group.address}: needs kms_key_id and retention_in_days")
    keys = cfg.of_type("aws_kms_key")
    if not keys:
        problems.append("no aws_kms_key found")
    problems.extend(
        f"{k.address}: key rotation off"
        for k in keys
        if k.body.get("enable_key_rotation") is not True
    )
    problems.extend(
        f"{k.address}: KMS key outside {KMS_KEY}, or conditional; use the module"
        for k in keys
        if k.module != KMS_KEY or "count" in k.body or "for_each" in k.body
    )
    calls = cfg.calls_of("kms_key")
    if not calls:
        problems.append("no module call of kms_key")
    for path, name, body in calls:
        for st in body.get("service_statements", []):
            if not st.get("conditions") or "*" in st.get("services", ["*"]):
                problems.append(
                    f"{path}: module {name}: service statement {st.get('sid')} must name"
                    " services and be pinned by a condition"
                )
    return problems


def compute_violations(cfg: Config) -> list[str]:
    """ECR immutable, scanned, KMS; ECS insights; the task runs `spacex-etl` with the job env."""
    problems: list[str] = []
    repos = cfg.of_type("aws_ecr_repository")
    if not repos:
        problems.append("no aws_ecr_repository found")
    for repo in repos:
        if repo.body.get("image_tag_mutability") != "IMMUTABLE":
            problems.append(f"{repo.address}: tags must be IMMUTABLE")
        if _one(repo.body, "image_scanning_configuration").get("scan_on_push") is not True:
            problems.append(f"{repo.address}: scan_on_push off")
        if _one(repo.body, "encryption_configuration").get("encryption_type") != "KMS":
            problems.append(f"{repo.address}: not KMS-encrypted")
    clusters = cfg.of_type("aws_ecs_cluster")
    if not clusters:
        problems.append("no aws_ecs_cluster found")
    for cluster in clusters:
        settings = {s.get("name"): s.get("value") for s in cluster.body.get("setting", [])}
        if settings.get("containerInsights") not in ("enabled", "enhanced"):
            problems.append(f"{cluster.address}: container insights off")
    tasks = cfg.of_type("aws_ecs_task_definition")
    if not tasks:
        problems.append("no aws_ecs_task_definition found")
    for task in tasks:
        container = cfg.locals.get(task.module, {}).get("container", {})
        env = cfg.locals.get(task.module, {}).get("environment", {})
        env_names = _env_names(env)
        if container.get("entryPoint") != ["spacex-etl"]:
            problems.append(f"{task.address}: entryPoint is not spacex-etl")
        if missing := JOB_ENV_VARS - env_names:
            problems.append(f"{task.address}: environment lacks {sorted(missing)}")
        if task.body.get("requires_compatibilities") != ["FARGATE"] or not task.body.get(
            "task_role_arn"
        ):
            problems.append(f"{task.address}: must be a Fargate task with a task role")
    return problems


def _env_names(env: Any) -> set[str]:
    """Keys of the `environment` local (a merge(...) of a literal map and a variable)."""
    if isinstance(env, dict):
        return set(env)
    if isinstance(env, str):
        return set(re.findall(r"\b(SPACEX_\w+|AWS_\w+|DBT_\w+)\s*=", env))
    return set()


def mwaa_violations(cfg: Config) -> list[str]:
    """MWAA is optional (count on enable_mwaa), private, and may only run the ELT task."""
    problems: list[str] = []
    calls = [
        c for c in cfg.module_calls if c[2].get("source", "").endswith("modules/orchestration")
    ]
    if not calls:
        return ["the root does not call modules/orchestration"]
    for path, name, body in calls:
        if body.get("count") != "${var.enable_mwaa ? 1 : 0}":
            problems.append(f"{path}: module {name} must be counted on var.enable_mwaa")
    envs = cfg.of_type("aws_mwaa_environment")
    if not envs:
        return [*problems, "no aws_mwaa_environment found"]
    for env in envs:
        if env.body.get("webserver_access_mode") != "PRIVATE_ONLY":
            problems.append(f"{env.address}: web server must be PRIVATE_ONLY")
    statements = [
        st
        for doc in cfg.of_type("aws_iam_policy_document", kind="data")
        if doc.module == envs[0].module
        for st in _statements(doc)
    ]
    run = [st for st in statements if "ecs:RunTask" in st.get("actions", [])]
    if (
        len(run) != 1
        or "*" in run[0]["resources"]
        or "task-definition/" not in run[0]["resources"][0]
    ):
        problems.append("MWAA role: ecs:RunTask must be scoped to the task definition family")
    passrole = [st for st in statements if "iam:PassRole" in st.get("actions", [])]
    if len(passrole) != 1 or passrole[0]["resources"] != [
        "${var.ecs_task_role_arn}",
        "${var.ecs_execution_role_arn}",
    ]:
        problems.append("MWAA role: iam:PassRole must name only the ECS task and execution roles")
    return problems


def description_violations(cfg: Config) -> list[str]:
    """Every variable and output has a non-trivial description."""
    items = [("variable", *v) for v in cfg.variables] + [("output", *o) for o in cfg.outputs]
    if not cfg.variables or not cfg.outputs:
        return ["no variables or outputs found"]
    return [
        f"{path}: {kind} {name} has no description"
        for kind, path, name, body in items
        if len(str(body.get("description", "")).strip()) < 10
    ]


def version_violations(cfg: Config) -> list[str]:
    """Terraform and the aws provider pinned everywhere; ~> 5.x in the root."""
    problems: list[str] = []
    modules = {b.module for b in cfg.blocks} | {p.parent for p, _, _ in cfg.module_calls}
    pinned = {path.parent: body for path, body in cfg.terraform if body.get("required_providers")}
    if not modules:
        return ["no modules found"]
    for module in sorted(modules):
        body = pinned.get(module)
        if body is None:
            problems.append(f"{module}: no terraform block with required_providers")
            continue
        if body.get("required_version") != ROOT_VERSION_CONSTRAINT:
            problems.append(f"{module}: required_version is not '{ROOT_VERSION_CONSTRAINT}'")
        aws = _one(body, "required_providers").get("aws", {})
        version = aws.get("version", "")
        if aws.get("source") != "hashicorp/aws":
            problems.append(f"{module}: aws provider source is not hashicorp/aws")
        if module == ROOT_MODULE:
            if not re.fullmatch(r"~> 5\.\d+", version):
                problems.append(f"{module}: root aws provider must be '~> 5.N', got {version!r}")
        elif not re.fullmatch(r">= 5\.\d+, < 6\.0", version):
            problems.append(
                f"{module}: module aws provider must be '>= 5.N, < 6.0', got {version!r}"
            )
    return problems


# --------------------------------------------------------------------------- formatting


def _bracket_change(line: str, stack: list[str]) -> int:
    """Net {[( opened on this line outside strings and comments; updates `stack`,
    which carries open strings and ${...} interpolations across lines."""
    net = 0
    i = 0
    while i < len(line):
        ch = line[i]
        top = stack[-1] if stack else "code"
        if top == "string":
            if ch == "\\":
                i += 2
                continue
            if line.startswith("${", i) or line.startswith("%{", i):
                stack.append("interp")
                i += 2
                continue
            if ch == '"':
                stack.pop()
        elif ch == "#" or line.startswith("//", i):
            break
        elif ch == '"':
            stack.append("string")
        elif ch in "{[(":
            if top == "interp":
                stack.append("interp")
            else:
                net += 1
        elif ch in "}])":
            if top == "interp":
                stack.pop()
            else:
                net -= 1
        i += 1
    return net


def _indent_problems(path: Path, text: str) -> Iterator[str]:
    """Indentation as `terraform fmt` (hclwrite) computes it.

    A line that opens brackets indents the following lines one level, however
    many brackets it opens; a line that closes brackets is indented after the
    levels it closes are popped. Heredocs are reported: this scanner cannot see
    into them and the tree does not need them.
    """
    levels: list[int] = []  # brackets opened by each indenting line
    stack: list[str] = []  # open strings / interpolations carried across lines
    for number, line in enumerate(text.split("\n"), start=1):
        inside_string = bool(stack)
        if re.search(r"<<-?[A-Za-z_]+\s*$", line) and not stack:
            yield f"{path}:{number}: heredoc (use jsonencode or templatefile instead)"
        net = _bracket_change(line, stack)
        expected = len(levels)
        if net > 0:
            levels.append(net)
        elif net < 0:
            closed = -net
            while closed > 0 and levels:
                if closed >= levels[-1]:
                    closed -= levels.pop()
                else:
                    levels[-1] -= closed
                    closed = 0
            expected = len(levels)
        stripped = line.lstrip(" ")
        if stripped and not inside_string and len(line) - len(stripped) != 2 * expected:
            yield f"{path}:{number}: indent {len(line) - len(stripped)}, want {2 * expected}"
    if levels or stack:
        yield f"{path}: unbalanced brackets or strings at end of file"


def format_violations(root: Path) -> list[str]:
    """No tabs, no trailing whitespace, LF endings, one final newline, fmt indentation."""
    files = sorted({p for pattern in HCL_FILE_PATTERNS for p in root.rglob(pattern)})
    if not files:
        return ["no HCL files found"]
    problems: list[str] = []
    for path in files:
        rel = path.relative_to(root)
        text = path.read_bytes().decode("utf-8")
        if "\r" in text:
            problems.append(f"{rel}: CR line endings")
        if not text.endswith("\n") or text.endswith("\n\n"):
            problems.append(f"{rel}: must end with exactly one newline")
        for number, line in enumerate(text.split("\n"), start=1):
            if "\t" in line:
                problems.append(f"{rel}:{number}: tab")
            if line != line.rstrip():
                problems.append(f"{rel}:{number}: trailing whitespace")
        problems.extend(_indent_problems(rel, text))
    return problems


# --------------------------------------------------------------------------- tests


CHECKS: dict[str, Callable[[Config], list[str]]] = {
    "buckets": bucket_violations,
    "lake_lifecycle": lake_lifecycle_violations,
    "redshift": redshift_violations,
    "iam": iam_violations,
    "logging": logging_violations,
    "compute": compute_violations,
    "mwaa": mwaa_violations,
    "descriptions": description_violations,
    "versions": version_violations,
}


@pytest.fixture(scope="module")
def config() -> Config:
    return Config.load(TERRAFORM)


def test_the_tree_is_parsed(config: Config) -> None:
    """Guard against vacuous passes: the checks below see the real inventory."""
    count = {
        t: len(config.of_type(t)) for t in ("aws_s3_bucket", "aws_redshift_cluster", "aws_kms_key")
    }
    # One bucket and one key resource, each in its module, instantiated 3 and 5 times.
    assert count == {"aws_s3_bucket": 1, "aws_redshift_cluster": 1, "aws_kms_key": 1}
    assert {(p.parent, n) for p, n, _ in config.calls_of("secure_bucket")} == {
        (Path("modules/lake"), "bucket"),
        (Path("modules/lake"), "access_log_bucket"),
        (Path("modules/orchestration"), "dags_bucket"),
    }
    assert sorted(p.parent.name for p, _, _ in config.calls_of("kms_key")) == [
        "etl_job",
        "lake",
        "network",
        "orchestration",
        "warehouse",
    ]
    assert len(config.of_type("aws_iam_policy_document", kind="data")) >= 10
    assert {c[1] for c in config.module_calls if c[0].parent == ROOT_MODULE} == {
        "network",
        "lake",
        "warehouse",
        "etl_job",
        "orchestration",
    }


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_security_property(config: Config, name: str) -> None:
    assert CHECKS[name](config) == []


def test_hcl_is_canonically_formatted() -> None:
    assert format_violations(TERRAFORM) == []


def test_example_files_parse_and_hold_no_secrets(config: Config) -> None:
    dev = TERRAFORM / ROOT_MODULE
    with (dev / "backend.tf.example").open() as handle:
        backend = _one(_clean(hcl2.load(handle))["terraform"][0], "backend")["s3"]
    assert backend["encrypt"] is True
    assert backend.get("use_lockfile") is True or backend.get("dynamodb_table")

    with (dev / "terraform.tfvars.example").open() as handle:
        tfvars = {k: v for k, v in _clean(hcl2.load(handle)).items() if k != "__comments__"}
    root_variables = {name for path, name, _ in config.variables if path.parent == ROOT_MODULE}
    assert set(tfvars) <= root_variables, "tfvars example sets undeclared variables"
    assert "etl_image_tag" in tfvars
    assert not [k for k in tfvars if re.search(r"password|secret|token|access_key", k, re.I)]


def test_secret_arn_is_an_output_and_no_password_is() -> None:
    outputs = Config.load(TERRAFORM).outputs
    names = {name for _, name, _ in outputs}
    assert "spacex_redshift_secret_arn" in names
    assert not [n for n in names if "password" in n and not n.endswith("secret_arn")]


def test_every_checkov_skip_has_a_reason() -> None:
    skips = 0
    for path in TERRAFORM.rglob("*.tf"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "checkov:skip" not in line:
                continue
            skips += 1
            m = re.search(r"#checkov:skip=(CKV2?_AWS_\d+):(.+)$", line)
            assert m, f"{path}:{number}: malformed checkov skip"
            assert len(m.group(2).strip()) >= 30, (
                f"{path}:{number}: skip {m.group(1)} needs a real reason"
            )
    assert skips > 0


# A mutation per property: the check must notice it on a copy of the tree.
REGRESSIONS = [
    pytest.param(
        "redshift",
        "modules/warehouse/main.tf",
        "publicly_accessible          = false",
        "publicly_accessible          = true",
        id="redshift-public",
    ),
    pytest.param(
        "redshift",
        "modules/warehouse/main.tf",
        "manage_master_password            = true",
        "manage_master_password            = false",
        id="redshift-password-not-managed",
    ),
    pytest.param(
        "redshift",
        "modules/warehouse/main.tf",
        "enhanced_vpc_routing         = true",
        "enhanced_vpc_routing         = false",
        id="redshift-no-enhanced-vpc-routing",
    ),
    pytest.param(
        "redshift",
        "modules/warehouse/main.tf",
        'name  = "require_ssl"\n    value = "true"',
        'name  = "require_ssl"\n    value = "false"',
        id="redshift-ssl-optional",
    ),
    pytest.param(
        "redshift",
        "modules/warehouse/logging.tf",
        '"connectionlog", "useractivitylog", "userlog"',
        '"connectionlog", "userlog"',
        id="redshift-no-user-activity-log",
    ),
    pytest.param(
        "redshift",
        "modules/warehouse/main.tf",
        "referenced_security_group_id = each.value",
        'cidr_ipv4                    = "0.0.0.0/0"',
        id="redshift-open-to-cidr",
    ),
    pytest.param(
        "buckets",
        "modules/secure_bucket/main.tf",
        "block_public_acls       = true",
        "block_public_acls       = false",
        id="lake-public-acls",
    ),
    pytest.param(
        "buckets",
        "modules/secure_bucket/main.tf",
        'variable = "aws:SecureTransport"\n      values   = ["false"]',
        'variable = "aws:SecureTransport"\n      values   = ["true"]',
        id="bucket-plain-http",
    ),
    pytest.param(
        "buckets",
        "modules/orchestration/dags_bucket.tf",
        "  kms_key_arn            = module.key.arn\n",
        "",
        id="dags-without-kms-key",
    ),
    pytest.param(
        "buckets",
        "modules/secure_bucket/main.tf",
        'var.is_access_log_target ? "AES256" : "aws:kms"',
        '"AES256"',
        id="bucket-module-sse-s3",
    ),
    pytest.param(
        "buckets",
        "modules/secure_bucket/main.tf",
        "condition     = var.is_access_log_target ? var.kms_key_arn == null"
        " : var.kms_key_arn != null",
        "condition     = true",
        id="bucket-module-kms-precondition-dropped",
    ),
    pytest.param(
        "buckets",
        "modules/secure_bucket/main.tf",
        'status = "Enabled"\n  }\n}',
        'status = "Suspended"\n  }\n}',
        id="bucket-versioning-suspended",
    ),
    pytest.param(
        "buckets",
        "modules/lake/main.tf",
        "  access_log_bucket_name = module.access_log_bucket.id\n",
        "",
        id="lake-not-logged",
    ),
    pytest.param(
        "buckets",
        "modules/lake/main.tf",
        '  data_class             = "lake"\n',
        '  data_class             = "lake"\n  is_access_log_target   = true\n',
        id="lake-claims-to-be-the-log-target",
    ),
    pytest.param(
        "buckets",
        "modules/secure_bucket/main.tf",
        "  count = var.is_access_log_target ? 0 : 1\n",
        "  count = 0\n",
        id="bucket-module-logging-off",
    ),
    pytest.param(
        "buckets",
        "modules/secure_bucket/main.tf",
        "    abort_incomplete_multipart_upload {\n"
        "      days_after_initiation = var.abort_incomplete_multipart_after_days\n    }\n",
        "",
        id="bucket-module-no-multipart-abort",
    ),
    pytest.param(
        "buckets",
        "modules/lake/main.tf",
        "# The data lake bucket.",
        'resource "aws_s3_bucket" "stray" {\n  bucket = "stray"\n}\n\n# The data lake bucket.',
        id="bucket-outside-the-module",
    ),
    pytest.param(
        "lake_lifecycle",
        "modules/lake/main.tf",
        '{ days = var.raw_glacier_after_days, storage_class = "GLACIER" },\n',
        "",
        id="lake-raw-never-archived",
    ),
    pytest.param(
        "iam",
        "modules/etl_job/iam.tf",
        "resources = [var.redshift_secret_arn]",
        'resources = ["*"]',
        id="iam-wildcard-without-reason",
    ),
    pytest.param(
        "iam",
        "modules/etl_job/iam.tf",
        '["s3:PutObject", "s3:GetObject"]',
        '["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]',
        id="iam-s3-delete",
    ),
    pytest.param(
        "iam",
        "modules/kms_key/main.tf",
        '# Wildcard: in a key policy "*" means "this key"; the account root',
        '# In a key policy "*" means "this key"; the account root',
        id="iam-reason-removed",
    ),
    pytest.param(
        "iam",
        "modules/kms_key/main.tf",
        '# Wildcard: in a key policy "*" means "this key"; the caller',
        '# In a key policy "*" means "this key"; the caller',
        id="iam-reason-removed-from-dynamic-statement",
    ),
    pytest.param(
        "logging",
        "modules/kms_key/main.tf",
        "enable_key_rotation     = true",
        "enable_key_rotation     = false",
        id="kms-rotation-off",
    ),
    pytest.param(
        "logging",
        "modules/etl_job/kms.tf",
        "      conditions = [\n",
        "      conditions = []\n      unused = [\n",
        id="kms-service-statement-unpinned",
    ),
    pytest.param(
        "logging",
        "modules/network/flow_logs.tf",
        'traffic_type             = "ALL"',
        'traffic_type             = "REJECT"',
        id="flow-logs-reject-only",
    ),
    pytest.param(
        "logging",
        "modules/etl_job/ecs.tf",
        "  kms_key_id        = module.key.arn\n",
        "",
        id="log-group-unencrypted",
    ),
    pytest.param(
        "compute", "modules/etl_job/ecr.tf", '"IMMUTABLE"', '"MUTABLE"', id="ecr-mutable-tags"
    ),
    pytest.param(
        "compute",
        "modules/etl_job/ecs.tf",
        "SPACEX_REDSHIFT_SECRET_ARN   = var.redshift_secret_arn\n",
        "",
        id="job-missing-secret-arn",
    ),
    pytest.param(
        "mwaa",
        "envs/dev/main.tf",
        "count  = var.enable_mwaa ? 1 : 0",
        "count  = 1",
        id="mwaa-not-optional",
    ),
    pytest.param(
        "descriptions",
        "modules/lake/variables.tf",
        'description = "Days S3 server access logs are kept."',
        "",
        id="variable-without-description",
    ),
    pytest.param(
        "versions", "envs/dev/versions.tf", '"~> 5.80"', '">= 5.80"', id="provider-unpinned"
    ),
]


@pytest.mark.parametrize(("check", "file", "old", "new"), REGRESSIONS)
def test_check_catches_regression(
    tmp_path: Path, check: str, file: str, old: str, new: str
) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy)
    target = copy / file
    text = target.read_text()
    assert text.count(old) == 1, f"mutation anchor not found exactly once in {file}: {old!r}"
    target.write_text(text.replace(old, new))
    assert CHECKS[check](Config.load(copy)) != []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("  bucket        = var.bucket_name\n", "\tbucket        = var.bucket_name\n"),
        ("  bucket        = var.bucket_name\n", "  bucket        = var.bucket_name \n"),
        ("  bucket        = var.bucket_name\n", "   bucket        = var.bucket_name\n"),
        ("  rule {\n    object_ownership", "  rule {\n  object_ownership"),
    ],
)
def test_format_check_catches_regression(tmp_path: Path, old: str, new: str) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy)
    target = copy / "modules/secure_bucket/main.tf"
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    assert format_violations(copy) != []


def test_checkov_passes() -> None:
    command = [*uv_tool_run("--from", CHECKOV), "checkov", "-d", str(TERRAFORM)]
    command += ["--framework", "terraform"]
    command += ["--skip-download", "--compact", "--quiet", "-o", "json"]
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    summary = json.loads(proc.stdout)["summary"]
    assert summary["failed"] == 0
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 100, summary
