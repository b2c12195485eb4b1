"""Post-deployment smoke test: the dataset group and the latest import job must both be ACTIVE.

Runs in the rollout pipeline after each stage (boto3 and the standard library only), optionally
assuming the environment's read-only smoke-test role first. Exit 0 when both are ACTIVE, 1 when
not (with Personalize's failure reason), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from personalize_tools.cli_common import add_version, program

ACTIVE = "ACTIVE"


def _session(role_arn: str | None, region: str | None) -> boto3.Session:
    if not role_arn:
        return boto3.Session(region_name=region)
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=role_arn, RoleSessionName="personalize-smoke-test"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def check(personalize: Any, dataset_group_arn: str, import_job_arn: str) -> list[str]:
    """Problems found; empty when both resources are ACTIVE."""
    problems = []
    group = personalize.describe_dataset_group(datasetGroupArn=dataset_group_arn)["datasetGroup"]
    job = personalize.describe_dataset_import_job(datasetImportJobArn=import_job_arn)["datasetImportJob"]
    for what, arn, resource in (
        ("dataset group", dataset_group_arn, group),
        ("dataset import job", import_job_arn, job),
    ):
        status = resource.get("status")
        print(f"{what:<20} {arn}  {status}")
        if status != ACTIVE:
            reason = resource.get("failureReason")
            problems.append(f"{what} {arn} is {status}" + (f": {reason}" if reason else ""))
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=program("personalize-smoke-test", "personalize_tools.smoke"), description=__doc__.splitlines()[0]
    )
    add_version(parser)
    parser.add_argument("--dataset-group-arn", required=True)
    parser.add_argument("--import-job-arn", required=True)
    parser.add_argument("--assume-role", metavar="ROLE_ARN", help="the environment's smoke-test role")
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url", help="a Personalize endpoint, e.g. the local emulator")
    args = parser.parse_args(argv)
    try:
        session = _session(args.assume_role, args.region)
        personalize = session.client("personalize", endpoint_url=args.endpoint_url)
        problems = check(personalize, args.dataset_group_arn, args.import_job_arn)
    except (ClientError, BotoCoreError) as error:
        print(f"smoke test could not describe the resources: {error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
