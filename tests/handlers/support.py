"""Drive the handlers the way the CDK Provider framework does, from JSON event fixtures.

`drive` is the framework's waiter in miniature: on_event once, then is_complete until it answers
IsComplete, passing {**event, **on_event's answer} along and merging Data exactly as the framework
does (on_event's Data, overlaid by is_complete's; is_complete may replace the PhysicalResourceId).
Every event goes through a JSON round trip, as it does between the framework's Lambdas.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_handlers.personalize import domain, domain_rules, entry

EVENTS = Path(__file__).parent / "events"
ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/pz-test-personalize-data-access"
INTERACTIONS_HEADER = ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE")


def event(
    name: str,
    *,
    properties: Mapping[str, Any] | None = None,
    old_properties: Mapping[str, Any] | None = None,
    physical_id: str | None = None,
) -> dict[str, Any]:
    """A fixture from events/NAME.json with some properties changed (a None value removes one)."""
    raw: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    for key, changes in (("ResourceProperties", properties), ("OldResourceProperties", old_properties)):
        for prop, value in (changes or {}).items():
            if value is None:
                raw[key].pop(prop, None)
            else:
                raw[key][prop] = value
    if physical_id is not None:
        raw["PhysicalResourceId"] = physical_id
    return raw


def update_of(create: Mapping[str, Any], physical_id: str, **changes: Any) -> dict[str, Any]:
    """The Update CloudFormation sends after `create` when the template changes `changes`."""
    update = copy.deepcopy(dict(create))
    update["RequestType"] = "Update"
    update["OldResourceProperties"] = copy.deepcopy(create["ResourceProperties"])
    update["ResourceProperties"].update(changes)
    update["PhysicalResourceId"] = physical_id
    return update


def delete_of(created: Mapping[str, Any], physical_id: str, **changes: Any) -> dict[str, Any]:
    """The Delete for a resource last created or updated with `created`'s properties."""
    delete = copy.deepcopy(dict(created))
    delete["RequestType"] = "Delete"
    delete.pop("OldResourceProperties", None)
    delete["ResourceProperties"].update(changes)
    delete["PhysicalResourceId"] = physical_id
    return delete


@dataclass
class Outcome:
    physical_id: str
    data: dict[str, Any]
    polls: int


@dataclass
class Waiter:
    """An event between on_event and the end of is_complete polling."""

    event: dict[str, Any]
    on_event_data: dict[str, Any]

    @property
    def physical_id(self) -> str:
        return str(self.event["PhysicalResourceId"])

    def poll(self) -> dict[str, Any]:
        answer = entry.is_complete(_round_trip(self.event))
        assert answer["IsComplete"] or not answer.get("Data"), "Data is not allowed while IsComplete is False"
        return answer

    def finish(self, max_polls: int = 40, between_polls: Callable[[], None] | None = None) -> Outcome:
        for polls in range(1, max_polls + 1):
            answer = self.poll()
            if answer["IsComplete"]:
                physical_id = answer.get("PhysicalResourceId", self.physical_id)
                return Outcome(physical_id, {**self.on_event_data, **answer.get("Data", {})}, polls)
            if between_polls is not None:
                between_polls()
        raise AssertionError(f"{self.event['ResourceType']} not complete after {max_polls} polls")


def start(request: Mapping[str, Any]) -> Waiter:
    """on_event, checked against the framework's rules, and the event is_complete will receive."""
    response = entry.on_event(_round_trip(request))
    physical_id = (
        response.get("PhysicalResourceId") or request.get("PhysicalResourceId") or request["RequestId"]
    )
    if request["RequestType"] == "Delete":
        assert physical_id == request["PhysicalResourceId"], "Delete must keep the physical id"
    return Waiter({**request, **response, "PhysicalResourceId": physical_id}, dict(response.get("Data", {})))


def drive(request: Mapping[str, Any], max_polls: int = 40) -> Outcome:
    return start(request).finish(max_polls)


def _round_trip(value: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied


# --- data and direct service calls --------------------------------------------------------------


def interactions_csv(
    rows: int = domain.MIN_INTERACTIONS,
    *,
    header: Sequence[str] = INTERACTIONS_HEADER,
    newline: str = "\n",
    bom: bool = False,
    seed: int = 7,
) -> bytes:
    """A reproducible Interactions CSV with enough rows for an import to succeed."""
    chooser = random.Random(seed)
    values = {
        "USER_ID": lambda: f"user-{chooser.randrange(200)}",
        "ITEM_ID": lambda: f"item-{chooser.randrange(500)}",
        "TIMESTAMP": lambda: str(1_700_000_000 + chooser.randrange(86_400 * 30)),
        "EVENT_TYPE": lambda: chooser.choice(domain_rules.EVENT_TYPES["ECOMMERCE"]),
        "EVENT_VALUE": lambda: f"{chooser.random():.2f}",
    }
    lines = [",".join(header)] + [
        ",".join(values[column]() if column in values else "x" for column in header) for _ in range(rows)
    ]
    text = newline.join(lines) + newline
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def settle_import_job(personalize: Any, arn: str, limit: int = 12) -> str:
    """Describe a job made outside the handlers until it settles: stepwise pace moves it per Describe."""
    status = ""
    for _ in range(limit):
        status = str(
            personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]["status"]
        )
        if not status.endswith(("PENDING", "IN_PROGRESS")):
            return status
    raise AssertionError(f"{arn} still {status} after {limit} Describe calls")


def decisions(records: Sequence[Any]) -> list[dict[str, Any]]:
    """The handlers' JSON log lines, parsed."""
    return [
        json.loads(record.getMessage()) for record in records if record.name == "personalize.custom_resources"
    ]


def template_tags(personalize: Any, arn: str) -> dict[str, str]:
    """The resource's tags without the owner tag, which the handlers add and the template never sets."""
    tags = personalize.list_tags_for_resource(resourceArn=arn)["tags"]
    return {tag["tagKey"]: tag["tagValue"] for tag in tags if tag["tagKey"] != domain.OWNER_TAG_KEY}


def owner_tag(personalize: Any, arn: str) -> str | None:
    tags = personalize.list_tags_for_resource(resourceArn=arn)["tags"]
    return next((tag["tagValue"] for tag in tags if tag["tagKey"] == domain.OWNER_TAG_KEY), None)
