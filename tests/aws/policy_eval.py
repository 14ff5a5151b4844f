"""A small IAM policy evaluator: exactly the policy features our Terraform uses, no more.

PyPI has no maintained library that evaluates one request against identity, bucket and key
policies with conditions (the IAM tools there generate, lint or summarise policies, or call
AWS's own simulator, which needs an account). So this module covers, for one account:
Allow/Deny with explicit Deny winning; Action (case-insensitive) and Resource wildcards `*`
and `?`; Principal `*`, an account root (delegation to IAM), a role ARN, a Service; the
condition operators StringEquals, StringNotEquals, StringLike, ArnEquals, ArnLike and Bool, each
also with IfExists (a missing key then satisfies the condition, so on a Deny it denies), and
Null; and a KMS key policy, which must allow a call itself or delegate to IAM. Any other element
or operator raises `UnsupportedPolicy`, so a new feature in the Terraform fails loudly here
instead of being misjudged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SUPPORTED_ELEMENTS = {"Sid", "Effect", "Action", "Resource", "Principal", "Condition"}
OPERATORS = {
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "Bool",
    "Null",
}


class UnsupportedPolicy(Exception):
    """A policy uses a feature this evaluator does not implement."""


@dataclass(frozen=True)
class Request:
    """One authorisation question: may `principal` do `action` on `resource` in `context`?"""

    principal: str
    action: str
    resource: str
    context: Mapping[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """A policy document and the name a reader knows it by (e.g. `task role: <policy name>`)."""

    name: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard match: `*` any run of characters, `?` one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return (
        re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)
        is not None
    )


def account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def principal_matches(principal: Any, who: str) -> str | None:
    """How a statement's Principal covers `who`: "any", "account" (the account root: a
    delegation to IAM), "direct", or None."""
    if principal == "*":
        return "any"
    if not isinstance(principal, Mapping):
        raise UnsupportedPolicy(f"Principal {principal!r}")
    for kind, values in principal.items():
        if kind not in {"AWS", "Service"}:
            raise UnsupportedPolicy(f"Principal type {kind!r}")
        for value in _list(values):
            if value == "*":
                return "any"
            if kind == "Service" and value == who:
                return "direct"
            if kind == "AWS" and value == who:
                return "direct"
            if kind == "AWS" and value in {f"arn:aws:iam::{account_of(who)}:root", account_of(who)}:
                return "account"
    return None


def _condition_holds(
    operator: str, key: str, wanted: list[str], context: Mapping[str, Any]
) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in OPERATORS:
        raise UnsupportedPolicy(f"condition operator {operator!r}")
    lowered = {k.lower(): v for k, v in context.items()}
    if base == "Null":
        return any((key.lower() not in lowered) == (w.lower() == "true") for w in wanted)
    if key.lower() not in lowered:
        # a missing key satisfies IfExists and the negated operators, nothing else
        return if_exists or base == "StringNotEquals"
    values = [str(v) for v in _list(lowered[key.lower()])]
    if base == "Bool":
        return any(v.lower() == w.lower() for v in values for w in wanted)
    if base == "StringEquals":
        return any(v == w for v in values for w in wanted)
    if base == "StringNotEquals":
        return not any(v == w for v in values for w in wanted)
    # StringLike, ArnEquals, ArnLike: wildcards allowed in the policy's values
    return any(wildcard(w, v) for v in values for w in wanted)


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any]) -> bool:
    """Every operator block and every key in it must hold (AND); values of one key are ORed."""
    return all(
        _condition_holds(operator, key, [str(w) for w in _list(wanted)], context)
        for operator, block in condition.items()
        for key, wanted in block.items()
    )


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    """Action, Resource and Condition of one statement match the request (Principal aside)."""
    unknown = set(statement) - SUPPORTED_ELEMENTS
    if unknown:
        raise UnsupportedPolicy(f"statement element(s) {sorted(unknown)}")
    actions = _list(statement.get("Action", []))
    resources = _list(statement.get("Resource", []))
    return (
        any(wildcard(a, request.action, ignore_case=True) for a in actions)
        and any(wildcard(r, request.resource) for r in resources)
        and conditions_hold(statement.get("Condition", {}), request.context)
    )


def _statements(policy: Policy) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for i, statement in enumerate(_list(policy.document.get("Statement", []))):
        yield f"{policy.name}/{statement.get('Sid') or i}", statement


def evaluate(
    request: Request,
    identity: list[Policy],
    resource_policy: Policy | None = None,
    key_policy: Policy | None = None,
) -> Decision:
    """Same-account evaluation: an explicit Deny anywhere wins; else an Allow in an identity
    policy, or in the resource policy naming the principal, allows. For KMS (`key_policy`), the
    key policy must also allow: naming the principal, or the account root (then IAM decides)."""
    identity_allows: list[str] = []
    resource_allows: list[str] = []
    key_allows: list[tuple[str, bool]] = []  # (statement, delegates to IAM)
    for policy in [*identity, resource_policy, key_policy]:
        if policy is None:
            continue
        is_identity = policy in identity
        for name, statement in _statements(policy):
            if statement.get("Effect") not in {"Allow", "Deny"}:
                raise UnsupportedPolicy(f"{name}: Effect {statement.get('Effect')!r}")
            how = (
                None
                if is_identity
                else principal_matches(statement.get("Principal"), request.principal)
            )
            if not is_identity and how is None:
                continue
            if not statement_applies(statement, request):
                continue
            if statement["Effect"] == "Deny":
                return Decision(False, f"explicit deny by {name}")
            if is_identity:
                identity_allows.append(name)
            elif policy is key_policy:
                key_allows.append((name, how == "account"))
            elif how in {"direct", "any"}:
                resource_allows.append(name)
    if key_policy is not None:
        if not key_allows:
            return Decision(False, f"the key policy {key_policy.name} allows no such call")
        if all(delegates for _, delegates in key_allows) and not identity_allows:
            return Decision(
                False, "the key policy delegates to IAM and no identity policy allows it"
            )
        names = identity_allows + [n for n, _ in key_allows]
        return Decision(True, "allowed by " + ", ".join(names))
    if not identity_allows and not resource_allows:
        return Decision(False, "no statement allows it (implicit deny)")
    return Decision(True, "allowed by " + ", ".join(identity_allows + resource_allows))
