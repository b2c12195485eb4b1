"""A custom-resource handler for the engine tests: it records every event it gets and does what its
properties say, so the tests can check the CloudFormation lifecycle the deployer drives.

It runs in the deployer's worker processes, so it records to a JSON-lines file (property `Journal`).
Properties, as CloudFormation delivers them (strings):
- `Version`: part of the physical id (`LOGICAL:VERSION`); changing it makes an Update a replacement.
- `FailOn`: a request type (Create, Update, Delete) on which on_event raises.
- `FailOnComplete`: a request type on which is_complete raises (after on_event answered).
- `Polls`: how many is_complete calls answer IsComplete false before one answers true.
- `RenameOnComplete`: "true" makes is_complete answer another PhysicalResourceId (`...:renamed`).
- `WaitFor`: comma-separated logical ids that must have started too before on_event returns (a
  barrier that only passes when those resources are created concurrently).
- `SleepOnEvent`: seconds on_event sleeps before it answers (it records `on_event_done` then).
- `DeletePolls`: like `Polls`, for Delete requests.
- `BigData`: is_complete's Data holds that many characters more (not for Delete requests).
A file `JOURNAL.healed` makes the handler ignore `FailOn`, `FailOnComplete` and `SleepOnEvent` (fixed
handler code behind the same properties).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

BARRIER_TIMEOUT_SECONDS = 20.0


def _record(event: dict[str, Any], phase: str) -> list[dict[str, Any]]:
    """Append this call to the journal; every entry so far.

    Several worker processes record at once (a destroy deletes a resource and its replaced twin
    concurrently). Each entry goes in one append-mode write, so entries never interleave; a reader can
    still catch another worker's entry half-copied (the kernel copies a write page by page, and readers
    do not wait for writers), so a last line without its newline is left out: it is not this call's.
    """
    journal = Path(event["ResourceProperties"]["Journal"])
    entry = {"phase": phase, **{key: value for key, value in event.items() if key != "ResponseURL"}}
    entry["ResponseURL"] = event.get("ResponseURL")
    descriptor = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, (json.dumps(entry) + "\n").encode("utf-8"))
    finally:
        os.close(descriptor)
    text = journal.read_text(encoding="utf-8")
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]


def _properties(event: dict[str, Any]) -> dict[str, Any]:
    properties = dict(event["ResourceProperties"])
    if Path(f"{properties['Journal']}.healed").exists():
        for key in ("FailOn", "FailOnComplete", "SleepOnEvent"):
            properties.pop(key, None)
    return properties


def on_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record(event, "on_event")
    properties = _properties(event)
    logical_id = event["LogicalResourceId"]
    if properties.get("FailOn") == event["RequestType"]:
        raise RuntimeError(f"{logical_id} refuses {event['RequestType']}")
    journal = Path(properties["Journal"])
    Path(f"{journal}.{logical_id}.started").touch()
    for other in filter(None, properties.get("WaitFor", "").split(",")):
        deadline = time.monotonic() + BARRIER_TIMEOUT_SECONDS
        while not Path(f"{journal}.{other}.started").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{logical_id} waited for {other}, which did not start alongside it")
            time.sleep(0.02)
    if properties.get("SleepOnEvent"):
        time.sleep(float(properties["SleepOnEvent"]))
        _record(event, "on_event_done")
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    return {
        "PhysicalResourceId": f"{logical_id}:{properties.get('Version', '1')}",
        "Data": {"FromOnEvent": "yes"},
    }


def is_complete(event: dict[str, Any], context: Any) -> dict[str, Any]:
    entries = _record(event, "is_complete")
    if _properties(event).get("FailOnComplete") == event["RequestType"]:
        raise RuntimeError(f"{event['LogicalResourceId']} failed while completing {event['RequestType']}")
    polls = sum(
        1 for entry in entries if entry["phase"] == "is_complete" and entry["RequestId"] == event["RequestId"]
    )
    wanted = "DeletePolls" if event["RequestType"] == "Delete" else "Polls"
    if polls < int(event["ResourceProperties"].get(wanted, "1")):
        return {"IsComplete": False}
    answer: dict[str, Any] = {
        "IsComplete": True,
        "Data": {"Arn": event["PhysicalResourceId"], "Polls": str(polls)},
    }
    if event["ResourceProperties"].get("BigData") and event["RequestType"] != "Delete":
        answer["Data"]["Big"] = "x" * int(event["ResourceProperties"]["BigData"])
    if event["ResourceProperties"].get("RenameOnComplete") == "true" and event["RequestType"] != "Delete":
        answer["PhysicalResourceId"] = f"{event['PhysicalResourceId']}:renamed"
    return answer
