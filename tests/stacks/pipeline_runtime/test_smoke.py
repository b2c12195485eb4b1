"""The pipeline's smoke test against the local emulator: exit 0 only when group and import are ACTIVE."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lambda_handlers.personalize import domain_rules
from personalize_tools.emulator import EmulatorServer, Pace
from stacks.pipeline_runtime import smoke
from tests.emulator.support import ROLE_ARN, interactions_csv

SCHEMA = domain_rules.default_schema_json("ECOMMERCE")


@pytest.fixture(scope="module")
def emulator_pace() -> Pace:
    return Pace.instant()


@pytest.fixture(scope="module")
def deployed(emulator: EmulatorServer, personalize: Any, s3: Any) -> Iterator[dict[str, str]]:
    """A group with two import jobs: one that succeeds and one whose CSV lacks EVENT_TYPE."""
    s3.create_bucket(Bucket="smoke-data")
    s3.put_object(Bucket="smoke-data", Key="good.csv", Body=interactions_csv(1200))
    s3.put_object(
        Bucket="smoke-data",
        Key="bad.csv",
        Body=interactions_csv(1200, header=("USER_ID", "ITEM_ID", "TIMESTAMP")),
    )
    group = personalize.create_dataset_group(name="smoke-group", domain="ECOMMERCE")["datasetGroupArn"]
    schema = personalize.create_schema(name="smoke-schema", schema=SCHEMA, domain="ECOMMERCE")["schemaArn"]
    personalize.describe_dataset_group(datasetGroupArn=group)
    dataset = personalize.create_dataset(
        name="smoke-interactions", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    personalize.describe_dataset(datasetArn=dataset)
    jobs = {}
    for name in ("good", "bad"):
        jobs[name] = personalize.create_dataset_import_job(
            jobName=f"smoke-{name}",
            datasetArn=dataset,
            dataSource={"dataLocation": f"s3://smoke-data/{name}.csv"},
            roleArn=ROLE_ARN,
        )["datasetImportJobArn"]
        personalize.describe_dataset_import_job(datasetImportJobArn=jobs[name])
    yield {"group": group, **jobs}
    emulator.reset()


def run_smoke(emulator: EmulatorServer, group: str, job: str, *extra: str) -> int:
    return smoke.main(
        ["--dataset-group-arn", group, "--import-job-arn", job, "--endpoint-url", emulator.url, *extra]
    )


def test_active_group_and_import_pass(
    deployed: dict[str, str], emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_smoke(emulator, deployed["group"], deployed["good"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("ACTIVE") == 2


def test_failed_import_fails_with_personalize_reason(
    deployed: dict[str, str], emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_smoke(emulator, deployed["group"], deployed["bad"])
    err = capsys.readouterr().err
    assert code == 1
    assert "CREATE FAILED: Input CSV is missing the following columns:[EVENT_TYPE]" in err


def test_assumes_the_smoke_test_role_first(
    deployed: dict[str, str],
    emulator: EmulatorServer,
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_server)
    role = "arn:aws:iam::123456789012:role/pz-dev-personalize-smoke-test"
    code = run_smoke(
        emulator, deployed["group"], deployed["good"], "--assume-role", role, "--region", "us-east-1"
    )
    assert code == 0, capsys.readouterr().err


def test_missing_resource_is_a_failure_not_a_traceback(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    base = "arn:aws:personalize:us-east-1:123456789012"
    code = run_smoke(emulator, f"{base}:dataset-group/nope", f"{base}:dataset-import-job/nope")
    assert code == 1
    assert "ResourceNotFoundException" in capsys.readouterr().err
