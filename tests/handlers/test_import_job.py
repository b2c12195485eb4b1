"""Custom::PersonalizeDatasetImportJob: one job per JobName, deferred while five imports run."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.personalize import domain
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

JOB_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/pz-test-import-0a1b2c3d"


def import_event(name: str, data_location: str, **properties: Any) -> dict[str, Any]:
    return event(name, properties={"DataLocation": data_location, **properties})


def describe_job(personalize: Any, arn: str) -> dict[str, Any]:
    job: dict[str, Any] = personalize.describe_dataset_import_job(datasetImportJobArn=arn)["datasetImportJob"]
    return job


def test_create_imports_and_returns_the_deterministic_arn(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, data_location: str
) -> None:
    outcome = drive(import_event("import_job_create", data_location))

    assert outcome.physical_id == JOB_ARN
    assert outcome.data == {
        "DatasetImportJobArn": JOB_ARN,
        "JobName": "pz-test-import-0a1b2c3d",
        "Status": "ACTIVE",
        "ImportMode": "FULL",
        "DataLocation": data_location,
    }
    job = describe_job(personalize, JOB_ARN)
    assert (job["status"], job["roleArn"], job["datasetArn"]) == ("ACTIVE", ROLE_ARN, dataset_arn)


def test_the_same_create_delivered_twice_makes_one_job(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, data_location: str
) -> None:
    first = start(import_event("import_job_create", data_location))
    second = start(import_event("import_job_create", data_location))

    assert (first.finish().physical_id, second.finish().physical_id) == (JOB_ARN, JOB_ARN)
    assert handlers.calls()["calls"]["CreateDatasetImportJob"] == 1
    assert len(personalize.list_dataset_import_jobs(datasetArn=dataset_arn)["datasetImportJobs"]) == 1


def test_update_with_the_same_job_name_is_a_no_op(
    handlers: EmulatorServer, dataset_arn: str, data_location: str
) -> None:
    create = import_event("import_job_create", data_location)
    drive(create)

    updated = drive(update_of(create, JOB_ARN, Tags=[], RoleArn=ROLE_ARN + "-v2"))

    assert updated.physical_id == JOB_ARN
    assert updated.data["Status"] == "ACTIVE"
    assert handlers.calls()["calls"]["CreateDatasetImportJob"] == 1


def test_new_job_name_is_a_new_job_and_delete_keeps_the_old(
    handlers: EmulatorServer, personalize: Any, dataset_arn: str, data_location: str
) -> None:
    create = import_event("import_job_create", data_location)
    drive(create)

    new = drive(event("import_job_update", physical_id=JOB_ARN, properties={"DataLocation": data_location}))
    drive(delete_of(create, JOB_ARN))  # CloudFormation's cleanup of the old physical id

    assert new.physical_id.endswith("dataset-import-job/pz-test-import-9e8d7c6b")
    jobs = personalize.list_dataset_import_jobs(datasetArn=dataset_arn)["datasetImportJobs"]
    assert sorted(job["jobName"] for job in jobs) == ["pz-test-import-0a1b2c3d", "pz-test-import-9e8d7c6b"]


def test_delete_is_a_logged_no_op(
    handlers: EmulatorServer,
    personalize: Any,
    dataset_arn: str,
    data_location: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    drive(import_event("import_job_create", data_location))

    drive(import_event("import_job_delete", data_location))

    assert describe_job(personalize, JOB_ARN)["status"] == "ACTIVE"
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

    assert str(failure.value) == (
        f"dataset import job pz-test-import-0a1b2c3d ({JOB_ARN}) failed: "
        f"{domain.reason_missing_columns(['EVENT_TYPE'])}"
    )


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
        for number in range(domain.MAX_IMPORT_JOBS_IN_PROGRESS)
    ]

    waiter = start(import_event("import_job_create", data_location))
    deferred = waiter.poll()
    for blocker in blockers:
        assert settle_import_job(personalize, blocker) == "ACTIVE"
    outcome = waiter.finish()

    assert waiter.physical_id == JOB_ARN  # known before the job existed
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
