"""part-1's architecture diagram says what the Terraform grants, no more and no less.

Every IAM edge of `part-1/architecture.dot` is labelled `<role> role: <actions>`. Terraform
itself renders the role's policy (a plan of the module, offline, targeted at the policy
document: `aws_iam_policy_document` is computed by the provider without calling AWS) and
`terraform show -json` hands it over. Then, for each role:
- every action an edge names is one the policy allows;
- an edge into or out of a lake node (its label's first line is its prefix) is allowed on that
  prefix, and every prefix the policy grants has its edge;
- the admin secret reaches no workload: no edge joins Secrets Manager to a node that runs code.
The dot file is read with pydot (Graphviz's own grammar), not a regular expression.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydot
import pytest

from tests.infra.test_terraform import init, terraform, tf

REPO = Path(__file__).resolve().parents[2]
DIAGRAM = REPO / "part-1" / "architecture.dot"
BUCKET_ARN = "arn:aws:s3:::spacex-docs-lake"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/11111111-1111-1111-1111-111111111111"
ROLE_LABEL = re.compile(r"\b(task|COPY) role:(.*)", re.S)
ACTION = re.compile(r"\b[a-z0-9-]+:[A-Z][A-Za-z]*\b")
WORKLOADS = {"ecs", "mwaa", "redshift"}  # nodes that run code under a Terraform role
SECRETS = "secrets"

# The variables a module needs to plan as a root; prefixes and users keep the modules' defaults.
ROLES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "task": (
        "etl_job",
        "task",
        {
            "name": "spacex-docs-etl",
            "image_tag": "0.1.0",
            "lake_bucket_name": "spacex-docs-lake",
            "lake_bucket_arn": BUCKET_ARN,
            "lake_kms_key_arn": KEY_ARN,
            "redshift_host": "spacex-docs.abc123xyz789.eu-west-1.redshift.amazonaws.com",
            "redshift_database": "spacex",
            "redshift_cluster_identifier": "spacex-docs",
            "redshift_load_user": "loader",
            "redshift_dbt_user": "transformer",
            "redshift_copy_role_arn": "arn:aws:iam::123456789012:role/spacex-docs-copy",
            "redshift_credential_arns": [
                "arn:aws:redshift:eu-west-1:123456789012:dbuser:spacex-docs/loader",
            ],
        },
    ),
    "COPY": (
        "warehouse",
        "copy_read_lake",
        {
            "cluster_identifier": "spacex-docs",
            "vpc_id": "vpc-0123456789abcdef0",
            "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "lake_bucket_arn": BUCKET_ARN,
            "lake_kms_key_arn": KEY_ARN,
            "allowed_security_group_ids": {"etl_job": "sg-0123456789abcdef0"},
        },
    ),
}

# pydot's grammar still calls pyparsing's old camelCase names.
pytestmark = pytest.mark.filterwarnings("ignore:'\\w+' deprecated:DeprecationWarning")

OFFLINE_PROVIDER = """
provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  max_retries                 = 1
}
"""


@dataclass(frozen=True)
class Grant:
    actions: frozenset[str]
    prefixes: frozenset[str]  # lake prefixes of the statement's object ARNs (empty: none)


def rendered_policy(modules: Path, module: str, document: str, variables: dict[str, Any]) -> Any:
    """The policy JSON Terraform renders for `data.aws_iam_policy_document.<document>`."""
    root = modules / module
    (root / "zz_offline_provider.tf").write_text(OFFLINE_PROVIDER)
    (root / "docs.auto.tfvars.json").write_text(json.dumps(variables))
    init(root)
    target = f"-target=data.aws_iam_policy_document.{document}"
    plan = tf(root, "plan", "-input=false", "-refresh=false", target, "-out=docs.plan")
    assert plan.returncode == 0, f"terraform plan of {module}:\n{plan.stdout}{plan.stderr}"
    shown = tf(root, "show", "-json", "docs.plan")
    assert shown.returncode == 0, shown.stderr
    resources = json.loads(shown.stdout)["prior_state"]["values"]["root_module"]["resources"]
    address = f"data.aws_iam_policy_document.{document}"
    return json.loads(next(r for r in resources if r["address"] == address)["values"]["json"])


def grants(policy: Any) -> list[Grant]:
    out = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        resources = statement["Resource"]
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        prefixes = {
            r.removeprefix(f"{BUCKET_ARN}/").removesuffix("*")
            for r in resources
            if r.startswith(f"{BUCKET_ARN}/")
        }
        out.append(Grant(frozenset(actions), frozenset(prefixes)))
    return out


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[Grant]]]:
    terraform()  # skips (or fails under CI) without Terraform, with the reason
    modules = tmp_path_factory.mktemp("tf") / "modules"
    shutil.copytree(REPO / "terraform" / "modules", modules)
    with ThreadPoolExecutor(max_workers=len(ROLES)) as pool:
        rendered = {
            role: pool.submit(rendered_policy, modules, *spec) for role, spec in ROLES.items()
        }
        yield {role: grants(future.result()) for role, future in rendered.items()}


def unquote(value: str | None) -> str:
    return (value or "").strip('"').replace("\\n", "\n")


@pytest.fixture(scope="module")
def diagram() -> pydot.Dot:
    (graph,) = pydot.graph_from_dot_file(str(DIAGRAM))
    return graph


def nodes(graph: pydot.Dot) -> dict[str, str]:
    """Every node's name and label, subgraphs (clusters) included."""
    found = {node.get_name(): unquote(node.get("label")) for node in graph.get_nodes()}
    for sub in graph.get_subgraphs():
        found |= nodes(sub)
    return found


def edges(graph: pydot.Dot) -> list[tuple[str, str, str]]:
    found = [
        (e.get_source(), e.get_destination(), unquote(e.get("label"))) for e in graph.get_edges()
    ]
    for sub in graph.get_subgraphs():
        found += edges(sub)
    return found


def lake_nodes(graph: pydot.Dot) -> dict[str, str]:
    """Lake nodes by name -> their prefix (the first line of the label, e.g. `raw/spacex/`)."""
    return {
        name: label.splitlines()[0]
        for name, label in nodes(graph).items()
        if re.fullmatch(r"[a-z]+/spacex/", label.splitlines()[0] if label else "")
    }


def role_edges(graph: pydot.Dot) -> list[tuple[str, str, str, set[str]]]:
    """(source, destination, role, actions) of every edge labelled `<role> role: <actions>`."""
    out = []
    for source, destination, label in edges(graph):
        if match := ROLE_LABEL.search(label):
            out.append((source, destination, match[1], set(ACTION.findall(match[2]))))
    return out


def test_the_diagram_parses_and_has_its_iam_edges(diagram: pydot.Dot) -> None:
    lake = lake_nodes(diagram)
    assert set(lake.values()) >= {"raw/spacex/", "staged/spacex/", "quarantine/spacex/"}
    assert {role for *_, role, _ in role_edges(diagram)} == set(ROLES)


def test_every_action_on_an_edge_is_granted_on_that_prefix(
    diagram: pydot.Dot, policies: dict[str, list[Grant]]
) -> None:
    lake = lake_nodes(diagram)
    for source, destination, role, actions in role_edges(diagram):
        assert actions, f"{source} -> {destination}: a {role} role edge names no action"
        prefix = lake.get(destination) or lake.get(source)
        for action in actions:
            allowed = [g for g in policies[role] if action in g.actions]
            assert allowed, (
                f"{source} -> {destination}: Terraform gives the {role} role no {action}"
            )
            if prefix and action.startswith("s3:"):
                assert any(prefix in g.prefixes for g in allowed), (
                    f"{source} -> {destination}: the {role} role's {action} is on "
                    f"{sorted(p for g in allowed for p in g.prefixes)}, not {prefix}"
                )


def test_every_prefix_a_role_may_use_has_its_edge(
    diagram: pydot.Dot, policies: dict[str, list[Grant]]
) -> None:
    lake = lake_nodes(diagram)
    for role, granted in policies.items():
        drawn = {
            lake.get(destination) or lake.get(source)
            for source, destination, edge_role, _ in role_edges(diagram)
            if edge_role == role
        }
        prefixes = {p for g in granted if "s3:GetObject" in g.actions for p in g.prefixes}
        assert prefixes, f"the {role} role's policy grants no lake prefix: is the plan right?"
        assert drawn - {None} == prefixes, (
            f"the {role} role: the diagram draws {sorted(drawn - {None})}, Terraform grants "
            f"{sorted(prefixes)}"
        )


def test_no_workload_reads_the_admin_secret(
    diagram: pydot.Dot, policies: dict[str, list[Grant]]
) -> None:
    joined = [(s, d) for s, d, _ in edges(diagram) if SECRETS in {s, d} and {s, d} & WORKLOADS]
    assert not joined, f"the diagram joins Secrets Manager to a workload: {joined}"
    for role, granted in policies.items():
        secret_actions = {a for g in granted for a in g.actions if a.startswith("secretsmanager:")}
        assert not secret_actions, f"Terraform gives the {role} role {secret_actions}"
