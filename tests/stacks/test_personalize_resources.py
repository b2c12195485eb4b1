"""The custom resources of the dev stack: types, properties, names, dependency order and least privilege."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import add_environment
from config import EnvironmentConfig
from constructs_lib import DomainDatasetGroup, PersonalizeProvider
from lambda_handlers.personalize import domain


@pytest.fixture(scope="module")
def template(dev_config: EnvironmentConfig) -> dict[str, Any]:
    app = cdk.App()
    return Template.from_stack(add_environment(app, dev_config)).to_json()


def _custom(template: dict[str, Any], kind: str, logical_prefix: str = "") -> tuple[str, dict[str, Any]]:
    """The one Custom::Personalize{kind} (whose logical id starts with `logical_prefix`)."""
    found = [
        (k, v)
        for k, v in template["Resources"].items()
        if v["Type"] == f"Custom::Personalize{kind}" and k.startswith(logical_prefix)
    ]
    assert len(found) == 1, f"expected one Custom::Personalize{kind} {logical_prefix}, found {len(found)}"
    return found[0]


def test_one_provider_serves_every_custom_resource(template: dict[str, Any]) -> None:
    tokens = {
        json.dumps(resource["Properties"]["ServiceToken"])
        for resource in template["Resources"].values()
        if resource["Type"].startswith("Custom::Personalize")
    }
    assert len(tokens) == 1
    handlers = sorted(
        resource["Properties"]["Handler"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Runtime") == "python3.14"
    )
    assert handlers == ["personalize.entry.is_complete", "personalize.entry.on_event"]


def test_dataset_group_properties(template: dict[str, Any], dev_config: EnvironmentConfig) -> None:
    _, group = _custom(template, "DatasetGroup")
    props = group["Properties"]
    assert props["Domain"] == dev_config.domain
    assert props["Name"].startswith("pz-dev-datasetgroup-")
    assert domain.name_problem(props["Name"]) is None
    assert props["RemovalPolicy"] == "destroy"
    assert {"Key": "environment", "Value": "dev"} in props["Tags"]


def test_schema_dataset_and_import_are_wired_in_order(template: dict[str, Any]) -> None:
    group_id, _ = _custom(template, "DatasetGroup")
    schema_id, schema = _custom(template, "Schema", "DatasetGroupInteractions")
    dataset_id, dataset = _custom(template, "Dataset", "DatasetGroupInteractions")
    _, job = _custom(template, "DatasetImportJob", "DatasetGroupInteractions")
    _, tracker = _custom(template, "EventTracker")

    assert json.loads(schema["Properties"]["Schema"]) == domain.default_schema("ECOMMERCE")
    assert dataset["Properties"]["DatasetGroupArn"] == {"Ref": group_id}
    assert dataset["Properties"]["SchemaArn"] == {"Ref": schema_id}
    assert dataset["Properties"]["DatasetType"] == "INTERACTIONS"
    assert job["Properties"]["DatasetArn"] == {"Ref": dataset_id}
    assert job["Properties"]["SchemaArn"] == {"Ref": schema_id}
    assert job["Properties"]["ImportMode"] == "FULL"
    assert tracker["Properties"]["DatasetGroupArn"] == {"Ref": group_id}
    # The tracker must go before the Interactions dataset on delete, so it is created after it.
    assert dataset_id in tracker["DependsOn"]
    upload = [
        k
        for k, v in template["Resources"].items()
        if v["Type"] == "Custom::CDKBucketDeployment" and k.startswith("UploadInteractions")
    ]
    assert upload and upload[0] in job["DependsOn"], "the import starts only after the data is uploaded"
    role_policy = [k for k in template["Resources"] if k.startswith("PersonalizeRoleReadData")]
    assert role_policy and role_policy[0] in job["DependsOn"], "the import waits for the role's read policy"
    assert job["Properties"]["DataLocation"] == {
        "Fn::Join": [
            "",
            [
                "s3://",
                {"Ref": template["Outputs"]["DataBucketName"]["Value"]["Ref"]},
                "/imports/interactions/interactions.csv",
            ],
        ]
    }


def test_outputs_carry_every_arn_and_the_tracking_id(template: dict[str, Any]) -> None:
    assert {
        "DatasetGroupArn",
        "InteractionsSchemaArn",
        "InteractionsDatasetArn",
        "InteractionsImportJobArn",
        "EventTrackerArn",
        "TrackingId",
    } <= set(template["Outputs"])
    tracker_id, _ = _custom(template, "EventTracker")
    assert template["Outputs"]["TrackingId"]["Value"] == {"Fn::GetAtt": [tracker_id, "TrackingId"]}


def _handler_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy" and logical_id.startswith("PersonalizeProviderHandlerRole"):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_handler_role_is_scoped_to_the_name_prefix(template: dict[str, Any]) -> None:
    statements = _handler_statements(template)
    named = [s for s in statements if s.get("Sid") == "ManageNamedResources"]
    assert len(named) == 1
    resources = json.dumps(named[0]["Resource"])
    for kind in ("dataset-group", "schema", "dataset", "dataset-import-job"):
        assert f":{kind}/pz-dev-*" in resources
    wildcard = [s for s in statements if s.get("Resource") == "*"]
    assert all(action.startswith("personalize:List") for s in wildcard for action in s["Action"])


def test_pass_role_only_to_personalize(template: dict[str, Any]) -> None:
    statements = _handler_statements(template)
    passes = [s for s in statements if "iam:PassRole" in json.dumps(s.get("Action"))]
    allow = [s for s in passes if s["Effect"] == "Allow"]
    deny = [s for s in passes if s["Effect"] == "Deny"]
    assert allow and deny
    assert all("PersonalizeRole" in json.dumps(s["Resource"]) for s in passes)
    assert deny[0]["Condition"] == {"StringNotEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}


def test_handler_reads_only_the_data_locations(template: dict[str, Any]) -> None:
    gets = [s for s in _handler_statements(template) if s.get("Action") == "s3:GetObject"]
    resources = sorted(json.dumps(s["Resource"]) for s in gets)
    assert len(resources) == 3
    for kind in ("interactions", "items", "users"):
        assert sum(f"/imports/{kind}/{kind}.csv" in resource for resource in resources) == 1


def test_construct_rejects_bad_input_at_synth() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError, match=r"domain 'RETAIL' is not one of ECOMMERCE, VIDEO_ON_DEMAND"):
        DomainDatasetGroup(stack, "G", domain_name="RETAIL", name_prefix="t")
    with pytest.raises(ValueError, match=r"dataset group name 'has space' must match"):
        DomainDatasetGroup(stack, "Named", domain_name="ECOMMERCE", name_prefix="t", name="has space")
    good = DomainDatasetGroup(stack, "Good", domain_name="VIDEO_ON_DEMAND", name_prefix="t")
    with pytest.raises(ValueError, match=r"lacks required field\(s\) GENRES"):
        good.add_dataset("ITEMS", schema=json.dumps(domain.default_schema("ECOMMERCE", "ITEMS")))
    good.add_interactions_dataset()
    with pytest.raises(ValueError, match="holds one INTERACTIONS dataset"):
        good.add_interactions_dataset()


def test_provider_is_one_per_stack_and_checks_timeouts() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    first = PersonalizeProvider.of(stack)
    assert PersonalizeProvider.of(stack) is first
    other = cdk.Stack(cdk.App(), "T")
    with pytest.raises(ValueError, match="3600"):
        PersonalizeProvider.of(other, total_timeout=cdk.Duration.hours(2))
    with pytest.raises(ValueError, match="multiple of query_interval"):
        PersonalizeProvider.of(
            other, query_interval=cdk.Duration.seconds(7), total_timeout=cdk.Duration.seconds(60)
        )


def test_names_change_with_schema_content_and_differ_between_environments(
    dev_config: EnvironmentConfig,
) -> None:
    def names(config: EnvironmentConfig) -> dict[str, str]:
        resources = Template.from_stack(add_environment(cdk.App(), config)).to_json()["Resources"]
        return {
            logical_id: v["Properties"].get("Name") or v["Properties"].get("JobName")
            for logical_id, v in resources.items()
            if v["Type"].startswith("Custom::Personalize")
        }

    base = names(dev_config)
    other_env = names(dev_config.model_copy(update={"name": "staging"}))
    assert not set(base.values()) & set(other_env.values())
    new_version = names(dev_config.model_copy(update={"data_version": "2"}))
    changed = sorted(logical_id for logical_id in base if new_version[logical_id] != base[logical_id])
    assert len(changed) == 1 and changed[0].startswith("DatasetGroupInteractionsImport"), changed
