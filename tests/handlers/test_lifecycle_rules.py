"""Issue 13's rules at the handler level: ownership before a delete, failed leftovers replaced, the
handlers' own deadline. The whole-deployment reproductions are in tests/localdeploy/test_ownership.py."""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

import pytest

from lambda_handlers.personalize import domain, entry
from lambda_handlers.personalize.errors import ResourceFailedError, WaitTimedOutError
from personalize_tools.emulator import EmulatorServer

from .support import decisions, drive, event, owner_tag, start


def _another_stack(raw: dict[str, Any]) -> dict[str, Any]:
    """The same event from a stack of the same name created anew (a new StackId UUID)."""
    changed = copy.deepcopy(raw)
    changed["StackId"] = changed["StackId"].rsplit("/", 1)[0] + f"/{uuid.uuid4()}"
    changed["RequestId"] = str(uuid.uuid4())
    return changed


def test_a_delete_keeps_what_another_stack_created(
    handlers: EmulatorServer, personalize: Any, caplog: pytest.LogCaptureFixture
) -> None:
    created = drive(event("dataset_group_create"))

    drive(_another_stack(event("dataset_group_delete", physical_id=created.physical_id)))

    group = personalize.describe_dataset_group(datasetGroupArn=created.physical_id)["datasetGroup"]
    assert group["status"] == domain.ACTIVE
    assert "adopted-kept" in [line["decision"] for line in decisions(caplog.records)]
    assert "DeleteDatasetGroup" not in handlers.calls()["calls"]


def test_a_delete_keeps_a_resource_made_outside_any_stack(handlers: EmulatorServer, personalize: Any) -> None:
    arn = personalize.create_dataset_group(name="pz-test-ecommerce", domain="ECOMMERCE")["datasetGroupArn"]
    adopted = drive(event("dataset_group_create"))
    assert adopted.physical_id == arn and owner_tag(personalize, arn) is None

    drive(event("dataset_group_delete", physical_id=arn))

    assert [group["datasetGroupArn"] for group in personalize.list_dataset_groups()["datasetGroups"]] == [arn]


def test_a_create_failed_group_of_this_request_is_deleted_and_reported(
    handlers: EmulatorServer, personalize: Any
) -> None:
    handlers.set_faults(fail_name_pattern="ecommerce")
    with pytest.raises(ResourceFailedError, match="the failed dataset group is being deleted"):
        drive(event("dataset_group_create"))
    handlers.set_faults(fail_name_pattern=None)
    arn = personalize.list_dataset_groups()["datasetGroups"][0]["datasetGroupArn"]
    for _ in range(10):  # each Describe moves the stepwise emulator on
        try:
            personalize.describe_dataset_group(datasetGroupArn=arn)
        except personalize.exceptions.ResourceNotFoundException:
            break
    assert personalize.list_dataset_groups()["datasetGroups"] == []

    assert drive(event("dataset_group_create")).data["Status"] == domain.ACTIVE  # the name is free again


def test_a_failed_leftover_of_an_earlier_attempt_is_replaced_not_adopted(
    handlers: EmulatorServer, personalize: Any
) -> None:
    handlers.set_faults(fail_name_pattern="ecommerce")
    first = start(event("dataset_group_create"))
    for _ in range(10):  # let it fail without the handler seeing it: an attempt that was cut off
        personalize.describe_dataset_group(datasetGroupArn=first.physical_id)
    assert (
        personalize.describe_dataset_group(datasetGroupArn=first.physical_id)["datasetGroup"]["status"]
        == domain.CREATE_FAILED
    )
    handlers.set_faults(fail_name_pattern=None)

    retry = event("dataset_group_create")
    retry["RequestId"] = str(uuid.uuid4())  # the next deploy of the same stack
    outcome = drive(retry, max_polls=60)

    assert outcome.physical_id == first.physical_id and outcome.data["Status"] == domain.ACTIVE
    assert handlers.calls()["calls"]["CreateDatasetGroup"] == 2


def test_a_wait_past_the_deadline_names_the_resource_its_status_and_what_to_do(
    handlers: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(domain.WAIT_SECONDS_ENV, "600")
    create = event("dataset_group_create")
    answer = entry.on_event(create)
    assert abs(answer["PersonalizeWaitUntil"] - (time.time() + 600)) < 60
    late = {**create, **answer, "PersonalizeWaitUntil": time.time() - 1}

    with pytest.raises(WaitTimedOutError) as failure:
        entry.is_complete(late)

    message = str(failure.value)
    assert message.startswith(
        f"dataset group pz-test-ecommerce ({answer['PhysicalResourceId']}) was still CREATE"
    )
    assert "Deploy again once it is ACTIVE (aws personalize describe-dataset-group)" in message


def test_a_dataset_delete_waits_for_the_tracker_this_stack_deletes_at_the_same_time(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str
) -> None:
    """A replaced group's cleanup deletes its dataset and tracker concurrently; DeleteDataset is refused
    while the tracker exists, which is no reason to fail: the tracker's own Delete removes it."""
    tracker = drive(event("event_tracker_create"))
    dataset_delete = start(event("dataset_delete", physical_id=dataset_arn))
    assert dataset_delete.poll() == {"IsComplete": False}  # deferred, not failed

    drive(event("event_tracker_delete", physical_id=tracker.physical_id))
    dataset_delete.finish()

    assert personalize.list_datasets()["datasets"] == []
