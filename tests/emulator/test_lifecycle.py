"""Status lifecycles and ARN formats, observed through Describe in stepwise, instant and paced modes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain, domain_rules, kinds
from personalize_tools.emulator import EmulatorServer, ManualClock, Pace
from tests.emulator.support import (
    active_dataset,
    active_group,
    import_job,
    interactions_csv,
    settle,
    statuses_until_gone,
    statuses_until_settled,
)

ACCOUNT_ARN = "arn:aws:personalize:us-east-1:123456789012:"
CREATE_SEQUENCE = [kinds.CREATE_PENDING, kinds.CREATE_IN_PROGRESS, kinds.ACTIVE]


def test_stepwise_create_shows_every_status_once(clean_emulator: EmulatorServer, personalize: Any) -> None:
    arn = personalize.create_dataset_group(name="steps", domain="ECOMMERCE")["datasetGroupArn"]
    assert statuses_until_settled(personalize, "dataset_group", arn) == CREATE_SEQUENCE
    group = personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    assert group["status"] == kinds.ACTIVE
    assert "failureReason" not in group
    assert group["lastUpdatedDateTime"] >= group["creationDateTime"]


def test_arn_formats_and_tracking_id(
    clean_emulator: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    group_arn = active_group(personalize, "shop")
    assert group_arn == ACCOUNT_ARN + "dataset-group/shop"
    dataset_arn = active_dataset(personalize, group_arn, "shop-interactions", dataset_type="Interactions")
    assert dataset_arn == ACCOUNT_ARN + "dataset/shop/INTERACTIONS"
    dataset = personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]
    assert dataset["datasetType"] == "INTERACTIONS"
    assert dataset["schemaArn"] == ACCOUNT_ARN + "schema/shop-interactions-schema"
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000))
    job_arn = import_job(personalize, dataset_arn, "shop-import", f"s3://{s3_bucket}/i.csv")
    assert job_arn == ACCOUNT_ARN + "dataset-import-job/shop-import"
    tracker = personalize.create_event_tracker(name="shop-tracker", datasetGroupArn=group_arn)
    assert re.fullmatch(re.escape(ACCOUNT_ARN) + r"event-tracker/[0-9a-f]{8}", tracker["eventTrackerArn"])
    assert str(uuid.UUID(tracker["trackingId"])) == tracker["trackingId"]
    described = settle(personalize, "event_tracker", tracker["eventTrackerArn"])
    assert (described["name"], described["accountId"]) == ("shop-tracker", "123456789012")
    recipe = domain_rules.recipes_for("ECOMMERCE")[0].arn
    recommender = personalize.create_recommender(name="shop-rec", datasetGroupArn=group_arn, recipeArn=recipe)
    assert recommender["recommenderArn"] == ACCOUNT_ARN + "recommender/shop-rec"


def test_deletes_walk_their_chains_then_describe_raises_not_found(
    clean_emulator: EmulatorServer, personalize: Any
) -> None:
    group_arn = active_group(personalize, "doomed")
    dataset_arn = active_dataset(personalize, group_arn, "doomed-items", dataset_type="ITEMS")
    personalize.delete_dataset(datasetArn=dataset_arn)
    seen = statuses_until_gone(personalize, "dataset", dataset_arn)
    assert seen == [kinds.DELETE_PENDING, kinds.DELETE_IN_PROGRESS]
    personalize.delete_dataset_group(datasetGroupArn=group_arn)
    assert statuses_until_gone(personalize, "dataset_group", group_arn) == [kinds.DELETE_PENDING]
    assert personalize.list_dataset_groups()["datasetGroups"] == []


def test_schemas_have_no_status_and_delete_at_once(clean_emulator: EmulatorServer, personalize: Any) -> None:
    arn = personalize.create_schema(name="plain", schema=domain_rules.default_schema_json("VIDEO_ON_DEMAND"))[
        "schemaArn"
    ]
    schema = personalize.describe_schema(schemaArn=arn)["schema"]
    assert "status" not in schema
    assert "domain" not in schema  # created without one
    personalize.delete_schema(schemaArn=arn)
    with pytest.raises(ClientError) as error:
        personalize.describe_schema(schemaArn=arn)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_update_dataset_reports_latest_update_and_switches_schema(
    clean_emulator: EmulatorServer, personalize: Any
) -> None:
    group_arn = active_group(personalize, "evolving")
    dataset_arn = active_dataset(personalize, group_arn, "evolving-users", dataset_type="USERS")
    assert "latestDatasetUpdate" not in personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]
    wider = domain_rules.default_schema("ECOMMERCE", "USERS")
    wider["fields"].append({"name": "AGE_BAND", "type": ["null", "string"], "categorical": True})
    new_schema = personalize.create_schema(name="wider", schema=json.dumps(wider), domain="ECOMMERCE")
    personalize.update_dataset(datasetArn=dataset_arn, schemaArn=new_schema["schemaArn"])
    updates = []
    for _ in range(3):
        dataset = personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]
        assert dataset["status"] == kinds.ACTIVE
        updates.append(dataset["latestDatasetUpdate"])
    assert [update["status"] for update in updates] == [
        kinds.UPDATE_PENDING,
        kinds.UPDATE_IN_PROGRESS,
        kinds.ACTIVE,
    ]
    assert all(update["schemaArn"] == new_schema["schemaArn"] for update in updates)
    assert "failureReason" not in updates[-1]
    assert dataset["schemaArn"] == new_schema["schemaArn"]
    assert updates[0]["creationDateTime"] <= updates[-1]["lastUpdatedDateTime"]


def test_recommender_stop_start_and_update(
    clean_emulator: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    group_arn = active_group(personalize, "recs")
    dataset_arn = active_dataset(personalize, group_arn, "recs-interactions")
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000, event_types=("View",)))
    job = import_job(personalize, dataset_arn, "recs-import", f"s3://{s3_bucket}/i.csv")
    assert settle(personalize, "import_job", job)["status"] == kinds.ACTIVE
    recipe = domain.RECIPES["aws-ecomm-popular-items-by-views"].arn
    arn = personalize.create_recommender(name="popular", datasetGroupArn=group_arn, recipeArn=recipe)[
        "recommenderArn"
    ]
    assert statuses_until_settled(personalize, "recommender", arn) == CREATE_SEQUENCE

    personalize.stop_recommender(recommenderArn=arn)
    assert statuses_until_settled(personalize, "recommender", arn) == [
        kinds.STOP_PENDING,
        kinds.STOP_IN_PROGRESS,
        kinds.INACTIVE,
    ]
    personalize.start_recommender(recommenderArn=arn)
    assert statuses_until_settled(personalize, "recommender", arn) == [
        kinds.START_PENDING,
        kinds.START_IN_PROGRESS,
        kinds.ACTIVE,
    ]
    personalize.update_recommender(
        recommenderArn=arn, recommenderConfig={"minRecommendationRequestsPerSecond": 2}
    )
    latest = [personalize.describe_recommender(recommenderArn=arn)["recommender"] for _ in range(3)]
    # RecommenderUpdateSummary: "CREATE PENDING > CREATE IN_PROGRESS > ACTIVE -or- CREATE FAILED"; the
    # recommender stays ACTIVE on its previous configuration until the update completes.
    assert [item["latestRecommenderUpdate"]["status"] for item in latest] == CREATE_SEQUENCE
    assert [item["status"] for item in latest] == [kinds.ACTIVE] * 3
    assert [
        item.get("recommenderConfig", {}).get("minRecommendationRequestsPerSecond") for item in latest
    ] == [
        None,
        None,
        2,
    ]
    assert all(
        item["latestRecommenderUpdate"]["recommenderConfig"] == {"minRecommendationRequestsPerSecond": 2}
        for item in latest
    )
    with pytest.raises(ClientError) as error:
        personalize.start_recommender(recommenderArn=arn)
    assert error.value.response["Error"]["Code"] == "ResourceInUseException"


@pytest.fixture
def instant(moto_server: str) -> Iterator[tuple[EmulatorServer, Any]]:
    with EmulatorServer(pace=Pace.instant(), s3_endpoint_url=moto_server) as server:
        yield server, boto3.client("personalize", endpoint_url=server.url, region_name="us-east-1")


def test_instant_pace_is_active_at_the_first_describe_even_for_imports(
    instant: tuple[EmulatorServer, Any], s3: Any, s3_bucket: str
) -> None:
    server, client = instant
    group_arn = client.create_dataset_group(name="quick", domain="ECOMMERCE")["datasetGroupArn"]
    assert client.describe_dataset_group(datasetGroupArn=group_arn)["datasetGroup"]["status"] == kinds.ACTIVE
    schema_arn = client.create_schema(
        name="quick", schema=domain_rules.default_schema_json("ECOMMERCE"), domain="ECOMMERCE"
    )
    dataset_arn = client.create_dataset(
        name="quick", schemaArn=schema_arn["schemaArn"], datasetGroupArn=group_arn, datasetType="INTERACTIONS"
    )["datasetArn"]
    assert client.describe_dataset(datasetArn=dataset_arn)["dataset"]["status"] == kinds.ACTIVE
    s3.put_object(Bucket=s3_bucket, Key="quick.csv", Body=interactions_csv(1234))
    job_arn = import_job(client, dataset_arn, "quick", f"s3://{s3_bucket}/quick.csv")
    job = client.describe_dataset_import_job(datasetImportJobArn=job_arn)["datasetImportJob"]
    assert job["status"] == kinds.ACTIVE
    dataset_state = next(iter(server.state()["resources"]["dataset"]))
    assert dataset_state["records"] == 1234  # reading finished before the job turned ACTIVE


def test_paced_mode_follows_the_clock(moto_server: str) -> None:
    clock = ManualClock()
    pace = Pace.fast().with_durations({"dataset_group": 10.0, "delete": 4.0})
    with EmulatorServer(pace=pace, clock=clock, s3_endpoint_url=moto_server) as server:
        client = boto3.client("personalize", endpoint_url=server.url, region_name="us-east-1")
        arn = client.create_dataset_group(name="paced")["datasetGroupArn"]

        def group() -> dict[str, Any]:
            described: dict[str, Any] = client.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
            return described

        created = group()
        assert created["status"] == kinds.CREATE_PENDING
        assert group()["status"] == kinds.CREATE_PENDING  # Describe alone does not move a paced resource
        clock.advance(4.9)
        assert group()["status"] == kinds.CREATE_PENDING
        clock.advance(0.1)
        assert group()["status"] == kinds.CREATE_IN_PROGRESS
        clock.advance(5)
        active = group()
        assert active["status"] == kinds.ACTIVE
        assert active["lastUpdatedDateTime"].timestamp() == pytest.approx(
            created["creationDateTime"].timestamp() + 10
        )
        client.delete_dataset_group(datasetGroupArn=arn)
        assert group()["status"] == kinds.DELETE_PENDING
        clock.advance(4)
        assert client.list_dataset_groups()["datasetGroups"] == []
