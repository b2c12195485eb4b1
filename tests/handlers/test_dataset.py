"""Custom::PersonalizeDataset: schema changes in place through UpdateDataset, safe deletes."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import pytest

from lambda_handlers.personalize import domain_rules
from lambda_handlers.personalize.errors import (
    InvalidPropertyError,
    NameConflictError,
    ResourceFailedError,
    SchemaReplacementError,
)
from personalize_tools.emulator import EmulatorServer

from .support import (
    ROLE_ARN,
    decisions,
    drive,
    event,
    owner_tag,
    settle_import_job,
    start,
    template_tags,
    update_of,
)


def start_import_outside_the_stack(personalize: Any, dataset_arn: str, data_location: str) -> str:
    """An import job the handlers did not start, still pending when the next handler call comes."""
    arn: str = personalize.create_dataset_import_job(
        jobName="pz-test-running",
        datasetArn=dataset_arn,
        dataSource={"dataLocation": data_location},
        roleArn=ROLE_ARN,
    )["datasetImportJobArn"]
    return arn


def test_create_waits_for_active(
    handlers: EmulatorServer, personalize: Any, group_arn: str, schema_arn: str
) -> None:
    outcome = drive(event("dataset_create"))

    assert outcome.physical_id == group_arn.replace("dataset-group/", "dataset/") + "/INTERACTIONS"
    assert outcome.data == {
        "DatasetArn": outcome.physical_id,
        "Name": "pz-test-interactions",
        "DatasetType": "INTERACTIONS",
        "SchemaArn": schema_arn,
    }
    assert personalize.describe_dataset(datasetArn=outcome.physical_id)["dataset"]["status"] == "ACTIVE"


def test_the_same_create_delivered_twice_makes_one_dataset(
    handlers: EmulatorServer, personalize: Any, group_arn: str, schema_arn: str
) -> None:
    first = start(event("dataset_create"))
    second = start(event("dataset_create"))

    assert second.physical_id == first.physical_id
    assert first.finish().physical_id == second.finish().physical_id
    assert handlers.calls()["calls"]["CreateDataset"] == 1
    assert len(personalize.list_datasets(datasetGroupArn=group_arn)["datasets"]) == 1


def users_schema(*extra: dict[str, Any]) -> str:
    schema = domain_rules.default_schema("ECOMMERCE", "USERS")
    schema["fields"].extend(extra)
    return json.dumps(schema, separators=(",", ":"))


AGE = {"name": "AGE", "type": ["null", "int"]}


def schema_resource(name: str, schema: str) -> str:
    return drive(event("schema_create", properties={"Name": name, "Schema": schema})).physical_id


@dataclass
class UsersDataset:
    arn: str
    create: dict[str, Any]
    schema_arn: str


@pytest.fixture
def users(group_arn: str) -> UsersDataset:
    """A Users dataset on the domain's default Users schema: one whose schema Personalize can replace."""
    schema_arn = schema_resource("pz-test-users-v1", users_schema())
    create = event(
        "dataset_create",
        properties={"Name": "pz-test-users", "DatasetType": "USERS", "SchemaArn": schema_arn},
    )
    return UsersDataset(drive(create).physical_id, create, schema_arn)


def test_schema_change_updates_the_dataset_in_place(
    handlers: EmulatorServer, personalize: Any, users: UsersDataset
) -> None:
    new_schema = schema_resource("pz-test-users-v2", users_schema(AGE))
    waiter = start(update_of(users.create, users.arn, SchemaArn=new_schema))

    first_poll = waiter.poll()
    outcome = waiter.finish()

    assert first_poll == {"IsComplete": False}  # waiting on latestDatasetUpdate, not just the dataset
    assert outcome.physical_id == users.arn
    assert outcome.data["SchemaArn"] == new_schema
    dataset = personalize.describe_dataset(datasetArn=users.arn)["dataset"]
    assert dataset["latestDatasetUpdate"]["schemaArn"] == new_schema
    assert dataset["latestDatasetUpdate"]["status"] == "ACTIVE"
    assert handlers.calls()["calls"]["UpdateDataset"] == 1
    assert "DeleteDataset" not in handlers.calls()["calls"]


def test_schema_update_is_retried_while_an_import_runs(
    handlers: EmulatorServer, personalize: Any, users: UsersDataset, s3: Any, s3_bucket: str
) -> None:
    new_schema = schema_resource("pz-test-users-v2", users_schema(AGE))
    s3.put_object(Bucket=s3_bucket, Key="users.csv", Body=b"USER_ID,MEMBERSHIP_STATUS\nu1,gold\n")
    job_arn = start_import_outside_the_stack(personalize, users.arn, f"s3://{s3_bucket}/users.csv")

    waiter = start(update_of(users.create, users.arn, SchemaArn=new_schema))
    while_importing = waiter.poll()
    assert settle_import_job(personalize, job_arn) == "ACTIVE"
    outcome = waiter.finish()

    assert while_importing == {"IsComplete": False}
    assert handlers.calls()["errors"]["UpdateDataset"]["ResourceInUseException"] == 2  # on_event, first poll
    assert outcome.data["SchemaArn"] == new_schema
    dataset = personalize.describe_dataset(datasetArn=users.arn)["dataset"]
    assert dataset["latestDatasetUpdate"]["schemaArn"] == new_schema


def test_schema_update_delivered_twice_updates_once(handlers: EmulatorServer, users: UsersDataset) -> None:
    new_schema = schema_resource("pz-test-users-v2", users_schema(AGE))
    update = update_of(users.create, users.arn, SchemaArn=new_schema)

    drive(update)
    again = drive(update)

    assert again.physical_id == users.arn
    assert handlers.calls()["calls"]["UpdateDataset"] == 1


def test_interactions_schema_change_is_refused_before_anything_changes(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, schema_arn: str
) -> None:
    wider = drive(event("schema_update", physical_id="unused")).physical_id  # Interactions + EVENT_VALUE

    with pytest.raises(SchemaReplacementError) as error:
        start(update_of(event("dataset_create"), dataset_arn, SchemaArn=wider))

    message = str(error.value)
    assert "dataset pz-test-interactions" in message and dataset_arn in message
    assert "a dataset of type INTERACTIONS cannot get a new schema" in message
    assert "needs a new dataset group" in message and "names.dataset_group" in message
    assert "UpdateDataset" not in handlers.calls()["calls"]
    assert personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]["schemaArn"] == schema_arn


@pytest.mark.parametrize(
    ("replacement", "named"),
    [
        (users_schema({"name": "AGE", "type": "int"}), "new field AGE must allow null"),
        (
            users_schema().replace(',"categorical":true', ""),
            "field MEMBERSHIP_STATUS changes from categorical string to string",
        ),
    ],
)
def test_incompatible_users_schema_is_refused_naming_the_fields(
    handlers: EmulatorServer, personalize: Any, users: UsersDataset, replacement: str, named: str
) -> None:
    new_schema = schema_resource("pz-test-users-v2", replacement)

    with pytest.raises(SchemaReplacementError, match=named) as error:
        start(update_of(users.create, users.arn, SchemaArn=new_schema))

    assert "keep every current field" in str(error.value)
    assert "UpdateDataset" not in handlers.calls()["calls"]
    assert personalize.describe_dataset(datasetArn=users.arn)["dataset"]["schemaArn"] == users.schema_arn


def test_rollback_to_the_smaller_schema_keeps_the_wider_one_and_completes(
    handlers: EmulatorServer,
    personalize: Any,
    users: UsersDataset,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wider = schema_resource("pz-test-users-v2", users_schema(AGE))
    forward = update_of(users.create, users.arn, SchemaArn=wider)
    drive(forward)
    # A later resource fails: CloudFormation sends the rollback Update, old and new properties swapped.
    rollback = update_of(forward, users.arn, SchemaArn=users.schema_arn)
    rollback["OldResourceProperties"] = forward["ResourceProperties"]

    with caplog.at_level(logging.INFO, logger="personalize.custom_resources"):
        outcome = drive(rollback)

    assert outcome.physical_id == users.arn
    assert outcome.data["SchemaArn"] == wider  # what the dataset really uses, not the template's
    dataset = personalize.describe_dataset(datasetArn=users.arn)["dataset"]
    assert dataset["status"] == "ACTIVE" and dataset["schemaArn"] == wider
    assert handlers.calls()["calls"]["UpdateDataset"] == 1  # only the forward one
    kept = [line for line in decisions(caplog.records) if line["decision"] == "schema-kept-superset"]
    assert kept and kept[0]["schema_arn"] == wider and kept[0]["requested"] == users.schema_arn
    # The next deploy of the wider schema finds the dataset already there: nothing to do.
    assert drive(forward).data["SchemaArn"] == wider
    assert handlers.calls()["calls"]["UpdateDataset"] == 1


def test_type_change_is_refused_instead_of_deleting_the_data(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str
) -> None:
    """A replacement would delete the Interactions data, which a Users dataset cannot take; the refused
    update's rollback (the old properties again) is a no-op."""
    users_schema = drive(
        event(
            "schema_create",
            properties={
                "Name": "pz-test-users-1b2c3d4e",
                "Schema": '{"type":"record","name":"Users","namespace":"com.amazonaws.personalize.schema",'
                '"fields":[{"name":"USER_ID","type":"string"},'
                '{"name":"MEMBERSHIP_STATUS","type":"string","categorical":true}],"version":"1.0"}',
            },
        )
    ).physical_id
    create = event("dataset_create")
    changed = update_of(
        create, dataset_arn, DatasetType="USERS", Name="pz-test-users", SchemaArn=users_schema
    )

    creates = handlers.calls()["calls"].get("CreateDataset", 0)
    with pytest.raises(InvalidPropertyError, match="DatasetType cannot change from INTERACTIONS to USERS"):
        drive(changed)
    assert handlers.calls()["calls"].get("CreateDataset", 0) == creates  # refused before any call
    rollback = {
        **changed,
        "ResourceProperties": changed["OldResourceProperties"],
        "OldResourceProperties": changed["ResourceProperties"],
    }
    assert drive(rollback).physical_id == dataset_arn

    group_arn = create["ResourceProperties"]["DatasetGroupArn"]
    assert [d["datasetType"] for d in personalize.list_datasets(datasetGroupArn=group_arn)["datasets"]] == [
        "INTERACTIONS"
    ]


def test_rename_inside_the_group_fails_instead_of_deleting_the_data(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str
) -> None:
    create = event("dataset_create")

    with pytest.raises(NameConflictError, match="cannot be renamed or replaced inside its group"):
        drive(update_of(create, dataset_arn, Name="pz-test-interactions-v2"))
    assert personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]["status"] == "ACTIVE"


def test_tags_change_in_place(handlers: EmulatorServer, personalize: Any, dataset_arn: str) -> None:
    create = event("dataset_create")

    updated = drive(update_of(create, dataset_arn, Tags=[{"Key": "environment", "Value": "staging"}]))

    assert updated.physical_id == dataset_arn
    assert template_tags(personalize, dataset_arn) == {"environment": "staging"}
    assert owner_tag(personalize, dataset_arn) is not None  # never removed by a tag update


def test_delete_waits_until_gone_and_tolerates_gone(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, group_arn: str
) -> None:
    drive(event("dataset_delete", physical_id=dataset_arn))
    drive(event("dataset_delete", physical_id=dataset_arn))

    assert personalize.list_datasets(datasetGroupArn=group_arn)["datasets"] == []


def test_delete_waits_for_a_running_import_instead_of_failing(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, data_location: str
) -> None:
    job_arn = start_import_outside_the_stack(personalize, dataset_arn, data_location)

    waiter = start(event("dataset_delete", physical_id=dataset_arn))
    still_running = waiter.poll()
    assert settle_import_job(personalize, job_arn) == "ACTIVE"
    waiter.finish()

    assert still_running == {"IsComplete": False}
    assert handlers.calls()["errors"]["DeleteDataset"]["ResourceInUseException"] >= 2
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_dataset(datasetArn=dataset_arn)


def test_retain_leaves_the_dataset(handlers: EmulatorServer, personalize: Any, dataset_arn: str) -> None:
    drive(event("dataset_delete", physical_id=dataset_arn, properties={"RemovalPolicy": "retain"}))

    assert personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]["status"] == "ACTIVE"
    assert "DeleteDataset" not in handlers.calls()["calls"]


def test_create_failed_names_the_dataset(handlers: EmulatorServer, group_arn: str, schema_arn: str) -> None:
    handlers.set_faults(fail_name_pattern="^pz-test-interactions$")

    # DescribeDataset has no failureReason member (only groups, import jobs and updates do).
    with pytest.raises(
        ResourceFailedError, match=r"^dataset pz-test-interactions \(arn:.*\) failed: CREATE FAILED"
    ):
        drive(event("dataset_create"))
