"""Import jobs read from (moto) S3: headers, counts, failures, modes, and what recommenders need."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambda_handlers.personalize import domain, domain_rules, kinds
from personalize_tools.emulator import EmulatorServer, Pace
from personalize_tools.emulator.imports import CHUNK_BYTES, read_import
from tests.emulator.support import (
    ROLE_ARN,
    active_dataset,
    active_group,
    import_job,
    interactions_csv,
    resources,
    settle,
    statuses_until_settled,
)


@pytest.fixture
def interactions(clean_emulator: EmulatorServer, personalize: Any) -> str:
    """An ACTIVE Interactions dataset in an ACTIVE ECOMMERCE group, in a clean emulator."""
    return active_dataset(personalize, active_group(personalize, "imports"), "imports-interactions")


def dataset_state(emulator: EmulatorServer, dataset_arn: str) -> dict[str, Any]:
    return resources(emulator.state(), "dataset")[dataset_arn]


def test_full_import_counts_records_and_event_types(
    clean_emulator: EmulatorServer, personalize: Any, interactions: str, s3: Any, s3_bucket: str
) -> None:
    body = interactions_csv(1500, event_types=("View", "Purchase"))
    s3.put_object(Bucket=s3_bucket, Key="data/interactions.csv", Body=body)
    job_arn = import_job(personalize, interactions, "full", f"s3://{s3_bucket}/data/interactions.csv")
    assert statuses_until_settled(personalize, "import_job", job_arn) == [
        kinds.CREATE_PENDING,
        kinds.CREATE_IN_PROGRESS,
        kinds.ACTIVE,
    ]
    job = personalize.describe_dataset_import_job(datasetImportJobArn=job_arn)["datasetImportJob"]
    assert (job["importMode"], job["roleArn"], job["datasetArn"]) == ("FULL", ROLE_ARN, interactions)
    assert job["dataSource"] == {"dataLocation": f"s3://{s3_bucket}/data/interactions.csv"}
    assert "failureReason" not in job
    state = dataset_state(clean_emulator, interactions)
    assert state["records"] == 1500
    views = body.count(b",View\n")
    assert state["eventTypes"] == {"View": views, "Purchase": 1500 - views}


def test_folder_import_reads_every_object_under_the_prefix(
    clean_emulator: EmulatorServer, personalize: Any, interactions: str, s3: Any, s3_bucket: str
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="batch/", Body=b"")
    s3.put_object(Bucket=s3_bucket, Key="batch/part-1.csv", Body=interactions_csv(700, seed=1))
    s3.put_object(Bucket=s3_bucket, Key="batch/part-2.csv", Body=interactions_csv(600, seed=2))
    s3.put_object(Bucket=s3_bucket, Key="elsewhere.csv", Body=interactions_csv(5000, seed=3))
    job_arn = import_job(personalize, interactions, "folder", f"s3://{s3_bucket}/batch/")
    assert settle(personalize, "import_job", job_arn)["status"] == kinds.ACTIVE
    assert dataset_state(clean_emulator, interactions)["records"] == 1300


def test_missing_columns_fail_with_the_documented_reason(
    clean_emulator: EmulatorServer, personalize: Any, interactions: str, s3: Any, s3_bucket: str
) -> None:
    s3.put_object(
        Bucket=s3_bucket, Key="short.csv", Body=interactions_csv(1200, header=("USER_ID", "ITEM_ID"))
    )
    job = settle(
        personalize,
        "import_job",
        import_job(personalize, interactions, "short", f"s3://{s3_bucket}/short.csv"),
    )
    assert job["status"] == kinds.CREATE_FAILED
    assert job["failureReason"] == domain_rules.reason_missing_columns(["TIMESTAMP", "EVENT_TYPE"])
    assert "records" not in dataset_state(clean_emulator, interactions)


@pytest.mark.parametrize(
    ("location", "role"),
    [
        ("s3://{bucket}/absent.csv", True),
        ("s3://no-such-bucket-here/i.csv", True),
        ("s3://{bucket}/i.csv", False),
    ],
    ids=["no-such-key", "no-such-bucket", "no-role"],
)
def test_unreadable_data_fails_with_the_s3_access_reason(
    clean_emulator: EmulatorServer,
    personalize: Any,
    interactions: str,
    s3: Any,
    s3_bucket: str,
    location: str,
    role: bool,
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000))
    job_arn = import_job(
        personalize, interactions, "unreadable", location.format(bucket=s3_bucket), role=role
    )
    job = settle(personalize, "import_job", job_arn)
    assert (job["status"], job["failureReason"]) == (kinds.CREATE_FAILED, domain_rules.REASON_S3_ACCESS)


def test_empty_folder_is_an_invalid_location(
    clean_emulator: EmulatorServer, personalize: Any, interactions: str, s3_bucket: str
) -> None:
    job = settle(
        personalize, "import_job", import_job(personalize, interactions, "empty", f"s3://{s3_bucket}/none/")
    )
    assert job["failureReason"] == domain.REASON_INVALID_LOCATION


def test_too_few_interactions_fail(
    clean_emulator: EmulatorServer, personalize: Any, interactions: str, s3: Any, s3_bucket: str
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="few.csv", Body=interactions_csv(domain.MIN_INTERACTIONS - 1))
    job = settle(
        personalize, "import_job", import_job(personalize, interactions, "few", f"s3://{s3_bucket}/few.csv")
    )
    assert job["status"] == kinds.CREATE_FAILED
    assert job["failureReason"] == domain_rules.reason_too_few_records(domain.MIN_INTERACTIONS - 1)


def test_full_replaces_and_incremental_adds(
    clean_emulator: EmulatorServer, personalize: Any, interactions: str, s3: Any, s3_bucket: str
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="a.csv", Body=interactions_csv(1100, seed=1))
    s3.put_object(Bucket=s3_bucket, Key="b.csv", Body=interactions_csv(1000, seed=2))
    steps = [
        ("first", "a.csv", "FULL", 1100),
        ("delta", "b.csv", "INCREMENTAL", 2100),
        ("again", "b.csv", "FULL", 1000),
    ]
    for name, key, mode, expected in steps:
        job_arn = import_job(personalize, interactions, name, f"s3://{s3_bucket}/{key}", mode=mode)
        assert settle(personalize, "import_job", job_arn)["status"] == kinds.ACTIVE
        assert dataset_state(clean_emulator, interactions)["records"] == expected
    summaries = personalize.list_dataset_import_jobs(datasetArn=interactions)["datasetImportJobs"]
    assert [(job["jobName"], job["importMode"]) for job in summaries] == [
        ("first", "FULL"),
        ("delta", "INCREMENTAL"),
        ("again", "FULL"),
    ]


def test_recommenders_need_enough_interactions_of_their_event_type(
    clean_emulator: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    group_arn = active_group(personalize, "training")
    dataset_arn = active_dataset(personalize, group_arn, "training-interactions")
    s3.put_object(Bucket=s3_bucket, Key="views.csv", Body=interactions_csv(1000, event_types=("View",)))
    assert (
        settle(
            personalize,
            "import_job",
            import_job(personalize, dataset_arn, "views", f"s3://{s3_bucket}/views.csv"),
        )["status"]
        == kinds.ACTIVE
    )
    by_views = domain.RECIPES["aws-ecomm-popular-items-by-views"].arn
    by_purchases = domain.RECIPES["aws-ecomm-popular-items-by-purchases"].arn
    good = personalize.create_recommender(name="by-views", datasetGroupArn=group_arn, recipeArn=by_views)
    bad = personalize.create_recommender(
        name="by-purchases", datasetGroupArn=group_arn, recipeArn=by_purchases
    )
    assert settle(personalize, "recommender", good["recommenderArn"])["status"] == kinds.ACTIVE
    failed = settle(personalize, "recommender", bad["recommenderArn"])
    assert (failed["status"], failed["failureReason"]) == (
        kinds.CREATE_FAILED,
        domain_rules.reason_too_few_interactions("Purchase"),
    )


def test_reading_streams_in_chunks(moto_server: str, s3: Any, s3_bucket: str) -> None:
    """The reader asks S3's body for fixed-size chunks, never for the whole object at once."""
    body = interactions_csv(20_000)
    assert len(body) > 4 * CHUNK_BYTES
    s3.put_object(Bucket=s3_bucket, Key="big.csv", Body=body)
    reads: list[int | None] = []

    def spy_on_body(parsed: dict[str, Any], **_: Any) -> None:
        raw = parsed["Body"]._raw_stream
        original = raw.read

        def read(amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
            reads.append(amt)
            return bytes(original(amt, *args, **kwargs))

        raw.read = read

    client = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    client.meta.events.register("after-call.s3.GetObject", spy_on_body)
    result = read_import(f"s3://{s3_bucket}/big.csv", ["USER_ID", "EVENT_TYPE"], "EVENT_TYPE", lambda: client)
    assert result.data is not None
    assert result.data.records == 20_000
    assert None not in reads
    assert max(amount for amount in reads if amount is not None) <= CHUNK_BYTES
    assert len(reads) > 4


@pytest.fixture
def unreachable_s3() -> Iterator[EmulatorServer]:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EmulatorServer(pace=Pace.instant(), s3_endpoint_url=f"http://127.0.0.1:{port}") as server:
        yield server


def test_connection_errors_fail_with_the_s3_access_reason(unreachable_s3: EmulatorServer) -> None:
    client = boto3.client("personalize", endpoint_url=unreachable_s3.url, region_name="us-east-1")
    group_arn = client.create_dataset_group(name="offline", domain="ECOMMERCE")["datasetGroupArn"]
    settle(client, "dataset_group", group_arn)
    schema = client.create_schema(
        name="offline", schema=domain_rules.default_schema_json("ECOMMERCE"), domain="ECOMMERCE"
    )
    dataset_arn = client.create_dataset(
        name="offline", schemaArn=schema["schemaArn"], datasetGroupArn=group_arn, datasetType="INTERACTIONS"
    )["datasetArn"]
    settle(client, "dataset", dataset_arn)
    job = settle(client, "import_job", import_job(client, dataset_arn, "offline", "s3://bucket/i.csv"))
    assert (job["status"], job["failureReason"]) == (kinds.CREATE_FAILED, domain_rules.REASON_S3_ACCESS)
