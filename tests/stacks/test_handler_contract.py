"""Construct and handler cannot drift apart: every custom resource's synthesized properties pass its handler.

Each Custom::Personalize* resource of real templates (the dev stack, and a KMS + Users/Items +
recommenders stack) becomes the Create event CloudFormation would send, with references resolved
to plausible values, and goes through the handler's own property checks. The full lifecycle of the
same properties against the emulator runs in the local-deploy tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import mypy.api
import pytest
from aws_cdk.assertions import Template

from app import add_environment
from config import EnvironmentConfig
from lambda_handlers.personalize import contract
from lambda_handlers.personalize.errors import InvalidPropertyError
from lambda_handlers.personalize.framework import CLOUDFORMATION_PROPERTIES, ResourceEvent
from lambda_handlers.personalize.resources import RESOURCE_TYPES
from tests.stacks.test_recommenders import CONFIG as RECOMMENDERS_CONFIG

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture(scope="module")
def templates(dev_config: EnvironmentConfig) -> list[dict[str, Any]]:
    kms_vod = EnvironmentConfig.model_validate({**RECOMMENDERS_CONFIG, "name": "contract", "kms": "create"})
    return [
        Template.from_stack(add_environment(cdk.App(), config)).to_json() for config in (dev_config, kms_vod)
    ]


class Resolver:
    """Stands in for CloudFormation: Ref and Fn::GetAtt become values of the right shape."""

    def __init__(self, resources: dict[str, Any]) -> None:
        self.resources = resources

    def ref(self, logical_id: str) -> str:
        if logical_id.startswith("AWS::"):
            return {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}.get(
                logical_id, "x"
            )
        resource = self.resources[logical_id]
        kind, props = resource["Type"], resource.get("Properties", {})
        base = f"arn:aws:personalize:{REGION}:{ACCOUNT}"
        if kind == "Custom::PersonalizeDataset":
            group = self.resolve(props["DatasetGroupArn"]).rsplit("/", 1)[1]
            return f"{base}:dataset/{group}/{props['DatasetType']}"
        if kind in RESOURCE_TYPES:
            name = props.get("Name") or props.get("JobName") or "0a1b2c3d"
            return f"{base}:{RESOURCE_TYPES[kind].kind.arn_resource}/{name}"
        if kind == "AWS::S3::Bucket":
            return f"{logical_id.lower()}-bucket"
        return logical_id

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{logical_id}"
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{self.ref(logical_id)}"
        if kind == "AWS::Lambda::Function":  # the ServiceToken
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
        raise AssertionError(f"unexpected Fn::GetAtt {logical_id}.{attribute} in custom-resource properties")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (function, argument), *_ = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                return self.get_att(*argument)
            if function == "Fn::Join":
                return argument[0].join(self.resolve(part) for part in argument[1])
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, bool | int | float):
            return str(value).lower() if isinstance(value, bool) else str(value)  # CloudFormation stringifies
        return value


def _events(template: dict[str, Any]) -> list[dict[str, Any]]:
    resolver = Resolver(template["Resources"])
    return [
        {
            "RequestType": "Create",
            "ResourceType": resource["Type"],
            "LogicalResourceId": logical_id,
            "RequestId": "contract",
            "ResourceProperties": resolver.resolve(resource["Properties"]),
        }
        for logical_id, resource in template["Resources"].items()
        if resource["Type"].startswith("Custom::Personalize")
    ]


def test_every_custom_resource_type_has_a_handler(templates: list[dict[str, Any]]) -> None:
    emitted = {event["ResourceType"] for template in templates for event in _events(template)}
    assert emitted == set(RESOURCE_TYPES), "constructs and handlers cover the same resource types"


def test_synthesized_properties_pass_the_handlers_checks(
    templates: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    checked = 0
    for template in templates:
        for event in _events(template):
            parsed = ResourceEvent.parse(event)
            RESOURCE_TYPES[parsed.resource_type](parsed, "on_event").validate()
            checked += 1
    assert checked >= 11


def test_synthesized_properties_are_the_contracts(templates: list[dict[str, Any]]) -> None:
    """Every property a construct emits is named by the contract, and every required one is there."""
    for template in templates:
        for event in _events(template):
            resource_type = contract.choice(event["ResourceType"], contract.RESOURCE_TYPES)
            assert resource_type is not None, event["ResourceType"]
            required, optional = contract.property_names(resource_type)
            emitted = set(event["ResourceProperties"]) - CLOUDFORMATION_PROPERTIES
            assert required <= emitted <= required | optional, (event["LogicalResourceId"], emitted)


def test_the_handlers_serve_exactly_the_contracts_types() -> None:
    assert set(RESOURCE_TYPES) == set(contract.RESOURCE_TYPES) == set(contract.PROPERTIES)


def test_a_property_outside_the_contract_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    event = {
        "RequestType": "Create",
        "ResourceType": contract.EVENT_TRACKER,
        "LogicalResourceId": "Tracker",
        "RequestId": "contract",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Name": "tracker",
            "DatasetGroupArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/g",
            "DatasetGroupARN": "misspelt",
        },
    }
    parsed = ResourceEvent.parse(event)
    with pytest.raises(
        InvalidPropertyError, match=r"unknown property DatasetGroupARN; allowed: .*DatasetGroupArn"
    ):
        RESOURCE_TYPES[parsed.resource_type](parsed, "on_event").validate()


MISSPELT_CONSTRUCT = """
from lambda_handlers.personalize import contract

properties: contract.EventTrackerProperties = {
    "Name": "tracker",
    "DatasetGroupARN": "arn",
    "Tags": [],
    "RemovalPolicy": "keep",
}
"""


def test_mypy_refuses_what_the_contract_does_not_name(tmp_path: Path) -> None:
    """The reason for the TypedDicts: a misspelt or missing property, or a bad value, fails type checking."""
    source = tmp_path / "construct.py"
    source.write_text(MISSPELT_CONSTRUCT)
    report, _, status = mypy.api.run(["--strict", "--no-incremental", "--follow-imports=silent", str(source)])
    assert status == 1
    assert '"DatasetGroupARN"' in report  # extra key
    assert '"DatasetGroupArn"' in report  # missing key
    assert '"RemovalPolicy" has type "Literal' in report  # "keep" is not a removal policy
