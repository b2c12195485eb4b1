"""The custom-resource handlers log in Lambda's native JSON format, and their own lines still parse."""

from __future__ import annotations

import json
import logging
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import add_environment
from config import EnvironmentConfig
from lambda_handlers.personalize import framework


@pytest.fixture(scope="module")
def functions(dev_config: EnvironmentConfig) -> dict[str, Any]:
    resources = Template.from_stack(add_environment(cdk.App(), dev_config)).to_json()["Resources"]
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Handler", "").startswith("personalize.entry.")
    }


def test_both_handlers_use_lambdas_json_log_format(functions: dict[str, Any]) -> None:
    assert sorted(properties["Handler"] for properties in functions.values()) == [
        "personalize.entry.is_complete",
        "personalize.entry.on_event",
    ]
    for properties in functions.values():
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        assert "LogGroup" in properties["LoggingConfig"]


def test_a_decision_line_is_one_json_message(caplog: pytest.LogCaptureFixture) -> None:
    """Lambda's JSON format puts the formatted message in `message`; ours must parse on its own."""
    event = framework.ResourceEvent.parse(
        {
            "RequestType": "Create",
            "ResourceType": "Custom::PersonalizeSchema",
            "LogicalResourceId": "Schema",
            "RequestId": "request-1",
            "ResourceProperties": {"ServiceToken": "arn"},
        }
    )
    with caplog.at_level(logging.INFO, logger=framework.LOGGER.name):
        framework.log_decision(event, "on_event", "create", name="pz-dev-schema-0a1b2c3d")
    (record,) = caplog.records
    parsed = json.loads(record.getMessage())
    assert parsed["decision"] == "create"
    assert parsed["name"] == "pz-dev-schema-0a1b2c3d"
