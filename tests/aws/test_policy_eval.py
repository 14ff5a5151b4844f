"""The policy evaluator, one test per feature it claims (see tests/aws/policy_eval.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.aws.policy_eval import Policy, Request, UnsupportedPolicy, evaluate, wildcard

ROLE = "arn:aws:iam::123456789012:role/etl-task"
OTHER = "arn:aws:iam::123456789012:role/other"
BUCKET = "arn:aws:s3:::lake"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k1"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def put(key: str, **context: Any) -> Request:
    return Request(ROLE, "s3:PutObject", f"{BUCKET}/{key}", context)


def identity(*statements: dict[str, Any]) -> list[Policy]:
    return [Policy("task", doc(*statements))]


def test_an_allow_allows_and_nothing_denies_implicitly() -> None:
    policies = identity(allow("s3:PutObject", f"{BUCKET}/raw/*"))
    assert evaluate(put("raw/a.json"), policies).allowed
    refused = evaluate(put("reports/a.html"), policies)
    assert not refused.allowed
    assert "implicit deny" in refused.reason


def test_an_explicit_deny_wins_over_an_allow() -> None:
    bucket = Policy(
        "bucket",
        doc(
            {"Sid": "NoRaw", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
        ),
    )
    decision = evaluate(put("raw/a"), identity(allow("s3:*", "*")), bucket)
    assert (decision.allowed, decision.reason) == (False, "explicit deny by bucket/NoRaw")


def test_action_wildcards_match_case_insensitively() -> None:
    assert evaluate(put("x"), identity(allow("s3:Put*", "*"))).allowed
    assert evaluate(put("x"), identity(allow("S3:putobject", "*"))).allowed
    assert evaluate(put("x"), identity(allow("s3:*", "*"))).allowed
    assert not evaluate(put("x"), identity(allow("s3:Get*", "*"))).allowed


def test_resource_wildcards_star_and_question_mark_only() -> None:
    assert wildcard(f"{BUCKET}/raw/*", f"{BUCKET}/raw/a/b.json")
    assert wildcard(f"{BUCKET}/ra?/x", f"{BUCKET}/raw/x")
    assert not wildcard(f"{BUCKET}/raw/*", f"{BUCKET}/rawx")
    assert not wildcard(f"{BUCKET}/[r]aw", f"{BUCKET}/raw")  # no character classes in IAM
    assert not wildcard(f"{BUCKET}/RAW/*", f"{BUCKET}/raw/a")  # resources are case-sensitive


def test_string_equals_and_a_missing_key() -> None:
    policies = identity(allow("s3:*", "*", Condition={"StringEquals": {"aws:SourceAccount": "1"}}))
    assert evaluate(put("x", **{"aws:SourceAccount": "1"}), policies).allowed
    assert not evaluate(put("x", **{"aws:SourceAccount": "2"}), policies).allowed
    assert not evaluate(put("x"), policies).allowed  # a missing key fails a positive operator


def test_condition_keys_are_case_insensitive() -> None:
    policies = identity(allow("s3:*", "*", Condition={"StringEquals": {"aws:SourceAccount": "1"}}))
    assert evaluate(put("x", **{"AWS:sourceaccount": "1"}), policies).allowed


def test_string_like_matches_wildcards_and_values_are_ored() -> None:
    condition = {"StringLike": {"s3:prefix": ["raw/*", "staged/*"]}}
    policies = identity(allow("s3:ListBucket", BUCKET, Condition=condition))
    listing = Request(ROLE, "s3:ListBucket", BUCKET, {"s3:prefix": "staged/spacex/"})
    assert evaluate(listing, policies).allowed
    other = Request(ROLE, "s3:ListBucket", BUCKET, {"s3:prefix": "reports/"})
    assert not evaluate(other, policies).allowed


def test_string_like_if_exists_passes_without_the_key() -> None:
    condition = {"StringLikeIfExists": {"s3:prefix": ["raw/*"]}}
    policies = identity(allow("s3:ListBucket", BUCKET, Condition=condition))
    assert evaluate(Request(ROLE, "s3:ListBucket", BUCKET), policies).allowed
    outside = Request(ROLE, "s3:ListBucket", BUCKET, {"s3:prefix": "reports/"})
    assert not evaluate(outside, policies).allowed


def test_string_equals_if_exists() -> None:
    condition = {"StringEqualsIfExists": {"aws:SourceAccount": "1"}}
    policies = identity(allow("s3:*", "*", Condition=condition))
    assert evaluate(put("x"), policies).allowed
    assert not evaluate(put("x", **{"aws:SourceAccount": "2"}), policies).allowed


HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"


def deny_other_keys(condition: dict[str, Any]) -> Policy:
    statement = {
        "Sid": "DenyOtherKmsKeys",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"{BUCKET}/*",
        "Condition": condition,
    }
    return Policy("bucket", doc(statement))


def test_string_not_equals_if_exists_on_a_deny_also_denies_a_request_without_the_key() -> None:
    bucket = deny_other_keys({"StringNotEqualsIfExists": {HEADER: KEY}})
    policies = identity(allow("s3:PutObject", "*"))
    assert evaluate(put("x", **{HEADER: KEY}), policies, bucket).allowed
    assert not evaluate(put("x", **{HEADER: KEY + "-other"}), policies, bucket).allowed
    # IfExists: a missing key satisfies the condition, so the Deny applies
    assert not evaluate(put("x"), policies, bucket).allowed


def test_null_false_limits_a_deny_to_requests_that_carry_the_key() -> None:
    bucket = deny_other_keys({"Null": {HEADER: "false"}, "StringNotEquals": {HEADER: KEY}})
    policies = identity(allow("s3:PutObject", "*"))
    assert evaluate(put("x"), policies, bucket).allowed  # the bucket's default key applies
    assert evaluate(put("x", **{HEADER: KEY}), policies, bucket).allowed
    assert not evaluate(put("x", **{HEADER: KEY + "-other"}), policies, bucket).allowed


def test_string_not_equals_without_if_exists_holds_for_a_missing_key() -> None:
    bucket = deny_other_keys({"StringNotEquals": {HEADER: KEY}})
    assert not evaluate(put("x"), identity(allow("s3:PutObject", "*")), bucket).allowed


def test_arn_equals_arn_like_and_if_exists() -> None:
    arn = "arn:aws:redshift:eu-west-1:1:cluster:c"
    for operator, value, matches in [
        ("ArnEquals", arn, True),
        ("ArnLike", "arn:aws:redshift:*:1:cluster:*", True),
        ("ArnLike", "arn:aws:redshift:*:2:cluster:*", False),
        ("ArnEqualsIfExists", arn, True),
    ]:
        policies = identity(allow("s3:*", "*", Condition={operator: {"aws:SourceArn": value}}))
        assert evaluate(put("x", **{"aws:SourceArn": arn}), policies).allowed is matches, operator
    if_exists = identity(
        allow("s3:*", "*", Condition={"ArnEqualsIfExists": {"aws:SourceArn": arn}})
    )
    assert evaluate(put("x"), if_exists).allowed


def test_bool_secure_transport() -> None:
    deny_http = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    bucket = Policy("bucket", doc(deny_http))
    policies = identity(allow("s3:*", "*"))
    assert evaluate(put("x", **{"aws:SecureTransport": "true"}), policies, bucket).allowed
    assert not evaluate(put("x", **{"aws:SecureTransport": "false"}), policies, bucket).allowed


def test_several_keys_and_operators_must_all_hold() -> None:
    condition = {
        "StringEquals": {"aws:SourceAccount": "1"},
        "ArnLike": {"aws:SourceArn": "arn:aws:logs:*"},
    }
    policies = identity(allow("s3:*", "*", Condition=condition))
    both = {"aws:SourceAccount": "1", "aws:SourceArn": "arn:aws:logs:x"}
    assert evaluate(put("x", **both), policies).allowed
    assert not evaluate(put("x", **{**both, "aws:SourceArn": "arn:aws:s3:x"}), policies).allowed


def test_a_resource_policy_allows_only_the_principals_it_names() -> None:
    grant = allow("s3:GetObject", f"{BUCKET}/*", Principal={"AWS": ROLE})
    bucket = Policy("bucket", doc(grant))
    get = Request(ROLE, "s3:GetObject", f"{BUCKET}/a")
    assert evaluate(get, [], bucket).allowed
    assert not evaluate(Request(OTHER, "s3:GetObject", f"{BUCKET}/a"), [], bucket).allowed
    service = Policy(
        "bucket", doc(allow("s3:*", "*", Principal={"Service": "logging.s3.amazonaws.com"}))
    )
    assert not evaluate(get, [], service).allowed


def test_a_kms_key_policy_that_delegates_to_iam_needs_an_identity_allow() -> None:
    root = allow("kms:*", "*", Sid="Root", Principal={"AWS": "arn:aws:iam::123456789012:root"})
    key = Policy("key", doc(root))
    decrypt = Request(ROLE, "kms:Decrypt", KEY)
    assert evaluate(decrypt, identity(allow(["kms:Decrypt"], KEY)), key_policy=key).allowed
    refused = evaluate(decrypt, identity(allow(["kms:GenerateDataKey"], KEY)), key_policy=key)
    assert not refused.allowed
    assert "delegates to IAM" in refused.reason


def test_a_kms_key_policy_must_allow_the_call() -> None:
    logs_only = allow("kms:Encrypt", "*", Principal={"Service": "logs.amazonaws.com"})
    key = Policy("key", doc(logs_only))
    refused = evaluate(
        Request(ROLE, "kms:Decrypt", KEY), identity(allow("kms:*", "*")), key_policy=key
    )
    assert not refused.allowed
    assert "allows no such call" in refused.reason


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
        allow("s3:*", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        {"Effect": "Maybe", "Action": "s3:*", "Resource": "*"},
    ],
)
def test_an_unsupported_feature_raises_instead_of_guessing(statement: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicy):
        evaluate(put("x"), identity(statement))
