"""Custom::PersonalizeSchema: immutable schemas, replaced by name, adopted on replay."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lambda_handlers.personalize import clients
from lambda_handlers.personalize.errors import NameConflictError, SchemaImmutableError
from personalize_tools.emulator import EmulatorServer, ManualClock, Pace

from .support import decisions, delete_of, drive, event, start, update_of


def test_create_returns_the_schema_arn(handlers: EmulatorServer, personalize: Any) -> None:
    create = event("schema_create")

    outcome = drive(create)

    schema = personalize.describe_schema(schemaArn=outcome.physical_id)["schema"]
    assert outcome.data == {"SchemaArn": outcome.physical_id, "Name": "pz-test-interactions-3f2a9c1b"}
    assert json.loads(schema["schema"]) == json.loads(create["ResourceProperties"]["Schema"])
    assert schema["domain"] == "ECOMMERCE"


def test_the_same_create_delivered_twice_adopts_the_schema(
    handlers: EmulatorServer, personalize: Any
) -> None:
    first = drive(event("schema_create"))
    # Same content, other formatting: still the same schema.
    reformatted = json.dumps(json.loads(event("schema_create")["ResourceProperties"]["Schema"]), indent=2)

    second = drive(event("schema_create", properties={"Schema": reformatted}))

    assert second.physical_id == first.physical_id
    assert handlers.calls()["calls"]["CreateSchema"] == 1
    assert len(personalize.list_schemas()["schemas"]) == 1


def test_create_over_a_different_schema_of_the_same_name_fails(handlers: EmulatorServer) -> None:
    drive(event("schema_create"))
    other = event("schema_update")["ResourceProperties"]["Schema"]

    with pytest.raises(NameConflictError, match=r"already exists .* with different content"):
        drive(event("schema_create", properties={"Schema": other}))


def test_changed_content_under_a_new_name_is_a_new_schema(handlers: EmulatorServer, personalize: Any) -> None:
    old = drive(event("schema_create"))

    new = drive(event("schema_update", physical_id=old.physical_id))

    assert new.physical_id.endswith(":schema/pz-test-interactions-7d41e0aa")
    assert new.data["Name"] == "pz-test-interactions-7d41e0aa"
    # The old one stays until CloudFormation's cleanup Delete, after the dataset has moved.
    assert (
        personalize.describe_schema(schemaArn=old.physical_id)["schema"]["name"]
        == "pz-test-interactions-3f2a9c1b"
    )
    drive(delete_of(event("schema_create"), old.physical_id))
    assert [s["name"] for s in personalize.list_schemas()["schemas"]] == ["pz-test-interactions-7d41e0aa"]


def test_changed_content_under_a_pinned_name_fails(handlers: EmulatorServer) -> None:
    create = event("schema_create")
    old = drive(create)
    other = event("schema_update")["ResourceProperties"]["Schema"]

    with pytest.raises(SchemaImmutableError, match="immutable") as failure:
        drive(update_of(create, old.physical_id, Schema=other))
    assert old.physical_id in str(failure.value)


def test_removal_policy_change_is_in_place(handlers: EmulatorServer) -> None:
    create = event("schema_create")
    old = drive(create)

    updated = drive(update_of(create, old.physical_id, RemovalPolicy="retain"))

    assert updated.physical_id == old.physical_id
    assert handlers.calls()["calls"]["CreateSchema"] == 1


def test_delete_removes_it_and_tolerates_it_being_gone(handlers: EmulatorServer, personalize: Any) -> None:
    created = drive(event("schema_create"))

    drive(event("schema_delete", physical_id=created.physical_id))
    drive(event("schema_delete", physical_id=created.physical_id))

    assert personalize.list_schemas()["schemas"] == []
    assert handlers.calls()["calls"]["DeleteSchema"] == 1  # the second Delete found it gone


def test_delete_of_a_schema_in_use_keeps_it_and_names_the_dataset(
    handlers: EmulatorServer,
    personalize: Any,
    dataset_arn: str,
    schema_arn: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A dataset the stack keeps (adopted or retained) still needs its schema: a rollback or destroy
    must not fail over it, nor take it away."""
    drive(event("schema_delete", physical_id=schema_arn))

    assert [schema["schemaArn"] for schema in personalize.list_schemas()["schemas"]] == [schema_arn]
    kept = [line for line in decisions(caplog.records) if line["decision"] == "in-use-kept"]
    assert kept and f"dataset pz-test-interactions ({dataset_arn})" in kept[0]["used_by"]


def test_retain_leaves_the_schema(handlers: EmulatorServer, personalize: Any) -> None:
    created = drive(event("schema_create"))

    drive(event("schema_delete", physical_id=created.physical_id, properties={"RemovalPolicy": "retain"}))

    assert (
        personalize.describe_schema(schemaArn=created.physical_id)["schema"]["schemaArn"]
        == created.physical_id
    )


def test_delete_of_a_schema_whose_dataset_is_being_deleted_waits_for_it_then_deletes(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A rollback's cleanup gives no order between a replaced dataset and its replaced schema: a dataset
    DELETE PENDING or IN_PROGRESS still references the schema (DeleteSchema refuses) but is going, so
    the schema's Delete waits for it instead of keeping the schema for good (an orphan). The emulator's
    clock stands still, so the dataset stays being deleted for as many polls as the test likes."""
    clock = ManualClock()
    with EmulatorServer(
        pace=Pace.instant().with_durations({"delete": 4.0}), clock=clock, s3_endpoint_url=moto_server
    ) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PERSONALIZE", server.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
        clients.reset_clients()
        try:
            personalize = boto3.client("personalize", endpoint_url=server.url, region_name="us-east-1")
            drive(event("dataset_group_create"))
            schema_arn = drive(event("schema_create")).physical_id
            dataset_arn = drive(event("dataset_create")).physical_id
            personalize.delete_dataset(datasetArn=dataset_arn)

            waiter = start(event("schema_delete", physical_id=schema_arn))
            for _ in range(3):
                assert waiter.poll() == {"IsComplete": False}
            status = personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]["status"]
            assert status in ("DELETE PENDING", "DELETE IN_PROGRESS")
            assert [item["schemaArn"] for item in personalize.list_schemas()["schemas"]] == [schema_arn]

            clock.advance(4.0)  # the dataset is gone
            waiter.finish(max_polls=3)
            assert personalize.list_schemas()["schemas"] == []
        finally:
            clients.reset_clients()
    lines = decisions(caplog.records)
    deferred = [line for line in lines if line["decision"] == "delete-deferred"]
    assert deferred and dataset_arn in deferred[0]["waiting_for"]
    assert not [line for line in lines if line["decision"] == "in-use-kept"]
