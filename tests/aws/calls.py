"""Record the AWS calls a process makes (botocore event hooks) and turn them into IAM requests.

`install_recorder(path)` registers, on every botocore session the process creates, a handler
per API call that appends one JSON line: service, operation, the call's scalar parameters, the
URL it went to and the encryption headers. `requests_for` maps a recorded call to what IAM
authorises: its action, resource ARN and condition keys, plus the calls AWS makes on the
caller's behalf (S3 asks KMS for a data key with the caller's permissions).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tests.aws.policy_eval import Request

SSE_HEADERS = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id")

# S3 operation -> IAM action (the S3 API names them differently in places).
S3_ACTIONS = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
}
# S3 calls that make S3 use the bucket's KMS key with the caller's permissions.
S3_KMS_ACTIONS = {
    "PutObject": ["kms:GenerateDataKey"],
    "CreateMultipartUpload": ["kms:GenerateDataKey", "kms:Decrypt"],
    "GetObject": ["kms:Decrypt"],
}


def install_recorder(path: Path) -> None:
    """Append every AWS call of this process to `path` (JSON lines)."""
    import botocore.session

    lock = threading.Lock()
    stock_init = botocore.session.Session.__init__

    def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["recorded_params"] = {
            k: v for k, v in params.items() if isinstance(v, str | int | bool) and k != "Body"
        }

    def record(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        headers = {k.lower(): str(v) for k, v in params.get("headers", {}).items()}
        call = {
            "service": model.service_model.service_name,
            "operation": model.name,
            "params": context.get("recorded_params", {}),
            "url": params.get("url", ""),
            "headers": {h: headers[h] for h in SSE_HEADERS if h in headers},
        }
        with lock, path.open("a") as out:
            out.write(json.dumps(call) + "\n")

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        stock_init(self, *args, **kwargs)
        self.register("before-parameter-build", keep_params)
        self.register("before-call", record)

    botocore.session.Session.__init__ = init  # type: ignore[method-assign]


def read_calls(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class Check:
    """One request to evaluate, and where it comes from (a recorded call, or one it implies)."""

    request: Request
    origin: str


def transport_context(call: dict[str, Any], emulator: str) -> dict[str, str]:
    """aws:SecureTransport as the job would send the call on AWS. Calls the test redirected to
    the emulator (AWS_ENDPOINT_URL, set by the test, not by the job) use the SDK's default,
    HTTPS; any other URL counts as it was sent."""
    url = urlparse(call["url"])
    redirected = f"{url.scheme}://{url.netloc}" == emulator.rstrip("/")
    secure = redirected or url.scheme == "https"
    return {"aws:SecureTransport": "true" if secure else "false"}


def requests_for(
    call: dict[str, Any],
    *,
    principal: str,
    emulator: str,
    bucket_keys: dict[str, str],
    region: str,
) -> Iterator[Check]:
    """The IAM requests behind one recorded call. `bucket_keys`: bucket -> default KMS key ARN."""
    origin = f"{call['service']}:{call['operation']}"
    context: dict[str, Any] = transport_context(call, emulator)
    if call["service"] != "s3" or call["operation"] not in S3_ACTIONS:
        raise ValueError(f"no IAM mapping for the recorded call {origin}: add it to calls.py")
    params = call["params"]
    bucket = params["Bucket"]
    action = S3_ACTIONS[call["operation"]]
    if action == "s3:ListBucket":
        resource = f"arn:aws:s3:::{bucket}"
        if "Prefix" in params:
            context["s3:prefix"] = params["Prefix"]
    else:
        resource = f"arn:aws:s3:::{bucket}/{params['Key']}"
    for header in SSE_HEADERS:
        if header in call["headers"]:
            context[f"s3:{header}"] = call["headers"][header]
    yield Check(Request(principal, action, resource, context), origin)
    key = call["headers"].get(SSE_HEADERS[1]) or bucket_keys.get(bucket)
    if key:
        via = {"kms:ViaService": f"s3.{region}.amazonaws.com"}
        for kms_action in S3_KMS_ACTIONS.get(call["operation"], []):
            yield Check(Request(principal, kms_action, key, via), f"{origin} (S3 calls KMS)")
