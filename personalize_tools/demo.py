"""`make demo`: deploy the whole app to a local AWS and show what it made. No AWS account needed.

It writes the sample interactions file the environment uploads if it is missing, synthesizes the
environment, starts moto's server and the Personalize emulator in the background (paced in seconds, so
statuses visibly go CREATE PENDING → CREATE IN_PROGRESS → ACTIVE), deploys through the real
custom-resource lifecycle, prints the stack events and what now exists, and says how to look around.
The services keep running afterwards; `make destroy` deletes the stack, `make demo-stop` stops them.
Running it again is an update ("No changes" unless the config changed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from config import ConfigError, load_environment
from personalize_tools.cli_common import add_version, program
from personalize_tools.localdeploy.cli import (
    DEFAULT_CDK_OUT,
    DEFAULT_STATE_DIR,
    absolute_path,
    deploy_environment,
)
from personalize_tools.localdeploy.engine import DeployOptions
from personalize_tools.localdeploy.errors import DeployFailedError, LocalDeployError
from personalize_tools.localdeploy.services import LocalServices
from personalize_tools.localdeploy.state import StackState
from personalize_tools.sample_data import write_environment_samples

DEMO_ROWS = 20_000  # enough View and Purchase events for every ECOMMERCE recommender


def ensure_sample_data(environment: str, rows: int, out: TextIO) -> None:
    """Write the environment's local data files (interactions, and users and items if it has them) with
    the sample generator where they do not exist yet.

    The config is read without its data check, which is exactly what would fail here.
    """
    config = load_environment(environment, check_data=False)
    for sample in write_environment_samples(config, rows=rows):
        if sample.action != "exists":
            out.write(f"Sample data: {sample.detail}\n")


def guide(state: StackState, services: LocalServices, state_dir: Path) -> str:
    """How to look at what the demo made, with the AWS CLI and with boto3."""
    endpoints = services.endpoints
    import_job = state.outputs.get("InteractionsImportJobArn", "ARN")
    bucket = state.outputs.get("DataBucketName", "BUCKET")
    return f"""
The local AWS keeps running, so you can look around:
{services.describe()}

  source {state_dir / "env.sh"}   # dummy credentials and the endpoint URLs, for the AWS CLI and boto3
  .venv/bin/aws personalize list-dataset-groups
  .venv/bin/aws personalize describe-dataset-import-job --dataset-import-job-arn {import_job}
  .venv/bin/aws s3 ls s3://{bucket}/ --recursive
  curl -s {endpoints.personalize}/_emulator/state     # everything the emulator holds

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
        prog=program("personalize-demo", "personalize_tools.demo"), description=__doc__.splitlines()[0]
    )
    add_version(parser)
    parser.add_argument("--env", default="dev", help="environment to deploy (default dev)")
    parser.add_argument("--rows", type=int, default=DEMO_ROWS, help="rows of sample data to write if missing")
    parser.add_argument("--cdk-out", type=absolute_path, default=str(DEFAULT_CDK_OUT))
    parser.add_argument("--state-dir", type=absolute_path, default=str(DEFAULT_STATE_DIR))
    arguments = parser.parse_args(argv)
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
    out.write(guide(state, services, arguments.state_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
