"""The import state machine's Lambda steps, run with real boto3 against the emulator and moto's S3.

The steps are called in the order the state machine calls them (docs/event-imports.md); the local
rehearsal of the state machine itself is the local deployer's. Objects go to a versioned bucket, as in
the stack, and each step's input is the previous step's output after a JSON round trip.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, get_args

import pytest

from constructs_lib.import_flow import STEP_OPERATIONS
from lambda_handlers.personalize import authorization, domain, domain_rules, kinds
from lambda_handlers.personalize.flow import contract, rows, signal, steps
from personalize_tools.emulator import EmulatorServer
from personalize_tools.validate.rules import RULES_BY_ID

from .support import ROLE_ARN, interactions_csv, settle_import_job

PREFIX = "pz-test"


def round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@pytest.fixture
def flow(
    handlers: EmulatorServer, dataset_arn: str, schema_arn: str, monkeypatch: pytest.MonkeyPatch
) -> EmulatorServer:
    """The steps' environment as the construct sets it, for an INCREMENTAL Interactions folder."""
    datasets = {
        "interactions": {"datasetArn": dataset_arn, "schemaArn": schema_arn, "importMode": "INCREMENTAL"}
    }
    monkeypatch.setenv(contract.DATASETS_ENV, json.dumps(datasets))
    monkeypatch.setenv(contract.ROLE_ENV, ROLE_ARN)
    monkeypatch.setenv(contract.TAGS_ENV, json.dumps({"environment": "test"}))
    monkeypatch.setenv(contract.NAME_PREFIX_ENV, PREFIX)
    monkeypatch.setenv(contract.MIN_POLL_ENV, "1")
    monkeypatch.setenv(contract.MAX_POLL_ENV, "5")
    return handlers


@pytest.fixture
def bucket(s3: Any, s3_bucket: str) -> str:
    s3.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    return s3_bucket


def upload(s3: Any, bucket: str, key: str, body: bytes) -> dict[str, Any]:
    """The detail of the "Object Created" event S3 sends to EventBridge for this upload."""
    response = s3.put_object(Bucket=bucket, Key=key, Body=body)
    return {
        "version": "0",
        "bucket": {"name": bucket},
        "object": {
            "key": key,
            "size": len(body),
            "etag": response["ETag"],
            "version-id": response["VersionId"],
        },
        "reason": "PutObject",
    }


def check_uploaded(
    s3: Any, personalize: Any, bucket: str, schema_arn: str, name: str, body: bytes, **options: Any
) -> rows.RowReport:
    """CheckObject's row checks on an upload to the Interactions folder, with the schema Personalize holds."""
    detail = upload(s3, bucket, f"incoming/interactions/{name}", body)
    schema = personalize.describe_schema(schemaArn=schema_arn)["schema"]["schema"]
    return rows.check_rows(
        s3,
        bucket=bucket,
        key=detail["object"]["key"],
        version_id=detail["object"]["version-id"],
        size=len(body),
        schema=schema,
        dataset_type="INTERACTIONS",
        **options,
    )


def run_until_settled(state: dict[str, Any], limit: int = 20) -> dict[str, Any]:
    """StartImport, then DescribeImport while WAITING (the Wait states' loop, without the waiting)."""
    state = round_trip(steps.start_import(round_trip(state)))
    for _ in range(limit):
        if state["outcome"] != contract.WAITING:
            return state
        state = round_trip(steps.describe_import(state))
    raise AssertionError(f"still {state['outcome']} after {limit} describes")


def test_a_good_upload_is_imported_and_reported_active(flow: EmulatorServer, s3: Any, bucket: str) -> None:
    detail = upload(s3, bucket, "incoming/interactions/day-1.csv", interactions_csv())

    checked = round_trip(steps.check_object(round_trip(detail)))
    finished = run_until_settled(checked)

    assert checked["outcome"] == contract.IMPORT
    assert checked["request"]["jobName"].startswith(f"{PREFIX}_incoming-interactions-")
    assert checked["checks"]["rowsChecked"] == domain.MIN_INTERACTIONS
    assert not checked["checks"]["sampled"]
    notice = finished["notice"]
    assert (notice["outcome"], notice["versionId"]) == (contract.ACTIVE, detail["object"]["version-id"])
    assert notice["importMode"] == "FULL"  # the dataset's first import: INCREMENTAL needs an earlier one
    assert flow.calls()["calls"]["CreateDatasetImportJob"] == 1


def test_a_second_upload_imports_incrementally(flow: EmulatorServer, s3: Any, bucket: str) -> None:
    first = upload(s3, bucket, "incoming/interactions/day-1.csv", interactions_csv(seed=1))
    run_until_settled(steps.check_object(first))
    second = upload(s3, bucket, "incoming/interactions/day-2.csv", interactions_csv(seed=2))

    finished = run_until_settled(steps.check_object(second))

    assert (finished["notice"]["outcome"], finished["notice"]["importMode"]) == (
        contract.ACTIVE,
        "INCREMENTAL",
    )


def test_a_bad_upload_is_rejected_with_a_report_and_no_job(
    flow: EmulatorServer, s3: Any, bucket: str
) -> None:
    good = interactions_csv().decode().splitlines()  # enough rows: the bad values are the findings
    good[3] = "user-1,item-1,1700000000000,View"  # milliseconds
    good[5] = "user-2,item-2,yesterday,View"
    good[7] = "user-3,item-3"
    detail = upload(s3, bucket, "incoming/interactions/broken.csv", ("\n".join(good) + "\n").encode())

    state = round_trip(steps.check_object(detail))

    assert state["outcome"] == contract.REJECTED
    report_key = "incoming/interactions/rejected/broken.csv.report.json"
    assert state["notice"]["report"] == f"s3://{bucket}/{report_key}"
    report = json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
    found = {finding["rule"]: finding for finding in report["findings"]}
    assert set(found) == {"timestamp_milliseconds", "value_types", "row_width"}
    assert found["value_types"]["examples"] == ["line 6, TIMESTAMP: 'yesterday' is not long"]
    assert found["row_width"]["examples"] == ["line 8: 2 fields, the header has 4"]
    assert "timestamp_milliseconds (1)" in state["notice"]["message"]
    assert "CreateDatasetImportJob" not in flow.calls()["calls"]


def test_a_short_interactions_file_is_rejected_before_a_job_with_the_quota_and_its_count(
    flow: EmulatorServer, s3: Any, bucket: str, personalize: Any
) -> None:
    """The quotas page: at least MIN_INTERACTIONS records per import job, FULL or INCREMENTAL. Personalize
    would fail the job; the check says so first, and one record more passes."""
    short = domain.MIN_INTERACTIONS - 1
    state = round_trip(
        steps.check_object(upload(s3, bucket, "incoming/interactions/short.csv", interactions_csv(short)))
    )
    enough = steps.check_object(
        upload(s3, bucket, "incoming/interactions/enough.csv", interactions_csv(domain.MIN_INTERACTIONS))
    )

    assert state["outcome"] == contract.REJECTED
    (finding,) = state["checks"]["findings"]
    assert (finding["rule"], finding["level"]) == ("min_interactions", "error")
    assert finding["examples"] == [
        f"{short} interaction records; Personalize needs at least {domain.MIN_INTERACTIONS} per import job "
        "(quotas page, FULL or INCREMENTAL)"
    ]
    assert f"min_interactions ({short} interaction records" in state["notice"]["message"]
    report_key = "incoming/interactions/rejected/short.csv.report.json"
    report = json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
    assert [item["rule"] for item in report["findings"]] == ["min_interactions"]
    assert enough["outcome"] == contract.IMPORT and not enough["checks"]["findings"]
    assert "CreateDatasetImportJob" not in flow.calls()["calls"]


def test_a_header_that_misses_the_schema_is_rejected_before_reading_rows(
    flow: EmulatorServer, s3: Any, bucket: str
) -> None:
    body = interactions_csv(rows=10, header=("USER_ID", "ITEM_ID", "TIMESTAMP", "COLOUR"))
    state = steps.check_object(upload(s3, bucket, "incoming/interactions/wrong.csv", body))

    findings = {finding["rule"]: finding["examples"] for finding in state["checks"]["findings"]}
    assert findings == {"header_missing_columns": ["EVENT_TYPE"], "header_unknown_columns": ["COLOUR"]}
    assert state["checks"]["rowsChecked"] == 0


def test_the_same_object_version_imports_once(flow: EmulatorServer, s3: Any, bucket: str) -> None:
    detail = upload(s3, bucket, "incoming/interactions/day-1.csv", interactions_csv())

    first = run_until_settled(steps.check_object(detail))
    replayed = run_until_settled(steps.check_object(detail))  # EventBridge delivers at least once

    assert first["notice"]["jobArn"] == replayed["notice"]["jobArn"]
    assert replayed["notice"]["outcome"] == contract.ACTIVE
    assert flow.calls()["calls"]["CreateDatasetImportJob"] == 1


def test_six_uploads_at_once_queue_at_the_limit_and_all_become_active(
    flow: EmulatorServer, s3: Any, bucket: str, personalize: Any, dataset_arn: str
) -> None:
    seed = upload(s3, bucket, "incoming/interactions/seed.csv", interactions_csv(seed=99))
    run_until_settled(steps.check_object(seed))  # one ACTIVE import, so the rest are INCREMENTAL
    states = [
        round_trip(
            steps.start_import(
                steps.check_object(
                    upload(s3, bucket, f"incoming/interactions/{n}.csv", interactions_csv(seed=n))
                )
            )
        )
        for n in range(6)
    ]

    outcomes = [state["outcome"] for state in states]
    assert outcomes.count(contract.WAITING) == domain_rules.MAX_IMPORT_JOBS_IN_PROGRESS
    queued = states[outcomes.index(contract.QUEUED)]
    assert queued["job"]["attempts"] == 1 and queued["job"]["pollSeconds"] >= 1
    assert flow.calls()["errors"]["CreateDatasetImportJob"] == {"LimitExceededException": 1}
    running = [state for state in states if state["outcome"] == contract.WAITING]
    for state in running:
        assert settle_import_job(personalize, state["job"]["jobArn"]) == kinds.ACTIVE
    retried = run_until_settled(queued)  # the Wait state's loop back to StartImport
    assert retried["notice"]["outcome"] == contract.ACTIVE
    jobs = personalize.list_dataset_import_jobs(datasetArn=dataset_arn)["datasetImportJobs"]
    assert len(jobs) == 7 and {job["status"] for job in jobs} == {kinds.ACTIVE}


def test_an_object_deleted_before_its_import_is_reported_not_retried(
    flow: EmulatorServer, s3: Any, bucket: str
) -> None:
    detail = upload(s3, bucket, "incoming/interactions/gone.csv", interactions_csv())
    checked = steps.check_object(detail)
    s3.delete_object(Bucket=bucket, Key="incoming/interactions/gone.csv")

    state = steps.start_import(round_trip(checked))

    assert state["outcome"] == contract.DELETED
    assert "was deleted before its import started" in state["notice"]["message"]
    assert "CreateDatasetImportJob" not in flow.calls()["calls"]
    assert contract.FAIL_ERRORS[contract.DELETED] == "ObjectDeleted"  # the execution ends, it does not loop


def test_an_object_replaced_before_its_import_is_superseded(
    flow: EmulatorServer, s3: Any, bucket: str
) -> None:
    older = upload(s3, bucket, "incoming/interactions/day.csv", interactions_csv(seed=1))
    checked = steps.check_object(older)
    upload(s3, bucket, "incoming/interactions/day.csv", interactions_csv(seed=2))

    state = steps.start_import(round_trip(checked))

    assert state["outcome"] == contract.SUPERSEDED
    assert "CreateDatasetImportJob" not in flow.calls()["calls"]


def test_a_failed_import_reports_personalizes_reason_verbatim(
    flow: EmulatorServer, s3: Any, bucket: str
) -> None:
    flow.set_faults(fail_name_pattern=rf"^{PREFIX}_incoming-")
    finished = run_until_settled(
        steps.check_object(upload(s3, bucket, "incoming/interactions/a.csv", interactions_csv()))
    )

    notice = finished["notice"]
    assert notice["outcome"] == contract.FAILED
    assert notice["failureReason"] and notice["failureReason"] in notice["message"]


@pytest.mark.parametrize(
    ("key", "body"),
    [
        ("incoming/interactions/", b""),
        ("incoming/interactions/rejected/x.csv.report.json", b"{}"),
        ("incoming/unknown/x.csv", b"a,b\n"),
        # Not data by the rule every reader shares (data_objects): hidden files and empty objects.
        ("incoming/interactions/.DS_Store", b"\x00\x00\x00\x01Bud1"),
        ("incoming/interactions/.upload/part-1.csv", b"USER_ID,ITEM_ID\n"),
        ("incoming/interactions/empty.csv", b""),
    ],
)
def test_markers_reports_and_other_folders_are_ignored(
    flow: EmulatorServer, s3: Any, bucket: str, key: str, body: bytes
) -> None:
    assert steps.check_object(upload(s3, bucket, key, body))["outcome"] == contract.IGNORED


def test_a_large_object_is_checked_on_a_bounded_sample(
    flow: EmulatorServer, s3: Any, bucket: str, schema_arn: str, personalize: Any
) -> None:
    body = interactions_csv(rows=2000)

    report = check_uploaded(s3, personalize, bucket, schema_arn, "big.csv", body, max_bytes=4096)

    assert report.sampled and report.to_json()["sampled"]
    assert report.checked_bytes <= 4096 and body[: report.checked_bytes].endswith(b"\n")
    assert 0 < report.rows < 2000 and not report.findings


def test_the_checks_use_validate_datas_rule_ids_and_levels() -> None:
    assert {rule: RULES_BY_ID[rule].level for rule in rows.RULE_LEVELS} == rows.RULE_LEVELS


# --- signalling a deploy's wait condition ------------------------------------------------------------------


class _Handle(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.headers.get("Content-Type", ""), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def wait_handle() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """A stand-in for the presigned URL of a WaitConditionHandle, recording what is PUT to it."""
    received: list[tuple[str, dict[str, Any]]] = []
    handler = type("Handle", (_Handle,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/handle?X-Amz-Signature=x", received
    server.shutdown()


def test_a_deploy_wait_is_signalled_failure_with_the_verbatim_reason(
    flow: EmulatorServer, s3: Any, bucket: str, dataset_arn: str, wait_handle: tuple[str, list[Any]]
) -> None:
    url, received = wait_handle
    s3.put_object(Bucket=bucket, Key="imports/i.csv", Body=interactions_csv())
    flow.set_faults(fail_name_pattern=r"^pz-test-import-")
    deploy_input = {
        "deploy": {"waitHandle": url, "uniqueId": "pz-test-import-0a1b2c3d-12345678"},
        "request": {
            "jobName": "pz-test-import-0a1b2c3d-12345678",
            "datasetArn": dataset_arn,
            "dataLocation": f"s3://{bucket}/imports/i.csv",
            "importMode": "FULL",
            "roleArn": ROLE_ARN,
            "tags": [],
            "dataset": "interactions",
        },
    }

    finished = run_until_settled(deploy_input)
    steps.signal_deploy(finished)

    assert finished["notice"]["outcome"] == contract.FAILED
    content_type, document = received[0]
    assert content_type == ""
    assert document == {
        "Status": "FAILURE",
        "Reason": finished["notice"]["failureReason"],
        "UniqueId": "pz-test-import-0a1b2c3d-12345678",
        "Data": json.dumps({"jobArn": finished["notice"]["jobArn"], "outcome": "FAILED"}),
    }


def test_the_step_policies_grant_exactly_what_the_steps_call() -> None:
    """Every Personalize operation the steps' code calls is in STEP_OPERATIONS, and nothing else is; a create
    with tags also needs TagResource (the authorization table's tags_on_create)."""
    source = "\n".join(path.read_text() for path in Path(steps.__file__).parent.glob("*.py"))
    called = {
        operation
        for operation in authorization.ACTIONS
        if re.search(rf"[.\"]{re.sub(r'(?<!^)(?=[A-Z])', '_', operation).lower()}[\"(]", source)
    }
    # Calls made through the resource-kind table: kinds.IMPORT_JOB.list_method is ListDatasetImportJobs.
    for kind_name, verb in re.findall(r"kinds\.([A-Z_]+)\.(describe|list|delete)_method", source):
        called.add(getattr(getattr(kinds, kind_name), f"{verb}_operation"))
    tagging = {"TagResource"} if any(authorization.ACTIONS[op].tags_on_create for op in called) else set()
    granted = {operation for operations in STEP_OPERATIONS.values() for operation in operations}
    assert called | tagging == granted


def test_timestamps_get_validate_data_rules_dates_negative_and_future(
    flow: EmulatorServer, s3: Any, bucket: str, schema_arn: str, personalize: Any
) -> None:
    """The same TIMESTAMP rules as validate-data: a date string, a negative and a future value."""
    body = (
        b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n"
        b"u1,i1,1700000000,View\n"
        b"u2,i2,2024-05-01T10:00:00Z,View\n"
        b"u3,i3,-5,View\n"
        b"u4,i4,9999999999,View\n"
    )

    report = check_uploaded(s3, personalize, bucket, schema_arn, "timestamps.csv", body)

    found = {rule: finding.examples for rule, finding in report.findings.items()}
    assert set(found) == {"timestamp_iso", "value_types", "timestamp_future", "min_interactions"}
    assert "line 3" in found["timestamp_iso"][0] and "is a date" in found["timestamp_iso"][0]
    assert "line 4" in found["value_types"][0] and "negative" in found["value_types"][0]
    assert "line 5" in found["timestamp_future"][0]
    assert set(report.errors()) == {"timestamp_iso", "value_types", "min_interactions"}  # future: a warning


def test_one_rule_decides_a_wait_signal_from_the_outcome_no_data_included() -> None:
    """SignalDeploy and the import handler's own signal share it: SUCCESS for an ACTIVE job and for NO DATA
    (the handler's signal when there is no job), FAILURE for every other declared outcome."""
    assert contract.NO_DATA in get_args(contract.Outcome)
    statuses = {
        outcome: signal.wait_condition_signal(outcome=outcome, reason="why", unique_id="u", job_arn=None)[
            "Status"
        ]
        for outcome in get_args(contract.Outcome)
    }
    assert {outcome for outcome, status in statuses.items() if status == contract.SIGNAL_SUCCESS} == {
        "ACTIVE",
        "NO DATA",
    }
    assert set(statuses.values()) == {contract.SIGNAL_SUCCESS, contract.SIGNAL_FAILURE}
