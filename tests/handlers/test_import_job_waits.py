"""The import custom resource with no data yet (a first deploy), and with waits handed to a wait condition.

The state machine is moto's (over HTTP): these tests check what the handler starts and signals; the
steps it runs are tests/handlers/test_import_flow.py's.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest

from lambda_handlers.personalize import clients
from lambda_handlers.personalize.errors import DataLocationError
from lambda_handlers.personalize.flow.contract import NO_DATA
from lambda_handlers.personalize.resources.import_job import execution_name
from personalize_tools.emulator import EmulatorServer

from .support import (
    REGION,
    decisions,
    delete_of,
    drive,
    event,
    interactions_csv,
    settle_import_job,
    start,
    update_of,
)


def import_event(location: str, **properties: Any) -> dict[str, Any]:
    return event("import_job_create", properties={"DataLocation": location, **properties})


def test_an_empty_location_creates_no_job_and_says_so(
    handlers: EmulatorServer, dataset_arn: str, s3: Any, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="imports/interactions/", Body=b"")  # a console's folder marker
    location = f"s3://{s3_bucket}/imports/interactions/"

    outcome = drive(import_event(location, WhenNoData="skip"))

    assert outcome.data["Status"] == NO_DATA
    assert outcome.data["Message"].startswith(f"no data at {location} yet")
    assert outcome.physical_id.endswith(f"/{outcome.data['JobName']}")
    assert "CreateDatasetImportJob" not in handlers.calls()["calls"]
    assert any(record["decision"] == "no-data" for record in decisions(caplog.records))


def test_a_missing_object_is_no_data_too_but_only_when_asked(
    handlers: EmulatorServer, dataset_arn: str, s3_bucket: str
) -> None:
    location = f"s3://{s3_bucket}/imports/interactions.csv"

    assert drive(import_event(location, WhenNoData="skip")).data["Status"] == NO_DATA
    with pytest.raises(DataLocationError, match="NoSuchKey"):
        drive(import_event(location))


def test_data_that_arrives_later_is_imported_by_the_next_deploy(
    handlers: EmulatorServer, dataset_arn: str, s3: Any, s3_bucket: str, personalize: Any
) -> None:
    location = f"s3://{s3_bucket}/imports/interactions/"
    create = import_event(location, WhenNoData="skip")
    empty = drive(create)
    s3.put_object(Bucket=s3_bucket, Key="imports/interactions/day.csv", Body=interactions_csv())

    same = drive(update_of(create, empty.physical_id, Tags=[]))  # any change of the resource looks again
    renewed = drive(update_of(create, empty.physical_id, JobName="pz-test-import-5e6f7a8b", DataVersion="2"))
    drive(delete_of(create, empty.physical_id))  # CloudFormation's cleanup of the replaced id: nothing to do

    assert (same.physical_id, same.data["Status"]) == (empty.physical_id, "ACTIVE")
    assert renewed.data["Status"] == "ACTIVE" and renewed.physical_id != empty.physical_id
    jobs = personalize.list_dataset_import_jobs(datasetArn=dataset_arn)["datasetImportJobs"]
    assert len(jobs) == 2


# --- deploy waits through a wait condition --------------------------------------------------------------


class _Handle(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_PUT(self) -> None:
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@dataclass
class LongWait:
    """A deploy's wait condition: its handle's URL and the signals PUT to it, and the state machine (moto's)
    that the handler hands the wait to."""

    url: str
    received: list[dict[str, Any]]
    state_machine: str
    sfn: Any

    def properties(self, url: str | None = None) -> dict[str, str]:
        """What the construct adds to the import's properties when the deploy waits longer than an hour."""
        return {"WaitHandle": url or self.url, "WaitStateMachineArn": self.state_machine}

    def executions(self) -> list[dict[str, Any]]:
        return list(self.sfn.list_executions(stateMachineArn=self.state_machine)["executions"])

    def started_with(self, execution: dict[str, Any]) -> dict[str, Any]:
        """The input the handler started the execution with."""
        started: dict[str, Any] = json.loads(
            self.sfn.describe_execution(executionArn=execution["executionArn"])["input"]
        )
        return started


@pytest.fixture
def long_wait(
    handlers: EmulatorServer, dataset_arn: str, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LongWait]:
    """Each test's own state machine and handle (the dataset the imports go to exists)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SFN", moto_server)
    clients.reset_clients()
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server, region_name=REGION)
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    arn: str = sfn.create_state_machine(
        name=f"imports-{id(monkeypatch)}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/imports",
    )["stateMachineArn"]
    received: list[dict[str, Any]] = []
    server = HTTPServer(("127.0.0.1", 0), type("Handle", (_Handle,), {"received": received}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield LongWait(f"http://127.0.0.1:{server.server_port}/wait-handle", received, arn, sfn)
    server.shutdown()


def test_a_long_wait_starts_the_state_machine_once_and_completes_at_once(
    handlers: EmulatorServer, data_location: str, long_wait: LongWait
) -> None:
    create = import_event(data_location, **long_wait.properties())

    first = start(create)
    outcome = first.finish()
    replayed = drive(create)  # a retried on_event: same job, the execution already exists

    assert outcome.polls == 1 and replayed.physical_id == outcome.physical_id
    assert "wait condition" in outcome.data["Message"]
    executions = long_wait.executions()
    assert [execution["name"] for execution in executions] == [
        execution_name(outcome.data["JobName"], long_wait.url)
    ]
    started = long_wait.started_with(executions[0])
    assert started["deploy"] == {"waitHandle": long_wait.url, "uniqueId": outcome.data["JobName"]}
    assert started["request"]["jobName"] == outcome.data["JobName"]
    assert started["request"]["dataLocation"] == data_location
    assert long_wait.received == []  # the state machine signals, not the handler
    assert handlers.calls()["calls"]["CreateDatasetImportJob"] == 1


def test_execution_names_fit_step_functions_limits() -> None:
    """StartExecution's name: 1 to 80 characters (botocore's model); we keep to [a-zA-Z0-9-_]."""
    longest = "a" * 63  # domain.NAME_MAX_LENGTH
    name = execution_name(longest, "https://cloudformation-waitcondition.s3.amazonaws.com/x?Signature=y")

    assert len(name) <= 80 and name.startswith(f"{longest}-")
    assert re.fullmatch(r"[a-zA-Z0-9_-]+", name)
    assert execution_name("job", "handle-1") == execution_name("job", "handle-1")
    assert execution_name("job", "handle-1") != execution_name("job", "handle-2")


def test_a_new_handle_for_an_adopted_job_gets_its_own_execution(
    handlers: EmulatorServer, data_location: str, long_wait: LongWait
) -> None:
    """A first deploy's execution ended (its stack rolled back, the dataset was retained); the redeploy
    adopts the same job with a new handle, which must get an execution of its own to be signalled."""
    first_url, second_url = f"{long_wait.url}?first", f"{long_wait.url}?second"
    first = drive(import_event(data_location, **long_wait.properties(first_url)))
    (ended,) = long_wait.executions()
    long_wait.sfn.stop_execution(executionArn=ended["executionArn"])

    redeploy = import_event(data_location, **long_wait.properties(second_url))
    again = drive(redeploy)
    drive(redeploy)  # replayed: the same handle's execution exists, no third one

    assert again.physical_id == first.physical_id
    job_name = again.data["JobName"]
    executions = long_wait.executions()
    assert sorted(execution["name"] for execution in executions) == sorted(
        [execution_name(job_name, first_url), execution_name(job_name, second_url)]
    )
    latest = next(e for e in executions if e["name"] == execution_name(job_name, second_url))
    assert long_wait.started_with(latest)["deploy"] == {"waitHandle": second_url, "uniqueId": job_name}
    assert handlers.calls()["calls"]["CreateDatasetImportJob"] == 1


def test_turning_on_the_long_wait_signals_an_active_job_at_once(
    handlers: EmulatorServer, data_location: str, long_wait: LongWait
) -> None:
    """total_timeout_seconds raised above 3,300 on a deployed stack: same JobName, an in-place Update that
    adds WaitHandle and WaitStateMachineArn. The job is ACTIVE already: SUCCESS at once, no execution."""
    create = import_event(data_location)
    deployed = drive(create)

    updated = drive(update_of(create, deployed.physical_id, **long_wait.properties()))

    assert (updated.physical_id, updated.data["Status"]) == (deployed.physical_id, "ACTIVE")
    assert [(signal["Status"], signal["UniqueId"]) for signal in long_wait.received] == [
        ("SUCCESS", deployed.data["JobName"])
    ]
    # the Data the state machine's SignalDeploy step sends (tests/handlers/test_import_flow.py)
    assert json.loads(long_wait.received[0]["Data"]) == {"jobArn": deployed.physical_id, "outcome": "ACTIVE"}
    assert long_wait.executions() == []
    assert handlers.calls()["calls"]["CreateDatasetImportJob"] == 1


def test_turning_on_the_long_wait_for_a_failed_job_signals_its_reason_verbatim(
    handlers: EmulatorServer, data_location: str, personalize: Any, long_wait: LongWait
) -> None:
    handlers.set_faults(fail_name_pattern=r"^pz-test-import-")
    create = import_event(data_location)
    created = start(create)  # the job is created; it fails while nobody waits
    assert settle_import_job(personalize, created.physical_id) == "CREATE FAILED"
    job = personalize.describe_dataset_import_job(datasetImportJobArn=created.physical_id)["datasetImportJob"]

    drive(update_of(create, created.physical_id, **long_wait.properties()))

    assert job["failureReason"]
    assert [(signal["Status"], signal["Reason"]) for signal in long_wait.received] == [
        ("FAILURE", job["failureReason"])
    ]
    assert json.loads(long_wait.received[0]["Data"]) == {"jobArn": created.physical_id, "outcome": "FAILED"}


def test_turning_on_the_long_wait_for_a_running_job_starts_its_execution(
    handlers: EmulatorServer, data_location: str, long_wait: LongWait
) -> None:
    create = import_event(data_location)
    created = start(create)  # the job is created and still running
    job_name = created.physical_id.rsplit("/", 1)[1]

    updated = drive(update_of(create, created.physical_id, **long_wait.properties()))

    assert updated.physical_id == created.physical_id
    assert updated.data["Status"] != "ACTIVE"
    executions = long_wait.executions()
    assert [execution["name"] for execution in executions] == [execution_name(job_name, long_wait.url)]
    assert long_wait.started_with(executions[0])["deploy"] == {
        "waitHandle": long_wait.url,
        "uniqueId": job_name,
    }
    assert long_wait.received == []  # the state machine signals
    assert handlers.calls()["calls"]["CreateDatasetImportJob"] == 1


def test_turning_on_the_long_wait_with_no_data_yet_signals_success(
    handlers: EmulatorServer, dataset_arn: str, s3_bucket: str, long_wait: LongWait
) -> None:
    create = import_event(f"s3://{s3_bucket}/imports/interactions/", WhenNoData="skip")
    empty = drive(create)

    updated = drive(update_of(create, empty.physical_id, **long_wait.properties()))

    assert updated.data["Status"] == NO_DATA
    assert [(signal["Status"], signal["UniqueId"]) for signal in long_wait.received] == [
        ("SUCCESS", empty.data["JobName"])
    ]
    assert json.loads(long_wait.received[0]["Data"]) == {"jobArn": None, "outcome": NO_DATA}  # no job


def test_a_long_wait_with_no_data_is_signalled_success_at_once(
    handlers: EmulatorServer, dataset_arn: str, s3_bucket: str, long_wait: LongWait
) -> None:
    location = f"s3://{s3_bucket}/imports/interactions/"

    outcome = drive(import_event(location, WhenNoData="skip", **long_wait.properties()))

    assert outcome.data["Status"] == NO_DATA
    assert [(signal["Status"], signal["UniqueId"]) for signal in long_wait.received] == [
        ("SUCCESS", outcome.data["JobName"])
    ]
    assert long_wait.received[0]["Reason"].startswith(f"no data at {location} yet")
    assert json.loads(long_wait.received[0]["Data"]) == {"jobArn": None, "outcome": NO_DATA}


def test_a_wait_handle_without_its_state_machine_is_refused(
    handlers: EmulatorServer, data_location: str
) -> None:
    with pytest.raises(Exception, match="WaitHandle needs WaitHandle and WaitStateMachineArn together"):
        drive(import_event(data_location, WaitHandle="https://example.com/handle"))
