"""Issue 13's rules at the handler level: ownership before a delete, failed leftovers replaced, the
handlers' own deadline. The whole-deployment reproductions are in tests/localdeploy/test_ownership.py."""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

import pytest

from lambda_handlers.personalize import domain, entry, kinds
from lambda_handlers.personalize.errors import NameConflictError, ResourceFailedError, WaitTimedOutError
from personalize_tools.emulator import EmulatorServer

from .support import (
    ROLE_ARN,
    decisions,
    drive,
    event,
    interactions_csv,
    owner_tag,
    settle_import_job,
    start,
)


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
    assert group["status"] == kinds.ACTIVE
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

    assert drive(event("dataset_group_create")).data["Status"] == kinds.ACTIVE  # the name is free again


def test_a_failed_leftover_of_an_earlier_attempt_is_replaced_not_adopted(
    handlers: EmulatorServer, personalize: Any
) -> None:
    handlers.set_faults(fail_name_pattern="ecommerce")
    first = start(event("dataset_group_create"))
    for _ in range(10):  # let it fail without the handler seeing it: an attempt that was cut off
        personalize.describe_dataset_group(datasetGroupArn=first.physical_id)
    assert (
        personalize.describe_dataset_group(datasetGroupArn=first.physical_id)["datasetGroup"]["status"]
        == kinds.CREATE_FAILED
    )
    handlers.set_faults(fail_name_pattern=None)

    retry = event("dataset_group_create")
    retry["RequestId"] = str(uuid.uuid4())  # the next deploy of the same stack
    outcome = drive(retry, max_polls=60)

    assert outcome.physical_id == first.physical_id and outcome.data["Status"] == kinds.ACTIVE
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


KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/{}"


def _keyed_group(key: str) -> dict[str, Any]:
    """The group event of a `kms: create` stack: each stack incarnation makes a key of its own."""
    return event("dataset_group_create", properties={"RoleArn": ROLE_ARN, "KmsKeyArn": KEY_ARN.format(key)})


def _left_by_an_earlier_stack(personalize: Any, *, imported: str | None, tracker: bool) -> str:
    """A keyed group, its dataset (imported from `imported`, if given) and tracker, all created by one
    stack incarnation that then went away (rolled back or destroyed under retain)."""
    group_arn = drive(_keyed_group("1111")).physical_id
    drive(event("schema_create"))
    dataset_arn = drive(event("dataset_create")).physical_id
    if imported is not None:
        job = personalize.create_dataset_import_job(
            jobName="pz-test-earlier",
            datasetArn=dataset_arn,
            dataSource={"dataLocation": imported},
            roleArn=ROLE_ARN,
        )["datasetImportJobArn"]
        settle_import_job(personalize, job)
    if tracker:
        drive(event("event_tracker_create"))
    return str(group_arn)


@pytest.mark.parametrize(
    ("imported", "tracker", "evidence"),
    [
        pytest.param("good", False, "import job ", id="an ACTIVE import"),
        pytest.param(None, True, "may have recorded events", id="a tracker and no import ever"),
    ],
)
def test_a_keyed_group_an_earlier_stack_left_with_data_is_refused_with_what_to_do(
    handlers: EmulatorServer,
    personalize: Any,
    data_location: str,
    imported: str | None,
    tracker: bool,
    evidence: str,
) -> None:
    group_arn = _left_by_an_earlier_stack(
        personalize, imported=data_location if imported else None, tracker=tracker
    )

    with pytest.raises(NameConflictError) as refused:
        drive(_another_stack(_keyed_group("2222")))

    message = str(refused.value)
    assert f"dataset group pz-test-ecommerce ({group_arn}) was left by an earlier stack named " in message
    assert f"(KMS key {KEY_ARN.format('1111')}, role {ROLE_ARN})" in message
    assert f"asks for KMS key {KEY_ARN.format('2222')}" in message
    assert evidence in message
    # The two ways out, as exact steps: a new name, or the commands that discard it, contents first.
    assert "names: {dataset_group: pz-test-ecommerce-2}" in message
    (dataset_arn,) = [item["datasetArn"] for item in personalize.list_datasets()["datasets"]]
    commands, unlisted = message.split("then deploy again: ", 1)[1].split(". ", 1)
    expected = [f"aws personalize delete-dataset --dataset-arn {dataset_arn}"]
    if tracker:
        (tracker_arn,) = [t["eventTrackerArn"] for t in personalize.list_event_trackers()["eventTrackers"]]
        expected.insert(0, f"aws personalize delete-event-tracker --event-tracker-arn {tracker_arn}")
    expected.append(f"aws personalize delete-dataset-group --dataset-group-arn {group_arn}")
    assert commands == "; ".join(expected)
    # Campaigns hang off solutions and metric attributions are no kind of ours: named as going first.
    assert unlisted == (
        "Campaigns and metric attributions are not among these commands: delete any first, the campaigns "
        "before their solution (aws personalize list-campaigns --solution-arn SOLUTION_ARN; "
        f"aws personalize list-metric-attributions --dataset-group-arn {group_arn})."
    )
    assert [group["status"] for group in personalize.list_dataset_groups()["datasetGroups"]] == [kinds.ACTIVE]
    assert len(personalize.list_datasets()["datasets"]) == 1  # nothing deleted


def test_a_keyed_group_an_earlier_stack_left_without_data_is_cleared_and_made_anew(
    handlers: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    """The Interactions import failed (too few rows), so that stack never completed: its tracker was never
    published and nothing holds data. The next stack's group replaces it, contents first."""
    s3.put_object(Bucket=s3_bucket, Key="short.csv", Body=interactions_csv(rows=10))
    group_arn = _left_by_an_earlier_stack(personalize, imported=f"s3://{s3_bucket}/short.csv", tracker=True)

    outcome = drive(_another_stack(_keyed_group("2222")), max_polls=80)

    assert outcome.physical_id == group_arn and outcome.data["Status"] == kinds.ACTIVE
    group = personalize.describe_dataset_group(datasetGroupArn=group_arn)["datasetGroup"]
    assert group["kmsKeyArn"] == KEY_ARN.format("2222")
    assert personalize.list_datasets()["datasets"] == []
    assert personalize.list_event_trackers()["eventTrackers"] == []


def test_a_create_that_timed_out_is_taken_over_by_the_next_stack_and_deleted_by_its_destroy(
    handlers: EmulatorServer, personalize: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CloudFormation's rollback Delete after the timed-out Create is dropped by the Provider framework
    (the FAILED response carries its marker physical id), and a group still being created cannot be
    deleted anyway: the resource stays. The next stack of that name adopts it as its own."""
    monkeypatch.setenv(domain.WAIT_SECONDS_ENV, "600")
    create = event("dataset_group_create")
    answer = entry.on_event(create)
    arn = answer["PhysicalResourceId"]
    with pytest.raises(WaitTimedOutError, match="next deploy of this stack takes it over"):
        entry.is_complete({**create, **answer, "PersonalizeWaitUntil": time.time() - 1})
    assert str(owner_tag(personalize, arn)).endswith("/abandoned-" + create["RequestId"])

    retry = _another_stack(create)  # the rolled-back stack is deleted and created anew (cdk deploy)
    assert drive(retry).physical_id == arn
    assert owner_tag(personalize, arn) == "/".join(
        [*retry["StackId"].split("/")[1:], retry["LogicalResourceId"], retry["RequestId"]]
    )

    destroy = {**retry, "RequestType": "Delete", "PhysicalResourceId": arn}
    drive(destroy)  # removal policy destroy: it is this stack's now, so its destroy deletes it
    assert personalize.list_dataset_groups()["datasetGroups"] == []


def test_a_create_that_timed_out_on_an_adopted_resource_leaves_its_owner_tag_alone(
    handlers: EmulatorServer, personalize: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = personalize.create_dataset_group(name="pz-test-ecommerce", domain="ECOMMERCE")["datasetGroupArn"]
    monkeypatch.setenv(domain.WAIT_SECONDS_ENV, "600")
    create = event("dataset_group_create")
    answer = entry.on_event(create)
    with pytest.raises(WaitTimedOutError) as timed_out:
        entry.is_complete({**create, **answer, "PersonalizeWaitUntil": time.time() - 1})
    assert "takes it over" not in str(timed_out.value)
    assert owner_tag(personalize, arn) is None
