"""moto's server, with the few behaviours patched that `terraform apply` of envs/dev needs.

Run as `python -m tests.aws.moto_server -H 127.0.0.1 -p <port>` (the arguments of
`moto_server`). Each patch names the moto limitation it works around; none changes what our
Terraform asks for. Pinned moto: see uv.lock (`moto[server]`).
"""

from __future__ import annotations

import fnmatch
import json
import sys
from typing import Any


def patch_moto() -> None:
    from moto.core.responses import ActionResult
    from moto.redshift.models import Cluster
    from moto.redshift.responses import RedshiftResponse
    from moto.s3.models import FakeBucket

    # moto limitation: Redshift `ModifyClusterParameterGroup` is not implemented (HTTP 500), and
    # `DescribeClusterParameters` ignores `Source=user`, answering the engine defaults. Keep the
    # parameters a group was given and answer them for `Source=user`.
    user_parameters: dict[str, dict[str, dict[str, Any]]] = {}

    def modify_cluster_parameter_group(self: Any) -> Any:
        name = self._get_param("ParameterGroupName")
        self.redshift_backend.describe_cluster_parameter_groups(name)  # 404 when unknown
        for param in self._get_param("Parameters", []):
            user_parameters.setdefault(name, {})[param["ParameterName"]] = {
                **param,
                "Source": "user",
                "DataType": "string",
                "IsModifiable": True,
            }
        status = "Your parameter group has been updated."
        return ActionResult({"ParameterGroupName": name, "ParameterGroupStatus": status})

    stock_describe_parameters = RedshiftResponse.describe_cluster_parameters

    def describe_cluster_parameters(self: Any) -> Any:
        if self._get_param("Source") != "user":
            return stock_describe_parameters(self)
        name = self._get_param("ParameterGroupName")
        self.redshift_backend.describe_cluster_parameter_groups(name)
        return ActionResult({"Parameters": list(user_parameters.get(name, {}).values())})

    RedshiftResponse.modify_cluster_parameter_group = modify_cluster_parameter_group  # type: ignore[attr-defined]
    RedshiftResponse.describe_cluster_parameters = describe_cluster_parameters  # type: ignore[method-assign]

    # moto limitation: a cluster's description lacks ClusterAvailabilityStatus,
    # AvailabilityZoneRelocationStatus and MultiAZ; the AWS provider waits for
    # ClusterAvailabilityStatus "Available" after create and modify.
    Cluster.cluster_availability_status = property(lambda self: "Available")  # type: ignore[attr-defined]
    Cluster.availability_zone_relocation_status = property(lambda self: "disabled")  # type: ignore[attr-defined]
    Cluster.multi_az = property(lambda self: "Disabled")  # type: ignore[attr-defined]

    # moto limitation: the check that a logging target bucket lets the logging service write
    # calls `.get` on every statement's Principal (crashing on `"Principal": "*"`, our Deny
    # statements) and compares Resource as a literal string, so `<bucket>/s3-access/*` does not
    # cover the target prefix `s3-access/<source bucket>/`. Match Resource as AWS does.
    def log_permissions_enabled_policy(target_bucket: Any, target_prefix: str | None) -> bool:
        if not target_bucket.policy:
            return False
        key = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}/{target_prefix or ''}x"
        for stmt in json.loads(target_bucket.policy.decode())["Statement"]:
            principal = stmt.get("Principal")
            actions = stmt.get("Action", [])
            resources = stmt.get("Resource", [])
            if (
                isinstance(principal, dict)
                and principal.get("Service") == "logging.s3.amazonaws.com"
                and stmt.get("Effect") == "Allow"
                and {"s3:PutObject", "s3:*"}
                & set([actions] if isinstance(actions, str) else actions)
                and any(
                    fnmatch.fnmatchcase(key, r)
                    for r in ([resources] if isinstance(resources, str) else resources)
                )
            ):
                return True
        return False

    FakeBucket._log_permissions_enabled_policy = staticmethod(log_permissions_enabled_policy)  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    from moto.server import main as moto_main

    patch_moto()
    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
