"""The HTTP face of the emulator: Personalize's JSON 1.1 protocol on `POST /`, admin under `/_emulator/`.

boto3 and the AWS CLI reach it through `endpoint_url` / `AWS_ENDPOINT_URL_PERSONALIZE` exactly as
they reach AWS, so code under test runs unchanged. Admin endpoints are never faulted.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from personalize_tools.emulator import model
from personalize_tools.emulator.dataplane import DataPlane
from personalize_tools.emulator.errors import (
    EmulatorConfigError,
    InternalFailureError,
    SerializationError,
    ServiceError,
    UnknownOperationError,
)
from personalize_tools.emulator.faults import FaultInjector, Faults
from personalize_tools.emulator.lifecycle import Clock, Pace
from personalize_tools.emulator.service import PersonalizeService

ADMIN_PREFIX = "/_emulator/"
CONTENT_TYPE = "application/x-amz-json-1.1"
POLL_SECONDS = 0.05  # how soon serve_forever notices stop()


class CallLog:
    """Requests per operation, faulted ones included, and the error codes they were answered with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._errors: dict[str, Counter[str]] = {}

    def record(self, operation: str, error_code: str | None) -> None:
        with self._lock:
            self._calls[operation] += 1
            if error_code is not None:
                self._errors.setdefault(operation, Counter())[error_code] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._calls.values()),
                "calls": dict(sorted(self._calls.items())),
                "errors": {operation: dict(codes) for operation, codes in sorted(self._errors.items())},
            }

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._errors.clear()


class EmulatorServer:
    """A local Amazon Personalize endpoint; `start()` serves in a background thread.

    The socket is bound on construction, so `url` is known (port 0 picks a free port) before start.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        pace: Pace | str = "fast",
        faults: Faults | None = None,
        state_file: str | os.PathLike[str] | None = None,
        s3_endpoint_url: str | None = None,
        region: str = "us-east-1",
        account: str = "123456789012",
        clock: Clock | None = None,
        log_requests: bool = False,
    ) -> None:
        self.pace = Pace.preset(pace) if isinstance(pace, str) else pace
        self.log_requests = log_requests
        self._initial_faults = faults or Faults()
        self._faults = FaultInjector(self._initial_faults)
        self._call_log = CallLog()
        self.service = PersonalizeService(
            pace=self.pace,
            faults=self._faults,
            region=region,
            account=account,
            s3_endpoint_url=s3_endpoint_url,
            state_file=Path(state_file) if state_file is not None else None,
            clock=clock or time.time,
        )
        self.data_plane = DataPlane(self.service, self._faults, self._call_log)  # events and runtime
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(POLL_SECONDS,), name="personalize-emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the CLI's mode)."""
        try:
            self._httpd.serve_forever(POLL_SECONDS)
        finally:
            self._close()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._httpd.server_close()
            self._httpd.close_connections()
            self.service.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # --- what the admin endpoints expose, also for Python callers -----------------------------

    def state(self) -> dict[str, Any]:
        return self.service.summary()

    def reset(self) -> None:
        """Forget every resource and call count and restore the faults it started with, without a restart."""
        self.service.reset()
        self._call_log.clear()
        self._faults.set(self._initial_faults)

    def calls(self) -> dict[str, Any]:
        return self._call_log.snapshot()

    def reset_calls(self) -> None:
        self._call_log.clear()

    @property
    def faults(self) -> Faults:
        return self._faults.faults

    def set_faults(self, faults: Faults | None = None, /, **changes: Any) -> Faults:
        """Replace the fault settings, or change some of them (`set_faults(throttle_rate=0.5)`)."""
        updated = (faults or self._faults.faults).changed(changes)
        self._faults.set(updated)
        return updated

    # --- request handling (called by the HTTP handler threads) --------------------------------

    def handle_personalize(self, target: str, path: str, raw_body: bytes) -> tuple[int, dict[str, Any]]:
        prefix = model.target_prefix() + "."
        operation = target[len(prefix) :] if target.startswith(prefix) else ""
        try:
            if path != "/" or not operation:
                raise UnknownOperationError(
                    f"Expected POST / with X-Amz-Target {prefix}<Operation>; got {path} with {target!r}."
                )
            faults = self._faults.faults
            if faults.latency_seconds:
                time.sleep(faults.latency_seconds)
            injected = self._faults.draw()
            if injected is not None:
                raise injected
            result = self.service.call(operation, _parse_json(raw_body))
        except ServiceError as error:
            self._call_log.record(operation or "(unknown)", error.code)
            return error.status, error.body()
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            failure = InternalFailureError(f"The emulator failed handling {operation}: {error!r}")
            self._call_log.record(operation, failure.code)
            return failure.status, failure.body()
        self._call_log.record(operation, None)
        return 200, result

    def handle_admin(self, method: str, path: str, raw_body: bytes) -> tuple[int, dict[str, Any]]:
        def reset() -> dict[str, Any]:
            self.reset()
            return {"reset": True}

        def reset_calls() -> dict[str, Any]:
            self.reset_calls()
            return {"reset": True}

        routes: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
            ("GET", "health"): lambda: {"ok": True, "url": self.url},
            ("GET", "state"): self.state,
            ("POST", "reset"): reset,
            ("GET", "calls"): self.calls,
            ("POST", "calls/reset"): reset_calls,
            ("GET", "faults"): self.faults.to_json,
            ("POST", "faults"): lambda: self.set_faults(**_parse_json(raw_body)).to_json(),
        }
        route = routes.get((method, path[len(ADMIN_PREFIX) :].strip("/")))
        if route is None:
            known = ", ".join(f"{verb} {ADMIN_PREFIX}{name}" for verb, name in routes)
            return 404, {
                "__type": "NotFound",
                "message": f"No admin endpoint {method} {path}; known: {known}",
            }
        try:
            return 200, route()
        except (EmulatorConfigError, ServiceError) as error:
            return 400, {"__type": "InvalidAdminRequest", "message": str(error)}


def _parse_json(raw_body: bytes) -> dict[str, Any]:
    if not raw_body.strip():
        return {}
    try:
        parsed = json.loads(raw_body)
    except ValueError as error:
        raise SerializationError(f"The request body is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise SerializationError("The request body must be a JSON object")
    return parsed


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # Keep-alive connections outlive serve_forever; stop() closes them so a stopped emulator is silent.
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses connections
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait on delayed ACKs
    server: _HTTPServer

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            self.close_connection = True  # the body's end is unknown, so the connection cannot be reused
            self._send(400, SerializationError(f"Content-Length {length!r} is not a number").body())
            return
        body = self.rfile.read(int(length))
        emulator = self.server.emulator
        route = None if self.headers.get("X-Amz-Target") else emulator.data_plane.route("POST", self.path)
        if self.path.startswith(ADMIN_PREFIX):
            self._send(*emulator.handle_admin("POST", self.path, body))
        elif route is not None:
            self._send(*emulator.data_plane.handle(route, body))
        else:
            self._send(*emulator.handle_personalize(self.headers.get("X-Amz-Target", ""), self.path, body))

    def do_GET(self) -> None:
        if self.path.startswith(ADMIN_PREFIX):
            self._send(*self.server.emulator.handle_admin("GET", self.path, b""))
        else:
            self._send(
                404, {"__type": "UnknownOperationException", "message": "Personalize requests are POST /"}
            )

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {"Content-Type": CONTENT_TYPE}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.log_requests:
            super().log_message(format, *args)
