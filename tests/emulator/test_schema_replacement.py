"""UpdateDataset follows the guide's "Replacing a dataset's schema to add new columns".

Only Items and Users datasets take a new schema; the replacement keeps every field with its type and
attributes, and new fields allow null. The rule lives in the domain module, shared with the handlers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain, domain_rules
from personalize_tools.emulator import EmulatorServer
from tests.emulator.support import active_dataset, active_group, settle


def users_schema(*extra: dict[str, Any], drop: str | None = None) -> dict[str, Any]:
    schema = domain_rules.default_schema("ECOMMERCE", "USERS")
    schema["fields"] = [spec for spec in schema["fields"] if spec["name"] != drop] + list(extra)
    return schema


def create_schema(personalize: Any, name: str, schema: dict[str, Any]) -> str:
    arn: str = personalize.create_schema(name=name, schema=json.dumps(schema), domain="ECOMMERCE")[
        "schemaArn"
    ]
    return arn


def refused(personalize: Any, dataset_arn: str, schema_arn: str) -> str:
    with pytest.raises(ClientError) as error:
        personalize.update_dataset(datasetArn=dataset_arn, schemaArn=schema_arn)
    assert error.value.response["Error"]["Code"] == "InvalidInputException"
    return str(error.value.response["Error"]["Message"])


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (
            {"drop": "MEMBERSHIP_STATUS", "extra": {"name": "AGE", "type": ["null", "int"]}},
            "MEMBERSHIP_STATUS of the current schema are missing",
        ),
        (
            {"drop": "MEMBERSHIP_STATUS", "extra": {"name": "MEMBERSHIP_STATUS", "type": "string"}},
            "MEMBERSHIP_STATUS changes from categorical string to string",
        ),
        (
            {
                "drop": "MEMBERSHIP_STATUS",
                "extra": {"name": "MEMBERSHIP_STATUS", "type": ["null", "string"], "categorical": True},
            },
            "MEMBERSHIP_STATUS changes from categorical string to categorical string or null",
        ),
        ({"extra": {"name": "AGE", "type": "int"}}, 'new field AGE must allow null (type ["null", "int"])'),
    ],
)
def test_incompatible_replacements_are_refused(
    clean_emulator: EmulatorServer, personalize: Any, changed: dict[str, Any], expected: str
) -> None:
    group_arn = active_group(personalize, "shop")
    dataset_arn = active_dataset(personalize, group_arn, "shop-users", dataset_type="USERS")
    extra = [changed["extra"]] if "extra" in changed else []
    new_arn = create_schema(personalize, "users-v2", users_schema(*extra, drop=changed.get("drop")))

    message = refused(personalize, dataset_arn, new_arn)

    assert expected in message
    dataset = personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]
    assert "latestDatasetUpdate" not in dataset  # nothing started
    assert dataset["schemaArn"] != new_arn


def test_a_nullable_new_field_is_accepted(clean_emulator: EmulatorServer, personalize: Any) -> None:
    group_arn = active_group(personalize, "shop")
    dataset_arn = active_dataset(personalize, group_arn, "shop-items", dataset_type="ITEMS")
    wider = domain_rules.default_schema("ECOMMERCE", "ITEMS")
    wider["fields"].append({"name": "BRAND", "type": ["string", "null"], "categorical": True})
    new_arn = create_schema(personalize, "items-v2", wider)

    personalize.update_dataset(datasetArn=dataset_arn, schemaArn=new_arn)

    for _ in range(3):
        dataset = settle(personalize, "dataset", dataset_arn)
    assert dataset["schemaArn"] == new_arn
    # And back to the smaller schema is a removal, which the service refuses (a rollback meets this).
    old_arn = personalize.list_schemas()["schemas"][0]["schemaArn"]
    assert "BRAND of the current schema are missing" in refused(personalize, dataset_arn, old_arn)


@pytest.mark.parametrize("dataset_type", ["INTERACTIONS"])
def test_interactions_schema_cannot_be_replaced(
    clean_emulator: EmulatorServer, personalize: Any, dataset_type: str
) -> None:
    group_arn = active_group(personalize, "shop")
    dataset_arn = active_dataset(personalize, group_arn, "shop-interactions", dataset_type=dataset_type)
    wider = domain_rules.default_schema("ECOMMERCE", dataset_type)
    wider["fields"].append({"name": "EVENT_VALUE", "type": ["null", "float"]})
    new_arn = create_schema(personalize, "interactions-v2", wider)

    message = refused(personalize, dataset_arn, new_arn)

    assert "a dataset of type INTERACTIONS cannot get a new schema" in message
    assert "latestDatasetUpdate" not in personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]


def test_domain_rule_reads_unions_in_any_order_and_covers_for_rollbacks() -> None:
    current = users_schema()
    reordered = users_schema({"name": "AGE", "type": ["int", "null"]})
    assert domain.schema_replacement_problems(current, reordered, "users") == []
    assert domain.schema_covers(reordered, current)
    assert not domain.schema_covers(current, reordered)
    shuffled = {**reordered, "fields": list(reversed(reordered["fields"]))}
    assert domain.schema_replacement_problems(reordered, shuffled, "USERS") == []  # field order: ours
    assert domain.schema_replacement_problems(reordered, current, "USERS") == [
        "field(s) AGE of the current schema are missing"
    ]
