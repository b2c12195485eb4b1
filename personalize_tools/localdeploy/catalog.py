"""Which template resources the local deployer creates, which it skips, and which it cannot handle.

Skipped resources exist only to run handlers in the cloud (Lambda functions and layers, the roles and
policies that let them run, the Provider's waiter state machine, log groups). Locally the handlers run
in-process instead, so these are listed as SKIPPED; they still get the names and ARNs they would have,
because other resources refer to them (ServiceToken, bucket policy principals). The exception: the roles
of the handler functions that run locally (the Provider's user on_event / is_complete) and their policies
are created, because the handlers run with that role's credentials and the emulator enforces its policies.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import Any

from personalize_tools.localdeploy.cdk_custom import CDK_CUSTOM_TYPES
from personalize_tools.localdeploy.cdk_internals import (
    CDK_METADATA_TYPE,
    LOG_RETENTION_TYPE,
    get_att_target,
    user_function_roles,
    waiter_state_machines,
)
from personalize_tools.localdeploy.errors import LocalDeployError
from personalize_tools.localdeploy.intrinsics import Resolver, referenced_names
from personalize_tools.localdeploy.native import NATIVE_TYPES
from personalize_tools.localdeploy.provider import PERSONALIZE_TYPE_PREFIX
from personalize_tools.localdeploy.resources import DeployContext, Outcome

SKIPPED_TYPES = {
    "AWS::Lambda::Function": "handler function: its code runs in local worker processes instead",
    "AWS::Lambda::LayerVersion": "layer of a handler function",
    "AWS::Lambda::Permission": "lets AWS invoke a handler function",
    "AWS::Logs::LogGroup": "handler log group: handler logs go to .personalize-local/logs/",
    CDK_METADATA_TYPE: "CDK usage metadata",
    LOG_RETENTION_TYPE: "sets the retention of a handler log group",
}
WAITER_REASON = "the Provider's waiter: is_complete is polled locally instead"
HANDLER_ROLE_REASON = "role that only lets a handler run in AWS (trusted by Lambda or Step Functions)"
HANDLER_POLICY_REASON = "policy of a handler role"
HANDLER_PRINCIPALS = frozenset({"lambda.amazonaws.com", "states.amazonaws.com", "edgelambda.amazonaws.com"})
LAMBDA_NAME_MAX = 64


def is_personalize(resource_type: str) -> bool:
    return resource_type.startswith(PERSONALIZE_TYPE_PREFIX)


def is_custom(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


def is_emulated(resource_type: str) -> bool:
    return resource_type in NATIVE_TYPES or resource_type in CDK_CUSTOM_TYPES or is_personalize(resource_type)


def _trusted_services(document: Any) -> set[str] | None:
    """The service principals a trust policy admits, or None if anything else is admitted."""
    services: set[str] = set()
    for statement in document.get("Statement", []) if isinstance(document, Mapping) else []:
        principal = statement.get("Principal", {})
        if not isinstance(principal, Mapping) or set(principal) != {"Service"}:
            return None
        value = principal["Service"]
        services.update(value if isinstance(value, list) else [value])
    return services


def played_roles(template: Mapping[str, Any]) -> set[str]:
    """Roles of the functions that run locally, which run as them: the user handler functions behind a
    CDK Provider, and the functions the stack's own state machines (not the waiter) invoke."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    roles = user_function_roles(template)
    waiters = waiter_state_machines(template)
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::StepFunctions::StateMachine" or logical_id in waiters:
            continue
        definition = resource.get("Properties", {}).get("DefinitionString")
        for invoked_id in referenced_names(definition):
            invoked = resources.get(invoked_id, {})
            if invoked.get("Type") == "AWS::Lambda::Function":
                invoked_role = get_att_target(invoked.get("Properties", {}).get("Role"))
                if invoked_role is not None and invoked_role in resources:
                    roles.add(invoked_role)
    return roles


def skipped_resources(template: Mapping[str, Any], resolver: Resolver) -> dict[str, str]:
    """Logical id → why it is skipped, for the resources that only run handlers in the cloud."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    played = played_roles(template)
    skipped = {
        logical_id: SKIPPED_TYPES[resource["Type"]]
        for logical_id, resource in resources.items()
        if resource.get("Type") in SKIPPED_TYPES
    }
    skipped.update(
        {
            logical_id: WAITER_REASON
            for logical_id in waiter_state_machines(template)
            if logical_id in resources
        }
    )
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        try:
            document = resolver.resolve(
                resource.get("Properties", {}).get("AssumeRolePolicyDocument", {}), logical_id
            )
        except LocalDeployError:
            continue  # a trust policy that needs other resources is not a plain handler role
        services = _trusted_services(document)
        if services and services <= HANDLER_PRINCIPALS and logical_id not in played:
            skipped[logical_id] = HANDLER_ROLE_REASON
    for logical_id, resource in resources.items():
        if resource.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        properties = resource.get("Properties", {})
        roles = properties.get("Roles", [])
        role_ids = [role.get("Ref") if isinstance(role, Mapping) else None for role in roles]
        if (
            roles
            and all(role_id in skipped for role_id in role_ids)
            and not properties.get("Users")
            and not properties.get("Groups")
        ):
            skipped[logical_id] = HANDLER_POLICY_REASON
    return skipped


def _random_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(17))


def virtual_outcome(
    context: DeployContext, logical_id: str, resource_type: str, properties: Mapping[str, Any]
) -> Outcome:
    """The physical id and attributes a skipped resource would have in AWS, for Ref and Fn::GetAtt."""

    def name(prop: str, max_length: int = LAMBDA_NAME_MAX) -> str:
        given = properties.get(prop)
        return given if isinstance(given, str) else context.physical_name(logical_id, max_length=max_length)

    if resource_type == "AWS::Lambda::Function":
        function = name("FunctionName")
        return Outcome(function, {"Arn": context.arn("lambda", f"function:{function}")})
    if resource_type == "AWS::Lambda::LayerVersion":
        arn = context.arn("lambda", f"layer:{name('LayerName', 140)}:1")
        return Outcome(arn, {"LayerVersionArn": arn})
    if resource_type == "AWS::Logs::LogGroup":
        group = name("LogGroupName", 512)
        return Outcome(group, {"Arn": context.arn("logs", f"log-group:{group}:*")})
    if resource_type == "AWS::StepFunctions::StateMachine":
        machine = name("StateMachineName", 80)
        arn = context.arn("states", f"stateMachine:{machine}")
        return Outcome(arn, {"Arn": arn, "Name": machine})
    if resource_type == "AWS::IAM::Role":
        role = name("RoleName")
        return Outcome(
            role, {"Arn": context.arn("iam", f"role/{role}", region=False), "RoleId": _random_id("AROA")}
        )
    if resource_type == "AWS::IAM::ManagedPolicy":
        policy = name("ManagedPolicyName", 128)
        arn = context.arn("iam", f"policy/{policy}", region=False)
        return Outcome(arn, {"PolicyArn": arn})
    return Outcome(context.physical_name(logical_id, max_length=LAMBDA_NAME_MAX))
