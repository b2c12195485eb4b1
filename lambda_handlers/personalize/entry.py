"""Lambda entry points for the CDK Provider: `personalize.entry.on_event` and `personalize.entry.is_complete`.

One asset serves every resource type; the handler is chosen by the event's ResourceType.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .errors import CustomResourceError, InvalidEventError
from .framework import DELETE, IS_COMPLETE, ON_EVENT, WAIT_UNTIL, ResourceEvent, log_decision, wait_until
from .resources import RESOURCE_TYPES

# CloudFormation refuses a custom-resource response body over 4,096 bytes (user guide, custom resource
# request and response reference); the reason shares it with the ids the Provider adds, so it gets half.
REASON_LIMIT_BYTES = 2048


class MessageTooLongError(CustomResourceError):
    """A failure whose message would not fit CloudFormation's response: the start, and where the rest is."""


def on_event(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Start the create, update or delete; returns {"PhysicalResourceId", "Data"}."""
    return _run(event, ON_EVENT, context)


def is_complete(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """Describe and answer {"IsComplete": False} while pending, or {"IsComplete": True, "Data": ...}."""
    return _run(event, IS_COMPLETE, context)


def shortened(message: str, request_id: str, context: Any) -> str | None:
    """The message cut to fit, pointing to the log group this invocation writes to; None if it fits."""
    if len(message.encode()) <= REASON_LIMIT_BYTES:
        return None
    group = getattr(context, "log_group_name", None) or os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
    where = f"CloudWatch Logs group {group}" if group else "the handler's log"
    tail = (
        f" ... (cut to fit CloudFormation's 4,096-byte response; the full message is in {where}, "
        f"request {request_id})"
    )
    room = REASON_LIMIT_BYTES - len(tail.encode())
    return message.encode()[:room].decode(errors="ignore") + tail


def _run(raw: Mapping[str, Any], phase: str, context: Any = None) -> dict[str, Any]:
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
        if phase == IS_COMPLETE:
            return handler.is_complete()
        answer = handler.on_event()
        deadline = wait_until()
        return {**answer, WAIT_UNTIL: deadline} if deadline is not None else answer
    except Exception as error:
        log_decision(event, phase, "failed", error=type(error).__name__, message=str(error))
        short = shortened(str(error), event.request_id, context)
        if short is not None:
            raise MessageTooLongError(short) from error
        raise
