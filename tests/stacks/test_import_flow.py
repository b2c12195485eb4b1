"""The event-driven import flow and the 12-hour deploy wait, as synthesized (docs/event-imports.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from app import add_environment
from config import EnvironmentConfig
from config.model import ProviderSettings
from lambda_handlers.personalize import domain_rules
from lambda_handlers.personalize.flow import contract
from stacks.stage import PersonalizeStage
from tests import PROJECT_ROOT
from tests.stacks.nag_lint import assert_nag_clean, cfn_lint

FLOW: dict[str, Any] = {
    "name": "flow",
    "account": "111111111111",
    "region": "eu-west-1",
    "name_prefix": "pz",
    "domain": "ECOMMERCE",
    "data_source": {"bucket_key": "imports/interactions/"},
    "incoming": True,
    "items": {"incoming": {"import_mode": "FULL"}},
    "kms": "create",
    "provider": {
        "query_interval_seconds": 60,
        "total_timeout_seconds": domain_rules.WAIT_CONDITION_MAX_SECONDS,
    },
    "recommenders": [{"use_case": "aws-ecomm-recommended-for-you"}],
}
# Everything the definition may use; sfnlocal's interpreter runs exactly these (docs/event-imports.md).
ALLOWED_STATE_TYPES = {"Task", "Choice", "Wait", "Pass", "Succeed", "Fail"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    stack = add_environment(cdk.App(), EnvironmentConfig.model_validate(FLOW))
    return Template.from_stack(stack).to_json()


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == kind}


def _one(template: dict[str, Any], kind: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
    found = [(key, value) for key, value in _of_type(template, kind).items() if key.startswith(prefix)]
    assert len(found) == 1, [key for key, _ in found]
    return found[0]


def _render(value: Any) -> str:
    """A Fn::Join'ed string with its tokens shown as <Ref> / <LogicalId.Attr>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_render(part) for part in value["Fn::Join"][1])
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    raise AssertionError(value)


@pytest.fixture(scope="module")
def definition(template: dict[str, Any]) -> dict[str, Any]:
    _, machine = _one(template, "AWS::StepFunctions::StateMachine", "ImportFlow")
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    text = _render(machine["Properties"]["DefinitionString"])
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def test_each_incoming_folder_has_a_rule_for_its_prefix(template: dict[str, Any]) -> None:
    rules = _of_type(template, "AWS::Events::Rule")
    patterns = {json.dumps(rule["Properties"]["EventPattern"]["detail"]["object"]) for rule in rules.values()}
    assert patterns == {
        json.dumps({"key": [{"prefix": "incoming/interactions/"}]}),
        json.dumps({"key": [{"prefix": "incoming/items/"}]}),
    }
    for rule in rules.values():
        pattern = rule["Properties"]["EventPattern"]
        assert (pattern["source"], pattern["detail-type"]) == (["aws.s3"], ["Object Created"])
        assert pattern["detail"]["bucket"]["name"] == [
            {"Ref": _one(template, "AWS::S3::Bucket", "DataBucket")[0]}
        ]
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Ref": _one(template, "AWS::StepFunctions::StateMachine", "ImportFlow")[0]}
        assert "Input" not in target and "InputTransformer" not in target  # the event itself is the input


def test_the_bucket_sends_its_events_to_eventbridge(template: dict[str, Any]) -> None:
    (notifications,) = _of_type(template, "Custom::S3BucketNotifications").values()
    assert notifications["Properties"]["NotificationConfiguration"] == {"EventBridgeConfiguration": {}}


def test_the_definition_uses_only_the_agreed_states(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert {state["Type"] for state in states.values()} <= ALLOWED_STATE_TYPES
    assert definition["StartAt"] == "Route"
    resources = {_kind(state["Resource"]) for state in states.values() if state["Type"] == "Task"}
    assert resources == {"lambda", "arn:aws:states:::sns:publish", "arn:aws:states:::events:putEvents"}


def _kind(resource: str) -> str:
    return "lambda" if "Function" in resource else resource


def test_the_definition_loops_on_waits_and_routes_on_outcomes(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["CheckObject"]["InputPath"] == "$.detail"
    for wait in ("WaitForImport", "WaitForImportSlot"):
        assert states[wait] == {**states[wait], "Type": "Wait", "SecondsPath": "$.job.pollSeconds"}
    assert states["WaitForImportSlot"]["Next"] == "StartImport"
    assert states["WaitForImport"]["Next"] == "DescribeImport"
    started = {choice["StringEquals"]: choice["Next"] for choice in states["ImportStarted"]["Choices"]}
    assert started == {contract.QUEUED: "WaitForImportSlot", contract.WAITING: "WaitForImport"}
    outcomes = {choice["StringEquals"]: choice["Next"] for choice in states["Outcome"]["Choices"]}
    for outcome, error in contract.FAIL_ERRORS.items():
        assert states[outcomes[outcome]] == {**states[outcomes[outcome]], "Type": "Fail", "Error": error}
    for outcome in contract.SUCCEEDING:
        assert states[outcomes[outcome]]["Type"] == "Succeed"
    for step in ("CheckObject", "StartImport", "DescribeImport"):
        assert states[step]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ExplainError"}
        ]
        assert "Lambda.TooManyRequestsException" in states[step]["Retry"][0]["ErrorEquals"]


def test_notices_go_to_the_topic_and_the_event_bus(
    definition: dict[str, Any], template: dict[str, Any]
) -> None:
    states = definition["States"]
    topic, properties = _one(template, "AWS::SNS::Topic")
    assert states["Notify"]["Parameters"]["TopicArn"] == f"<{topic}>"
    assert states["Notify"]["Parameters"]["Message.$"] == "States.JsonToString($.notice)"
    assert states["Emit"]["Parameters"]["Entries"] == [
        {"Detail.$": "$.notice", "DetailType": contract.EVENT_DETAIL_TYPE, "Source": contract.EVENT_SOURCE}
    ]
    key, _ = _one(template, "AWS::KMS::Key", "ImportFlowNotificationsKey")
    assert properties["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}


def _policy_of(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    _, policy = _one(template, "AWS::IAM::Policy", role_prefix)
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        actions = statement["Action"]
        found |= {actions} if isinstance(actions, str) else set(actions)
    return found


def test_each_step_may_do_what_it_does_and_no_more(template: dict[str, Any]) -> None:
    personalize = {
        step: {
            action
            for action in _actions(_policy_of(template, f"ImportFlow{step}RoleDefaultPolicy"))
            if action.startswith("personalize:")
        }
        for step in ("CheckObject", "StartImport", "DescribeImport")
    }
    assert personalize == {
        "CheckObject": {"personalize:DescribeSchema"},
        "StartImport": {
            "personalize:CreateDatasetImportJob",
            "personalize:DescribeDatasetImportJob",
            "personalize:ListDatasetImportJobs",
            "personalize:TagResource",
        },
        "DescribeImport": {"personalize:DescribeDatasetImportJob"},
    }
    prefix = EnvironmentConfig.model_validate(FLOW).resource_name_prefix
    creates = [
        statement
        for statement in _policy_of(template, "ImportFlowStartImportRoleDefaultPolicy")
        if "personalize:CreateDatasetImportJob" in _as_list(statement["Action"])
    ]
    resources = {_render(resource).split(":", 5)[5] for s in creates for resource in _as_list(s["Resource"])}
    assert resources == {
        f"dataset-import-job/{prefix}_*",
        *(f"dataset/{_group_name(template)}/{kind}" for kind in ("INTERACTIONS", "ITEMS")),
    }
    writes = [
        statement
        for statement in _policy_of(template, "ImportFlowCheckObjectRoleDefaultPolicy")
        if any(action.startswith("s3:PutObject") for action in _as_list(statement["Action"]))
    ]
    written = {_render(resource).split("/", 1)[1] for s in writes for resource in _as_list(s["Resource"])}
    assert written == {"incoming/interactions/rejected/*", "incoming/items/rejected/*"}
    signal_policies = [
        key for key in _of_type(template, "AWS::IAM::Policy") if key.startswith("ImportFlowSignalDeploy")
    ]
    for key in signal_policies:  # it only PUTs to a presigned URL: logs, nothing else
        assert {action.split(":")[0] for action in _actions(_policy_of(template, key))} == {"logs"}


def _group_name(template: dict[str, Any]) -> str:
    (group,) = _of_type(template, "Custom::PersonalizeDatasetGroup").values()
    return str(group["Properties"]["Name"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_outputs_name_the_incoming_locations_topic_and_import_status(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert _render(outputs["InteractionsIncomingLocation"]["Value"]).endswith("/incoming/interactions/")
    assert _render(outputs["ItemsIncomingLocation"]["Value"]).endswith("/incoming/items/")
    assert "ImportNotificationsTopicArn" in outputs and "ImportStateMachineArn" in outputs
    assert outputs["InteractionsImport"]["Value"]["Fn::GetAtt"][1] == "Message"


def test_a_bucket_key_import_skips_an_empty_location(template: dict[str, Any]) -> None:
    (job,) = _of_type(template, "Custom::PersonalizeDatasetImportJob").values()
    assert job["Properties"]["WhenNoData"] == "skip"


def test_a_12_hour_wait_is_a_wait_condition_signalled_by_the_state_machine(template: dict[str, Any]) -> None:
    job_id, job = _one(template, "Custom::PersonalizeDatasetImportJob")
    condition_id, condition = _one(template, "AWS::CloudFormation::WaitCondition")
    handle_id, _ = _one(template, "AWS::CloudFormation::WaitConditionHandle")
    assert condition["Properties"] == {"Count": 1, "Handle": {"Ref": handle_id}, "Timeout": "43200"}
    assert job_id in condition["DependsOn"]
    assert job["Properties"]["WaitHandle"] == {"Ref": handle_id}
    assert job["Properties"]["WaitStateMachineArn"] == {
        "Ref": _one(template, "AWS::StepFunctions::StateMachine", "ImportFlow")[0]
    }
    (recommender,) = _of_type(template, "Custom::PersonalizeRecommender").values()
    assert condition_id in recommender["DependsOn"]
    waiter = _one(template, "AWS::StepFunctions::StateMachine", "PersonalizeProvider")[1]
    assert "43200" not in json.dumps(waiter)  # the custom-resource waiter stays within its hour
    handler_policy = json.dumps(_of_type(template, "AWS::IAM::Policy"))
    assert "states:StartExecution" in handler_policy


def test_the_waiter_keeps_its_hour_when_the_deploy_waits_longer() -> None:
    settings = ProviderSettings(query_interval_seconds=60, total_timeout_seconds=43200)
    assert settings.waits_with_condition and settings.waiter_timeout_seconds == domain_rules.MAX_WAIT_SECONDS
    odd = ProviderSettings(query_interval_seconds=45, total_timeout_seconds=43200)
    assert odd.waiter_timeout_seconds == 3285  # a multiple of the interval, as the Provider requires
    assert not ProviderSettings(total_timeout_seconds=3300).waits_with_condition


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"provider": {"total_timeout_seconds": 43260, "query_interval_seconds": 60}},
            "at most 43200 (12 hours)",
        ),
        (
            {"recommenders": [{"use_case": "aws-ecomm-recommended-for-you", "wait_for_active": True}]},
            "recommenders.0.wait_for_active: true waits inside the recommender's custom resource",
        ),
    ],
)
def test_waits_the_stack_cannot_hold_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EnvironmentConfig.model_validate({**FLOW, **change})


def test_incoming_true_is_an_incremental_section() -> None:
    config = EnvironmentConfig.model_validate(FLOW)
    plans = config.datasets()
    assert (
        plans["INTERACTIONS"].incoming is not None
        and plans["INTERACTIONS"].incoming.import_mode == "INCREMENTAL"
    )
    assert plans["ITEMS"].incoming is not None and plans["ITEMS"].incoming.import_mode == "FULL"
    assert EnvironmentConfig.model_validate({**FLOW, "incoming": False}).incoming is None


def test_the_flow_stack_passes_cdk_nag_and_cfn_lint(tmp_path: Path) -> None:
    config = EnvironmentConfig.model_validate(FLOW)
    flags = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(context=flags, outdir=str(tmp_path))
    PersonalizeStage(app, config=config, smoke_test_account="222222222222")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    assert_nag_clean(tmp_path)
    result = cfn_lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
