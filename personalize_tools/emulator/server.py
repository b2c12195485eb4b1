"""The HTTP face of the emulator: Personalize's JSON 1.1 protocol on `POST /`, admin under `/_emulator/`.

boto3 and the AWS CLI reach it through `endpoint_url` / `AWS_ENDPOINT_URL_PERSONALIZE` exactly as
they reach AWS, so code under test runs unchanged. Admin endpoints are never faulted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from lambda_handlers.personalize import authorization as authz
from personalize_tools.emulator import model
from personalize_tools.emulator.authorizer import Authorizer
from personalize_tools.emulator.dataplane import DataPlane
from personalize_tools.emulator.errors import (
    EmulatorConfigError,
    InternalFailureError,
    SerializationError,
    ServiceError,
    UnknownOperationError,
    parse_json_object,
)
from personalize_tools.emulator.faults import FaultInjector, Faults
from personalize_tools.emulator.lifecycle import Clock, Pace
from personalize_tools.emulator.service import PersonalizeService
from personalize_tools.emulator.signing import signing_region

ADMIN_PREFIX = "/_emulator/"
CONTENT_TYPE = "application/x-amz-json-1.1"
ADMIN_CONTENT_TYPE = "application/json"
POLL_SECONDS = 0.05  # how soon serve_forever notices stop()
UNKNOWN_METHOD_HINT = f"Personalize requests are POST /; admin ones GET or POST {ADMIN_PREFIX}..."

# HTTP hardening (docs/emulator.md, "HTTP hardening"): our choices, each with its reason there.
# Above the largest request botocore's model allows for any operation served here (CreateRecommender:
# about 3 MB if every character is \u-escaped, 260 KB in ASCII); far below a runaway upload.
MAX_REQUEST_BYTES = 4 * 1024 * 1024
HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")  # Docker service names use '_'
LISTEN_BACKLOG = 1024  # connections the kernel queues before accept(); Linux caps it at net.core.somaxconn
LINGER_SECONDS = 1.0  # how long a refused upload is drained so the client reads the answer, not a reset


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
        allowed_hosts: Iterable[str] = (),
        iam_endpoint_url: str | None = None,
    ) -> None:
        self.pace = Pace.preset(pace) if isinstance(pace, str) else pace
        self.log_requests = log_requests
        self.allowed_hosts = frozenset({"localhost", *(_host_name(name) for name in allowed_hosts)})
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
        # With IAM (moto's server), every call is authorized like AWS: docs/emulator.md "Permission model".
        self.authorizer = (
            Authorizer(iam_endpoint_url, region=region, account=account) if iam_endpoint_url else None
        )
        if self.authorizer is not None:
            self.service.import_access = self.authorizer.import_read_allowed
        self.data_plane = DataPlane(self.service, self._faults, self._call_log)  # events and runtime
        self._httpd = _HTTPServer((host, port), self)
        self._thread: threading.Thread | None = None
        self._closed = False
        bound = str(self._httpd.server_address[0])
        if not ipaddress.ip_address(bound).is_loopback:
            print(
                f"WARNING: the Personalize emulator listens on {bound}:{self.port}, which other machines can "
                "reach. It checks no credentials: anyone who reaches it can create, delete and reset "
                "everything it holds. Bind 127.0.0.1 (the default) unless you mean it.",
                file=sys.stderr,
                flush=True,
            )

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

    def foreign_request(self, host: str | None, origin: str | None) -> str | None:
        """Why a request comes from a browser page it must not serve (DNS rebinding, CSRF), or None.

        The Host must be localhost, an IP address or an allowed name; an Origin, when sent, must be
        this server's own (http, such a host and this port). boto3 and the AWS CLI send no Origin.
        """
        if host is not None and not self._allowed_host(_hostname(host)):
            return (
                f"Host {host!r} is not this emulator's: requests must name localhost, an IP address or a "
                "host allowed with --allow-host (a guard against DNS rebinding)"
            )
        if origin is not None:
            try:
                parts = urlsplit(origin)
                own = parts.scheme == "http" and parts.port == self.port
                own = own and self._allowed_host(parts.hostname)
            except ValueError:
                own = False
            if not own:
                return (
                    f"Origin {origin!r} is not this emulator's ({self.url}): a web page cannot call it "
                    "(a guard against cross-site requests)"
                )
        return None

    def _allowed_host(self, hostname: str | None) -> bool:
        if not hostname:
            return False
        try:
            ipaddress.ip_address(hostname)
        except ValueError:
            return hostname.lower() in self.allowed_hosts
        return True

    def handle_personalize(
        self, target: str, path: str, raw_body: bytes, authorization: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        prefix = model.target_prefix() + "."
        operation = target[len(prefix) :] if target.startswith(prefix) else ""
        try:
            route, _, query = path.partition("?")
            if route != "/" or not operation:
                raise UnknownOperationError(
                    f"Expected POST / with X-Amz-Target {prefix}<Operation>; got {path} with {target!r}."
                )
            region = signing_region(authorization, query)  # AWS authenticates before anything else
            faults = self._faults.faults
            if faults.latency_seconds:
                time.sleep(faults.latency_seconds)
            injected = self._faults.draw() or self._faults.failed_operation(operation)
            if injected is not None:
                raise injected
            params = parse_json_object(raw_body)
            if self.authorizer is not None and operation in authz.ACTIONS:
                model.validate_request(operation, params)
                caller = self.authorizer.caller(authorization or "")
                self.authorizer.authorize(caller, operation, params, self.service.tags_of, region)
            result = self.service.call(operation, params, region=region)
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
            ("POST", "faults"): lambda: self.set_faults(**parse_json_object(raw_body)).to_json(),
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


def _host_name(name: str) -> str:
    """An --allow-host value, lower-case; refused when it could never equal a Host header's name."""
    if not HOST_NAME.fullmatch(name):
        raise EmulatorConfigError(
            f"--allow-host {name!r}: give a host name alone, such as personalize.internal "
            "(letters, digits, '-', '_' and '.'; no scheme, port or path)"
        )
    return name.lower()


def _hostname(host: str) -> str | None:
    """The name in a Host header (`name`, `name:port`, `[v6]:port`), or None when it is malformed."""
    try:
        return urlsplit(f"//{host}").hostname
    except ValueError:  # e.g. an unclosed `[::1`
        return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer (broken pipe, reset) left; that is no emulator error
        to print a traceback for. Anything else still prints one."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

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
        if self._refused_foreign():
            return
        problem = self._body_problem()
        if problem is not None:
            self._refuse(*problem)
            return
        length = int(self.headers.get("Content-Length") or "0")
        body = self.rfile.read(length)
        if len(body) < length:  # the client closed its side early; if it still listens, it learns why
            message = (
                f"The request body ended after {len(body):,} of the {length:,} bytes of its Content-Length"
            )
            self._refuse(400, SerializationError(message).body())
            return
        emulator = self.server.emulator
        route = None if self.headers.get("X-Amz-Target") else emulator.data_plane.route("POST", self.path)
        if self.path.startswith(ADMIN_PREFIX):
            content_type = self.headers.get_content_type()
            if content_type != ADMIN_CONTENT_TYPE:
                sent = self.headers.get("Content-Type") or "none"
                message = (
                    f"Admin POSTs need Content-Type: {ADMIN_CONTENT_TYPE} (got {sent}); a web page cannot "
                    "send that without a CORS preflight, which this server never grants"
                )
                self._send(415, {"__type": "InvalidAdminRequest", "message": message})
                return
            self._send(*emulator.handle_admin("POST", self.path, body))
        elif route is not None:
            self._send(*emulator.data_plane.handle(route, body))
        else:
            target, authorization = self.headers.get("X-Amz-Target", ""), self.headers.get("Authorization")
            self._send(*emulator.handle_personalize(target, self.path, body, authorization))

    def do_GET(self) -> None:
        if self._refused_foreign():
            return
        problem = self._body_problem()
        if problem is not None:
            self._refuse(*problem)
            return
        self.rfile.read(int(self.headers.get("Content-Length") or "0"))  # unused, but unread it would
        # be taken for the next request on this connection
        if self.path.startswith(ADMIN_PREFIX):
            self._send(*self.server.emulator.handle_admin("GET", self.path, b""))
        else:
            self._send(
                404, {"__type": "UnknownOperationException", "message": "Personalize requests are POST /"}
            )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, unknown method, oversized headers) in the JSON
        error shape botocore reads, instead of its HTML page; the connection closes after them."""
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        short, long = self.responses.get(code, ("Error", ""))
        if code == 501:
            error_type, hint = "UnknownOperationException", UNKNOWN_METHOD_HINT
        else:
            error_type, hint = "SerializationException", explain or long
        self._send(code, {"__type": error_type, "message": f"{message or short}. {hint}"})

    def handle_expect_100(self) -> bool:
        """`Expect: 100-continue` (curl's way with large bodies): refuse a too-large one before it is sent."""
        problem = self._body_problem()
        if problem is not None:
            self._refuse(*problem)
            return False
        return super().handle_expect_100()

    def _refused_foreign(self) -> bool:
        problem = self.server.emulator.foreign_request(self.headers.get("Host"), self.headers.get("Origin"))
        if problem is not None:
            self._refuse(403, {"__type": "AccessDeniedException", "message": problem})
        return problem is not None

    def _body_problem(self) -> tuple[int, dict[str, Any]] | None:
        """Why the request body is not read: its size is unknown or over MAX_REQUEST_BYTES."""
        if self.headers.get("Transfer-Encoding"):
            message = "Send the body with a Content-Length; Transfer-Encoding is not accepted"
            return 411, SerializationError(message).body()
        lengths = set(self.headers.get_all("Content-Length") or [])
        if len(lengths) > 1:
            message = f"Content-Length is sent {len(lengths)} times with different values: send it once"
            return 400, SerializationError(message).body()
        length = self.headers.get("Content-Length") or "0"
        if not (length.isascii() and length.isdigit()):
            return 400, SerializationError(f"Content-Length {length!r} is not a number").body()
        if int(length) > MAX_REQUEST_BYTES:
            message = (
                f"The request body has {int(length):,} bytes; this emulator accepts at most "
                f"{MAX_REQUEST_BYTES:,} (the largest valid Personalize request is far smaller)"
            )
            return 413, {"__type": "RequestEntityTooLargeException", "message": message}
        return None

    def _refuse(self, status: int, payload: dict[str, Any]) -> None:
        """Answer without reading the body, then close: its end is unknown or it is not wanted."""
        self.close_connection = True
        self._send(status, payload)
        self.wfile.flush()
        with contextlib.suppress(OSError):  # drain briefly, so closing does not reset the answer away
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            deadline = time.monotonic() + LINGER_SECONDS
            while time.monotonic() < deadline and self.connection.recv(1 << 16):
                pass

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {"Content-Type": CONTENT_TYPE}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.log_requests:
            super().log_message(format, *args)
