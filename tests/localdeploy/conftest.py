"""Fixtures for the local deployer: moto's server in a process of its own per module (moto servers in
one process share their backends, so only a separate process makes "no buckets left" mean this
module's deploys left none), the shared emulator at instant pace, and a deployer factory."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from personalize_tools.emulator import EmulatorServer, Pace
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.engine import DeployOptions, LocalDeployer
from personalize_tools.localdeploy.events import EventLog
from personalize_tools.localdeploy.services import answers, free_port
from personalize_tools.localdeploy.state import StateStore

SESSION = "test-session"
RECORDING_HANDLER = "tests.localdeploy.recording_handler"
MOTO_START_SECONDS = 30


@pytest.fixture(scope="module")
def moto_server(aws_credentials: None) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + MOTO_START_SECONDS
        while not answers(f"{url}/moto-api/"):
            assert process.poll() is None and time.monotonic() < deadline, "moto's server did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def emulator_pace() -> Pace:
    return Pace.instant()


@pytest.fixture(scope="module")
def endpoints(emulator: EmulatorServer, moto_server: str) -> Endpoints:
    return Endpoints(personalize=emulator.url, aws=moto_server)


DeployerFactory = Callable[..., tuple[LocalDeployer, EventLog]]


@pytest.fixture
def make_deployer(endpoints: Endpoints, tmp_path: Path) -> DeployerFactory:
    """A deployer with its own state folder and an event log that keeps (and does not print) events."""

    def make(**options: Any) -> tuple[LocalDeployer, EventLog]:
        events = EventLog(stream=None)
        deployer = LocalDeployer(
            endpoints,
            store=StateStore(tmp_path / "state"),
            session=SESSION,
            events=events,
            options=DeployOptions(query_interval=0.05, **options),
        )
        return deployer, events

    return make


def artifact(stack_name: str, resources: dict[str, Any], **sections: Any) -> StackArtifact:
    """A hand-written stack, for behaviour that needs no synthesized app."""
    template = json.loads(json.dumps({"Resources": resources, **sections}))
    return StackArtifact(stack_name, stack_name, template, None, None)


def journal_entries(path: Path) -> list[dict[str, Any]]:
    return (
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    )


def bucket_names(endpoints: Endpoints) -> list[str]:
    return [bucket["Name"] for bucket in endpoints.client("s3").list_buckets()["Buckets"]]
