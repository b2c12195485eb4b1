"""The emulator's HTTP side refuses what would break it or let a web page drive it (docs/emulator.md)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import botocore.model
import pytest
from botocore.endpoint import DEFAULT_TIMEOUT as BOTOCORE_READ_TIMEOUT

from personalize_tools.emulator import EmulatorServer, model
from personalize_tools.emulator.__main__ import main as emulator_main
from personalize_tools.emulator.faults import MAX_LATENCY_SECONDS, MAX_SEED
from personalize_tools.emulator.server import LISTEN_BACKLOG, MAX_REQUEST_BYTES
from tests import PROJECT_ROOT
from tests.emulator.support import admin, raw_call

LIST_GROUPS = "AmazonPersonalize.ListDatasetGroups"


def request(
    emulator: EmulatorServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """One request with exactly these headers (http.client adds Host only when none is given)."""
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def raw_exchange(emulator: EmulatorServer, head: bytes) -> bytes:
    """Send bytes as they are and read until the server closes: for requests clients would not form."""
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as connection:
        connection.sendall(head)
        received = b""
        while chunk := connection.recv(1 << 16):
            received += chunk
        return received


# --- fault settings: bounds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"latency_seconds": 1e308},
            f"latency_seconds=1e+308: must be a number of seconds from 0 to {MAX_LATENCY_SECONDS:g} "
            f"(half botocore's default read timeout, {BOTOCORE_READ_TIMEOUT} s)",
        ),
        ({"latency_seconds": -1}, "latency_seconds=-1: must be a number of seconds from 0 to 30"),
        ({"seed": "x"}, f"seed='x': must be null or a whole number from 0 to {MAX_SEED} (2^63 - 1)"),
        ({"seed": 1.5}, "seed=1.5: must be null or a whole number"),
        ({"seed": True}, "seed=True: must be null or a whole number"),
        ({"seed": -1}, "seed=-1: must be null or a whole number from 0"),
        ({"seed": MAX_SEED + 1}, f"seed={MAX_SEED + 1}: must be null or a whole number from 0 to {MAX_SEED}"),
        ({"throttle_rate": True}, "throttle_rate=True: a rate is a number from 0 to 1"),
        ({"server_error_rate": 1.5}, "server_error_rate=1.5: a rate is a number from 0 to 1"),
        ({"latency_seconds": False}, "latency_seconds=False: must be a number of seconds from 0 to 30"),
        ({"throttle_rate": "0.5"}, "throttle_rate='0.5': a rate is a number from 0 to 1"),
        ({"fail_name_pattern": 3}, "fail_name_pattern=3: must be null or a regular expression string"),
    ],
)
def test_out_of_bounds_fault_settings_answer_400_saying_what_is_allowed(
    clean_emulator: EmulatorServer, settings: dict[str, Any], message: str
) -> None:
    status, body = admin(clean_emulator.url, "POST", "faults", settings)
    assert (status, body["__type"]) == (400, "InvalidAdminRequest")
    assert body["message"].startswith(message), body["message"]
    assert admin(clean_emulator.url, "GET", "faults")[1]["latency_seconds"] == 0.0
    assert raw_call(clean_emulator.url, LIST_GROUPS, "{}")[0] == 200  # still serving, unchanged


def test_the_largest_latency_leaves_a_boto3_call_time_to_be_answered() -> None:
    """The answer comes after the delay: a delay of botocore's whole read timeout timed every call out."""
    assert MAX_LATENCY_SECONDS == BOTOCORE_READ_TIMEOUT / 2


def test_the_largest_latency_and_seed_allowed_are_accepted(clean_emulator: EmulatorServer) -> None:
    status, body = admin(clean_emulator.url, "POST", "faults", {"latency_seconds": MAX_LATENCY_SECONDS})
    assert (status, body["latency_seconds"]) == (200, MAX_LATENCY_SECONDS)
    status, body = admin(clean_emulator.url, "POST", "faults", {"seed": MAX_SEED, "latency_seconds": 0})
    assert (status, body["seed"]) == (200, MAX_SEED)


def test_the_cli_refuses_the_same_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        emulator_main(["--latency-seconds", "1e308"])
    assert refused.value.code == 2
    assert "latency_seconds=1e+308: must be a number of seconds from 0 to 30" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_the_cli_refuses_a_port_out_of_range(capsys: pytest.CaptureFixture[str], port: str) -> None:
    with pytest.raises(SystemExit) as refused:
        emulator_main(["--port", port])
    assert refused.value.code == 2
    assert f"argument --port: {port!r} is not a port: use a whole number from 0 to 65535" in (
        capsys.readouterr().err
    )


# --- browsers: DNS rebinding and cross-site requests ----------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_admin_posts_need_a_json_content_type(
    clean_emulator: EmulatorServer, personalize: Any, content_type: str | None
) -> None:
    personalize.create_dataset_group(name="kept")
    headers = {"Content-Type": content_type} if content_type else {}
    status, body = request(clean_emulator, "POST", "/_emulator/reset", b"{}", headers)
    assert (status, body["__type"]) == (415, "InvalidAdminRequest")
    assert body["message"].startswith(
        f"Admin POSTs need Content-Type: application/json (got {content_type or 'none'})"
    )
    assert [group["name"] for group in personalize.list_dataset_groups()["datasetGroups"]] == ["kept"]
    status, _ = request(
        clean_emulator, "POST", "/_emulator/reset", b"", {"Content-Type": "application/json; charset=utf-8"}
    )
    assert status == 200
    assert personalize.list_dataset_groups()["datasetGroups"] == []


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({"Origin": "https://attacker.example"}, "Origin 'https://attacker.example' is not this emulator's"),
        ({"Origin": "null"}, "Origin 'null' is not this emulator's"),
        ({"Origin": "http://127.0.0.1:1"}, "Origin 'http://127.0.0.1:1' is not this emulator's"),
        ({"Host": "attacker.example"}, "Host 'attacker.example' is not this emulator's"),
        ({"Host": "rebound.attacker.example:8765"}, "a guard against DNS rebinding"),
    ],
)
def test_foreign_origins_and_hosts_are_refused(
    clean_emulator: EmulatorServer, headers: dict[str, str], fragment: str
) -> None:
    json_post = {**headers, "Content-Type": "application/json"}
    status, body = request(clean_emulator, "POST", "/_emulator/faults", b'{"throttle_rate": 1}', json_post)
    assert (status, body["__type"]) == (403, "AccessDeniedException")
    assert fragment in body["message"]
    assert clean_emulator.faults.throttle_rate == 0.0
    status, body = request(clean_emulator, "GET", "/_emulator/state", None, headers)
    assert (status, body["__type"]) == (403, "AccessDeniedException")
    assert fragment in body["message"]
    personalize_headers = {
        **headers,
        "X-Amz-Target": LIST_GROUPS,
        "Content-Type": "application/x-amz-json-1.1",
    }
    assert request(clean_emulator, "POST", "/", b"{}", personalize_headers)[0] == 403
    assert clean_emulator.calls()["total"] == 0


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "10.1.2.3"])
def test_own_hosts_and_origins_are_served(clean_emulator: EmulatorServer, host: str) -> None:
    address = f"{host}:{clean_emulator.port}"
    headers = {"Host": address, "Origin": f"http://{address}", "Content-Type": "application/json"}
    assert request(clean_emulator, "POST", "/_emulator/calls/reset", b"", headers) == (200, {"reset": True})


def test_allowed_host_names_are_served_and_others_warned_about(capsys: pytest.CaptureFixture[str]) -> None:
    with EmulatorServer(pace="instant", allowed_hosts=["Personalize.Internal"]) as emulator:
        assert request(emulator, "GET", "/_emulator/health", None, {"Host": "personalize.internal"})[0] == 200
        assert request(emulator, "GET", "/_emulator/health", None, {"Host": "other.internal"})[0] == 403
    assert capsys.readouterr().err == ""  # loopback: no warning


@pytest.mark.parametrize("name", ["personalize.internal:8765", "http://personalize.internal", "a b", ""])
def test_an_allowed_host_that_could_never_match_is_refused(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    with pytest.raises(SystemExit) as refused:
        emulator_main(["--allow-host", name])
    assert refused.value.code == 2
    assert f"error: --allow-host {name!r}: give a host name alone, such as personalize.internal" in (
        capsys.readouterr().err
    )


def test_a_docker_service_name_can_be_allowed() -> None:
    with EmulatorServer(pace="instant", allowed_hosts=["personalize_emulator"]) as emulator:
        assert (
            request(emulator, "GET", "/_emulator/health", None, {"Host": "personalize_emulator:80"})[0] == 200
        )


def test_binding_beyond_loopback_warns_loudly_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    server = EmulatorServer("0.0.0.0", pace="instant")
    server.stop()
    err = capsys.readouterr().err
    assert err.startswith(f"WARNING: the Personalize emulator listens on 0.0.0.0:{server.port}, which other")
    assert "anyone who reaches it can create, delete and reset everything" in err


def test_the_cli_warns_beyond_loopback_and_serves_allowed_host_names() -> None:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "personalize_tools.emulator", "--host", "0.0.0.0", "--port", "0"),
            *("--pace", "instant", "--allow-host", "personalize.internal"),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().strip().rsplit(":", 1)[1])

        def health(host: str) -> int:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("GET", "/_emulator/health", headers={"Host": host})
                return connection.getresponse().status
            finally:
                connection.close()

        assert (health(f"personalize.internal:{port}"), health(f"other.internal:{port}")) == (200, 403)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert stderr.startswith(f"WARNING: the Personalize emulator listens on 0.0.0.0:{port}")


def test_a_malformed_host_is_refused_with_an_answer_not_a_dropped_connection(
    clean_emulator: EmulatorServer,
) -> None:
    status, body = request(clean_emulator, "GET", "/_emulator/health", None, {"Host": "[::1"})
    assert (status, body["__type"]) == (403, "AccessDeniedException")
    assert body["message"].startswith("Host '[::1' is not this emulator's")


# --- requests http.server refuses itself ---------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "status", "error_type", "fragment"),
    [
        (  # a browser's CORS preflight: never granted, so a page cannot send JSON or X-Amz-Target
            b"OPTIONS /_emulator/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://attacker.example\r\n"
            b"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n",
            501,
            "UnknownOperationException",
            "Unsupported method ('OPTIONS')",
        ),
        (
            b"PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            501,
            "UnknownOperationException",
            "Unsupported method",
        ),
        (b"post / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 501, "UnknownOperationException", "('post')"),
        (
            b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"x" * 70_000 + b"\r\n\r\n",
            431,
            "SerializationException",
            "Line too long",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n",
            431,
            "SerializationException",
            "Too many headers",
        ),
    ],
)
def test_http_level_refusals_answer_json_not_an_html_page(
    clean_emulator: EmulatorServer, head: bytes, status: int, error_type: str, fragment: str
) -> None:
    answer = raw_exchange(clean_emulator, head)
    status_line, rest = answer.split(b"\r\n", 1)
    headers, body = rest.split(b"\r\n\r\n", 1)
    assert int(status_line.split()[1]) == status
    assert b"Content-Type: application/x-amz-json-1.1" in headers
    assert b"Connection: close" in headers
    assert b"access-control-allow" not in headers.lower()
    payload = json.loads(body)
    assert payload["__type"] == error_type
    assert fragment in payload["message"], payload["message"]


# --- bodies: nesting and size ---------------------------------------------------------------------


def test_deeply_nested_json_is_a_serialization_exception(clean_emulator: EmulatorServer) -> None:
    nested = '{"tags": ' + "[" * 100_000 + "]" * 100_000 + "}"
    status, body, content_type = raw_call(clean_emulator.url, LIST_GROUPS, nested)
    assert (status, body["__type"], content_type) == (
        400,
        "SerializationException",
        "application/x-amz-json-1.1",
    )
    assert body["message"].startswith("The request body nests JSON too deeply to parse")
    status, body = request(
        clean_emulator, "POST", "/_emulator/faults", nested.encode(), {"Content-Type": "application/json"}
    )
    assert (status, body["__type"]) == (400, "InvalidAdminRequest")
    assert raw_call(clean_emulator.url, LIST_GROUPS, "{}")[0] == 200


def test_the_data_plane_answers_deep_nesting_the_same_way(clean_emulator: EmulatorServer) -> None:
    """personalize-events and -runtime parse bodies with the control plane's function: a 400, not a 500."""
    nested = '{"trackingId": "t", "sessionId": "s", "eventList": ' + "[" * 100_000 + "]" * 100_000 + "}"
    status, body = request(
        clean_emulator, "POST", "/events", nested.encode(), {"Content-Type": "application/json"}
    )
    assert status == 400
    assert body["message"].startswith("The request body nests JSON too deeply to parse")


def _largest_json(shape: botocore.model.Shape) -> int:
    """Bytes of the largest JSON botocore's model allows for SHAPE, each character \\u-escaped (12 bytes
    for a character outside the BMP, as botocore's json.dumps writes it)."""
    metadata = shape.metadata
    if shape.type_name == "string":
        if "enum" in metadata:
            return max(len(value) for value in metadata["enum"]) + 2
        return metadata["max"] * 12 + 2
    if shape.type_name == "structure":
        members = shape.members.items()  # type: ignore[attr-defined]
        return 2 + sum(len(name) + 4 + _largest_json(member) for name, member in members)
    if shape.type_name == "list":
        return 2 + metadata["max"] * (_largest_json(shape.member) + 1)  # type: ignore[attr-defined]
    if shape.type_name == "map":
        key, value = shape.key, shape.value  # type: ignore[attr-defined]
        return 2 + metadata["max"] * (_largest_json(key) + _largest_json(value) + 2)
    return 32  # numbers, booleans, timestamps


def test_the_size_limit_admits_the_largest_valid_request_of_every_operation_served(
    clean_emulator: EmulatorServer,
) -> None:
    service = model.service_model()
    largest = {
        operation: _largest_json(input_shape)
        for operation in clean_emulator.service._operations  # what it serves, unsupported ones refused
        if (input_shape := service.operation_model(operation).input_shape) is not None
    }
    assert max(largest.values()) < MAX_REQUEST_BYTES, sorted(largest.items(), key=lambda item: item[1])[-3:]
    assert max(largest.values()) > MAX_REQUEST_BYTES / 2  # and the limit is not far above it


def test_a_body_of_the_size_limit_is_read_and_one_byte_more_is_413(clean_emulator: EmulatorServer) -> None:
    envelope = b'{"padding": ""}'
    largest = envelope.replace(b'""', b'"' + b"x" * (MAX_REQUEST_BYTES - len(envelope)) + b'"')
    assert len(largest) == MAX_REQUEST_BYTES
    assert raw_call(clean_emulator.url, LIST_GROUPS, largest)[0] == 200  # unknown members are ignored

    status, body, _ = raw_call(clean_emulator.url, LIST_GROUPS, largest + b" ")
    assert (status, body["__type"]) == (413, "RequestEntityTooLargeException")
    assert body["message"] == (
        f"The request body has {MAX_REQUEST_BYTES + 1:,} bytes; this emulator accepts at most "
        f"{MAX_REQUEST_BYTES:,} (the largest valid Personalize request is far smaller)"
    )
    assert clean_emulator.calls()["total"] == 1  # the refused body never reached the service


def test_a_100_megabyte_upload_is_refused_before_it_is_sent(clean_emulator: EmulatorServer) -> None:
    """curl sends `Expect: 100-continue` before large bodies: the answer is 413, not 100 Continue."""
    answer = raw_exchange(
        clean_emulator,
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: " + LIST_GROUPS.encode() + b"\r\n"
        b"Content-Length: 100000000\r\nExpect: 100-continue\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in answer
    assert b"Connection: close" in answer


def test_conflicting_content_lengths_are_refused(clean_emulator: EmulatorServer) -> None:
    """Two lengths leave the body's end ambiguous (RFC 9112 section 6.3): refuse, then close."""
    answer = raw_exchange(
        clean_emulator,
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: " + LIST_GROUPS.encode() + b"\r\n"
        b"Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
    )
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Length is sent 2 times with different values: send it once" in answer
    assert b"Connection: close" in answer
    assert clean_emulator.calls()["total"] == 0


def test_a_get_body_is_not_taken_for_the_next_request(clean_emulator: EmulatorServer) -> None:
    smuggled = b"POST /_emulator/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n"
    answer = raw_exchange(
        clean_emulator,
        b"GET /_emulator/calls HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(smuggled)
        + smuggled
        + b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    assert answer.count(b"HTTP/1.1 ") == 2  # the GET and the health check; no reset in between
    assert b'"reset": true' not in answer
    assert b'"ok": true' in answer


def test_a_body_of_unknown_length_is_refused(clean_emulator: EmulatorServer) -> None:
    answer = raw_exchange(
        clean_emulator,
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: " + LIST_GROUPS.encode() + b"\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 411 ")
    assert b"Send the body with a Content-Length" in answer


# --- connections ----------------------------------------------------------------------------------


@pytest.fixture
def unstarted_emulator() -> Iterator[EmulatorServer]:
    """Bound and listening, not yet accepting: connections wait in the kernel's listen queue."""
    server = EmulatorServer(pace="instant")
    yield server
    server.stop()


def test_a_burst_of_100_new_connections_is_served_in_full(unstarted_emulator: EmulatorServer) -> None:
    """With Python's default backlog of 5, most of these would wait out SYN retries (or be reset)."""
    burst = 100
    assert burst <= LISTEN_BACKLOG
    connections = [
        socket.create_connection(("127.0.0.1", unstarted_emulator.port), timeout=2) for _ in range(burst)
    ]
    unstarted_emulator.start()

    def ask(connection: socket.socket) -> bytes:
        with connection:
            connection.settimeout(30)
            connection.sendall(
                b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            answer = b""
            while chunk := connection.recv(1 << 16):
                answer += chunk
            return answer

    with ThreadPoolExecutor(max_workers=burst) as pool:
        answers = list(pool.map(ask, connections))
    assert [answer.split(b"\r\n", 1)[0] for answer in answers] == [b"HTTP/1.1 200 OK"] * burst


def test_a_stalled_client_holds_only_its_own_connection(unstarted_emulator: EmulatorServer) -> None:
    """One thread per connection: a client that stops mid-headers or mid-body delays no one else, and
    stop() still closes its connection."""
    unstarted_emulator.start()
    mid_headers = socket.create_connection(("127.0.0.1", unstarted_emulator.port), timeout=10)
    mid_headers.sendall(b"POST / HTTP/1.1\r\nHost: 127.0")
    mid_body = socket.create_connection(("127.0.0.1", unstarted_emulator.port), timeout=10)
    mid_body.sendall(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: " + LIST_GROUPS.encode() + b"\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    with mid_headers, mid_body:
        assert raw_call(unstarted_emulator.url, LIST_GROUPS, "{}")[0] == 200
        unstarted_emulator.stop()
        assert mid_headers.recv(1) == b""  # closed by stop(), never answered
        assert mid_body.recv(1) == b""


def test_a_body_cut_short_is_answered_with_what_arrived(clean_emulator: EmulatorServer) -> None:
    with socket.create_connection(("127.0.0.1", clean_emulator.port), timeout=10) as connection:
        connection.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: " + LIST_GROUPS.encode() + b"\r\n"
            b"Content-Length: 1000\r\n\r\n{}"
        )
        connection.shutdown(socket.SHUT_WR)  # the client is done sending, 998 bytes short
        answer = b""
        while chunk := connection.recv(1 << 16):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"The request body ended after 2 of the 1,000 bytes of its Content-Length" in answer
    assert clean_emulator.calls()["total"] == 0


def test_a_client_that_hangs_up_before_its_answer_prints_no_traceback(
    unstarted_emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """socketserver prints a traceback for any error in a handler; a broken pipe is the client leaving."""
    server = unstarted_emulator._httpd
    for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "Connection reset by peer")):
        try:
            raise gone
        except ConnectionError:
            server.handle_error(None, ("127.0.0.1", 1))
    assert capsys.readouterr().err == ""
    try:
        raise KeyError("a real bug")
    except KeyError:
        server.handle_error(None, ("127.0.0.1", 1))
    assert "KeyError: 'a real bug'" in capsys.readouterr().err


# --- the state file -------------------------------------------------------------------------------


def test_orphan_temporary_state_files_are_removed_at_start(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    orphans = [tmp_path / ".state.json.k2j4h1.tmp", tmp_path / ".state.json.x9.tmp"]
    unrelated = [tmp_path / ".other.json.k2j4h1.tmp", tmp_path / "state.json.tmp", tmp_path / "notes.tmp"]
    for path in orphans + unrelated:
        path.write_text('{"half": ')
    with EmulatorServer(pace="instant", state_file=state_file) as emulator:
        assert admin(emulator.url, "POST", "reset")[0] == 200  # writes the state file
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        ["state.json", *(path.name for path in unrelated)]
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n", "is not an emulator state file ('utf-8' codec can't decode byte 0x89"),
        (b"[]", "is not an emulator state file (a JSON list, not an object)"),
        (b'{"version": 1, "resources": 5}', "is not an emulator state file ('int' object is not iterable)"),
        (b"[" * 100_000, "is not an emulator state file (maximum recursion depth exceeded"),
    ],
)
def test_a_state_file_that_is_not_ours_is_refused_by_the_cli_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, reason: str
) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_bytes(content)
    with pytest.raises(SystemExit) as refused:
        emulator_main(["--state-file", str(state_file), "--pace", "instant"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert f"error: state file {state_file} {reason}" in err
    assert err.rstrip().endswith("delete it to start empty")
    assert "Traceback" not in err


def test_a_state_file_path_that_cannot_be_written_is_refused_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not at the first change, where every create would answer 500."""
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "plain").write_text("")
    folder, below_a_file = tmp_path / "folder.json", tmp_path / "plain" / "state.json"
    for state_file, message in [
        (folder, f"state file {folder} cannot be read: Is a directory"),
        (
            below_a_file,
            f"state file {below_a_file}: {below_a_file.parent} is a file, not a folder to write it in",
        ),
    ]:
        with pytest.raises(SystemExit) as refused:
            emulator_main(["--state-file", str(state_file), "--pace", "instant"])
        assert refused.value.code == 2
        assert capsys.readouterr().err.endswith(f"error: {message}\n")
