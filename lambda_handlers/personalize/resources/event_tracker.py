"""Custom::PersonalizeEventTracker: one per dataset group, found by name because its ARN is random.

A new Name in the same group cannot be a create-then-delete replacement, because the group allows
only one tracker: the old tracker is deleted first, is_complete creates the new one once the old
is gone and answers with the new ARN as PhysicalResourceId (the Provider lets is_complete do that).
CloudFormation's later Delete of the old ARN then finds nothing and succeeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from .. import contract, kinds
from ..errors import NameConflictError
from ..framework import (
    ALREADY_EXISTS,
    DELETING_STATUSES,
    UPDATE,
    PersonalizeResource,
    Placement,
    error_code,
    error_message,
)


class EventTracker(PersonalizeResource):
    resource_type = contract.EVENT_TRACKER
    kind = kinds.EVENT_TRACKER
    replacing_properties = frozenset({"DatasetGroupArn"})

    def validate(self) -> None:
        super().validate()
        self.props.personalize_arn("DatasetGroupArn", "dataset-group")

    def update(self) -> dict[str, Any]:
        changed = self.event.changed_properties()
        if "Name" not in changed or "DatasetGroupArn" in changed:
            return super().update()
        old_arn = self.physical_arn()
        self.log("rename", old_name=self.event.old_properties.get("Name"), new_name=self.name)
        placement = self.converge()  # deletes the old tracker; is_complete creates the new one
        if placement is not None:
            return self.respond(placement)
        return {"PhysicalResourceId": old_arn, "Data": {"Name": self.name}}

    def find_or_create(self) -> Placement:
        placement = self.converge()
        if placement is None:
            raise NameConflictError(
                f"event tracker {self.name}: dataset group {self.group_arn()} still has an event tracker "
                "being deleted, and a group holds only one. Deploy again once it is gone."
            )
        return placement

    def ensure(self) -> None:
        self.converge()

    def converge(self) -> Placement | None:
        """Adopt the tracker with our name, else make room (only for the tracker we replace) and create."""
        name, group_arn = self.props.name(), self.group_arn()
        trackers = self.trackers()
        mine = self.adopt(trackers)
        if mine is not None:
            return mine
        for other in trackers:
            other_arn = other[self.kind.arn_member]
            status = self.current_status(other)
            if status is None:
                continue  # deleted since it was listed
            if status in DELETING_STATUSES:
                self.log("waiting", waiting_for=f"event tracker {other_arn} to be deleted", status=status)
                return None
            if self.event.request_type == UPDATE and other_arn == self.event.physical_id:
                self.request_delete(other_arn)
                return None
            raise NameConflictError(
                f"dataset group {group_arn} already has event tracker {other['name']} ({other_arn}), and a "
                f"group holds only one, so {name} cannot be created. Delete that tracker, or name this one "
                f"{other['name']} to adopt it."
            )
        try:
            response = self.personalize.create_event_tracker(
                name=name, datasetGroupArn=group_arn, **self.create_tags()
            )
        except ClientError as error:
            if error_code(error) != ALREADY_EXISTS:
                raise
            mine = self.adopt(self.trackers())  # a concurrent attempt with the same event got there first
            if mine is not None:
                return mine
            raise NameConflictError(
                f"event tracker {name} cannot be created in dataset group {group_arn}: {error_message(error)}"
            ) from error
        arn = response[self.kind.arn_member]
        self.log("created", arn=arn)
        return Placement(arn, {"name": name, "trackingId": response.get("trackingId")})

    def adopt(self, trackers: list[dict[str, Any]]) -> Placement | None:
        for tracker in trackers:
            if tracker["name"] == self.name:
                arn = tracker[self.kind.arn_member]
                self.log("adopted", arn=arn, status=tracker.get("status"))
                self.claim_abandoned(arn)
                return Placement(arn, self.describe(arn))
        return None

    def current_status(self, tracker: Mapping[str, Any]) -> str | None:
        """A listed tracker's status, described again while it is being deleted: List can lag behind."""
        status = tracker.get("status")
        if status not in DELETING_STATUSES:
            return str(status)
        current = self.describe(tracker[self.kind.arn_member])
        return None if current is None else str(current.get("status"))

    def locate(self) -> tuple[str, Mapping[str, Any] | None]:
        """The tracker with the template's name: usually the physical id, which one Describe confirms;
        found by listing the group's trackers after a rename, which leaves the physical id on the old one."""
        if self.is_own_arn(self.event.physical_id):
            arn = str(self.event.physical_id)
            description = self.describe(arn)
            if description is not None and description.get("name") == self.name:
                return arn, description
        for tracker in self.trackers():
            if tracker["name"] == self.name:
                arn = tracker[self.kind.arn_member]
                return arn, self.describe(arn)
        return self.event.physical_id or "", None

    def group_arn(self) -> str:
        return self.props.personalize_arn("DatasetGroupArn", "dataset-group")

    def trackers(self) -> list[dict[str, Any]]:
        return list(
            self.paginate(self.kind.list_method, self.kind.list_key, datasetGroupArn=self.group_arn())
        )

    def data(self, arn: str, description: Mapping[str, Any] | None) -> dict[str, str]:
        description = description or {}
        return {
            "EventTrackerArn": arn,
            "TrackingId": str(description.get("trackingId") or ""),
            "Name": str(description.get("name") or self.name),
        }
