"""The boto3 clients the handlers share, created once per Lambda container.

boto3 resolves `AWS_ENDPOINT_URL_PERSONALIZE` / `AWS_ENDPOINT_URL_S3` by itself, so the local
deployer and the tests reach the emulator and moto with exactly the code that runs in AWS.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config

USER_AGENT = "personalize-domain-cdk/custom-resources"

# Personalize's control plane throttles without documenting its rate: standard (exponential,
# jittered) backoff with 8 retries after the first try (botocore's `max_attempts` counts retries)
# rides out bursts that the default two retries do not. AWS_MAX_ATTEMPTS, botocore's own variable
# for the total number of tries, overrides it (tests use it to exhaust retries without backing off).
MAX_RETRIES = 8


def retrying() -> Config:
    total = os.environ.get("AWS_MAX_ATTEMPTS")
    attempts = {"total_max_attempts": int(total)} if total else {"max_attempts": MAX_RETRIES}
    return Config(retries={"mode": "standard", **attempts}, user_agent_extra=USER_AGENT)


# CreateDatasetImportJob answers LimitExceededException while five imports run, and standard
# retries treat that code as throttling: eight retries would burn about 45 s of backoff on a
# limit that lasts minutes. One try, and the handler defers the create to is_complete instead.
SINGLE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1}, user_agent_extra=USER_AGENT)


@functools.cache
def personalize() -> Any:
    return boto3.client("personalize", config=retrying())


@functools.cache
def personalize_single_attempt() -> Any:
    return boto3.client("personalize", config=SINGLE_ATTEMPT)


@functools.cache
def s3() -> Any:
    return boto3.client("s3", config=retrying())


@functools.cache
def stepfunctions() -> Any:
    """Starts the import state machine for deploy-time waits above an hour (docs/event-imports.md)."""
    return boto3.client("stepfunctions", config=retrying())


def reset_clients() -> None:
    """Forget the cached clients, so the next call picks up changed endpoint variables (tests)."""
    for factory in (personalize, personalize_single_attempt, s3, stepfunctions):
        factory.cache_clear()
