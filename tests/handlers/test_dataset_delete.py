"""Deleting a dataset next to recommenders, as the guide's "Deleting a dataset" documents.

A recommender being created blocks the delete until it is ACTIVE (the handler waits, naming it); an
ACTIVE recommender does not block it, and the handler logs which recommenders lose the data.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from personalize_tools.emulator import EmulatorServer

from .support import decisions, drive, event, settle_import_job, start

RECOMMENDER = "arn:aws:personalize:us-east-1:123456789012:recommender/pz-test-recommended-for-you"


@pytest.fixture
def users_dataset(group_arn: str) -> str:
    schema = drive(
        event(
            "schema_create",
            properties={
                "Name": "pz-test-users-1",
                "Schema": '{"type":"record","name":"Users","namespace":"com.amazonaws.personalize.schema",'
                '"fields":[{"name":"USER_ID","type":"string"},'
                '{"name":"MEMBERSHIP_STATUS","type":"string","categorical":true}],"version":"1.0"}',
            },
        )
    ).physical_id
    properties = {"Name": "pz-test-users", "DatasetType": "USERS", "SchemaArn": schema}
    return drive(event("dataset_create", properties=properties)).physical_id


@pytest.fixture
def training(dataset_arn: str, users_dataset: str, data_location: str, personalize: Any) -> str:
    """Interactions imported, and a recommender just created: still training."""
    job = drive(event("import_job_create", properties={"DataLocation": data_location}))
    assert settle_import_job(personalize, job.physical_id) == "ACTIVE"
    created = drive(event("recommender_create", properties={"WaitForActive": "false"}))
    assert created.data["Status"] == "CREATE PENDING"
    return users_dataset


def describe_recommender(personalize: Any) -> str:
    return str(personalize.describe_recommender(recommenderArn=RECOMMENDER)["recommender"]["status"])


def test_delete_waits_for_training_then_deletes_next_to_the_active_recommender(
    handlers: EmulatorServer, personalize: Any, training: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="personalize.custom_resources"):
        waiter = start(event("dataset_delete", physical_id=training))
        assert waiter.poll() == {"IsComplete": False}
        waiter.finish(between_polls=lambda: describe_recommender(personalize))

    lines = decisions(caplog.records)
    deferred = [line for line in lines if line["decision"] == "delete-deferred"]
    assert deferred and f"{RECOMMENDER} (CREATE PENDING)" in deferred[0]["waiting_for"]
    assert "still training" in deferred[0]["waiting_for"]
    kept = [line for line in lines if line["decision"] == "recommenders-keep-running"]
    assert kept and kept[-1]["recommenders"] == [RECOMMENDER]
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_dataset(datasetArn=training)
    assert describe_recommender(personalize) == "ACTIVE"
