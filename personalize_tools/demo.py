"""`make demo`: deploy the whole app to a local AWS and show what it made. No AWS account needed.

It writes the sample interactions file the environment uploads if it is missing, synthesizes the
environment, starts moto's server and the Personalize emulator in the background (paced in seconds, so
statuses visibly go CREATE PENDING → CREATE IN_PROGRESS → ACTIVE), deploys through the real
custom-resource lifecycle, prints the stack events and what now exists, closes the loop (records a few
events for a user with the stack's tracking id and shows that user's recommendations before and after),
rehearses the event-driven import flow when the environment has an incoming location (uploads a good
file: imported, ACTIVE; uploads a broken one: rejected with a report, no job), and says how to look around.
The services keep running afterwards; `make destroy` deletes the stack, `make demo-stop` stops them.
Running it again is an update ("No changes" unless the config changed).

It demonstrates this project's own app (app.py, config/, data/), so it runs from a checkout only, with
`make demo` or `python -m personalize_tools.demo`: the wheel has no console script for it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from config import ConfigError, load_environment
from lambda_handlers.personalize.domain_rules import EVENT_TYPES, RECOMMENDATION_REQUESTS
from lambda_handlers.personalize.kinds import ACTIVE
from lambda_handlers.personalize.s3_location import S3Location
from personalize_tools.cli_common import IN_CHECKOUT, PROJECT_ROOT, add_version
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import (
    DEFAULT_CDK_OUT,
    DEFAULT_STATE_DIR,
    absolute_path,
    deploy_environment,
)
from personalize_tools.localdeploy.engine import DeployOptions
from personalize_tools.localdeploy.errors import DeployFailedError, LocalDeployError
from personalize_tools.localdeploy.flowrunner import FlowRunner
from personalize_tools.localdeploy.services import LocalServices
from personalize_tools.localdeploy.state import StackState, StateStore
from personalize_tools.sample_data import write_environment_samples

DEMO_ROWS = 20_000  # enough View and Purchase events for every ECOMMERCE recommender
DEMO_USER = "demo-visitor"  # a user the sample data does not have: cold start, then what they did
DEMO_RESULTS = 5
DEMO_TIME_SCALE = 0.1  # the flow's Wait states (30 s and more between polls) pass ten times faster
DEMO_FLOW_TIMEOUT = 600.0
DEMO_GOOD_ROWS = 2000
INCOMING_OUTPUT_SUFFIX = "IncomingLocation"
ARN_OUTPUT_SUFFIX = "RecommenderArn"
STATUS_OUTPUT_SUFFIX = "RecommenderStatus"


def ensure_sample_data(environment: str, rows: int, out: TextIO) -> None:
    """Write the environment's local data files (interactions, and users and items if it has them) with
    the sample generator where they do not exist yet.

    The config is read without its data check, which is exactly what would fail here.
    """
    config = load_environment(environment, check_data=False)
    for sample in write_environment_samples(config, rows=rows):
        if sample.action != "exists":
            out.write(f"Sample data: {sample.detail}\n")


def close_the_loop(
    outputs: Mapping[str, Any], endpoints: Endpoints, out: TextIO, user_id: str = DEMO_USER
) -> bool:
    """Record a few events for a user with the stack's tracking id; show recommendations before and after.

    Uses the first ACTIVE recommender whose use case needs no itemId; False (with a note) when there is none.
    """
    tracking_id = outputs.get("TrackingId")
    candidates = [
        (key.removesuffix(ARN_OUTPUT_SUFFIX), str(value))
        for key, value in outputs.items()
        if key.endswith(ARN_OUTPUT_SUFFIX)
        and outputs.get(key.removesuffix(ARN_OUTPUT_SUFFIX) + STATUS_OUTPUT_SUFFIX) == ACTIVE
    ]
    personalize = endpoints.client("personalize")
    runtime = endpoints.client("personalize-runtime")
    for _, recommender_arn in candidates:
        recommender = personalize.describe_recommender(recommenderArn=recommender_arn)["recommender"]
        use_case = recommender["recipeArn"].rsplit("/", 1)[-1]
        if "itemId" not in RECOMMENDATION_REQUESTS[use_case].required:
            break
    else:
        out.write("\nClosing the loop: skipped (it needs an ACTIVE recommender that takes a userId).\n")
        return False
    if not tracking_id:
        out.write("\nClosing the loop: skipped (the stack has no event tracker; set event_tracker: true).\n")
        return False

    def recommendations() -> list[str]:
        response = runtime.get_recommendations(
            recommenderArn=recommender_arn, userId=user_id, numResults=DEMO_RESULTS
        )
        return [item["itemId"] for item in response["itemList"]]

    group = personalize.describe_dataset_group(datasetGroupArn=recommender["datasetGroupArn"])["datasetGroup"]
    looked_at, acted_on = EVENT_TYPES[group["domain"]]
    before = recommendations()
    chosen = [(looked_at, item) for item in before[:3]] + [(acted_on, before[0])] if before else []
    now = time.time()
    endpoints.client("personalize-events").put_events(
        trackingId=tracking_id,
        userId=user_id,
        sessionId=f"{user_id}-session",
        eventList=[
            {"eventType": event_type, "itemId": item, "sentAt": now + offset}
            for offset, (event_type, item) in enumerate(chosen)
        ],
    )
    after = recommendations()
    out.write(
        f"\nClosing the loop: {user_id} and {recommender['name']} ({use_case})\n"
        f"  before   {', '.join(before) or '(nothing)'}\n"
        f"  PutEvents (tracking id {tracking_id}): {', '.join(f'{kind} {item}' for kind, item in chosen)}\n"
        f"  after    {', '.join(after) or '(nothing)'}\n"
        "  (the emulator's recommendations: a deterministic stand-in computed from the data, not a model)\n"
    )
    return True


def _upload_and_run(runner: FlowRunner, s3: Any, uploads: Mapping[str, bytes]) -> dict[str, dict[str, Any]]:
    """Upload the files, run the flow until nothing runs; each key's latest execution record."""
    for uri, body in uploads.items():
        location = S3Location.parse(uri, "upload")
        s3.put_object(Bucket=location.bucket, Key=location.key, Body=body)
    runner.run_until_idle(DEMO_FLOW_TIMEOUT)
    finished: dict[str, dict[str, Any]] = {}
    for execution in runner.flows.executions():
        detail = (execution.get("input") or {}).get("detail", {})
        uri = S3Location(
            str(detail.get("bucket", {}).get("name")), str(detail.get("object", {}).get("key"))
        ).uri()
        if uri in uploads:
            finished[uri] = execution
    return finished


def _notice(execution: Mapping[str, Any]) -> dict[str, Any]:
    """The flow's notice: in the output of a succeeded execution, in the last state input of a failed one."""
    found: dict[str, Any] = (execution.get("output") or {}).get("notice") or {}
    for event in execution.get("history", []):
        data = event.get("detail", {}).get("input")
        if isinstance(data, dict) and isinstance(data.get("notice"), dict):
            found = data["notice"]
    return found


def rehearse_incoming(
    outputs: Mapping[str, Any], endpoints: Endpoints, store: Any, sample: Path, out: TextIO
) -> bool:
    """Upload a good file and a broken one to the first incoming location and run the import flow locally:
    the good one is imported (ACTIVE), the broken one rejected with a report and no job."""
    locations = [str(value) for key, value in sorted(outputs.items()) if key.endswith(INCOMING_OUTPUT_SUFFIX)]
    if not locations:
        out.write(
            "\nIncoming data: skipped (the environment has no incoming location; set incoming: true).\n"
        )
        return False
    location = locations[0]
    lines = sample.read_text(encoding="utf-8").splitlines()[: DEMO_GOOD_ROWS + 1]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    good, broken = f"{location}demo-{stamp}.csv", f"{location}demo-{stamp}-broken.csv"
    uploads = {good: ("\n".join(lines) + "\n").encode(), broken: b"USER,ITEM\nu1,i1\n"}
    out.write(
        f"\nIncoming data: uploading {good} ({len(lines) - 1} rows) and {broken} (a wrong header); "
        f"the import flow runs locally (Wait states at {DEMO_TIME_SCALE:g}x their length) ...\n"
    )
    out.flush()
    runner = FlowRunner(endpoints, store, scale=DEMO_TIME_SCALE)
    try:
        finished = _upload_and_run(runner, endpoints.client("s3"), uploads)
    finally:
        runner.close()
    personalize = endpoints.client("personalize")
    for uri, label in ((good, "good file"), (broken, "broken file")):
        execution = finished.get(uri, {})
        notice = _notice(execution)
        out.write(f"  {label}: execution {execution.get('status', 'not started')}")
        if execution.get("error"):
            out.write(f" ({execution['error']}: {execution.get('cause')})")
        out.write("\n")
        if notice.get("jobArn"):
            job = personalize.describe_dataset_import_job(datasetImportJobArn=notice["jobArn"])
            out.write(f"    import job {notice['jobArn']}: {job['datasetImportJob']['status']}\n")
        else:
            out.write("    no import job\n")
        if notice.get("report"):
            out.write(f"    report {notice['report']}\n")
        if notice.get("message"):
            out.write(f"    {notice['message']}\n")
    out.write(
        "  More uploads are imported the same way while `make run-events` runs (docs/event-imports.md).\n"
    )
    return True


def guide(state: StackState, services: LocalServices, state_dir: Path) -> str:
    """How to look at what the demo made, with the AWS CLI and with boto3."""
    endpoints = services.endpoints
    import_job = state.outputs.get("InteractionsImportJobArn", "ARN")
    tracking_id = state.outputs.get("TrackingId", "ID")
    bucket = state.outputs.get("DataBucketName", "BUCKET")
    return f"""
The local AWS keeps running, so you can look around:
{services.describe()}

  source {state_dir / "env.sh"}   # dummy credentials and the endpoint URLs, for the AWS CLI and boto3
  .venv/bin/aws personalize list-dataset-groups
  .venv/bin/aws personalize describe-dataset-import-job --dataset-import-job-arn {import_job}
  .venv/bin/aws s3 ls s3://{bucket}/ --recursive
  curl -s {endpoints.personalize}/_emulator/state     # everything the emulator holds
  .venv/bin/aws personalize-runtime get-recommendations --recommender-arn ARN --user-id {DEMO_USER}
  .venv/bin/python -m personalize_tools.record events FILE.csv --tracking-id {tracking_id}

  # Python
  import boto3
  credentials = dict(region_name="{endpoints.region}",
                     aws_access_key_id="testing", aws_secret_access_key="testing")
  personalize = boto3.client("personalize", endpoint_url="{endpoints.personalize}", **credentials)
  s3 = boto3.client("s3", endpoint_url="{endpoints.aws}", **credentials)

Next: `make demo` again updates the stack, `make destroy` deletes it, `make demo-stop` stops the services
(moto keeps everything in memory: what they held is gone then). Handler logs: {state_dir / "logs"}.
"""


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m personalize_tools.demo", description=__doc__.splitlines()[0]
    )
    add_version(parser)
    parser.add_argument("--env", default="dev", help="environment to deploy (default dev)")
    parser.add_argument("--rows", type=int, default=DEMO_ROWS, help="rows of sample data to write if missing")
    parser.add_argument("--cdk-out", type=absolute_path, default=str(DEFAULT_CDK_OUT))
    parser.add_argument("--state-dir", type=absolute_path, default=str(DEFAULT_STATE_DIR))
    arguments = parser.parse_args(argv)
    if not IN_CHECKOUT:
        out.write(
            f"error: the demo deploys this project's own app (app.py, config/, sample data), which this "
            f"installed copy ({PROJECT_ROOT}) does not have: run `make demo` in a checkout of "
            "personalize-domain-cdk; for your own CDK app, `personalize-local deploy` in its folder\n"
        )
        return 2
    try:
        ensure_sample_data(arguments.env, arguments.rows, out)
        state, services = deploy_environment(
            arguments.env,
            cdk_out=arguments.cdk_out,
            state_dir=arguments.state_dir,
            options=DeployOptions(query_interval=1.0),
            out=out,
        )
    except DeployFailedError as error:
        out.write(f"\nThe demo deploy failed ({error.final_status}): {error}\n")
        return 1
    except (LocalDeployError, ConfigError) as error:
        out.write(f"error: {error}\n")
        return 2
    close_the_loop(state.outputs, services.endpoints, out)
    sample = load_environment(arguments.env, check_data=False).local_data_path
    if sample is not None:
        try:
            rehearse_incoming(state.outputs, services.endpoints, StateStore(arguments.state_dir), sample, out)
        except LocalDeployError as error:
            out.write(f"error: {error}\n")
            return 1
    out.write(guide(state, services, arguments.state_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
