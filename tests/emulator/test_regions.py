"""Each request's region comes from its SigV4 credential scope, as at AWS's regional endpoints.

One emulator serves every region: ARNs carry the signing region, and a region sees only its own
resources and quotas. An unsigned request (no Authorization header) falls back to the server's
default region.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain
from personalize_tools.emulator import EmulatorServer
from personalize_tools.emulator.signing import signing_region
from tests.emulator.support import active_dataset, active_group, raw_call


def client(emulator: EmulatorServer, region: str) -> Any:
    return boto3.client(
        "personalize",
        endpoint_url=emulator.url,
        region_name=region,
        config=Config(retries={"mode": "standard"}),
    )


def test_arns_carry_the_signing_region_and_regions_are_separate(clean_emulator: EmulatorServer) -> None:
    east, west = client(clean_emulator, "us-east-1"), client(clean_emulator, "eu-west-1")

    east_group = active_group(east, "shop")
    west_group = active_group(west, "shop")  # the same name is free in another region
    west_dataset = active_dataset(west, west_group, "shop-interactions")
    tracker = west.create_event_tracker(name="shop", datasetGroupArn=west_group)["eventTrackerArn"]

    assert east_group == "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
    assert west_group == "arn:aws:personalize:eu-west-1:123456789012:dataset-group/shop"
    assert west_dataset.startswith("arn:aws:personalize:eu-west-1:123456789012:dataset/shop/")
    assert tracker.startswith("arn:aws:personalize:eu-west-1:")
    assert [g["datasetGroupArn"] for g in east.list_dataset_groups()["datasetGroups"]] == [east_group]
    assert [g["datasetGroupArn"] for g in west.list_dataset_groups()["datasetGroups"]] == [west_group]
    assert [s["schemaArn"] for s in east.list_schemas()["schemas"]] == []
    with pytest.raises(ClientError) as error:
        east.describe_dataset_group(datasetGroupArn=west_group)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_quotas_are_per_region(clean_emulator: EmulatorServer) -> None:
    east, west = client(clean_emulator, "us-east-1"), client(clean_emulator, "us-west-2")
    for index in range(domain.MAX_DATASET_GROUPS):
        east.create_dataset_group(name=f"full-{index}")
    with pytest.raises(ClientError) as error:
        east.create_dataset_group(name="one-too-many")
    assert error.value.response["Error"]["Code"] == "LimitExceededException"

    assert ":us-west-2:" in west.create_dataset_group(name="elsewhere")["datasetGroupArn"]


def test_unsigned_requests_use_the_default_region(clean_emulator: EmulatorServer) -> None:
    status, body, _ = raw_call(
        clean_emulator.url, "AmazonPersonalize.CreateDatasetGroup", '{"name": "unsigned"}'
    )
    assert status == 200
    assert body["datasetGroupArn"].startswith("arn:aws:personalize:us-east-1:")


def test_signing_region_reads_the_credential_scope() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/ap-southeast-2/personalize/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    assert signing_region(header) == "ap-southeast-2"
    assert signing_region(None) is None
    assert signing_region("Bearer token") is None
