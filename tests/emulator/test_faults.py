"""Fault injection: throttling, server errors, failing names, seeds; set at construction or at run time."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_handlers.personalize import kinds
from personalize_tools.emulator import EmulatorServer, Faults
from personalize_tools.emulator.__main__ import main as emulator_main
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
    assert group["status"] == kinds.CREATE_FAILED
    assert "boom-group" in group["failureReason"]
    assert "fail_name_pattern" in group["failureReason"]

    group_arn = active_group(personalize, "fine")
    dataset_arn = active_dataset(personalize, group_arn, "fine-interactions")
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000))
    job = settle(
        personalize, "import_job", import_job(personalize, dataset_arn, "boom-job", f"s3://{s3_bucket}/i.csv")
    )
    assert job["status"] == kinds.CREATE_FAILED
    assert "boom-job" in job["failureReason"]
    personalize.delete_dataset_group(datasetGroupArn=doomed)  # a failed resource can be deleted


def test_fail_operations_fails_the_next_request_of_each_listed_operation_once(
    clean_emulator: EmulatorServer, personalize: Any
) -> None:
    """An in-place update (UpdateDataset, TagResource, ...) has no name to match at create time; this
    fails its call once, non-retryable, so a rollback calling the same operation goes through."""
    arn = active_group(personalize, "tagged")
    status, _ = admin(clean_emulator.url, "POST", "faults", {"fail_operations": ["TagResource"]})
    assert status == 200 and clean_emulator.faults.fail_operations == ("TagResource",)
    personalize.list_dataset_groups()  # other operations are untouched
    with pytest.raises(ClientError) as error:
        personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": "a", "tagValue": "b"}])
    assert error.value.response["Error"]["Code"] == "InvalidInputException"
    assert "fail_operations" in error.value.response["Error"]["Message"]
    assert clean_emulator.calls()["calls"]["TagResource"] == 1  # a 400 is not retried
    assert clean_emulator.faults.fail_operations == ()
    personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": "a", "tagValue": "b"}])
    assert admin(clean_emulator.url, "GET", "faults")[1]["fail_operations"] == []


def test_the_cli_takes_fail_operation_and_refuses_an_unknown_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        emulator_main(["--fail-operation", "UpdateDataset", "--fail-operation", "Nope"])
    assert refused.value.code == 2
    assert "fail_operations: 'Nope' is not a Personalize operation" in capsys.readouterr().err


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
    ("settings", "named"),
    [
        ({"throttle_rate": -0.1}, "throttle_rate=-0.1"),
        ({"throttle_rate": 0.6, "server_error_rate": 0.6}, "throttle_rate + server_error_rate"),
        ({"fail_name_pattern": "("}, "'('"),
        ({"fail_operations": "UpdateDataset"}, "fail_operations='UpdateDataset'"),
        ({"fail_operations": ["UpdateDatasets"]}, "'UpdateDatasets' is not a Personalize operation"),
    ],
)
def test_bad_fault_settings_are_refused(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(EmulatorConfigError) as refused:
        Faults(**settings)
    assert named in str(refused.value)
