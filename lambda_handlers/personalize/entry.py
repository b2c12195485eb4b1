"""Lambda entry points for the CDK Provider: `personalize.entry.on_event` and `personalize.entry.is_complete`.

One asset serves every resource type; the handler is chosen by the event's ResourceType.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import InvalidEventError
from .framework import DELETE, IS_COMPLETE, ON_EVENT, ResourceEvent, log_decision
from .resources import RESOURCE_TYPES


def on_event(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Start the create, update or delete; returns {"PhysicalResourceId", "Data"}."""
    return _run(event, ON_EVENT)


def is_complete(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Describe and answer {"IsComplete": False} while pending, or {"IsComplete": True, "Data": ...}."""
    return _run(event, IS_COMPLETE)


def _run(raw: Mapping[str, Any], phase: str) -> dict[str, Any]:
    event = ResourceEvent.parse(raw)
    resource_class = RESOURCE_TYPES.get(event.resource_type)
    if resource_class is None:
        if event.request_type == DELETE:
            # Failing would leave the stack undeletable over something this handler never made.
            log_decision(event, phase, "unknown-type-ignored")
            return {"IsComplete": True} if phase == IS_COMPLETE else {"PhysicalResourceId": event.physical_id}
        raise InvalidEventError(
            f"ResourceType {event.resource_type!r} ({event.logical_id}) is not handled here; known types: "
            f"{', '.join(sorted(RESOURCE_TYPES))}"
        )
    handler = resource_class(event, phase)
    try:
        return handler.on_event() if phase == ON_EVENT else handler.is_complete()
    except Exception as error:
        log_decision(event, phase, "failed", error=type(error).__name__, message=str(error))
        raise
