"""IAM policy evaluation: the part of AWS's logic the stack's policies need, and nothing more lenient.

Sources (IAM User Guide): "Policy evaluation logic" (an explicit Deny wins; otherwise an Allow is needed;
otherwise the request is implicitly denied), "IAM JSON policy elements: Condition operators" (String*,
Arn*, Bool, Null, the `...IfExists` suffix; a key missing from the request makes a condition false,
except that negated operators and `IfExists` are then true), "Multivalued context keys" (`ForAnyValue:`
is false and `ForAllValues:` true for a missing or empty key), and "IAM JSON policy elements: Action /
Resource" (`*` and `?` wildcards; action names are case-insensitive, ARNs are not; condition key names
are case-insensitive). A policy using an operator this module does not know is refused with
`UnsupportedPolicyError`, never guessed.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ContextValue = str | list[str]
ACCOUNT_ID = re.compile(r"\d{12}")


class UnsupportedPolicyError(Exception):
    """A policy element the emulator cannot evaluate faithfully."""


class Decision(enum.Enum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit deny"
    EXPLICIT_DENY = "explicit deny"


@dataclass(frozen=True)
class Request:
    """One authorization: an action on one resource, with the request's condition keys."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    # For resource-based policies: the calling principal as (type, value) pairs, e.g. ("Service", "s3...")
    principal: tuple[tuple[str, str], ...] = ()


@functools.cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*` (any run of characters, `/` included) and `?` (one character) wildcards."""
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _context(context: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    return {key.lower(): value for key, value in context.items()}


def _string_test(operator: str) -> tuple[bool, Any]:
    """(negated, test(condition value, request value)) for a base operator."""
    tests: dict[str, Any] = {
        "StringEquals": lambda expected, actual: expected == actual,
        "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
        "StringLike": matches,
        "ArnEquals": matches,
        "ArnLike": matches,
        "Bool": lambda expected, actual: expected.lower() == actual.lower(),
    }
    negations = {
        "StringNotEquals": "StringEquals",
        "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
        "StringNotLike": "StringLike",
        "ArnNotEquals": "ArnEquals",
        "ArnNotLike": "ArnLike",
    }
    if operator in tests:
        return False, tests[operator]
    if operator in negations:
        return True, tests[negations[operator]]
    raise UnsupportedPolicyError(f"condition operator {operator!r} is not supported by the emulator")


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, ContextValue]) -> bool:
    values = [str(value) for value in _listed(expected)]
    present = key.lower() in context
    actual = context.get(key.lower())
    if operator == "Null":
        wants_absent = values[0].lower() == "true"
        return wants_absent != present
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated, test = _string_test(operator)
    if qualifier:
        request_values = [] if actual is None else [str(item) for item in _listed(actual)]
        if qualifier == "ForAnyValue":
            if not request_values:
                return False
            hit = any(any(test(value, item) for value in values) for item in request_values)
            return not hit if negated else hit
        if qualifier == "ForAllValues":
            return all(
                (not any(test(value, item) for value in values))
                if negated
                else any(test(value, item) for value in values)
                for item in request_values
            )
        raise UnsupportedPolicyError(f"condition set operator {qualifier!r} is not supported by the emulator")
    if not present:
        return if_exists or negated
    items = [str(item) for item in _listed(actual)]
    hit = any(test(value, item) for value in values for item in items)
    return not hit if negated else hit


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, ContextValue]) -> bool:
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, entries in conditions.items()
        for key, expected in entries.items()
    )


def _principal_matches(principal: Any, caller: Sequence[tuple[str, str]]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        raise UnsupportedPolicyError(f"Principal {principal!r} is not supported by the emulator")
    for kind, values in principal.items():
        for listed in _listed(values):
            if listed == "*" and kind == "AWS":
                return True
            # An account id stands for the account's root principal.
            value = (
                f"arn:aws:iam::{listed}:root"
                if kind == "AWS" and ACCOUNT_ID.fullmatch(str(listed))
                else listed
            )
            if any(kind == caller_kind and value == caller_value for caller_kind, caller_value in caller):
                return True
    return False


def _applies(statement: Mapping[str, Any], request: Request, context: Mapping[str, ContextValue]) -> bool:
    if "Action" in statement:
        if not any(
            matches(pattern, request.action, ignore_case=True) for pattern in _listed(statement["Action"])
        ):
            return False
    elif "NotAction" in statement:
        if any(
            matches(pattern, request.action, ignore_case=True) for pattern in _listed(statement["NotAction"])
        ):
            return False
    else:
        return False
    if "Resource" in statement and not any(
        matches(pattern, request.resource) for pattern in _listed(statement["Resource"])
    ):
        return False
    if "NotResource" in statement and any(
        matches(pattern, request.resource) for pattern in _listed(statement["NotResource"])
    ):
        return False
    if "Principal" in statement and not _principal_matches(statement["Principal"], request.principal):
        return False
    if "NotPrincipal" in statement:
        raise UnsupportedPolicyError("NotPrincipal is not supported by the emulator")
    return _conditions_hold(statement.get("Condition", {}), context)


def statements(policies: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for document in policies:
        found += _listed(document.get("Statement", []))
    return found


def evaluate(policies: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """AWS's decision for one request: explicit Deny, else Allow, else implicit deny."""
    context = _context(request.context)
    allowed = False
    for statement in statements(policies):
        if not _applies(statement, request, context):
            continue
        if statement.get("Effect") == "Deny":
            return Decision.EXPLICIT_DENY
        allowed = allowed or statement.get("Effect") == "Allow"
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def tag_context(prefix: str, tags: Mapping[str, str]) -> dict[str, ContextValue]:
    """`aws:RequestTag/KEY` or `aws:ResourceTag/KEY` keys for a set of tags."""
    return {f"{prefix}/{key}": value for key, value in tags.items()}
