"""Everything the local deployer reads from shapes that CDK generates, in one module.

The CDK documents what a construct does, not the template it writes: the Provider framework's
environment variables, its waiter state machine, the markers its runtime uses, the resource types of
CDK's own custom resources and the cloud assembly's artifact types are implementation details of the
pinned aws-cdk-lib. Each is named here once, with the aws-cdk-lib source it comes from, and
tests/localdeploy/test_cdk_internals.py synthesizes with the pinned aws-cdk-lib and fails, naming the
fact, when a new version changes one of them. Readers of a shape raise CdkShapeError (naming the
resource and what was expected) instead of guessing.

Sources (aws/aws-cdk, packages/aws-cdk-lib/):
- custom-resources/lib/provider-framework/runtime/consts.ts: the environment variable names and the
  framework's handler names;
- custom-resources/lib/provider-framework/provider.ts: the framework functions get the user functions'
  ARNs as environment variables, handler `framework.onEvent`; the onEvent function also gets the waiter
  state machine's ARN (a `Ref`); the ServiceToken is the onEvent function's ARN (`Fn::GetAtt`);
- custom-resources/lib/provider-framework/util.ts (calculateRetryPolicy): query interval 5 s and total
  timeout 30 min by default, BackoffRate 1, MaxAttempts = total timeout / interval;
- custom-resources/lib/provider-framework/waiter-state-machine.ts: the waiter's definition, one Task
  state `framework-isComplete-task` with one retrier (ErrorEquals States.ALL, IntervalSeconds,
  MaxAttempts, BackoffRate) and a Catch to `framework-onTimeout-task`;
- custom-resources/lib/provider-framework/runtime/framework.ts: the framework logs requests with
  `ResponseURL: "..."` but invokes the user's functions with CloudFormation's ResponseURL as it is; a
  timed-out waiter fails the resource with `Operation timed out`;
- custom-resources/lib/provider-framework/runtime/cfn-response.ts: the physical id a failed Create
  answers with, so that the Delete CloudFormation sends next is ignored;
- aws-s3/lib/bucket.ts, aws-s3-deployment/lib/bucket-deployment.ts, aws-logs/lib/log-retention.ts and
  core (CDK metadata): the resource types and tags of CDK's own custom resources;
- cloud-assembly-schema: manifest.json artifact types and the asset manifest's file entries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from personalize_tools.localdeploy.errors import TemplateError

# --- the Provider framework ---------------------------------------------------------------------

USER_ON_EVENT_FUNCTION_ARN_ENV = "USER_ON_EVENT_FUNCTION_ARN"
USER_IS_COMPLETE_FUNCTION_ARN_ENV = "USER_IS_COMPLETE_FUNCTION_ARN"
WAITER_STATE_MACHINE_ARN_ENV = "WAITER_STATE_MACHINE_ARN"
FRAMEWORK_ON_EVENT_HANDLER = "framework.onEvent"
FRAMEWORK_IS_COMPLETE_HANDLER = "framework.isComplete"
FRAMEWORK_ON_TIMEOUT_HANDLER = "framework.onTimeout"
DEFAULT_QUERY_INTERVAL_SECONDS = 5.0
DEFAULT_TOTAL_TIMEOUT_SECONDS = 1800.0
WAITER_START_STATE = "framework-isComplete-task"
WAITER_TIMEOUT_STATE = "framework-onTimeout-task"
WAITER_RETRY_KEYS = frozenset({"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate"})
TIMEOUT_REASON = "Operation timed out"
CREATE_FAILED_MARKER = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"

# --- CDK's own resources ----------------------------------------------------------------------------

BUCKET_DEPLOYMENT_TYPE = "Custom::CDKBucketDeployment"
AUTO_DELETE_OBJECTS_TYPE = "Custom::S3AutoDeleteObjects"
LOG_RETENTION_TYPE = "Custom::LogRetention"
CDK_METADATA_TYPE = "AWS::CDK::Metadata"
# What the local BucketDeployment (cdk_custom) acts on, or knowingly leaves aside: the token, the
# source buckets (assets come from cdk.out) and WaitForDistributionInvalidation (DistributionId is refused).
BUCKET_DEPLOYMENT_PROPERTIES = frozenset(
    {
        "ServiceToken",
        "SourceBucketNames",
        "SourceObjectKeys",
        "SourceMarkers",
        "DestinationBucketName",
        "DestinationBucketKeyPrefix",
        "DestinationBucketArn",
        "RetainOnDelete",
        "Extract",
        "Prune",
        "Exclude",
        "Include",
        "UserMetadata",
        "SystemMetadata",
        "OutputObjectKeys",
        "DistributionId",
        "WaitForDistributionInvalidation",
    }
)
AUTO_DELETE_TAG = "aws-cdk:auto-delete-objects"
CR_OWNED_TAG = "aws-cdk:cr-owned"

# --- the cloud assembly -----------------------------------------------------------------------------

STACK_ARTIFACT = "aws:cloudformation:stack"
ASSET_MANIFEST_ARTIFACT = "cdk:asset-manifest"
NESTED_ASSEMBLY_ARTIFACT = "cdk:cloud-assembly"


class CdkShapeError(TemplateError):
    """A CDK-generated shape is not what the pinned aws-cdk-lib writes: name it, never guess."""


def get_att_target(value: Any) -> str | None:
    """The logical id an `Fn::GetAtt` (either form) points at; None for anything else."""
    if not isinstance(value, Mapping) or set(value) != {"Fn::GetAtt"}:
        return None
    target = value["Fn::GetAtt"]
    return str(target.split(".", 1)[0] if isinstance(target, str) else target[0])


def _ref_target(value: Any) -> str | None:
    if not isinstance(value, Mapping) or set(value) != {"Ref"}:
        return None
    return str(value["Ref"])


@dataclass(frozen=True)
class ProviderWiring:
    """How a custom resource's ServiceToken reaches its code, by logical id: the function the token
    names and, behind the Provider framework, the user's functions and the waiter state machine."""

    token_function: str
    on_event_function: str
    is_complete_function: str | None = None
    waiter_state_machine: str | None = None

    @property
    def through_framework(self) -> bool:
        return self.on_event_function != self.token_function


def provider_wiring(template: Mapping[str, Any], logical_id: str) -> ProviderWiring | None:
    """Trace a custom resource's ServiceToken; None when it is not a function of this template (a
    hand-written token). A function without the framework's variables is a plain Lambda-backed one."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    token_target = get_att_target(resources[logical_id].get("Properties", {}).get("ServiceToken"))
    if token_target is None or resources.get(token_target, {}).get("Type") != "AWS::Lambda::Function":
        return None
    variables = _variables(resources[token_target])
    if USER_ON_EVENT_FUNCTION_ARN_ENV not in variables:
        return ProviderWiring(token_function=token_target, on_event_function=token_target)
    where = f"resource {logical_id}: its Provider framework function {token_target}"
    on_event = _function_variable(resources, variables, USER_ON_EVENT_FUNCTION_ARN_ENV, where)
    assert on_event is not None
    is_complete = _function_variable(resources, variables, USER_IS_COMPLETE_FUNCTION_ARN_ENV, where)
    waiter = None
    if is_complete is not None:
        waiter = _ref_target(variables.get(WAITER_STATE_MACHINE_ARN_ENV))
        if resources.get(waiter or "", {}).get("Type") != "AWS::StepFunctions::StateMachine":
            raise CdkShapeError(
                f"{where} has {USER_IS_COMPLETE_FUNCTION_ARN_ENV} but its {WAITER_STATE_MACHINE_ARN_ENV} "
                f"is {variables.get(WAITER_STATE_MACHINE_ARN_ENV)!r}, not a Ref to a state machine of this "
                "template; the pinned aws-cdk-lib wires the waiter that way"
            )
    return ProviderWiring(token_target, on_event, is_complete, waiter)


def _variables(function: Mapping[str, Any]) -> Mapping[str, Any]:
    variables: Mapping[str, Any] = function.get("Properties", {}).get("Environment", {}).get("Variables", {})
    return variables


def _function_variable(
    resources: Mapping[str, Any], variables: Mapping[str, Any], name: str, where: str
) -> str | None:
    if name not in variables:
        return None
    target = get_att_target(variables[name])
    if resources.get(target or "", {}).get("Type") != "AWS::Lambda::Function":
        raise CdkShapeError(
            f"{where} has {name} = {variables[name]!r}, not an Fn::GetAtt of a function's Arn in this "
            "template; the pinned aws-cdk-lib wires the user's functions that way"
        )
    assert target is not None
    return target


def waiter_state_machines(template: Mapping[str, Any]) -> set[str]:
    """Logical ids of the Provider frameworks' waiter state machines (not the app's own)."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    return {
        target
        for resource in resources.values()
        if resource.get("Type") == "AWS::Lambda::Function"
        and (target := _ref_target(_variables(resource).get(WAITER_STATE_MACHINE_ARN_ENV))) is not None
    }


def user_function_roles(template: Mapping[str, Any]) -> set[str]:
    """Logical ids of the execution roles of the user functions behind every Provider framework."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    roles: set[str] = set()
    for resource in resources.values():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        variables = _variables(resource)
        for variable in (USER_ON_EVENT_FUNCTION_ARN_ENV, USER_IS_COMPLETE_FUNCTION_ARN_ENV):
            function = resources.get(get_att_target(variables.get(variable)) or "", {})
            role_id = get_att_target(function.get("Properties", {}).get("Role"))
            if role_id is not None and role_id in resources:
                roles.add(role_id)
    return roles


@dataclass(frozen=True)
class WaiterRetry:
    """The waiter's retrier: is_complete runs at once, then after each interval until the attempts
    are spent (Amazon States Language: each wait is the previous one times BackoffRate)."""

    interval_seconds: float
    max_attempts: int
    backoff_rate: float

    @property
    def total_timeout_seconds(self) -> float:
        return sum(self.interval_seconds * self.backoff_rate**attempt for attempt in range(self.max_attempts))


DEFAULT_WAITER = WaiterRetry(
    DEFAULT_QUERY_INTERVAL_SECONDS, int(DEFAULT_TOTAL_TIMEOUT_SECONDS / DEFAULT_QUERY_INTERVAL_SECONDS), 1.0
)


def waiter_retry(definition_string: str, where: str) -> WaiterRetry:
    """The retrier of the waiter's is_complete task, from its resolved DefinitionString."""
    try:
        definition = json.loads(definition_string)
    except json.JSONDecodeError as error:
        raise CdkShapeError(f"{where}: DefinitionString is not JSON ({error})") from error
    if not isinstance(definition, dict):
        raise CdkShapeError(f"{where}: DefinitionString is {type(definition).__name__}, not a state machine")
    states = definition.get("States")
    task = states.get(WAITER_START_STATE) if isinstance(states, dict) else None
    if definition.get("StartAt") != WAITER_START_STATE or not isinstance(task, dict):
        raise CdkShapeError(
            f"{where}: the waiter does not start at a state {WAITER_START_STATE!r} (StartAt "
            f"{definition.get('StartAt')!r}); the pinned aws-cdk-lib's waiter does"
        )
    retriers = task.get("Retry")
    if not isinstance(retriers, list) or len(retriers) != 1 or not isinstance(retriers[0], dict):
        raise CdkShapeError(f"{where}: {WAITER_START_STATE} has Retry {retriers!r}, not one retrier")
    retry = retriers[0]
    unknown = sorted(set(retry) - WAITER_RETRY_KEYS)
    if unknown or retry.get("ErrorEquals") != ["States.ALL"]:
        found = f"fields {', '.join(unknown)}" if unknown else f"ErrorEquals {retry.get('ErrorEquals')!r}"
        raise CdkShapeError(
            f"{where}: the waiter's retrier has {found}; the local waiter knows "
            f"{', '.join(sorted(WAITER_RETRY_KEYS))}, with ErrorEquals ['States.ALL']"
        )
    # Amazon States Language defaults for a retrier's omitted fields.
    return WaiterRetry(
        interval_seconds=float(retry.get("IntervalSeconds", 1)),
        max_attempts=int(retry.get("MaxAttempts", 3)),
        backoff_rate=float(retry.get("BackoffRate", 2.0)),
    )
