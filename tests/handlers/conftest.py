"""Fixtures for the handler tests: the handlers' own boto3 clients aimed at the emulator and moto.

The handlers build their clients from the environment, as in Lambda; `handlers` points
AWS_ENDPOINT_URL_PERSONALIZE / AWS_ENDPOINT_URL_S3 at the test servers and resets the cached
clients around each test. The prerequisite fixtures create their resources through the handlers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lambda_handlers.personalize import clients
from personalize_tools.emulator import EmulatorServer

from .support import drive, event, interactions_csv


@pytest.fixture
def handlers(
    clean_emulator: EmulatorServer, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EmulatorServer]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_PERSONALIZE", clean_emulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    clients.reset_clients()
    yield clean_emulator
    clients.reset_clients()


@pytest.fixture
def group_arn(handlers: EmulatorServer) -> str:
    return drive(event("dataset_group_create")).physical_id


@pytest.fixture
def schema_arn(handlers: EmulatorServer) -> str:
    return drive(event("schema_create")).physical_id


@pytest.fixture
def dataset_arn(group_arn: str, schema_arn: str) -> str:
    return drive(event("dataset_create")).physical_id


@pytest.fixture
def data_location(s3: Any, s3_bucket: str) -> str:
    """A valid Interactions CSV with enough rows for the emulator to import it."""
    s3.put_object(Bucket=s3_bucket, Key="interactions/interactions.csv", Body=interactions_csv())
    return f"s3://{s3_bucket}/interactions/interactions.csv"
