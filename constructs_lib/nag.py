"""Acknowledging cdk-nag findings, always with a reason specific to the resource."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

PACK = "AwsSolutions::"


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding (`AwsSolutions-S1`, `AwsSolutions-IAM5[Action::s3:List*]`, …) on a scope."""
    acknowledge_each(scope, [rule_id], reason)


def acknowledge_each(scope: IConstruct, rule_ids: Iterable[str], reason: str) -> None:
    """Acknowledge several findings on a scope for one reason, in one call across jsii (none if no ids)."""
    acknowledgments = [Acknowledgment(id=PACK + rule_id, reason=reason) for rule_id in rule_ids]
    if acknowledgments:
        Validations.of(scope).acknowledge(*acknowledgments)


def _render(value: Any) -> str:
    """A resolved CloudFormation value the way cdk-nag prints it in finding ids."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), *_ = value.items()
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::Sub" and isinstance(argument, str):
            return re.sub(r"\$\{([^}]+)\}", r"<\1>", argument)
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_render(part) for part in parts)
    return str(value)


def acknowledge_wildcards(
    policy: iam.Policy, reason: str, statements: Iterable[iam.PolicyStatement] | None = None
) -> None:
    """Acknowledge each wildcard action and resource of a policy (or of some of its statements)."""
    stack = Stack.of(policy)
    if statements is None:
        resolved = stack.resolve(policy.document.to_json()).get("Statement", [])
    else:
        resolved = [stack.resolve(statement.to_statement_json()) for statement in statements]
    findings: list[str] = []
    for statement in resolved:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if "*" in action:
                findings.append(f"AwsSolutions-IAM5[Action::{action}]")
        for resource in resources if isinstance(resources, list) else [resources]:
            rendered = _render(resource)
            if "*" in rendered:
                findings.append(f"AwsSolutions-IAM5[Resource::{rendered}]")
    acknowledge_each(policy, findings, reason)
