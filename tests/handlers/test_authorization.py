"""The authorization table against botocore's model; the handler policy's operations against the handlers."""

from __future__ import annotations

import re

import botocore.session

from constructs_lib.personalize_provider import ASSET_EXCLUDES, HANDLER_OPERATIONS
from lambda_handlers.personalize import authorization, kinds
from lambda_handlers.personalize.resources import RESOURCE_TYPES
from tests import PROJECT_ROOT

HANDLERS = PROJECT_ROOT / "lambda_handlers" / "personalize"


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def test_table_covers_every_operation_of_botocore_model() -> None:
    operations = set(botocore.session.get_session().get_service_model("personalize").operation_names)
    modelled = set(authorization.ACTIONS)
    assert not modelled & authorization.NOT_MODELLED
    assert modelled | authorization.NOT_MODELLED == operations, (
        f"not in the table: {sorted(operations - modelled - authorization.NOT_MODELLED)}; "
        f"not in botocore: {sorted((modelled | authorization.NOT_MODELLED) - operations)}"
    )


def test_table_uses_only_known_resource_types_and_members() -> None:
    model = botocore.session.get_session().get_service_model("personalize")
    for operation, entry in authorization.ACTIONS.items():
        members = set(model.operation_model(operation).input_shape.members)
        for kind, locator in entry.resources:
            assert kind == "*" or kind in authorization.RESOURCE_TYPES, (operation, kind)
            for member in locator[1:]:
                assert member in members or member in authorization.RESOURCE_TYPES, (operation, member)
        if entry.tags_on_create:
            assert "tags" in members, operation
        if entry.passes_role:
            assert entry.passes_role in members, operation
    # The facts the old policy got wrong (Service Authorization Reference).
    assert authorization.ACTIONS["CreateEventTracker"].kinds == ("datasetGroup", "eventTracker")
    assert authorization.ACTIONS["CreateRecommender"].kinds == ("datasetGroup", "recommender")
    assert "recipe" not in authorization.ACTIONS["CreateRecommender"].kinds


def test_handler_operations_are_exactly_what_the_handlers_call() -> None:
    source = "\n".join(path.read_text() for path in HANDLERS.rglob("*.py"))
    called = {
        operation
        for operation in authorization.ACTIONS
        if re.search(rf"[.\"]{_snake(operation)}[\"(]", source)
    }
    # Calls made through the resource-kind table: each resource's Describe and Delete (the framework),
    # the List behind find_named (dataset groups, schemas), a dataset's import jobs and what a group holds.
    through_kinds = {
        operation
        for resource in RESOURCE_TYPES.values()
        for operation in (resource.kind.describe_operation, resource.kind.delete_operation)
        if operation is not None
    } | {
        kind.list_operation
        for kind in (kinds.DATASET_GROUP, kinds.SCHEMA, kinds.IMPORT_JOB, *kinds.GROUP_CONTENTS)
    }
    assert called | through_kinds == set(HANDLER_OPERATIONS)


def test_the_lambda_asset_leaves_the_table_out_and_no_handler_imports_it() -> None:
    assert "personalize/authorization.py" in ASSET_EXCLUDES
    for path in HANDLERS.rglob("*.py"):
        if path.name != "authorization.py":
            assert "authorization" not in path.read_text(), path
