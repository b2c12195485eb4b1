"""A Users schema that gains a nullable column: the whole app, deployed locally, moves the dataset in place.

The guide's "Replacing a dataset's schema to add new columns" allows it for Users and Items datasets:
the new schema resource is created, the dataset moves to it with UpdateDataset (same ARN, data kept),
and the old schema goes in the cleanup. Then destroy leaves nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from config import load_file
from lambda_handlers.personalize import domain, domain_rules
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.sample_data import generate_interactions, generate_users

from .conftest import DeployerFactory


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackArtifact]:
    """v1: Interactions and Users on the domain's schemas; v2: the Users schema plus a nullable column."""
    folder = tmp_path_factory.mktemp("reschema")
    interactions = generate_interactions(folder / "interactions.csv", domain="ECOMMERCE", rows=1200, seed=5)
    users = generate_users(folder / "users.csv", domain="ECOMMERCE", users=100)
    wider = domain_rules.default_schema("ECOMMERCE", "USERS")
    wider["fields"].append({"name": "AGE_BAND", "type": ["null", "string"], "categorical": True})
    (folder / "users.avsc").write_text(json.dumps(wider))
    base: dict[str, Any] = {
        "name_prefix": "rs",
        "domain": "ECOMMERCE",
        "data_source": {"local_path": str(interactions)},
        "event_tracker": False,
        "removal_policy": "destroy",
        "users": {"data_source": {"local_path": str(users)}},
    }
    variants = {
        "v1": base,
        "v2": {**base, "users": {**base["users"], "schema": str(folder / "users.avsc")}},
    }
    out = {}
    for key, raw in variants.items():
        path = folder / f"{key}.yaml"
        path.write_text(yaml.safe_dump(raw))
        out[key] = synthesize_config(load_file(path, "reschema"), folder / f"cdk.out.{key}")
    return out


def users_dataset(state: Any) -> str:
    (arn,) = [
        record.physical_id
        for record in state.resources.values()
        if record.resource_type == "Custom::PersonalizeDataset" and record.physical_id.endswith("/USERS")
    ]
    return str(arn)


def test_users_schema_gains_a_nullable_column_in_place(
    assemblies: dict[str, StackArtifact], make_deployer: DeployerFactory, endpoints: Endpoints
) -> None:
    deployer, _ = make_deployer()
    personalize = endpoints.client("personalize")

    first = deployer.deploy(assemblies["v1"], environment="reschema")
    dataset_arn = users_dataset(first)
    old_schema = personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]["schemaArn"]

    second = deployer.deploy(assemblies["v2"], environment="reschema")

    assert second.status == "UPDATE_COMPLETE"
    assert users_dataset(second) == dataset_arn  # in place: same dataset, its data kept
    dataset = personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]
    assert dataset["schemaArn"] != old_schema
    assert dataset["latestDatasetUpdate"]["status"] == "ACTIVE"
    fields = domain.schema_field_names(
        personalize.describe_schema(schemaArn=dataset["schemaArn"])["schema"]["schema"]
    )
    assert "AGE_BAND" in fields
    schemas = [schema["schemaArn"] for schema in personalize.list_schemas()["schemas"]]
    assert old_schema not in schemas  # deleted in the cleanup, once the dataset had moved
    assert deployer.destroy(assemblies["v2"].stack_name) is True
    left = [
        arn for arn in (s["schemaArn"] for s in personalize.list_schemas()["schemas"]) if ":schema/rs-" in arn
    ]
    assert left == []
