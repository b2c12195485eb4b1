"""Shared fixtures: moto's S3 server, the local Personalize emulator, and boto3 clients aimed at them.

Everything talks real boto3 over loopback HTTP, the same code path as in AWS.

- `aws_credentials` (session): dummy credentials and region in the environment, profiles and
  config files hidden, so nothing can reach a real account.
- `moto_server` (session): moto's S3 (and friends) on 127.0.0.1, a free port; yields its URL.
- `s3` (session): a boto3 S3 client for `moto_server`. `s3_bucket` (function): a fresh bucket name.
- `emulator_pace` (module): the `Pace` the module's emulator runs at, stepwise by default (each
  Describe moves a resource one status). Override it in a test module to change the pace:

      @pytest.fixture(scope="module")
      def emulator_pace() -> Pace:
          return Pace.instant()

- `emulator` (module): a running `EmulatorServer` reading imports from `moto_server`; with IAM enforced
  in a module marked `iam_enforced`.
  `clean_emulator` (function): the same server, reset (no resources, counts or faults) first.
- `personalize` (module): a boto3 Personalize client for `emulator`, standard retry mode.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from personalize_tools.emulator import EmulatorServer, Pace

REGION = "us-east-1"
DUMMY_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


# The longest modules, longest first, collected ahead of the rest: `make test` hands whole files to three
# xdist workers (--dist loadfile) in collection order (--no-loadscope-reorder: by default xdist reorders
# files by their number of tests, which put these last), and a long file handed out last would leave the
# other workers idle at the end. A module missing here only runs in its usual place. Order measured
# 2026-12-02 in a whole run on two workers (load 8; wall per module, setup + call + teardown summed):
# ownership 238 s, matrix 191 s, iam 180 s, event_imports 170 s, cdk_cli 94 s, lifecycle 57 s, flows 44 s,
# stacks/test_app 37 s, rollback_delete 35 s, synth_path 35 s.
LONGEST_MODULES = (
    "tests/localdeploy/test_ownership.py",
    "tests/localdeploy/test_matrix.py",
    "tests/localdeploy/test_iam.py",
    "tests/localdeploy/test_event_imports.py",
    "tests/cli/test_cdk_cli.py",
    "tests/localdeploy/test_lifecycle.py",
    "tests/localdeploy/test_flows.py",
    "tests/stacks/test_app.py",
    "tests/localdeploy/test_rollback_delete.py",
    "tests/stacks/test_synth_path.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest modules first (a stable sort: every module keeps its tests' order); `iam_enforced` only on
    modules, since the module-scoped emulator reads it there and would ignore it on a test or a class."""
    for item in items:
        for node, _ in item.iter_markers_with_node("iam_enforced"):
            if not isinstance(node, pytest.Module):
                raise pytest.UsageError(
                    f"{node.nodeid}: iam_enforced marks a module (pytestmark = pytest.mark.iam_enforced), "
                    "not a test or a class: the module's emulator would run without IAM enforcement"
                )
    rank = {path: index for index, path in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """Writes the sample files config/dev.yaml uploads, as `make sample-data` does: a fresh clone has none,
    and loading the dev config refuses an empty local_path, so every test that reads it asks for this."""
    from config import load_environment  # imported here: only the tests that ask pay for the config package
    from personalize_tools.sample_data import write_environment_samples

    config = load_environment("dev", check_data=False)
    write_environment_samples(config)
    path = config.local_data_path
    assert path is not None and path.is_file()
    return path


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in DUMMY_AWS_ENVIRONMENT.items():
            patch.setenv(name, value)
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_PERSONALIZE",
            "AWS_ENDPOINT_URL_PERSONALIZE_EVENTS",
            "AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME",
        ):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def moto_server(aws_credentials: None) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3(moto_server: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_server, region_name=REGION)


@pytest.fixture
def s3_bucket(s3: Any) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def emulator_pace() -> Pace:
    return Pace.step()


@pytest.fixture(scope="module")
def emulator(
    request: pytest.FixtureRequest, moto_server: str, emulator_pace: Pace
) -> Iterator[EmulatorServer]:
    """A module marked `pytestmark = pytest.mark.iam_enforced` gets the emulator with IAM enforced: it reads
    identities and policies from the module's moto, so every call is authorized as its caller."""
    iam = moto_server if request.node.get_closest_marker("iam_enforced") else None
    with EmulatorServer(
        pace=emulator_pace, s3_endpoint_url=moto_server, region=REGION, iam_endpoint_url=iam
    ) as server:
        yield server


@pytest.fixture
def clean_emulator(emulator: EmulatorServer) -> EmulatorServer:
    emulator.reset()
    return emulator


@pytest.fixture(scope="module")
def personalize(emulator: EmulatorServer) -> Any:
    return boto3.client(
        "personalize",
        endpoint_url=emulator.url,
        region_name=REGION,
        config=Config(retries={"mode": "standard"}),
    )
