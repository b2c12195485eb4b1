"""Custom::PersonalizeEventTracker: found by name, renamed by delete-then-create inside its group."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.personalize.errors import NameConflictError, ResourceFailedError
from personalize_tools.emulator import EmulatorServer

from .support import delete_of, drive, event, start, template_tags, update_of


def trackers(personalize: Any, group_arn: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = personalize.list_event_trackers(datasetGroupArn=group_arn)["eventTrackers"]
    return found


def test_create_returns_arn_and_tracking_id(
    handlers: EmulatorServer, personalize: Any, group_arn: str
) -> None:
    outcome = drive(event("event_tracker_create"))

    tracker = personalize.describe_event_tracker(eventTrackerArn=outcome.physical_id)["eventTracker"]
    assert ":event-tracker/" in outcome.physical_id
    assert outcome.data == {
        "EventTrackerArn": outcome.physical_id,
        "TrackingId": tracker["trackingId"],
        "Name": "pz-test-tracker",
    }
    assert tracker["status"] == "ACTIVE"


def test_the_same_create_delivered_twice_makes_one_tracker(
    handlers: EmulatorServer, personalize: Any, group_arn: str
) -> None:
    first = drive(event("event_tracker_create"))
    second = drive(event("event_tracker_create"))

    assert second.physical_id == first.physical_id
    assert second.data["TrackingId"] == first.data["TrackingId"]
    assert handlers.calls()["calls"]["CreateEventTracker"] == 1


def test_rename_deletes_the_old_tracker_first_then_creates_the_new(
    handlers: EmulatorServer, personalize: Any, group_arn: str
) -> None:
    create = event("event_tracker_create")
    old = drive(create)

    waiter = start(event("event_tracker_update", physical_id=old.physical_id))
    while_old_goes = waiter.poll()
    renamed = waiter.finish()
    # CloudFormation then deletes the old physical id: already gone, so nothing happens.
    cleanup = drive(delete_of(create, old.physical_id))

    assert waiter.physical_id == old.physical_id  # on_event could not know the new ARN yet
    assert while_old_goes == {"IsComplete": False}
    assert renamed.physical_id != old.physical_id  # is_complete answered with the new ARN
    assert renamed.data["Name"] == "pz-test-tracker-v2"
    assert renamed.data["EventTrackerArn"] == renamed.physical_id
    assert cleanup.physical_id == old.physical_id
    assert [(t["name"], t["eventTrackerArn"]) for t in trackers(personalize, group_arn)] == [
        ("pz-test-tracker-v2", renamed.physical_id)
    ]


def test_tags_change_in_place(handlers: EmulatorServer, personalize: Any, group_arn: str) -> None:
    create = event("event_tracker_create")
    created = drive(create)

    updated = drive(update_of(create, created.physical_id, Tags=[{"Key": "team", "Value": "recs"}]))

    assert updated.physical_id == created.physical_id
    assert updated.data["TrackingId"] == created.data["TrackingId"]
    assert template_tags(personalize, created.physical_id) == {"team": "recs"}


def test_a_foreign_tracker_in_the_group_is_not_touched(
    handlers: EmulatorServer, personalize: Any, group_arn: str
) -> None:
    foreign = personalize.create_event_tracker(name="made-by-hand", datasetGroupArn=group_arn)[
        "eventTrackerArn"
    ]

    with pytest.raises(NameConflictError, match=f"already has event tracker made-by-hand \\({foreign}\\)"):
        drive(event("event_tracker_create"))
    assert [t["eventTrackerArn"] for t in trackers(personalize, group_arn)] == [foreign]


def test_delete_waits_until_gone_and_tolerates_gone(
    handlers: EmulatorServer, personalize: Any, group_arn: str
) -> None:
    created = drive(event("event_tracker_create"))

    drive(event("event_tracker_delete", physical_id=created.physical_id))
    drive(event("event_tracker_delete", physical_id=created.physical_id))

    assert trackers(personalize, group_arn) == []


def test_retain_leaves_the_tracker(handlers: EmulatorServer, personalize: Any, group_arn: str) -> None:
    created = drive(event("event_tracker_create"))

    drive(
        event("event_tracker_delete", physical_id=created.physical_id, properties={"RemovalPolicy": "retain"})
    )

    assert [t["status"] for t in trackers(personalize, group_arn)] == ["ACTIVE"]


def test_create_failed_names_the_tracker(handlers: EmulatorServer, group_arn: str) -> None:
    handlers.set_faults(fail_name_pattern="tracker")

    with pytest.raises(ResourceFailedError, match=r"^event tracker pz-test-tracker \(arn:.*event-tracker/"):
        drive(event("event_tracker_create"))
