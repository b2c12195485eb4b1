"""What entry.py does before any resource logic: dispatch on ResourceType and check properties."""

from __future__ import annotations

import pytest

from lambda_handlers.personalize import entry
from lambda_handlers.personalize.errors import InvalidEventError, InvalidPropertyError
from personalize_tools.emulator import EmulatorServer

from .support import delete_of, drive, event


def test_unknown_resource_type_fails_create_but_not_delete(handlers: EmulatorServer) -> None:
    create = event("dataset_group_create")
    create["ResourceType"] = "Custom::PersonalizeSolution"

    with pytest.raises(InvalidEventError, match="known types: Custom::PersonalizeDataset, "):
        entry.on_event(create)
    delete = delete_of(create, "arn:aws:personalize:us-east-1:123456789012:solution/pz-test")
    assert entry.on_event(delete)["PhysicalResourceId"] == delete["PhysicalResourceId"]
    assert entry.is_complete(delete) == {"IsComplete": True}


@pytest.mark.parametrize(
    ("fixture", "properties", "message"),
    [
        (
            "dataset_group_create",
            {"Domain": "RETAIL"},
            "property Domain is 'RETAIL'; allowed: ECOMMERCE, VIDEO_ON_DEMAND",
        ),
        (
            "dataset_group_create",
            {"RemovalPolicy": "keep"},
            "property RemovalPolicy is 'keep'; allowed: retain, destroy",
        ),
        (
            "dataset_group_create",
            {"KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1"},
            "KmsKeyArn needs RoleArn",
        ),
        ("dataset_group_create", {"Name": None}, "property Name is required"),
        ("schema_create", {"Schema": "{not json"}, "property Schema: schema is not valid JSON"),
        (
            "dataset_create",
            {"DatasetType": "CLICKS"},
            "property DatasetType is 'CLICKS'; allowed: INTERACTIONS",
        ),
        (
            "dataset_create",
            {"SchemaArn": "pz-test-schema"},
            "property SchemaArn is 'pz-test-schema'; expected a schema ARN",
        ),
        (
            "import_job_create",
            {"ImportMode": "APPEND"},
            "property ImportMode is 'APPEND'; allowed: FULL, INCREMENTAL",
        ),
        ("import_job_create", {"DataLocation": "https://example.com/a.csv"}, "must be s3://bucket/key"),
        ("event_tracker_create", {"Name": "my tracker"}, "Name 'my tracker' must match"),
        ("event_tracker_create", {"Tags": [{"Value": "x"}]}, "is not a {Key, Value} pair"),
    ],
)
def test_bad_properties_fail_before_any_service_call(
    handlers: EmulatorServer, fixture: str, properties: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidPropertyError) as failure:
        drive(event(fixture, properties=properties))

    assert message in str(failure.value)
    assert str(failure.value).startswith("Custom::Personalize")  # names the resource type and logical id
    assert handlers.calls()["total"] == 0


def test_bad_request_type_is_refused(handlers: EmulatorServer) -> None:
    create = event("dataset_group_create")
    create["RequestType"] = "Replace"

    with pytest.raises(InvalidEventError, match="RequestType is 'Replace'"):
        entry.on_event(create)


@pytest.mark.parametrize(
    "fixture",
    ["dataset_group_delete", "schema_delete", "dataset_delete", "import_job_delete", "event_tracker_delete"],
)
def test_delete_after_a_create_that_never_returned_an_arn_is_a_no_op(
    handlers: EmulatorServer, fixture: str
) -> None:
    delete = event(fixture)
    delete["PhysicalResourceId"] = delete["RequestId"]  # the framework's default when Create failed early

    outcome = drive(delete)

    assert outcome.physical_id == delete["RequestId"]
    assert outcome.polls == 1
    assert handlers.calls()["total"] == 0


def test_a_long_failure_message_is_cut_to_fit_and_points_to_the_log_group(handlers: EmulatorServer) -> None:
    """CloudFormation refuses responses over 4,096 bytes: the reason is cut and says where the rest is."""

    class Context:
        log_group_name = "pz-dev-personalize-PersonalizeProviderLogs1234"

    with pytest.raises(entry.MessageTooLongError) as failure:  # the message quotes the 5,000-byte value
        entry.on_event(event("dataset_group_create", properties={"Tags": "x" * 5000}), Context())

    message = str(failure.value)
    assert len(message.encode()) <= entry.REASON_LIMIT_BYTES
    assert message.startswith("Custom::PersonalizeDatasetGroup")
    assert "CloudWatch Logs group pz-dev-personalize-PersonalizeProviderLogs1234" in message
    assert isinstance(failure.value.__cause__, InvalidPropertyError)
