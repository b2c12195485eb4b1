"""`personalize-events` on the emulator: PutEvents, PutUsers and PutItems.

Requests are first checked against botocore's personalize-events model (dataplane.py); here the
service-side rules: the tracking id must be an ACTIVE event tracker's, records must fit the dataset's
schema (records.py), and a call is all or nothing. What is recorded is added to the dataset's
`recorded` data, which training counts together with bulk imports ("These interactions can be from
bulk imports, or streamed events, or both") and which a FULL import does not replace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from lambda_handlers.personalize import domain, kinds
from lambda_handlers.personalize.kinds import DATASET, EVENT_TRACKER, SCHEMA
from personalize_tools.emulator.errors import InvalidInputError, ResourceInUseError, ResourceNotFoundError
from personalize_tools.emulator.records import EVENT_MEMBERS, property_problems, schema_has
from personalize_tools.emulator.service import PersonalizeService
from personalize_tools.emulator.state import ImportedData, Resource

SERVICE_NAME = "personalize-events"
Params = dict[str, Any]


class EventsService:
    """The operations by name; state is the control plane's, under its lock."""

    def __init__(self, service: PersonalizeService) -> None:
        self._service = service
        self.operations: dict[str, Callable[[Params], dict[str, Any]]] = {
            "PutEvents": self.put_events,
            "PutUsers": self.put_users,
            "PutItems": self.put_items,
        }

    def put_events(self, params: Params) -> dict[str, Any]:
        with self._service.locked():
            trackers = self._service.resources_of(EVENT_TRACKER, trackingId=params["trackingId"])
            if not trackers:
                raise InvalidInputError(
                    f"trackingId {params['trackingId']!r} belongs to no event tracker; use the trackingId "
                    "CreateEventTracker returned (the stack's TrackingId output)."
                )
            tracker = trackers[0]
            if tracker.status != kinds.ACTIVE:
                raise InvalidInputError(
                    f"Event tracker {tracker.arn} is {tracker.status}; events are accepted once it is ACTIVE."
                )
            group_arn = tracker.fields["datasetGroupArn"]
            datasets = self._service.resources_of(
                DATASET, datasetGroupArn=group_arn, datasetType="INTERACTIONS"
            )
            if not datasets:
                raise InvalidInputError(
                    f"Dataset group {group_arn} has no Interactions dataset; "
                    "create one before recording events."
                )
            dataset = datasets[0]
            self._require_active(dataset, InvalidInputError)
            schema = self._schema(dataset)
            user_id = params.get("userId") or params["sessionId"]  # anonymous events: the session stands in
            problems: list[str] = []
            for position, event in enumerate(params["eventList"], start=1):
                problems += _event_problems(f"eventList.{position}", event, user_id, schema)
            _raise_if(problems)
            # API reference, Event.eventId: "Any subsequent events after the first with the same event ID
            # are not used in model training." Accepted, but not counted toward training or recommendations.
            used = []
            for event in params["eventList"]:
                event_id = event.get("eventId")
                if event_id is not None:
                    if event_id in dataset.event_ids:
                        continue
                    dataset.event_ids.add(event_id)
                used.append(event)
            rows = [
                [user_id, event.get("itemId"), event["eventType"], str(int(_epoch(event["sentAt"])))]
                for event in used
            ]
            event_types: dict[str, int] = {}
            for event in used:
                event_types[event["eventType"]] = event_types.get(event["eventType"], 0) + 1
            self._record(dataset, ImportedData(len(rows), event_types, rows))
            return {}

    def put_users(self, params: Params) -> dict[str, Any]:
        return self._put_records(params, "USERS", "users", "userId", domain.USER_ID_FIELD)

    def put_items(self, params: Params) -> dict[str, Any]:
        return self._put_records(params, "ITEMS", "items", "itemId", domain.ITEM_ID_FIELD)

    def _put_records(
        self, params: Params, dataset_type: str, member: str, id_member: str, id_field: str
    ) -> dict[str, Any]:
        with self._service.locked():
            dataset = self._dataset(params["datasetArn"])
            if dataset.fields["datasetType"] != dataset_type:
                raise InvalidInputError(
                    f"Dataset {dataset.arn} is an {dataset.fields['datasetType']} dataset; "
                    f"{member} go into the group's {dataset_type} dataset."
                )
            self._require_active(dataset, ResourceInUseError)
            schema = self._schema(dataset)
            problems: list[str] = []
            for position, record in enumerate(params[member], start=1):
                problems += property_problems(
                    f"{member}.{position}",
                    record.get("properties"),
                    schema,
                    filled={id_field: record[id_member]},
                )
            _raise_if(problems)
            rows = [[record[id_member]] for record in params[member]]
            self._record(dataset, ImportedData(len(rows), {}, rows))
            return {}

    # --- shared -----------------------------------------------------------------------------------

    def _dataset(self, arn: str) -> Resource:
        found = [resource for resource in self._service.resources_of(DATASET) if resource.arn == arn]
        if not found:
            raise ResourceNotFoundError(f"Dataset {arn} does not exist (never created, or deleted).")
        return found[0]

    def _schema(self, dataset: Resource) -> str:
        schema_arn = dataset.fields["schemaArn"]
        found = [resource for resource in self._service.resources_of(SCHEMA) if resource.arn == schema_arn]
        if not found:
            raise ResourceNotFoundError(f"Schema {schema_arn} of dataset {dataset.arn} does not exist.")
        return str(found[0].fields["schema"])

    @staticmethod
    def _require_active(dataset: Resource, error: type[InvalidInputError | ResourceInUseError]) -> None:
        if dataset.status != kinds.ACTIVE:
            raise error(f"Dataset {dataset.arn} is {dataset.status}; records are accepted once it is ACTIVE.")

    def _record(self, dataset: Resource, added: ImportedData) -> None:
        dataset.recorded = (dataset.recorded or ImportedData()).plus(added)
        self._service.changed()


def _epoch(value: Any) -> float:
    """A REST-JSON body carries a timestamp as epoch seconds, a JSON number (the protocol's default format,
    which botocore sends); a string is refused rather than guessed at."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        datetime.fromtimestamp(value, tz=UTC)  # OverflowError / ValueError / OSError past year 9999
        return float(value)
    raise ValueError(value)


def _event_problems(where: str, event: Mapping[str, Any], user_id: str, schema: str) -> list[str]:
    problems: list[str] = []
    try:
        _epoch(event["sentAt"])
    except (ValueError, OverflowError, OSError):
        problems.append(
            f"{where}.sentAt {event['sentAt']!r} is not a timestamp: epoch seconds as a JSON number, "
            "as the SDKs send it"
        )
    filled: dict[str, Any] = {
        domain.USER_ID_FIELD: user_id,
        domain.ITEM_ID_FIELD: event.get("itemId"),
        domain.TIMESTAMP_FIELD: event["sentAt"],
        domain.EVENT_TYPE_FIELD: event["eventType"],
    }
    for field, member in EVENT_MEMBERS.items():
        if field in filled:
            continue
        if schema_has(schema, field):
            filled[field] = event.get(member)
        elif event.get(member) is not None:
            problems.append(
                f"{where}.{member} is set, but the Interactions schema has no {field} field to hold it"
            )
    return problems + property_problems(where, event.get("properties"), schema, filled=filled)


def _raise_if(problems: list[str]) -> None:
    if problems:
        count = len(problems)
        shown = "; ".join(problems[:10]) + (f"; and {count - 10} more" if count > 10 else "")
        raise InvalidInputError(f"{count} problem{'s' if count > 1 else ''} with the records: {shown}")
