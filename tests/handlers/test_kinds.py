"""The resource-kind table against botocore's Personalize model: the service's names, not our guesses."""

from __future__ import annotations

import re

import botocore.session
import pytest
from botocore.model import ServiceModel, StructureShape

from lambda_handlers.personalize import authorization, kinds
from lambda_handlers.personalize.resources import RESOURCE_TYPES

MODEL: ServiceModel = botocore.session.get_session().get_service_model("personalize")
# A documented state: words in capitals, one word or two joined by a space (CREATE PENDING, ACTIVE).
STATUS_WORDS = re.compile(r"\b[A-Z][A-Z_]+(?: [A-Z][A-Z_]+)?\b")


def _structure(shape: object) -> StructureShape:
    assert isinstance(shape, StructureShape)
    return shape


@pytest.mark.parametrize("kind", kinds.ALL, ids=lambda kind: kind.key)
def test_operations_exist(kind: kinds.ResourceKind) -> None:
    names = set(MODEL.operation_names)
    assert kind.describe_operation in names
    assert kind.list_operation in names
    assert (kind.delete_operation in names) if kind.deletable else (f"Delete{kind.noun}" not in names)
    assert kind.create_operation in names
    # update_member is set exactly where the API has an Update: the handlers' policy grants it from there
    assert (kind.update_operation in names) if kind.update_member else (f"Update{kind.noun}" not in names)
    # boto3's method names are botocore's transformation of the operation names
    assert kind.describe_method == botocore.xform_name(kind.describe_operation)
    assert kind.list_method == botocore.xform_name(kind.list_operation)


@pytest.mark.parametrize("kind", kinds.ALL, ids=lambda kind: kind.key)
def test_describe_answers_with_the_key_and_the_arn_member(kind: kinds.ResourceKind) -> None:
    operation = MODEL.operation_model(kind.describe_operation)
    assert list(_structure(operation.input_shape).members) == [kind.arn_member]
    output = _structure(operation.output_shape).members
    assert list(output) == [kind.describe_key]
    described = _structure(output[kind.describe_key]).members
    assert kind.arn_member in described
    assert kind.name_member in described
    assert (kind.update_member in described) if kind.update_member else True
    assert ("status" in described) == (kind.has_status or kind is kinds.FILTER)  # Filter: status undocumented


@pytest.mark.parametrize("kind", kinds.ALL, ids=lambda kind: kind.key)
def test_list_answers_with_the_list_key_filtered_by_the_parent(kind: kinds.ResourceKind) -> None:
    operation = MODEL.operation_model(kind.list_operation)
    assert kind.list_key in _structure(operation.output_shape).members
    inputs = set(_structure(operation.input_shape).members) - {"nextToken", "maxResults"}
    parent = kinds.BY_KEY[kind.parent].arn_member if kind.parent else None
    assert parent is None or parent in inputs
    assert inputs <= {parent, "recipeType", "domain"}  # nothing else narrows a List we make


@pytest.mark.parametrize("kind", [kind for kind in kinds.ALL if kind.has_status], ids=lambda kind: kind.key)
def test_statuses_are_the_documented_states(kind: kinds.ResourceKind) -> None:
    described = _structure(
        _structure(MODEL.operation_model(kind.describe_operation).output_shape).members[kind.describe_key]
    )
    documentation = re.sub(r"<[^>]+>|&gt;", " ", described.members["status"].documentation)
    documented = {word for word in STATUS_WORDS.findall(documentation) if word != "-or-"}
    assert documented == set(kind.statuses)


def test_arn_segments_and_iam_types_are_the_authorization_tables() -> None:
    """The reference's resource types are the Describe keys; their ARN paths start with our segment."""
    for kind in kinds.MANAGED:
        assert authorization.RESOURCE_TYPES[kind.iam_type].split("/", 1)[0] == kind.arn_resource


def test_every_handler_resource_is_a_managed_kind() -> None:
    assert sorted(resource.kind.key for resource in RESOURCE_TYPES.values()) == sorted(
        kind.key for kind in kinds.MANAGED
    )


def test_of_arn() -> None:
    assert kinds.of_arn("arn:aws:personalize:us-east-1:123456789012:dataset/g/ITEMS") is kinds.DATASET
    assert (
        kinds.of_arn("arn:aws:personalize:us-east-1:123456789012:event-tracker/0a1b") is kinds.EVENT_TRACKER
    )
    assert kinds.of_arn("arn:aws:s3:::bucket") is None
    assert kinds.of_arn("not-an-arn") is None
    assert kinds.of_arn(None) is None
