"""The background services and the command line: started once, found again, stopped with their stacks."""

from __future__ import annotations

import io
import json
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from personalize_tools.localdeploy.cli import main
from personalize_tools.localdeploy.errors import ServicesError
from personalize_tools.localdeploy.services import LocalServices, ServiceManager, still_running
from personalize_tools.localdeploy.state import StackState


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[ServiceManager]:
    manager = ServiceManager(tmp_path / "state")
    yield manager
    manager.stop()


def test_services_start_once_answer_and_stop_with_their_stacks(manager: ServiceManager) -> None:
    services, started = manager.start(pace={"dataset_group": 3.0, "import_job": 5.0})
    assert started
    again, started_again = manager.start()
    assert not started_again and again == services
    with urllib.request.urlopen(f"{services.emulator.url}/_emulator/state") as response:
        pace = json.loads(response.read())["pace"]
    assert pace["dataset_group"] == 3.0 and pace["import_job"] == 5.0
    assert services.endpoints.client("s3").list_buckets()["Buckets"] == []
    # The background emulator enforces IAM against this moto: a role without grants is denied.
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    role = services.endpoints.client("iam").create_role(
        RoleName="nothing", AssumeRolePolicyDocument=json.dumps(trust)
    )
    credentials = services.endpoints.assume_role(role["Role"]["Arn"], "probe")
    personalize = boto3.client(
        "personalize",
        endpoint_url=services.emulator.url,
        region_name=services.region,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
    )
    with pytest.raises(ClientError, match=r"AccessDeniedException.*assumed-role/nothing/probe"):
        personalize.list_dataset_groups()
    assert services.endpoints.client("personalize").list_dataset_groups()["datasetGroups"] == []  # dummy keys
    script = manager.env_file.read_text()
    assert f"AWS_ENDPOINT_URL_PERSONALIZE={services.emulator.url}" in script
    assert f"AWS_ENDPOINT_URL={services.moto.url}" in script

    manager.store.save(
        StackState("gone-stack", "id", "123456789012", "us-east-1", "CREATE_COMPLETE", services.session)
    )
    stopped = manager.stop()
    assert isinstance(stopped, LocalServices)
    assert not still_running(services.moto) and not still_running(services.emulator)
    assert manager.store.load("gone-stack") is None  # it lived in moto's memory
    assert manager.running() is None and not manager.env_file.exists()


def test_a_port_in_use_is_refused_with_a_clear_message(manager: ServiceManager) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServicesError, match=f"port {port} is already in use"):
            manager.start(moto_port=port)
    assert manager.running() is None


def test_the_command_line_explains_what_it_cannot_do(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["status", "--state-dir", str(tmp_path)], out=out) == 0
    assert "Local services: not running" in out.getvalue() and "No local stacks." in out.getvalue()

    out = io.StringIO()
    assert main(["destroy", "--stack", "nothing-here", "--state-dir", str(tmp_path)], out=out) == 0
    assert "nothing to destroy" in out.getvalue()

    out = io.StringIO()
    arguments = [
        "deploy",
        "--no-synth",
        "--stack",
        "s",
        "--cdk-out",
        str(tmp_path / "none"),
        "--state-dir",
        str(tmp_path),
    ]
    assert main(arguments, out=out) == 2
    assert "holds no cloud assembly (no manifest.json)" in out.getvalue()
    assert not (tmp_path / "services.json").exists()  # nothing was started for a deploy that cannot run
