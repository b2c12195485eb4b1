"""Service-side rules: uniqueness, dependencies, statuses that gate requests, quotas, schemas, tags."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain, domain_rules, kinds
from personalize_tools.emulator import EmulatorServer
from tests.emulator.support import (
    ROLE_ARN,
    active_dataset,
    active_group,
    import_job,
    interactions_csv,
    settle,
    statuses_until_gone,
)


def fails_with(code: str, call: Any, **params: Any) -> str:
    """Run the call, require the error code, return the message."""
    with pytest.raises(ClientError) as error:
        call(**params)
    assert error.value.response["Error"]["Code"] == code, error.value.response["Error"]
    return str(error.value.response["Error"]["Message"])


def test_dataset_needs_an_active_group(clean_emulator: EmulatorServer, personalize: Any) -> None:
    group_arn = personalize.create_dataset_group(name="young", domain="ECOMMERCE")["datasetGroupArn"]
    schema_arn = personalize.create_schema(
        name="young", schema=domain_rules.default_schema_json("ECOMMERCE"), domain="ECOMMERCE"
    )["schemaArn"]
    params = {
        "name": "d",
        "schemaArn": schema_arn,
        "datasetGroupArn": group_arn,
        "datasetType": "INTERACTIONS",
    }
    message = fails_with("ResourceInUseException", personalize.create_dataset, **params)
    assert kinds.CREATE_PENDING in message
    settle(personalize, "dataset_group", group_arn)
    assert personalize.create_dataset(**params)["datasetArn"].endswith("dataset/young/INTERACTIONS")


def test_one_dataset_per_type_and_one_tracker_per_group(
    clean_emulator: EmulatorServer, personalize: Any
) -> None:
    group_arn = active_group(personalize, "single")
    first = active_dataset(personalize, group_arn, "first")
    schema_arn = personalize.describe_dataset(datasetArn=first)["dataset"]["schemaArn"]
    message = fails_with(
        "ResourceAlreadyExistsException",
        personalize.create_dataset,
        name="second",
        schemaArn=schema_arn,
        datasetGroupArn=group_arn,
        datasetType="interactions",
    )
    assert first in message
    personalize.create_event_tracker(name="tracker-1", datasetGroupArn=group_arn)
    fails_with(
        "ResourceAlreadyExistsException",
        personalize.create_event_tracker,
        name="tracker-2",
        datasetGroupArn=group_arn,
    )


def test_reused_names_collide(
    clean_emulator: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    group_arn = active_group(personalize, "named")
    fails_with("ResourceAlreadyExistsException", personalize.create_dataset_group, name="named")
    schema = domain_rules.default_schema_json("ECOMMERCE")
    personalize.create_schema(name="named", schema=schema, domain="ECOMMERCE")
    fails_with("ResourceAlreadyExistsException", personalize.create_schema, name="named", schema=schema)
    dataset_arn = active_dataset(personalize, group_arn, "named-interactions")
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000))
    import_job(personalize, dataset_arn, "named-job", f"s3://{s3_bucket}/i.csv")
    fails_with(
        "ResourceAlreadyExistsException",
        personalize.create_dataset_import_job,
        jobName="named-job",
        datasetArn=dataset_arn,
        dataSource={"dataLocation": f"s3://{s3_bucket}/i.csv"},
        roleArn=ROLE_ARN,
    )


def test_dataset_type_must_be_known(clean_emulator: EmulatorServer, personalize: Any) -> None:
    group_arn = active_group(personalize, "typed")
    schema_arn = personalize.create_schema(
        name="typed", schema=domain_rules.default_schema_json("ECOMMERCE"), domain="ECOMMERCE"
    )["schemaArn"]
    message = fails_with(
        "InvalidInputException",
        personalize.create_dataset,
        name="d",
        schemaArn=schema_arn,
        datasetGroupArn=group_arn,
        datasetType="CLICKS",
    )
    assert "INTERACTIONS" in message


def test_schema_rules_come_from_the_domain_module(clean_emulator: EmulatorServer, personalize: Any) -> None:
    broken = domain_rules.default_schema("ECOMMERCE")
    broken["fields"] = [field for field in broken["fields"] if field["name"] != "EVENT_TYPE"]
    message = fails_with(
        "InvalidInputException",
        personalize.create_schema,
        name="broken",
        schema=json.dumps(broken),
        domain="ECOMMERCE",
    )
    for problem in domain_rules.schema_problems(broken, "ECOMMERCE", "INTERACTIONS"):
        assert problem in message
    renamed = {**domain_rules.default_schema("ECOMMERCE"), "name": "Clicks"}
    assert "record name" in fails_with(
        "InvalidInputException", personalize.create_schema, name="renamed", schema=json.dumps(renamed)
    )
    fails_with("InvalidInputException", personalize.create_schema, name="garbage", schema="{not avro")


def test_schema_must_fit_the_dataset_type_and_group_domain(
    clean_emulator: EmulatorServer, personalize: Any
) -> None:
    group_arn = active_group(personalize, "vod", "VIDEO_ON_DEMAND")
    ecommerce = personalize.create_schema(
        name="ecommerce", schema=domain_rules.default_schema_json("ECOMMERCE"), domain="ECOMMERCE"
    )["schemaArn"]
    message = fails_with(
        "InvalidInputException",
        personalize.create_dataset,
        name="d",
        schemaArn=ecommerce,
        datasetGroupArn=group_arn,
        datasetType="INTERACTIONS",
    )
    assert "ECOMMERCE" in message
    assert "VIDEO_ON_DEMAND" in message
    users = personalize.create_schema(
        name="vod-users",
        schema=domain_rules.default_schema_json("VIDEO_ON_DEMAND", "USERS"),
        domain="VIDEO_ON_DEMAND",
    )["schemaArn"]
    message = fails_with(
        "InvalidInputException",
        personalize.create_dataset,
        name="d",
        schemaArn=users,
        datasetGroupArn=group_arn,
        datasetType="INTERACTIONS",
    )
    assert "'Interactions'" in message


def test_kms_key_needs_a_role(clean_emulator: EmulatorServer, personalize: Any) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert "roleArn" in fails_with(
        "InvalidInputException", personalize.create_dataset_group, name="k", kmsKeyArn=key
    )
    arn = personalize.create_dataset_group(name="k", kmsKeyArn=key, roleArn=ROLE_ARN)["datasetGroupArn"]
    group = personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
    assert (group["kmsKeyArn"], group["roleArn"]) == (key, ROLE_ARN)


def test_tag_limits(clean_emulator: EmulatorServer, personalize: Any) -> None:
    too_many = [{"tagKey": f"k{index}", "tagValue": "v"} for index in range(domain.MAX_TAGS + 1)]
    fails_with("TooManyTagsException", personalize.create_dataset_group, name="tags", tags=too_many)
    assert personalize.list_dataset_groups()["datasetGroups"] == []
    arn = personalize.create_dataset_group(name="tags", tags=too_many[: domain.MAX_TAGS])["datasetGroupArn"]
    fails_with(
        "TooManyTagsException",
        personalize.tag_resource,
        resourceArn=arn,
        tags=[{"tagKey": "x", "tagValue": ""}],
    )
    personalize.tag_resource(resourceArn=arn, tags=[{"tagKey": "k0", "tagValue": "replaced"}])
    personalize.untag_resource(resourceArn=arn, tagKeys=["k1", "k2"])
    tags = {
        tag["tagKey"]: tag["tagValue"] for tag in personalize.list_tags_for_resource(resourceArn=arn)["tags"]
    }
    assert len(tags) == domain.MAX_TAGS - 2
    assert tags["k0"] == "replaced"
    assert "k1" not in tags


def test_delete_dependencies(clean_emulator: EmulatorServer, personalize: Any) -> None:
    group_arn = active_group(personalize, "tree")
    dataset_arn = active_dataset(personalize, group_arn, "tree-interactions")
    schema_arn = personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]["schemaArn"]
    tracker_arn = personalize.create_event_tracker(name="tree", datasetGroupArn=group_arn)["eventTrackerArn"]

    assert dataset_arn in fails_with(
        "ResourceInUseException", personalize.delete_dataset_group, datasetGroupArn=group_arn
    )
    assert dataset_arn in fails_with(
        "ResourceInUseException", personalize.delete_schema, schemaArn=schema_arn
    )
    assert kinds.CREATE_PENDING in fails_with(
        "ResourceInUseException", personalize.delete_event_tracker, eventTrackerArn=tracker_arn
    )
    settle(personalize, "event_tracker", tracker_arn)
    assert tracker_arn in fails_with(
        "ResourceInUseException", personalize.delete_dataset, datasetArn=dataset_arn
    )

    personalize.delete_event_tracker(eventTrackerArn=tracker_arn)
    assert kinds.DELETE_PENDING in fails_with(
        "ResourceInUseException", personalize.delete_event_tracker, eventTrackerArn=tracker_arn
    )
    assert statuses_until_gone(personalize, "event_tracker", tracker_arn) == [
        kinds.DELETE_PENDING,
        kinds.DELETE_IN_PROGRESS,
    ]
    personalize.delete_dataset(datasetArn=dataset_arn)
    assert len(statuses_until_gone(personalize, "dataset", dataset_arn)) == 2
    personalize.delete_schema(schemaArn=schema_arn)
    personalize.delete_dataset_group(datasetGroupArn=group_arn)
    assert personalize.list_schemas()["schemas"] == []


def test_dataset_with_running_import_cannot_be_deleted(
    clean_emulator: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    group_arn = active_group(personalize, "busy")
    dataset_arn = active_dataset(personalize, group_arn, "busy-items", dataset_type="ITEMS")
    s3.put_object(Bucket=s3_bucket, Key="items.csv", Body=b"ITEM_ID,PRICE,CATEGORY_L1\ni1,1.5,shoes\n")
    job_arn = import_job(personalize, dataset_arn, "busy-items", f"s3://{s3_bucket}/items.csv")
    assert job_arn in fails_with("ResourceInUseException", personalize.delete_dataset, datasetArn=dataset_arn)
    assert settle(personalize, "import_job", job_arn)["status"] == kinds.ACTIVE
    personalize.delete_dataset(datasetArn=dataset_arn)


def test_incremental_import_needs_an_active_earlier_import(
    clean_emulator: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    group_arn = active_group(personalize, "incremental")
    dataset_arn = active_dataset(personalize, group_arn, "incremental-interactions")
    location = f"s3://{s3_bucket}/i.csv"
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000))
    message = fails_with(
        "InvalidInputException",
        personalize.create_dataset_import_job,
        jobName="too-early",
        datasetArn=dataset_arn,
        dataSource={"dataLocation": location},
        roleArn=ROLE_ARN,
        importMode="INCREMENTAL",
    )
    assert "FULL" in message
    full = import_job(personalize, dataset_arn, "bulk", location)
    fails_with(
        "InvalidInputException",
        personalize.create_dataset_import_job,
        jobName="still-early",
        datasetArn=dataset_arn,
        dataSource={"dataLocation": location},
        roleArn=ROLE_ARN,
        importMode="INCREMENTAL",
    )
    assert settle(personalize, "import_job", full)["status"] == kinds.ACTIVE
    assert import_job(personalize, dataset_arn, "delta", location, mode="INCREMENTAL").endswith("/delta")


def test_at_most_five_imports_pending_per_region(
    clean_emulator: EmulatorServer, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    group_arn = active_group(personalize, "crowded")
    dataset_arn = active_dataset(personalize, group_arn, "crowded-interactions")
    location = f"s3://{s3_bucket}/i.csv"
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000))
    jobs = [import_job(personalize, dataset_arn, f"job-{index}", location) for index in range(5)]
    no_retries = boto3.client(
        "personalize",
        endpoint_url=clean_emulator.url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    message = fails_with(
        "LimitExceededException",
        no_retries.create_dataset_import_job,
        jobName="job-5",
        datasetArn=dataset_arn,
        dataSource={"dataLocation": location},
        roleArn=ROLE_ARN,
    )
    assert message == domain_rules.REASON_IMPORT_LIMIT
    assert settle(personalize, "import_job", jobs[0])["status"] == kinds.ACTIVE
    assert import_job(personalize, dataset_arn, "job-5", location).endswith("/job-5")


def test_dataset_group_and_recommender_quotas(clean_emulator: EmulatorServer, personalize: Any) -> None:
    no_retries = boto3.client(
        "personalize",
        endpoint_url=clean_emulator.url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    for index in range(domain_rules.MAX_DATASET_GROUPS):
        no_retries.create_dataset_group(name=f"group-{index}")
    fails_with("LimitExceededException", no_retries.create_dataset_group, name="one-too-many")


def test_recommender_rules(clean_emulator: EmulatorServer, personalize: Any) -> None:
    custom = active_group(personalize, "custom", None)
    recipe = domain.RECIPES["aws-ecomm-recommended-for-you"].arn
    assert "Domain dataset group" in fails_with(
        "InvalidInputException",
        personalize.create_recommender,
        name="r",
        datasetGroupArn=custom,
        recipeArn=recipe,
    )
    vod = active_group(personalize, "vod-recs", "VIDEO_ON_DEMAND")
    message = fails_with(
        "InvalidInputException",
        personalize.create_recommender,
        name="r",
        datasetGroupArn=vod,
        recipeArn=recipe,
    )
    assert domain.RECIPES["aws-vod-top-picks"].use_case in message


def test_concurrent_clients_see_consistent_state(clean_emulator: EmulatorServer, personalize: Any) -> None:
    schema = domain_rules.default_schema_json("ECOMMERCE")
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(name: str) -> None:
        client = boto3.client("personalize", endpoint_url=clean_emulator.url, region_name="us-east-1")
        try:
            client.create_schema(name=name, schema=schema, domain="ECOMMERCE")
            result = "created"
        except ClientError as error:
            result = error.response["Error"]["Code"]
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create, args=("contested",)) for _ in range(8)]
    threads += [threading.Thread(target=create, args=(f"distinct-{index}",)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("created") == 9
    assert outcomes.count("ResourceAlreadyExistsException") == 7
    assert len(personalize.list_schemas()["schemas"]) == 9
