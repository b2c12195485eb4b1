"""Stack events, printed the way CloudFormation lists them: time, logical id, type, status, reason."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

STACK_TYPE = "AWS::CloudFormation::Stack"
SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class StackEvent:
    logical_id: str
    resource_type: str
    status: str
    reason: str = ""
    physical_id: str | None = None
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


EventSink = Callable[[StackEvent], None]


class EventLog:
    """Keeps every event (tests and the summary read them) and prints each one as it happens.

    Events come from many worker threads at once; a lock keeps lines whole and in arrival order.
    """

    def __init__(
        self, stream: TextIO | None = sys.stdout, *, id_width: int = 40, type_width: int = 34
    ) -> None:
        self.stream = stream
        self.events: list[StackEvent] = []
        self.id_width = id_width
        self.type_width = type_width
        self._lock = threading.Lock()

    def __call__(self, event: StackEvent) -> None:
        with self._lock:
            self.events.append(event)
            if self.stream is not None:
                self.stream.write(self.format(event) + "\n")
                self.stream.flush()

    def format(self, event: StackEvent) -> str:
        local_time = event.timestamp.astimezone().strftime("%H:%M:%S")
        line = (
            f"{local_time}  {event.logical_id:<{self.id_width}}  {event.resource_type:<{self.type_width}}  "
            f"{event.status:<20}"
        )
        return f"{line}  {event.reason}".rstrip() if event.reason else line.rstrip()

    def statuses(self, logical_id: str) -> list[str]:
        """The statuses one resource went through, in order."""
        with self._lock:
            return [event.status for event in self.events if event.logical_id == logical_id]

    def for_status(self, status: str) -> list[StackEvent]:
        with self._lock:
            return [event for event in self.events if event.status == status]
