"""Custom::PersonalizeDatasetImportJob: one job per import of a dataset, deferred while five imports run.

The job's real name is JobName plus a hash of the dataset's creation time and the data location: the
handler computes it, so these tests read it from the outcome and check its shape and its stability.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from lambda_handlers.personalize import domain_rules
from lambda_handlers.personalize.errors import IncrementalImportError, ResourceFailedError
from personalize_tools.emulator import EmulatorServer

from .support import (
    ROLE_ARN,
    decisions,
    delete_of,
    drive,
    event,
    interactions_csv,
    settle_import_job,
    start,
    update_of,
)

JOB_ARN_BASE = "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/pz-test-import-0a1b2c3d"
JOB_ARN = re.compile(re.escape(JOB_ARN_BASE) + r"-[0-9a-f]{8}")


def import_event(name: str, data_location: str, **properties: Any) -> dict[str, Any]:
    return event(name, properties={"DataLocation": data_location, **properties})


def describe_job(personalize: Any, arn: str) -> dict[str, Any]:
    job: dict[str, Any] = personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]
    return job


def test_create_imports_and_returns_the_deterministic_arn(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, data_location: str
) -> None:
    outcome = drive(import_event("import_job_create", data_location))

    assert JOB_ARN.fullmatch(outcome.physical_id)
    assert outcome.data == {
        "DatasetImportJobArn": outcome.physical_id,
        "JobName": outcome.physical_id.rsplit("/", 1)[1],
        "Status": "ACTIVE",
        "ImportMode": "FULL",
        "DataLocation": data_location,
        "Message": f"{data_location}: ACTIVE",
    }
    job = describe_job(personalize, outcome.physical_id)
    assert (job["status"], job["roleArn"], job["datasetArn"]) == ("ACTIVE", ROLE_ARN, dataset_arn)


def test_the_same_create_delivered_twice_makes_one_job(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, data_location: str
) -> None:
    first = start(import_event("import_job_create", data_location))
    second = start(import_event("import_job_create", data_location))

    arns = {first.finish().physical_id, second.finish().physical_id}
    assert len(arns) == 1 and JOB_ARN.fullmatch(arns.pop())
    assert handlers.calls()["calls"]["CreateDatasetImportJob"] == 1
    assert len(personalize.list_dataset_import_jobs(datasetArn=dataset_arn)["datasetImportJobs"]) == 1


def test_update_with_the_same_job_name_is_a_no_op(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, data_location: str
) -> None:
    create = import_event("import_job_create", data_location)
    job_arn = drive(create).physical_id

    updated = drive(update_of(create, job_arn, Tags=[], RoleArn=ROLE_ARN + "-v2"))

    assert updated.physical_id == job_arn
    assert updated.data["Status"] == "ACTIVE"
    calls = handlers.calls()["calls"]
    assert calls["CreateDatasetImportJob"] == 1
    # A job's Tags are not updated in place (contract.TAGS_UPDATED_IN_PLACE): the create's tag stays.
    assert "UntagResource" not in calls
    tags = personalize.list_tags_for_resource(resourceArn=job_arn)["tags"]
    assert {"tagKey": "environment", "tagValue": "test"} in tags


def test_new_job_name_is_a_new_job_and_delete_keeps_the_old(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, data_location: str
) -> None:
    create = import_event("import_job_create", data_location)
    old_arn = drive(create).physical_id

    new = drive(event("import_job_update", physical_id=old_arn, properties={"DataLocation": data_location}))
    drive(delete_of(create, old_arn))  # CloudFormation's cleanup of the old physical id

    assert "dataset-import-job/pz-test-import-9e8d7c6b-" in new.physical_id
    jobs = personalize.list_dataset_import_jobs(datasetArn=dataset_arn)["datasetImportJobs"]
    names = sorted(job["jobName"] for job in jobs)
    assert [name.rsplit("-", 1)[0] for name in names] == [
        "pz-test-import-0a1b2c3d",
        "pz-test-import-9e8d7c6b",
    ]


def test_delete_is_a_logged_no_op(
    handlers: EmulatorServer,
    personalize: Any,
    dataset_arn: str,
    data_location: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    job_arn = drive(import_event("import_job_create", data_location)).physical_id

    drive(import_event("import_job_delete", data_location))

    assert describe_job(personalize, job_arn)["status"] == "ACTIVE"
    assert "not-deletable" in [line["decision"] for line in decisions(caplog.records)]


def test_incremental_before_any_import_fails_with_what_to_do(
    handlers: EmulatorServer, dataset_arn: str, data_location: str
) -> None:
    with pytest.raises(IncrementalImportError) as failure:
        drive(import_event("import_job_create", data_location, ImportMode="INCREMENTAL"))

    assert f"dataset {dataset_arn} has no ACTIVE import yet" in str(failure.value)
    assert "Import with FULL first" in str(failure.value)
    assert "CreateDatasetImportJob" not in handlers.calls()["calls"]


def test_incremental_after_a_full_import_is_created(
    handlers: EmulatorServer, dataset_arn: str, data_location: str
) -> None:
    drive(import_event("import_job_create", data_location))

    outcome = drive(
        import_event("import_job_create", data_location, JobName="pz-test-more", ImportMode="INCREMENTAL")
    )

    assert (outcome.data["ImportMode"], outcome.data["Status"]) == ("INCREMENTAL", "ACTIVE")


def test_create_failed_is_raised_with_the_reason_verbatim(
    handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str
) -> None:
    # The preflight reads the first file of a folder only; the second one lacks a column.
    s3.put_object(Bucket=s3_bucket, Key="batch/part-1.csv", Body=interactions_csv())
    s3.put_object(
        Bucket=s3_bucket,
        Key="batch/part-2.csv",
        Body=interactions_csv(header=("USER_ID", "ITEM_ID", "TIMESTAMP")),
    )

    with pytest.raises(ResourceFailedError) as failure:
        drive(import_event("import_job_create", f"s3://{s3_bucket}/batch/"))

    message = re.fullmatch(
        r"dataset import job (pz-test-import-0a1b2c3d-[0-9a-f]{8}) \((.+)\) failed: (.+)", str(failure.value)
    )
    assert message is not None and JOB_ARN.fullmatch(message[2]) and message[2].endswith(message[1])
    assert message[3] == domain_rules.reason_missing_columns(["EVENT_TYPE"])


def test_injected_failure_is_raised_with_its_reason(
    handlers: EmulatorServer, dataset_arn: str, data_location: str
) -> None:
    handlers.set_faults(fail_name_pattern="0a1b2c3d")

    with pytest.raises(ResourceFailedError, match=r"\) failed: Injected failure: Dataset import job name"):
        drive(import_event("import_job_create", data_location))


def test_limit_exceeded_defers_the_create_to_is_complete(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, data_location: str
) -> None:
    blockers = [
        personalize.create_dataset_import_job(
            jobName=f"pz-test-blocker-{number}",
            datasetArn=dataset_arn,
            dataSource={"dataLocation": data_location},
            roleArn=ROLE_ARN,
        )["datasetImportJobArn"]
        for number in range(domain_rules.MAX_IMPORT_JOBS_IN_PROGRESS)
    ]

    waiter = start(import_event("import_job_create", data_location))
    deferred = waiter.poll()
    for blocker in blockers:
        assert settle_import_job(personalize, blocker) == "ACTIVE"
    outcome = waiter.finish()

    assert JOB_ARN.fullmatch(waiter.physical_id)  # known before the job existed
    assert deferred == {"IsComplete": False}
    assert handlers.calls()["errors"]["CreateDatasetImportJob"] == {"LimitExceededException": 2}
    assert outcome.data["Status"] == "ACTIVE"


def test_throttled_and_failing_calls_are_retried_without_duplicates(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, data_location: str
) -> None:
    handlers.set_faults(throttle_rate=0.4, server_error_rate=0.1, seed=1)

    outcome = drive(import_event("import_job_create", data_location), max_polls=80)

    handlers.set_faults(throttle_rate=0.0, server_error_rate=0.0)
    injected = {code for codes in handlers.calls()["errors"].values() for code in codes}
    assert "ThrottlingException" in injected
    assert outcome.data["Status"] == "ACTIVE"
    assert len(personalize.list_dataset_import_jobs(datasetArn=dataset_arn)["datasetImportJobs"]) == 1
