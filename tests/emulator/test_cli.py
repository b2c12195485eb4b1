"""The emulator from the outside: the real AWS CLI against it, and `python -m personalize_tools.emulator`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from lambda_handlers.personalize import domain_rules, kinds
from personalize_tools.emulator import EmulatorServer
from tests import PROJECT_ROOT
from tests.emulator.support import ROLE_ARN, interactions_csv

AWS_CLI = Path(sys.executable).with_name("aws")


def aws(emulator: EmulatorServer, *arguments: str) -> dict[str, Any]:
    completed = subprocess.run(
        [str(AWS_CLI), "personalize", *arguments, "--endpoint-url", emulator.url, "--region", "us-east-1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    output: dict[str, Any] = json.loads(completed.stdout or "{}")
    return output


def poll_until_settled(emulator: EmulatorServer, *describe: str, key: str) -> list[str]:
    seen: list[str] = []
    while not seen or seen[-1] in kinds.IN_FLIGHT_CREATE_STATUSES:
        assert len(seen) < 10, seen
        seen.append(aws(emulator, *describe)[key]["status"])
    return seen


def test_developer_guide_sequence_with_the_aws_cli(
    clean_emulator: EmulatorServer, s3: Any, s3_bucket: str, tmp_path: Path
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="interactions.csv", Body=interactions_csv(1000, seed=2024))
    schema_file = tmp_path / "interactions-schema.json"
    schema_file.write_text(domain_rules.default_schema_json("ECOMMERCE"))

    group_arn = aws(clean_emulator, "create-dataset-group", "--name", "cli-shop", "--domain", "ECOMMERCE")[
        "datasetGroupArn"
    ]
    poll_until_settled(
        clean_emulator, "describe-dataset-group", "--dataset-group-arn", group_arn, key="datasetGroup"
    )
    schema_arn = aws(
        clean_emulator,
        "create-schema",
        "--name",
        "cli-shop-interactions",
        "--domain",
        "ECOMMERCE",
        "--schema",
        f"file://{schema_file}",
    )["schemaArn"]
    dataset_arn = aws(
        clean_emulator,
        "create-dataset",
        "--name",
        "cli-shop-interactions",
        "--dataset-group-arn",
        group_arn,
        "--dataset-type",
        "INTERACTIONS",
        "--schema-arn",
        schema_arn,
    )["datasetArn"]
    assert dataset_arn.endswith(":dataset/cli-shop/INTERACTIONS")
    poll_until_settled(clean_emulator, "describe-dataset", "--dataset-arn", dataset_arn, key="dataset")
    job_arn = aws(
        clean_emulator,
        "create-dataset-import-job",
        "--job-name",
        "cli-shop-import",
        "--dataset-arn",
        dataset_arn,
        "--data-source",
        f"dataLocation=s3://{s3_bucket}/interactions.csv",
        "--role-arn",
        ROLE_ARN,
        "--import-mode",
        "FULL",
    )["datasetImportJobArn"]
    seen = poll_until_settled(
        clean_emulator,
        "describe-dataset-import-job",
        "--dataset-import-job-arn",
        job_arn,
        key="datasetImportJob",
    )
    assert seen == [kinds.CREATE_PENDING, kinds.CREATE_IN_PROGRESS, kinds.ACTIVE]
    listed = aws(clean_emulator, "list-dataset-import-jobs", "--dataset-arn", dataset_arn)[
        "datasetImportJobs"
    ]
    assert [(job["jobName"], job["status"]) for job in listed] == [("cli-shop-import", kinds.ACTIVE)]


def test_module_command_serves_until_terminated(aws_credentials: None) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "personalize_tools.emulator",
            "--port",
            "0",
            "--pace",
            "instant",
            "--seed",
            "1",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        client = boto3.client("personalize", endpoint_url=url, region_name="us-east-1")
        arn = client.create_dataset_group(name="from-cli", domain="VIDEO_ON_DEMAND")["datasetGroupArn"]
        assert client.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]["status"] == kinds.ACTIVE
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert "AWS_ENDPOINT_URL_PERSONALIZE" in stderr


def test_module_command_rejects_bad_settings() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "personalize_tools.emulator", "--throttle-rate", "3"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert completed.returncode == 2
    assert "throttle_rate=3.0" in completed.stderr
