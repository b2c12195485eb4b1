"""Each request's region comes from its SigV4 credential scope, as at AWS's regional endpoints.

One emulator serves every region: ARNs carry the signing region, and a region sees only its own
resources and quotas. An unsigned request (no Authorization header) falls back to the server's
default region.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain_rules
from personalize_tools.emulator import EmulatorServer
from personalize_tools.emulator.__main__ import build_parser
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
    for index in range(domain_rules.MAX_DATASET_GROUPS):
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


def scoped(region: str, service: str = "personalize") -> str:
    return f"AKIDEXAMPLE/20250101/{region}/{service}/aws4_request"


def header(credential: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host;x-amz-date, Signature=abc"


def presigned_query(credential: str) -> str:
    return urllib.parse.urlencode(
        {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": credential,
            "X-Amz-Date": "20250101T000000Z",
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Signature": "abc",
        }
    )


def post(emulator: EmulatorServer, headers: dict[str, str], query: str = "") -> tuple[int, dict[str, Any]]:
    """CreateDatasetGroup with hand-made signing parts (botocore only makes valid ones)."""
    request = urllib.request.Request(
        f"{emulator.url}/{'?' + query if query else ''}",
        data=b'{"name": "signed"}',
        method="POST",
        headers={
            "X-Amz-Target": "AmazonPersonalize.CreateDatasetGroup",
            "Content-Type": "application/x-amz-json-1.1",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_signing_region_reads_the_credential_scope() -> None:
    assert signing_region(header(scoped("ap-southeast-2"))) == "ap-southeast-2"
    assert signing_region(None) is None
    assert signing_region(None, presigned_query(scoped("eu-west-1"))) == "eu-west-1"
    assert signing_region(None, "unrelated=1") is None


def test_a_presigned_request_uses_its_query_scope(clean_emulator: EmulatorServer) -> None:
    status, body = post(clean_emulator, {}, presigned_query(scoped("eu-west-1")))
    assert (status, body["datasetGroupArn"]) == (
        200,
        "arn:aws:personalize:eu-west-1:123456789012:dataset-group/signed",
    )


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ({"Authorization": "AWS4-HMAC-SHA256 garbage"}, "", (400, "IncompleteSignatureException")),
        ({"Authorization": "Bearer token"}, "", (400, "IncompleteSignatureException")),
        ({"Authorization": header("AKID/20250101/us-east-1")}, "", (400, "IncompleteSignatureException")),
        ({"Authorization": header("AKID " + scoped("us-east-1"))}, "", (400, "IncompleteSignatureException")),
        ({}, "X-Amz-Credential=" + scoped("eu-west-1"), (400, "IncompleteSignatureException")),
        ({"Authorization": header(scoped("mars-west-9"))}, "", (403, "InvalidSignatureException")),
        ({"Authorization": header(scoped("us-east-1", "s3"))}, "", (403, "InvalidSignatureException")),
        ({}, presigned_query(scoped("us-east-1x")), (403, "InvalidSignatureException")),
    ],
    ids=[
        "malformed",
        "other-scheme",
        "short-scope",
        "space-in-key",
        "partial-presign",
        "no-such-region",
        "other-service",
        "presigned-bad-region",
    ],
)
def test_requests_aws_would_not_authenticate_are_refused_before_anything_runs(
    clean_emulator: EmulatorServer, headers: dict[str, str], query: str, expected: tuple[int, str]
) -> None:
    status, body = post(clean_emulator, headers, query)

    assert (status, body["__type"]) == expected, body
    assert "datasetGroupArn" not in body
    assert clean_emulator.state()["resources"]["dataset_group"] == []  # nothing created in any region


def test_a_client_for_a_region_without_personalize_is_refused(clean_emulator: EmulatorServer) -> None:
    with pytest.raises(ClientError) as error:
        client(clean_emulator, "eu-south-2").list_dataset_groups()
    assert error.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "not 'eu-south-2'" in error.value.response["Error"]["Message"]


def test_the_cli_default_region_must_be_a_personalize_region(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args(["--region", "eu-west-1"]).region == "eu-west-1"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--region", "mars-west-9"])
    assert "invalid choice: 'mars-west-9'" in capsys.readouterr().err
