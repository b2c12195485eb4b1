"""The wire protocol, model-driven validation, pagination and the admin endpoints."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lambda_handlers.personalize import domain, domain_rules, kinds
from personalize_tools.emulator import EmulatorServer
from tests.emulator.support import admin, raw_call

TARGET = "AmazonPersonalize."


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_errors_are_http_400_with_type_and_message(clean_emulator: EmulatorServer) -> None:
    status, body, content_type = raw_call(
        clean_emulator.url, TARGET + "CreateDatasetGroup", json.dumps({"name": "no spaces allowed"})
    )
    assert status == 400
    assert content_type == "application/x-amz-json-1.1"
    assert body["__type"] == "InvalidInputException"
    assert "Member must satisfy regular expression pattern" in body["message"]


def test_unknown_target_and_unsupported_operation(clean_emulator: EmulatorServer, personalize: Any) -> None:
    status, body, _ = raw_call(clean_emulator.url, "SomethingElse.CreateDatasetGroup", "{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    with pytest.raises(ClientError) as error:
        personalize.create_solution(name="s", datasetGroupArn=domain.arn("us-east-1", "1", "dataset-group/g"))
    assert error_code(error) == "UnsupportedOperationException"
    assert "CreateDatasetGroup" in error.value.response["Error"]["Message"]


def test_lists_of_kinds_the_emulator_cannot_hold_are_empty(
    clean_emulator: EmulatorServer, personalize: Any
) -> None:
    group = domain.arn("us-east-1", "123456789012", "dataset-group/any")
    assert personalize.list_solutions(datasetGroupArn=group)["solutions"] == []
    assert personalize.list_filters(datasetGroupArn=group)["Filters"] == []
    assert personalize.list_campaigns()["campaigns"] == []


def test_missing_required_member_and_wrong_json_type(clean_emulator: EmulatorServer) -> None:
    status, body, _ = raw_call(clean_emulator.url, TARGET + "CreateSchema", json.dumps({"name": "s"}))
    assert (status, body["__type"]) == (400, "InvalidInputException")
    assert "Value null at 'schema' failed to satisfy constraint: Member must not be null" in body["message"]
    status, body, _ = raw_call(clean_emulator.url, TARGET + "CreateDatasetGroup", json.dumps({"name": 5}))
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body, _ = raw_call(clean_emulator.url, TARGET + "ListSchemas", "not json")
    assert (status, body["__type"]) == (400, "SerializationException")


@pytest.mark.parametrize(
    ("operation", "params", "fragment"),
    [
        ("create_dataset_group", {"name": "x" * 64}, "length less than or equal to 63"),
        (
            "create_dataset_group",
            {"name": "g", "domain": "RETAIL"},
            "enum value set: [ECOMMERCE, VIDEO_ON_DEMAND]",
        ),
        ("create_dataset_group", {"name": "g", "roleArn": "role"}, "regular expression pattern"),
        ("describe_dataset_group", {"datasetGroupArn": "not-an-arn"}, "regular expression pattern"),
        ("list_schemas", {"maxResults": 101}, "value less than or equal to 100"),
        (
            "tag_resource",
            {"resourceArn": "arn:aws:personalize:::x", "tags": [{"tagKey": "a#b", "tagValue": "v"}]},
            "at 'tags.1.member.tagKey'",
        ),
    ],
)
def test_service_side_constraints_come_from_the_botocore_model(
    clean_emulator: EmulatorServer, personalize: Any, operation: str, params: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ClientError) as error:
        getattr(personalize, operation)(**params)
    assert error_code(error) == "InvalidInputException"
    assert fragment in error.value.response["Error"]["Message"]


def test_unicode_letters_are_valid_in_tags(clean_emulator: EmulatorServer, personalize: Any) -> None:
    arn = personalize.create_dataset_group(name="tagged")["datasetGroupArn"]
    personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": "équipe Ünit", "tagValue": "数据 v1.0"}])
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"tagKey": "équipe Ünit", "tagValue": "数据 v1.0"}
    ]


def test_timestamps_are_epoch_seconds_on_the_wire(clean_emulator: EmulatorServer, personalize: Any) -> None:
    arn = personalize.create_dataset_group(name="timed")["datasetGroupArn"]
    status, body, _ = raw_call(
        clean_emulator.url, TARGET + "DescribeDatasetGroup", json.dumps({"datasetGroupArn": arn})
    )
    assert status == 200
    group = body["datasetGroup"]
    assert isinstance(group["creationDateTime"], float)
    assert group["creationDateTime"] > 1_600_000_000
    assert "failureReason" not in group


def test_not_found_for_unknown_arns(clean_emulator: EmulatorServer, personalize: Any) -> None:
    missing = domain.arn("us-east-1", "123456789012", "dataset-group/never-made")
    with pytest.raises(ClientError) as error:
        personalize.describe_dataset_group(datasetGroupArn=missing)
    assert error_code(error) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as error:
        personalize.list_tags_for_resource(resourceArn=missing)
    assert error_code(error) == "ResourceNotFoundException"


def test_pagination_with_max_results_and_next_token(clean_emulator: EmulatorServer, personalize: Any) -> None:
    schema = domain_rules.default_schema_json("ECOMMERCE")
    names = [f"schema-{index}" for index in range(7)]
    for name in names:
        personalize.create_schema(name=name, schema=schema, domain="ECOMMERCE")
    first = personalize.list_schemas(maxResults=3)
    assert [item["name"] for item in first["schemas"]] == names[:3]
    second = personalize.list_schemas(maxResults=3, nextToken=first["nextToken"])
    assert [item["name"] for item in second["schemas"]] == names[3:6]
    last = personalize.list_schemas(maxResults=3, nextToken=second["nextToken"])
    assert [item["name"] for item in last["schemas"]] == names[6:]
    assert "nextToken" not in last
    paged = personalize.get_paginator("list_schemas").paginate(PaginationConfig={"PageSize": 2})
    assert [item["name"] for page in paged for item in page["schemas"]] == names
    assert set(first["schemas"][0]) == {
        "name",
        "schemaArn",
        "domain",
        "creationDateTime",
        "lastUpdatedDateTime",
    }
    with pytest.raises(ClientError) as error:
        personalize.list_schemas(nextToken="bm90IGEgdG9rZW4=")
    assert error_code(error) == "InvalidNextTokenException"
    with pytest.raises(ClientError) as error:
        personalize.list_dataset_groups(nextToken=first["nextToken"])
    assert error_code(error) == "InvalidNextTokenException"


def test_list_filters_by_parent(clean_emulator: EmulatorServer, personalize: Any) -> None:
    personalize.create_dataset_group(name="one")
    other = personalize.create_dataset_group(name="two")["datasetGroupArn"]
    assert [group["name"] for group in personalize.list_dataset_groups()["datasetGroups"]] == ["one", "two"]
    assert personalize.list_datasets(datasetGroupArn=other)["datasets"] == []
    assert personalize.list_recommenders(datasetGroupArn=other)["recommenders"] == []


def test_endpoint_from_environment_variable(
    clean_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_PERSONALIZE", clean_emulator.url)
    client = boto3.client("personalize", region_name="us-east-1", config=Config(retries={"mode": "standard"}))
    arn = client.create_dataset_group(name="from-env")["datasetGroupArn"]
    assert arn == "arn:aws:personalize:us-east-1:123456789012:dataset-group/from-env"


def test_admin_state_calls_reset_and_faults(clean_emulator: EmulatorServer, personalize: Any) -> None:
    url = clean_emulator.url
    arn = personalize.create_dataset_group(name="admin-view", tags=[{"tagKey": "team", "tagValue": "ml"}])[
        "datasetGroupArn"
    ]
    personalize.describe_dataset_group(datasetGroupArn=arn)
    personalize.describe_dataset_group(datasetGroupArn=arn)
    status, state = admin(url, "GET", "state")
    assert status == 200
    [group] = state["resources"]["dataset_group"]
    assert (group["datasetGroupArn"], group["status"], group["tags"]) == (
        arn,
        kinds.CREATE_IN_PROGRESS,
        {"team": "ml"},
    )
    status, calls = admin(url, "GET", "calls")
    assert calls["calls"] == {"CreateDatasetGroup": 1, "DescribeDatasetGroup": 2}
    assert calls["total"] == 3

    status, faults = admin(url, "POST", "faults", {"throttle_rate": 1.0, "seed": 3})
    assert (status, faults["throttle_rate"], faults["seed"]) == (200, 1.0, 3)
    assert admin(url, "GET", "state")[0] == 200  # admin endpoints are never faulted
    status, body = admin(url, "POST", "faults", {"throttle_rate": 2})
    assert (status, body["__type"]) == (400, "InvalidAdminRequest")
    status, body = admin(url, "POST", "faults", {"no_such_setting": 1})
    assert status == 400
    assert "no_such_setting" in body["message"]

    assert admin(url, "POST", "calls/reset")[1] == {"reset": True}
    assert admin(url, "GET", "calls")[1]["calls"] == {}
    assert admin(url, "POST", "reset")[0] == 200
    assert admin(url, "GET", "faults")[1]["throttle_rate"] == 0.0
    assert admin(url, "GET", "state")[1]["resources"]["dataset_group"] == []
    status, body = admin(url, "GET", "nowhere")
    assert status == 404
    assert "GET /_emulator/state" in body["message"]


def test_a_stopped_emulator_answers_nothing_even_on_kept_alive_connections() -> None:
    server = EmulatorServer(pace="instant").start()
    client = boto3.client(
        "personalize",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    assert client.list_dataset_groups()["datasetGroups"] == []
    server.stop()
    with pytest.raises(BotoCoreError):
        client.list_dataset_groups()
