"""The real app through its whole life against the emulator and moto, with the real handlers from its asset.

create → update (new data_version: a new import job) → update (a new Interactions schema: refused
before the dataset changes, as Personalize cannot replace that schema, and rolled back) → destroy, after
which neither the emulator nor moto holds anything. And a deploy whose import fails is rolled back, the
service's reason shown. The configs are written to a tmp folder and
each is synthesized once for the module.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import yaml

from config import load_file
from lambda_handlers.personalize import domain_rules
from personalize_tools.emulator import EmulatorServer
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.localdeploy.errors import DeployFailedError
from personalize_tools.sample_data import generate_interactions

from .conftest import DeployerFactory, bucket_names

PERSONALIZE_TYPES = (
    "Custom::PersonalizeDatasetGroup",
    "Custom::PersonalizeSchema",
    "Custom::PersonalizeDataset",
    "Custom::PersonalizeDatasetImportJob",
    "Custom::PersonalizeEventTracker",
)


def _schema_with_event_value() -> dict[str, Any]:
    schema = domain_rules.default_schema("ECOMMERCE")
    schema["fields"].append({"name": "EVENT_VALUE", "type": ["null", "float"], "default": None})
    return schema


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackArtifact]:
    """v1; v2 = new data_version; v3 = v2 with a wider Interactions schema (refused); v4 = v2 with too
    little data (its import fails); bad = another environment whose first deploy has too little data;
    kms = one with its own key."""
    folder = tmp_path_factory.mktemp("lifecycle")
    good = generate_interactions(folder / "good" / "interactions.csv", domain="ECOMMERCE", rows=1500, seed=3)
    short = generate_interactions(folder / "short" / "interactions.csv", domain="ECOMMERCE", rows=200, seed=3)
    schema = folder / "interactions.avsc"
    schema.write_text(json.dumps(_schema_with_event_value()))
    base = {
        "name_prefix": "ld",
        "domain": "ECOMMERCE",
        "data_source": {"local_path": str(good)},
        "import_mode": "FULL",
        "data_version": "1",
        "event_tracker": True,
        "removal_policy": "destroy",
    }
    variants = {
        "v1": ("life", base),
        "v2": ("life", {**base, "data_version": "2"}),
        "v3": ("life", {**base, "data_version": "2", "schema": str(schema)}),
        "v4": (
            "life",
            {**base, "data_version": "3", "data_source": {"local_path": str(short)}},
        ),
        "bad": ("short", {**base, "data_source": {"local_path": str(short)}}),
        "kms": ("keyed", {**base, "kms": "create", "event_tracker": False}),
    }
    out = {}
    for key, (environment, raw) in variants.items():
        path = folder / f"{key}.yaml"
        path.write_text(yaml.safe_dump(raw))
        out[key] = synthesize_config(load_file(path, environment), folder / f"cdk.out.{key}")
    return out


def _emulator_state(emulator: EmulatorServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{emulator.url}/_emulator/state") as response:
        state: dict[str, Any] = json.loads(response.read())
    return state


def _personalize_ids(state: Any) -> dict[str, str]:
    return {
        record.resource_type: record.physical_id
        for record in state.resources.values()
        if record.resource_type in PERSONALIZE_TYPES
    }


def test_create_update_schema_change_destroy(
    assemblies: dict[str, StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    emulator: EmulatorServer,
) -> None:
    deployer, events = make_deployer()
    personalize = endpoints.client("personalize")

    created = deployer.deploy(assemblies["v1"], environment="life")
    first = _personalize_ids(created)
    assert created.status == "CREATE_COMPLETE"
    assert set(first) == set(PERSONALIZE_TYPES)
    job = personalize.describe_dataset_import_job(
        datasetImportJobArn=first["Custom::PersonalizeDatasetImportJob"]
    )
    assert job["datasetImportJob"]["status"] == "ACTIVE"
    assert created.outputs["DatasetGroupArn"] == first["Custom::PersonalizeDatasetGroup"]
    bucket = created.outputs["DataBucketName"]
    assert endpoints.client("s3").list_objects_v2(Bucket=bucket)["KeyCount"] == 1  # the uploaded CSV

    updated = deployer.deploy(assemblies["v2"], environment="life")
    second = _personalize_ids(updated)
    assert updated.status == "UPDATE_COMPLETE"
    assert second["Custom::PersonalizeDatasetImportJob"] != first["Custom::PersonalizeDatasetImportJob"]
    unchanged = ("Custom::PersonalizeDatasetGroup", "Custom::PersonalizeSchema", "Custom::PersonalizeDataset")
    assert all(second[kind] == first[kind] for kind in unchanged)
    job = personalize.describe_dataset_import_job(
        datasetImportJobArn=second["Custom::PersonalizeDatasetImportJob"]
    )
    assert job["datasetImportJob"]["status"] == "ACTIVE"
    touched = {event.resource_type for event in events.for_status("UPDATE_IN_PROGRESS")}
    assert "Custom::PersonalizeDatasetGroup" not in touched

    with pytest.raises(DeployFailedError) as refused:
        deployer.deploy(assemblies["v3"], environment="life")
    assert refused.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    assert "a dataset of type INTERACTIONS cannot get a new schema" in str(refused.value)
    third = _personalize_ids(deployer.store.load(assemblies["v3"].stack_name))
    assert third == second  # the new schema was created, then deleted by the rollback
    dataset = personalize.describe_dataset(datasetArn=third["Custom::PersonalizeDataset"])["dataset"]
    assert dataset["schemaArn"] == second["Custom::PersonalizeSchema"]
    assert "latestDatasetUpdate" not in dataset
    schemas = [schema["schemaArn"] for schema in personalize.list_schemas()["schemas"]]
    assert [arn for arn in schemas if ":schema/ld-life_" in arn] == [second["Custom::PersonalizeSchema"]]
    uploaded = endpoints.client("s3").get_object(Bucket=bucket, Key="imports/interactions/interactions.csv")
    good_size = uploaded["ContentLength"]

    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(assemblies["v4"], environment="life")
    assert raised.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    assert domain_rules.reason_too_few_records(200) in str(raised.value)
    rolled_back = deployer.store.load(assemblies["v4"].stack_name)
    assert rolled_back is not None and _personalize_ids(rolled_back) == third  # the v2 import job again
    assert rolled_back.resources["DataBucketE6B0FAA8"].physical_id == bucket
    restored = endpoints.client("s3").get_object(Bucket=bucket, Key="imports/interactions/interactions.csv")
    assert restored["ContentLength"] == good_size  # the rollback Update put the v2 data back

    assert deployer.destroy(assemblies["v2"].stack_name) is True
    remaining = _emulator_state(emulator)["resources"]
    leftovers = {kind: items for kind, items in remaining.items() if kind != "import_job" and items}
    assert leftovers == {}
    # Personalize has no DeleteDatasetImportJob: the jobs of the deleted dataset are all that is left,
    # the two that succeeded and the one that failed.
    life_jobs = [job for job in remaining["import_job"] if job["jobName"].startswith("ld-life_")]
    jobs = {job["datasetImportJobArn"]: job["status"] for job in life_jobs}
    assert {job["datasetArn"] for job in life_jobs} == {third["Custom::PersonalizeDataset"]}
    successful = {arn for arn, status in jobs.items() if status == "ACTIVE"}
    assert successful == {
        first["Custom::PersonalizeDatasetImportJob"],
        second["Custom::PersonalizeDatasetImportJob"],
    }
    assert sorted(jobs.values()) == ["ACTIVE"] * len(successful) + ["CREATE FAILED"]
    assert bucket_names(endpoints) == []
    assert deployer.store.load(assemblies["v2"].stack_name) is None


def test_a_failing_import_rolls_back_with_the_service_reason(
    assemblies: dict[str, StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    emulator: EmulatorServer,
) -> None:
    deployer, events = make_deployer()
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(assemblies["bad"], environment="short")

    reason = domain_rules.reason_too_few_records(200)
    assert raised.value.final_status == "ROLLBACK_COMPLETE"
    assert reason in str(raised.value)
    failed = events.for_status("CREATE_FAILED")
    assert [event.resource_type for event in failed] == ["Custom::PersonalizeDatasetImportJob"]
    assert reason in failed[0].reason
    groups = [
        g for g in _emulator_state(emulator)["resources"]["dataset_group"] if g["name"].startswith("ld-short")
    ]
    assert groups == []
    assert bucket_names(endpoints) == []


def test_a_stack_key_encrypts_the_bucket_and_is_scheduled_for_deletion(
    assemblies: dict[str, StackArtifact], make_deployer: DeployerFactory, endpoints: Endpoints
) -> None:
    deployer, _ = make_deployer()
    state = deployer.deploy(assemblies["kms"], environment="keyed")
    keys = [record for record in state.resources.values() if record.resource_type == "AWS::KMS::Key"]
    assert len(keys) == 1
    key_arn = keys[0].attributes["Arn"]
    encryption = endpoints.client("s3").get_bucket_encryption(Bucket=state.outputs["DataBucketName"])
    default = encryption["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"
    ]
    assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    policy = endpoints.client("kms").get_key_policy(KeyId=keys[0].physical_id, PolicyName="default")["Policy"]
    assert "personalize.amazonaws.com" in policy  # the key policy admits the service, as the stack says

    deployer.destroy(state.stack_name)
    metadata = endpoints.client("kms").describe_key(KeyId=keys[0].physical_id)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingDeletion"
