"""Where the local AWS lives and how to talk to it: the Personalize emulator plus moto for everything else."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

DEFAULT_ACCOUNT = "123456789012"  # moto's default account; the emulator uses the same
DEFAULT_REGION = "us-east-1"
DUMMY_ACCESS_KEY = "testing"
DUMMY_SECRET_KEY = "testing"
# The emulator serves all three on one endpoint (docs/emulator.md).
PERSONALIZE_SERVICES = ("personalize", "personalize-events", "personalize-runtime")
CLIENT_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=60)


@dataclass(frozen=True)
class Endpoints:
    """Personalize goes to the emulator; S3, IAM, STS and KMS go to moto's server."""

    personalize: str
    aws: str
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT

    def client(self, service: str) -> Any:
        """A boto3 client with dummy credentials, so nothing can reach a real account."""
        return boto3.session.Session(
            aws_access_key_id=DUMMY_ACCESS_KEY,
            aws_secret_access_key=DUMMY_SECRET_KEY,
            region_name=self.region,
        ).client(
            service,
            endpoint_url=self.personalize if service in PERSONALIZE_SERVICES else self.aws,
            config=CLIENT_CONFIG,
        )

    def assume_role(self, role_arn: str, session: str) -> dict[str, str]:
        """Temporary credentials of a role from moto's STS, as Lambda gives a function its execution role's
        (the session is the function's name, as in Lambda)."""
        credentials = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    def environment(self) -> dict[str, str]:
        """Variables that point unchanged boto3 code and the AWS CLI at the local services."""
        return {
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.aws,
            "AWS_ENDPOINT_URL_PERSONALIZE": self.personalize,
            "AWS_ENDPOINT_URL_PERSONALIZE_EVENTS": self.personalize,  # PutEvents/PutUsers/PutItems
            "AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME": self.personalize,  # GetRecommendations
            "AWS_ENDPOINT_URL_S3": self.aws,
        }

    def handler_environment(self) -> dict[str, str]:
        """The environment for handler processes: the above, with profiles and config files hidden."""
        return {
            **self.environment(),
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
