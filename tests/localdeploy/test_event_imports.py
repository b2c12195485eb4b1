"""The synthesized import flow, rehearsed end to end in the local deployer (issue 17, "Done when").

The app is synthesized from a config with an incoming location and deployed into moto and the emulator
with IAM enforced (the flow's Lambda steps run their real code as their synthesized roles). Uploads go
to moto's S3, whose EventBridge notifications reach the stack's rule; the flow runner runs the state
machine with a short time scale. Import jobs take seconds in the emulator, so five-at-once is reachable.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import load_file
from lambda_handlers.personalize import domain_rules, kinds
from lambda_handlers.personalize.flow import contract
from personalize_tools.demo import rehearse_incoming
from personalize_tools.emulator import EmulatorServer, Pace
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.localdeploy.engine import DeployOptions, LocalDeployer
from personalize_tools.localdeploy.events import EventLog
from personalize_tools.localdeploy.flowrunner import FlowRunner
from personalize_tools.localdeploy.state import StackState, StateStore
from personalize_tools.localdeploy.stepfunctions import TIME_SCALE_VARIABLE
from personalize_tools.sample_data import generate_interactions

REGION = "us-east-1"
TIME_SCALE = 0.01  # the flow's polls (30 s and more) take a third of a second
FLOW_TIMEOUT = 240.0
IMPORT_SECONDS = 2.0  # an import job's run in the emulator: a few of the flow's polls
OVERLAP_IMPORT_SECONDS = 30.0  # longer than six checks take on a busy machine: the six imports overlap
IN_FLIGHT = {"CREATE PENDING", "CREATE IN_PROGRESS"}
# each flow step's Personalize calls are authorized against its synthesized role
pytestmark = pytest.mark.iam_enforced


@pytest.fixture(scope="module")
def emulator_pace() -> Pace:
    return Pace(dataset_group=0, dataset=0, import_job=IMPORT_SECONDS, event_tracker=0, delete=0)


@pytest.fixture
def overlapping_imports(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs created during the test run OVERLAP_IMPORT_SECONDS (those under way keep their pace); the
    module's other tests wait for short imports only."""
    pace = dataclasses.replace(emulator.service.pace, import_job=OVERLAP_IMPORT_SECONDS)
    monkeypatch.setattr(emulator.service, "pace", pace)


@pytest.fixture(scope="module")
def sample_rows(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Header and 12,000 ECOMMERCE interactions: every upload below takes its own slice."""
    path = generate_interactions(
        tmp_path_factory.mktemp("sample") / "interactions.csv", domain="ECOMMERCE", rows=12000
    )
    return path.read_text(encoding="utf-8").splitlines()


def synthesize(folder: Path, name: str, settings: dict[str, Any]) -> Any:
    raw = {
        "name_prefix": name,
        "domain": "ECOMMERCE",
        "schema": "default",
        "removal_policy": "destroy",
        "kms": "none",
        **settings,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return synthesize_config(load_file(path, name), folder / f"cdk.out.{name}")


def local_deployer(endpoints: Endpoints, state_folder: Path, events: EventLog) -> LocalDeployer:
    return LocalDeployer(
        endpoints,
        store=StateStore(state_folder),
        session="test-session",
        events=events,
        options=DeployOptions(query_interval=0.05, watch_service_status=False),
    )


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, endpoints: Endpoints, emulator: EmulatorServer
) -> Iterator[tuple[StackState, LocalDeployer]]:
    """A first deploy whose bucket_key location and incoming location are both empty."""
    assert emulator.authorizer is not None  # the flow's steps run as their own roles: IAM must be enforced
    folder = tmp_path_factory.mktemp("event-imports")
    artifact = synthesize(
        folder, "evt", {"data_source": {"bucket_key": "imports/interactions/"}, "incoming": True}
    )
    deployer = local_deployer(endpoints, folder / "state", EventLog(stream=None))
    yield deployer.deploy(artifact, environment="evt"), deployer


@pytest.fixture(scope="module")
def runner(deployed: tuple[StackState, LocalDeployer], endpoints: Endpoints) -> Iterator[FlowRunner]:
    """One runner for the module, as `run-events` serves many uploads: its Lambda workers stay warm."""
    flow_runner = FlowRunner(endpoints, deployed[1].store, scale=TIME_SCALE)
    yield flow_runner
    flow_runner.close()


def incoming(state: StackState) -> tuple[str, str]:
    location = str(state.outputs["InteractionsIncomingLocation"])
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, prefix


@dataclass
class Incoming:
    """The deployed stack's Interactions incoming folder: uploads to it, the flow's runs, and their jobs."""

    state: StackState
    endpoints: Endpoints
    runner: FlowRunner
    rows: list[str]
    bucket: str
    prefix: str

    def upload(self, name: str, body: bytes) -> str:
        key = f"{self.prefix}{name}"
        self.endpoints.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)
        return key

    def run(self) -> None:
        """Until every execution the uploads started has ended."""
        self.runner.run_until_idle(FLOW_TIMEOUT)

    def jobs(self) -> list[dict[str, Any]]:
        return jobs(self.endpoints, self.state)

    def executions(self, key: str) -> list[dict[str, Any]]:
        return executions_for(self.runner, key)

    def job(self, arn: str) -> dict[str, Any]:
        personalize = self.endpoints.client("personalize")
        found: dict[str, Any] = personalize.describe_dataset_import_job(datasetImportJobArn=arn)
        return dict(found["datasetImportJob"])


@pytest.fixture
def uploads(
    deployed: tuple[StackState, LocalDeployer],
    endpoints: Endpoints,
    runner: FlowRunner,
    sample_rows: list[str],
) -> Incoming:
    state = deployed[0]
    return Incoming(state, endpoints, runner, sample_rows, *incoming(state))


def jobs(endpoints: Endpoints, state: StackState) -> list[dict[str, Any]]:
    personalize = endpoints.client("personalize")
    listed = personalize.list_dataset_import_jobs(datasetArn=state.outputs["InteractionsDatasetArn"])
    return list(listed["datasetImportJobs"])


def executions_for(runner: FlowRunner, key: str) -> list[dict[str, Any]]:
    return [
        item
        for item in runner.flows.executions()
        if (item.get("input") or {}).get("detail", {}).get("object", {}).get("key") == key
    ]


def notice(execution: dict[str, Any]) -> dict[str, Any]:
    """The flow's notice: the output of a succeeded execution, the last state input that has one otherwise."""
    found: dict[str, Any] = (execution.get("output") or {}).get("notice") or {}
    for event in execution["history"]:
        data = event["detail"].get("input")
        if isinstance(data, dict) and isinstance(data.get("notice"), dict):
            found = data["notice"]
    return found


def good_file(rows: list[str], start: int, count: int = 1500) -> bytes:
    return ("\n".join([rows[0], *rows[1 + start : 1 + start + count]]) + "\n").encode()


def test_a_first_deploy_with_empty_locations_completes_without_a_job(
    deployed: tuple[StackState, LocalDeployer], endpoints: Endpoints
) -> None:
    state, _ = deployed
    assert state.status == "CREATE_COMPLETE"
    bucket = incoming(state)[0]
    assert str(state.outputs["InteractionsImport"]).startswith(
        f"no data at s3://{bucket}/imports/interactions/"
    )
    assert jobs(endpoints, state) == []
    assert state.resources  # the flow's own resources were created, not skipped
    created = {record.resource_type for record in state.resources.values() if not record.skipped}
    assert {
        "AWS::StepFunctions::StateMachine",
        "AWS::Events::Rule",
        "Custom::S3BucketNotifications",
    } <= created


def test_a_good_upload_is_imported_and_a_bad_one_is_rejected_with_a_report_and_no_job(
    uploads: Incoming,
) -> None:
    jobs_before = len(uploads.jobs())
    good_key = uploads.upload("day1.csv", good_file(uploads.rows, 0))
    bad_key = uploads.upload("broken.csv", b"USER,ITEM\nu1,i1\n")
    uploads.run()

    (good,) = uploads.executions(good_key)
    assert good["status"] == "SUCCEEDED", good.get("cause")
    good_notice = notice(good)
    assert good_notice["outcome"] == contract.ACTIVE
    job = uploads.job(good_notice["jobArn"])
    assert job["status"] == kinds.ACTIVE
    assert job["dataSource"]["dataLocation"] == f"s3://{uploads.bucket}/{good_key}"

    (bad,) = uploads.executions(bad_key)
    assert (bad["status"], bad["error"]) == ("FAILED", contract.FAIL_ERRORS[contract.REJECTED])
    report_key = f"{uploads.prefix}{contract.REJECTED_FOLDER}broken.csv{contract.REPORT_SUFFIX}"
    assert notice(bad)["report"] == f"s3://{uploads.bucket}/{report_key}"
    report_object = uploads.endpoints.client("s3").get_object(Bucket=uploads.bucket, Key=report_key)
    assert "header_missing_columns" in json.dumps(json.loads(report_object["Body"].read()))
    assert len(uploads.jobs()) == jobs_before + 1  # the good file's job only
    # the report landing in the incoming folder started an execution that ignored it
    (ignored,) = uploads.executions(report_key)
    assert ignored["status"] == "SUCCEEDED" and notice(ignored) == {}


def test_the_same_object_delivered_twice_imports_once(uploads: Incoming) -> None:
    """EventBridge delivers at least once: the same event (same object version) arrives a second time."""
    jobs_before = len(uploads.jobs())
    key = uploads.upload("twice.csv", good_file(uploads.rows, 1500))
    uploads.run()
    (first,) = uploads.executions(key)
    uploads.runner.deliver(first["input"])  # the duplicate delivery
    uploads.run()
    both = uploads.executions(key)
    assert len(both) == 2 and all(item["status"] == "SUCCEEDED" for item in both)
    assert {notice(item)["jobArn"] for item in both} == {notice(first)["jobArn"]}
    assert len(uploads.jobs()) == jobs_before + 1


def test_six_uploads_at_once_run_at_most_five_imports_and_all_become_active(
    uploads: Incoming, overlapping_imports: None
) -> None:
    in_flight_seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:  # the emulator's view of the account while the flow runs
        while not stop.is_set():
            in_flight_seen.append(sum(job["status"] in IN_FLIGHT for job in uploads.jobs()))
            stop.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    keys = [
        uploads.upload(f"batch-{index}.csv", good_file(uploads.rows, 3000 + index * 1000, 1000))
        for index in range(6)
    ]
    watcher.start()
    try:
        uploads.run()
    finally:
        stop.set()
        watcher.join()
    executions = [item for key in keys for item in uploads.executions(key)]
    assert len(executions) == 6 and all(item["status"] == "SUCCEEDED" for item in executions)
    for item in executions:
        assert uploads.job(notice(item)["jobArn"])["status"] == kinds.ACTIVE
    assert max(in_flight_seen) == domain_rules.MAX_IMPORT_JOBS_IN_PROGRESS  # the limit was reached ...
    queued = [item for item in executions if any(e["state"] == "WaitForImportSlot" for e in item["history"])]
    assert queued  # ... and an upload waited for a slot instead of failing


@pytest.fixture
def fast_deploy_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TIME_SCALE_VARIABLE, str(TIME_SCALE))


def deploy_with_wait_condition(
    folder: Path, endpoints: Endpoints, name: str, rows: list[str]
) -> tuple[LocalDeployer, EventLog, Any]:
    data = folder / f"{name}.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    artifact = synthesize(
        folder,
        name,
        {
            "data_source": {"local_path": str(data)},
            "provider": {"query_interval_seconds": 60, "total_timeout_seconds": 43200},
        },
    )
    events = EventLog(stream=None)
    return local_deployer(endpoints, folder / f"state-{name}", events), events, artifact


def test_a_twelve_hour_deploy_wait_is_a_wait_condition_signalled_when_the_import_is_active(
    tmp_path: Path,
    endpoints: Endpoints,
    emulator: EmulatorServer,
    sample_rows: list[str],
    fast_deploy_waits: None,
) -> None:
    deployer, events, artifact = deploy_with_wait_condition(tmp_path, endpoints, "wcok", sample_rows[:3001])
    conditions = [
        (logical_id, resource)
        for logical_id, resource in artifact.template["Resources"].items()
        if resource["Type"] == "AWS::CloudFormation::WaitCondition"
    ]
    assert conditions and all(resource["Properties"]["Timeout"] == "43200" for _, resource in conditions)
    state = deployer.deploy(artifact, environment="wcok")
    assert state.status == "CREATE_COMPLETE"
    for logical_id, _ in conditions:
        assert state.resources[logical_id].attributes["Data"]
        assert any(e.logical_id == logical_id and e.status == "CREATE_COMPLETE" for e in events.events)
    job_arn = str(state.outputs["InteractionsImportJobArn"])
    job = endpoints.client("personalize").describe_dataset_import_job(datasetImportJobArn=job_arn)
    assert job["datasetImportJob"]["status"] == kinds.ACTIVE


def test_the_demo_shows_a_good_upload_imported_and_a_broken_one_rejected(
    deployed: tuple[StackState, LocalDeployer], endpoints: Endpoints, sample_rows: list[str], tmp_path: Path
) -> None:
    """`make demo`'s rehearsal of the incoming location, on this module's stack."""
    state, deployer = deployed
    sample = tmp_path / "interactions.csv"
    sample.write_text("\n".join([sample_rows[0], *sample_rows[-1500:]]) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert rehearse_incoming(state.outputs, endpoints, deployer.store, sample, out)
    text = out.getvalue()
    assert "good file: execution SUCCEEDED" in text
    assert re.search(r"import job arn:aws:personalize:\S+: ACTIVE", text)
    assert "broken file: execution FAILED (ImportRejected" in text
    assert re.search(
        r"report s3://\S+/incoming/interactions/rejected/demo-\S+-broken\.csv\.report\.json", text
    )
    assert "no import job" in text
