"""The REST-JSON data plane on the emulator's endpoint: personalize-events and personalize-runtime.

botocore sends these as `POST /events`, `POST /users`, `POST /items`, `POST /recommendations` (each
operation's `http.requestUri` in its model), with no X-Amz-Target header, so they share one port with the
control plane's `POST /` without ambiguity. Routes, validation and output shapes come from the installed
models; errors are answered the REST-JSON way: the status from the model's error shape, the code in the
`x-amzn-ErrorType` header (where botocore's RestJSONParser reads it first) and `{"message": ...}` as body.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.model import NoShapeFoundError

from personalize_tools.emulator import model
from personalize_tools.emulator.errors import (
    InternalFailureError,
    ServiceError,
    UnsupportedOperationError,
    parse_json_object,
)
from personalize_tools.emulator.events import EventsService
from personalize_tools.emulator.faults import FaultInjector
from personalize_tools.emulator.runtime import RuntimeService
from personalize_tools.emulator.service import PersonalizeService

CONTENT_TYPE = "application/json"
SERVICES = ("personalize-events", "personalize-runtime")
Response = tuple[int, dict[str, Any], dict[str, str]]


class _CallLog(Protocol):
    def record(self, operation: str, error_code: str | None) -> None: ...


@dataclass(frozen=True)
class Route:
    service: str
    operation: str


class DataPlane:
    """Routes REST-JSON requests to the events and runtime operations; faults and call counts included."""

    def __init__(self, service: PersonalizeService, faults: FaultInjector, call_log: _CallLog) -> None:
        self._faults = faults
        self._call_log = call_log
        implemented: dict[str, Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
            "personalize-events": EventsService(service).operations,
            "personalize-runtime": RuntimeService(service).operations,
        }
        self._handlers = implemented
        self._routes: dict[tuple[str, str], Route] = {}
        for service_name in SERVICES:
            service_model = model.service_model(service_name)
            for operation in service_model.operation_names:
                http = service_model.operation_model(operation).http
                self._routes[(http["method"], http["requestUri"])] = Route(service_name, operation)

    def route(self, method: str, path: str) -> Route | None:
        return self._routes.get((method, path.split("?", 1)[0]))

    def handle(self, route: Route, raw_body: bytes) -> Response:
        try:
            faults = self._faults.faults
            if faults.latency_seconds:
                time.sleep(faults.latency_seconds)
            injected = self._faults.draw()
            if injected is not None:
                raise injected
            handler = self._handlers[route.service].get(route.operation)
            if handler is None:
                raise UnsupportedOperationError(
                    f"{route.operation} is a {route.service} operation the emulator does not implement; it "
                    f"supports: {', '.join(sorted(self._handlers[route.service]))}"
                )
            params = parse_json_object(raw_body)
            model.validate_request(route.operation, params, route.service)
            result = model.shape_output(route.operation, handler(params), route.service)
        except ServiceError as error:
            self._call_log.record(route.operation, error.code)
            return self._error(route, error)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            failure = InternalFailureError(f"The emulator failed handling {route.operation}: {error!r}")
            self._call_log.record(route.operation, failure.code)
            return self._error(route, failure)
        self._call_log.record(route.operation, None)
        return 200, result, {"Content-Type": CONTENT_TYPE}

    @staticmethod
    def _error(route: Route, error: ServiceError) -> Response:
        status = error.status
        try:
            shape = model.service_model(route.service).shape_for(error.code)
            status = int(shape.metadata["error"]["httpStatusCode"])
        except (NoShapeFoundError, KeyError):
            pass  # not in the model (throttling, serialization): the error's own status
        return (
            status,
            {"message": error.message},
            {"Content-Type": CONTENT_TYPE, "x-amzn-ErrorType": error.code},
        )
