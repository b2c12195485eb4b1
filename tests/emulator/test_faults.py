"""Fault injection: throttling, server errors, failing names, seeds; set at construction or at run time."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain
from personalize_tools.emulator import EmulatorServer, Faults
from personalize_tools.emulator.errors import EmulatorConfigError
from tests.emulator.support import (
    active_dataset,
    active_group,
    admin,
    import_job,
    interactions_csv,
    raw_call,
    settle,
)

LIST_GROUPS = "AmazonPersonalize.ListDatasetGroups"


def test_throttling_is_retried_by_boto3_then_surfaces(
    clean_emulator: EmulatorServer, personalize: Any
) -> None:
    clean_emulator.set_faults(throttle_rate=1.0)
    with pytest.raises(ClientError) as error:
        personalize.list_dataset_groups()
    assert error.value.response["Error"]["Code"] == "ThrottlingException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    calls = clean_emulator.calls()
    assert calls["calls"]["ListDatasetGroups"] == 3  # standard retry mode: three attempts
    assert calls["errors"]["ListDatasetGroups"] == {"ThrottlingException": 3}


def test_server_errors_are_5xx_with_a_json_body(clean_emulator: EmulatorServer, personalize: Any) -> None:
    clean_emulator.set_faults(server_error_rate=1.0, seed=11)
    statuses = set()
    for _ in range(12):
        status, body, _ = raw_call(clean_emulator.url, LIST_GROUPS, "{}")
        statuses.add(status)
        assert body["__type"] in {"InternalFailure", "ServiceUnavailableException"}
        assert body["message"]
    assert statuses == {500, 503}
    with pytest.raises(ClientError) as error:
        personalize.list_dataset_groups()
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] in {500, 503}


def test_a_seed_makes_fault_sequences_repeatable(clean_emulator: EmulatorServer) -> None:
    def run() -> list[int]:
        admin(
            clean_emulator.url, "POST", "faults", {"throttle_rate": 0.3, "server_error_rate": 0.2, "seed": 42}
        )
        return [raw_call(clean_emulator.url, LIST_GROUPS, "{}")[0] for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert {200, 400} <= set(first)


def test_fail_name_pattern_fails_matching_resources_only(
    clean_emulator: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    clean_emulator.set_faults(fail_name_pattern=r"^boom")
    doomed = personalize.create_dataset_group(name="boom-group")["datasetGroupArn"]
    group = settle(personalize, "dataset_group", doomed)
    assert group["status"] == domain.CREATE_FAILED
    assert "boom-group" in group["failureReason"]
    assert "fail_name_pattern" in group["failureReason"]

    group_arn = active_group(personalize, "fine")
    dataset_arn = active_dataset(personalize, group_arn, "fine-interactions")
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000))
    job = settle(
        personalize, "import_job", import_job(personalize, dataset_arn, "boom-job", f"s3://{s3_bucket}/i.csv")
    )
    assert job["status"] == domain.CREATE_FAILED
    assert "boom-job" in job["failureReason"]
    personalize.delete_dataset_group(datasetGroupArn=doomed)  # a failed resource can be deleted


def test_faults_from_the_constructor_and_admin_endpoint(clean_emulator: EmulatorServer) -> None:
    status, faults = admin(
        clean_emulator.url, "POST", "faults", {"latency_seconds": 0.01, "fail_name_pattern": "x"}
    )
    assert status == 200
    assert clean_emulator.faults == Faults(latency_seconds=0.01, fail_name_pattern="x")
    assert raw_call(clean_emulator.url, LIST_GROUPS, "{}")[0] == 200
    assert json.loads(json.dumps(faults)) == clean_emulator.faults.to_json()
    with EmulatorServer(faults=Faults(throttle_rate=1.0)) as throttled:
        status, body, _ = raw_call(throttled.url, LIST_GROUPS, "{}")
        assert (status, body["__type"]) == (400, "ThrottlingException")
        assert admin(throttled.url, "GET", "health") == (200, {"ok": True, "url": throttled.url})


@pytest.mark.parametrize(
    "settings",
    [{"throttle_rate": -0.1}, {"throttle_rate": 0.6, "server_error_rate": 0.6}, {"fail_name_pattern": "("}],
)
def test_bad_fault_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(EmulatorConfigError):
        Faults(**settings)
