"""Post-deployment smoke test: the dataset group and the latest import job must both be ACTIVE.

Runs in the rollout pipeline after each stage as `python -m stacks.pipeline_runtime.smoke` from the
source checkout with only its own lock installed: boto3, the standard library and the product's
standard-library facts (the resource-kind table, the use cases' request rules), never the developer
tools (tests/stacks/pipeline_runtime/test_smoke.py runs it so). It optionally assumes the environment's
read-only smoke-test role first. An environment without historical data has no import job to check.
With `--recommender-arn`, each ACTIVE recommender must answer GetRecommendations (read-only: it never
records events); one still training is reported, one that failed is a problem. Exit 0 when all is well,
1 when not (with Personalize's failure reason), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from lambda_handlers.personalize.domain_rules import RECOMMENDATION_REQUESTS
from lambda_handlers.personalize.kinds import ACTIVE, FAILED_STATUSES

SMOKE_USER = "personalize-smoke-test"  # an unknown user: the answer is the cold-start one, read-only


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


def check(personalize: Any, dataset_group_arn: str, import_job_arn: str | None) -> list[str]:
    """Problems found; empty when the group (and the import job, if there is one) are ACTIVE."""
    problems = []
    checked = [
        (
            "dataset group",
            dataset_group_arn,
            personalize.describe_dataset_group(datasetGroupArn=dataset_group_arn)["datasetGroup"],
        )
    ]
    if import_job_arn:
        job = personalize.describe_dataset_import_job(datasetImportJobArn=import_job_arn)["datasetImportJob"]
        checked.append(("dataset import job", import_job_arn, job))
    for what, arn, resource in checked:
        status = resource.get("status")
        print(f"{what:<20} {arn}  {status}")
        if status != ACTIVE:
            reason = resource.get("failureReason")
            problems.append(f"{what} {arn} is {status}" + (f": {reason}" if reason else ""))
    return problems


def check_recommendations(
    personalize: Any, runtime: Any, recommender_arns: Sequence[str], user_id: str, item_id: str | None
) -> list[str]:
    """Each ACTIVE recommender answers GetRecommendations; problems found (training is not one)."""
    problems = []
    for arn in recommender_arns:
        recommender = personalize.describe_recommender(recommenderArn=arn)["recommender"]
        status = recommender.get("status")
        use_case = str(recommender.get("recipeArn", "")).rsplit("/", 1)[-1]
        if status != ACTIVE:
            print(f"{'recommender':<20} {arn}  {status}: not asked for recommendations")
            if status in FAILED_STATUSES:
                reason = recommender.get("failureReason")
                problems.append(f"recommender {arn} is {status}" + (f": {reason}" if reason else ""))
            continue
        request = {"recommenderArn": arn, "userId": user_id, "numResults": 5}
        rules = RECOMMENDATION_REQUESTS.get(use_case)
        if rules and "itemId" in rules.required:
            if not item_id:
                print(f"{'recommender':<20} {arn}  ACTIVE; {use_case} needs an itemId: give --item-id")
                continue
            request["itemId"] = item_id
        try:
            items = runtime.get_recommendations(**request)["itemList"]
        except ClientError as error:
            problems.append(f"recommender {arn} did not answer GetRecommendations: {error}")
            continue
        print(f"{'recommender':<20} {arn}  ACTIVE, {len(items)} recommendation(s)")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset-group-arn", required=True)
    parser.add_argument("--import-job-arn", help="the Interactions import job; none without historical data")
    parser.add_argument(
        "--recommender-arn",
        action="append",
        default=[],
        help="ask this recommender for recommendations if it is ACTIVE (repeatable; read-only)",
    )
    parser.add_argument("--user-id", default=SMOKE_USER, help=f"whom to ask for (default {SMOKE_USER})")
    parser.add_argument(
        "--item-id", help="the item for use cases that need one (e.g. frequently bought together)"
    )
    parser.add_argument("--assume-role", metavar="ROLE_ARN", help="the environment's smoke-test role")
    parser.add_argument("--region")
    parser.add_argument("--endpoint-url", help="a Personalize endpoint, e.g. the local emulator")
    args = parser.parse_args(argv)
    try:
        session = _session(args.assume_role, args.region)
        personalize = session.client("personalize", endpoint_url=args.endpoint_url)
        problems = check(personalize, args.dataset_group_arn, args.import_job_arn)
        if args.recommender_arn:
            runtime = session.client("personalize-runtime", endpoint_url=args.endpoint_url)
            problems += check_recommendations(
                personalize, runtime, args.recommender_arn, args.user_id, args.item_id
            )
    except (ClientError, BotoCoreError) as error:
        print(f"smoke test could not describe the resources: {error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
