"""The CloudFormation lifecycle the deployer drives, checked through a recording handler.

Hand-written stacks of `Custom::PersonalizeThing` resources run through the Provider emulation with
`recording_handler` as the entry point, so every event the handlers get can be compared with what
CloudFormation and the CDK Provider framework send.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from personalize_tools.localdeploy.assets import AssetStore
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.errors import DeployFailedError, ResourceFailedError, TemplateError
from personalize_tools.localdeploy.events import EventLog
from personalize_tools.localdeploy.intrinsics import StackContext
from personalize_tools.localdeploy.provider import (
    CustomResourceProvider,
    HandlerFunction,
    LambdaRuntime,
    ProviderSetup,
)
from personalize_tools.localdeploy.resources import DeployContext, Operation

from .conftest import RECORDING_HANDLER, DeployerFactory, artifact, bucket_names, journal_entries

STACK = "engine-test"
TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:provider"


@contextlib.contextmanager
def recording_provider(
    endpoints: Endpoints,
    tmp_path: Path,
    logical_id: str,
    *,
    total_timeout: float,
    cancel: threading.Event | None = None,
) -> Iterator[tuple[CustomResourceProvider, DeployContext]]:
    """The recording handler behind a Provider (0.1 s query interval) for LOGICAL_ID, and a context to call
    it in: for tests that drive one provider operation without a whole deploy."""
    setup = ProviderSetup(
        on_event=HandlerFunction(f"{RECORDING_HANDLER}.on_event", TOKEN),
        is_complete=HandlerFunction(f"{RECORDING_HANDLER}.is_complete", TOKEN),
        query_interval=0.1,
        total_timeout=total_timeout,
    )
    runtime = LambdaRuntime(endpoints.handler_environment(), tmp_path / "handlers.log", max_workers=1)
    context = DeployContext(
        endpoints=endpoints,
        stack=StackContext(STACK, "stack-id", endpoints.account, endpoints.region),
        artifact=None,
        events=EventLog(stream=None),
        query_interval=0.05,
        watch_service_status=False,
        cancel=cancel or threading.Event(),
        assets=AssetStore(tmp_path / "assets"),
    )
    try:
        yield CustomResourceProvider({logical_id: setup}, runtime), context
    finally:
        runtime.close()


def thing(journal: Path, **properties: Any) -> dict[str, Any]:
    depends_on = properties.pop("DependsOn", None)
    resource: dict[str, Any] = {
        "Type": "Custom::PersonalizeThing",
        "Properties": {"ServiceToken": TOKEN, "Journal": str(journal), **properties},
    }
    if depends_on:
        resource["DependsOn"] = depends_on
    return resource


def calls(journal: Path, logical_id: str, phase: str = "on_event") -> list[dict[str, Any]]:
    return [
        e for e in journal_entries(journal) if e["LogicalResourceId"] == logical_id and e["phase"] == phase
    ]


def index_of(journal: Path, logical_id: str, request_type: str, physical_id: str | None = None) -> int:
    for position, entry in enumerate(journal_entries(journal)):
        if (
            entry["phase"] == "on_event"
            and entry["LogicalResourceId"] == logical_id
            and entry["RequestType"] == request_type
            and (physical_id is None or entry.get("PhysicalResourceId") == physical_id)
        ):
            return position
    raise AssertionError(f"no {request_type} for {logical_id} {physical_id or ''}")


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal.jsonl"


def base_stack(journal: Path) -> dict[str, Any]:
    return {
        "A": thing(journal, Version=1, Count=3, Enabled=True, Polls=3),
        "B": thing(journal, Parent={"Ref": "A"}),
        "C": thing(
            journal, ParentArn={"Fn::GetAtt": ["A", "Arn"]}, FromData={"Fn::GetAtt": ["A", "FromOnEvent"]}
        ),
    }


def test_create_sends_cloudformation_events_in_dependency_order(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    state = deployer.deploy(artifact(STACK, base_stack(journal)))

    (create,) = calls(journal, "A")
    assert create["RequestType"] == "Create"
    assert create["ResourceType"] == "Custom::PersonalizeThing"
    # The Provider framework passes CloudFormation's presigned URL on; locally it has that shape.
    assert create["ResponseURL"].startswith("https://cloudformation-custom-resource-response-useast1.")
    assert create["ResponseURL"].endswith(f"%7CA%7C{create['RequestId']}")
    assert create["StackId"] == state.stack_id and "PhysicalResourceId" not in create
    assert create["ResourceProperties"]["Count"] == "3" and create["ResourceProperties"]["Enabled"] == "true"
    assert create["ResourceProperties"]["ServiceToken"] == TOKEN
    assert len(calls(journal, "A", "is_complete")) == 3  # polled until it answered true
    assert calls(journal, "B")[0]["ResourceProperties"]["Parent"] == "A:1"
    assert calls(journal, "C")[0]["ResourceProperties"]["ParentArn"] == "A:1"  # is_complete's Data
    assert calls(journal, "C")[0]["ResourceProperties"]["FromData"] == "yes"  # on_event's Data, merged
    assert events.statuses("A") == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert index_of(journal, "B", "Create") > index_of(journal, "A", "Create")
    assert state.status == "CREATE_COMPLETE"
    assert state.resources["A"].attributes == {"FromOnEvent": "yes", "Arn": "A:1", "Polls": "3"}


def test_a_physical_id_from_is_complete_prevails(make_deployer: DeployerFactory, journal: Path) -> None:
    deployer, _ = make_deployer(handler_module=RECORDING_HANDLER)
    state = deployer.deploy(
        artifact(STACK, {"T": thing(journal, RenameOnComplete=True), "U": thing(journal, Of={"Ref": "T"})})
    )
    assert state.resources["T"].physical_id == "T:1:renamed"
    assert calls(journal, "U")[0]["ResourceProperties"]["Of"] == "T:1:renamed"


def test_unchanged_properties_send_nothing(make_deployer: DeployerFactory, journal: Path) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    deployer.deploy(artifact(STACK, base_stack(journal)))
    before = len(journal_entries(journal))
    state = deployer.deploy(artifact(STACK, base_stack(journal)))
    assert len(journal_entries(journal)) == before
    assert state.status == "UPDATE_COMPLETE"
    assert events.events[-1].reason == "No changes"


def test_update_goes_only_to_the_changed_resource_with_its_old_properties(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    deployer, _ = make_deployer(handler_module=RECORDING_HANDLER)
    deployer.deploy(artifact(STACK, base_stack(journal)))
    changed = base_stack(journal)
    changed["B"]["Properties"]["Note"] = "new"
    deployer.deploy(artifact(STACK, changed))

    update = calls(journal, "B")[-1]
    assert update["RequestType"] == "Update"
    assert update["PhysicalResourceId"] == "B:1"
    assert update["ResourceProperties"]["Note"] == "new"
    assert "Note" not in update["OldResourceProperties"]
    assert [entry["RequestType"] for entry in calls(journal, "A")] == ["Create"]


def test_a_new_physical_id_is_a_replacement_and_the_old_one_goes_in_cleanup(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    deployer.deploy(artifact(STACK, base_stack(journal)))
    replaced = base_stack(journal)
    replaced["A"]["Properties"]["Version"] = 2
    state = deployer.deploy(artifact(STACK, replaced))

    assert state.resources["A"].physical_id == "A:2"
    assert calls(journal, "B")[-1]["ResourceProperties"]["Parent"] == "A:2"  # dependents see the new id
    old_deleted = index_of(journal, "A", "Delete", "A:1")
    assert old_deleted > index_of(journal, "B", "Update") and old_deleted > index_of(journal, "C", "Update")
    stack_statuses = events.statuses(STACK)
    assert stack_statuses[-2:] == ["UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]
    assert state.retired == []


def test_a_failed_first_deploy_deletes_what_it_created_but_not_the_failed_resource(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    stack = base_stack(journal)
    stack["B"]["Properties"]["FailOn"] = "Create"
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(artifact(STACK, stack))

    assert raised.value.final_status == "ROLLBACK_COMPLETE"
    assert "B refuses Create" in str(raised.value)
    assert [entry["RequestType"] for entry in calls(journal, "B")] == ["Create"]  # no Delete after it
    assert index_of(journal, "A", "Delete", "A:1") > index_of(journal, "C", "Delete", "C:1")
    assert "CREATE_FAILED" in events.statuses("B")
    assert events.statuses(STACK)[-2:] == ["ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    assert deployer.store.load(STACK) is not None and deployer.store.load(STACK).resources == {}  # type: ignore[union-attr]


def test_a_failed_update_is_rolled_back_with_old_and_new_properties_swapped(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    first = {"A": thing(journal, Version=1), "B": thing(journal, Parent={"Ref": "A"}, Note="one")}
    deployer.deploy(artifact(STACK, first))
    second = {
        "A": thing(journal, Version=2),  # replaced: A:2
        "C": thing(journal),  # new
        "B": thing(journal, Parent={"Ref": "A"}, Sibling={"Ref": "C"}, Note="two", FailOn="Update"),
    }
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(artifact(STACK, second))

    assert raised.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    failed_update, rollback_b = calls(journal, "B")[-2:]
    assert failed_update["ResourceProperties"]["Note"] == "two"
    assert rollback_b["RequestType"] == "Update"
    assert (
        rollback_b["ResourceProperties"]["Note"] == "one"
        and rollback_b["ResourceProperties"]["Parent"] == "A:1"
    )
    assert (
        rollback_b["OldResourceProperties"]["Note"] == "two"
        and rollback_b["OldResourceProperties"]["Parent"] == "A:2"
    )
    rollback_a = calls(journal, "A")[-2]
    assert rollback_a["RequestType"] == "Update" and rollback_a["PhysicalResourceId"] == "A:2"
    assert (
        rollback_a["ResourceProperties"]["Version"] == "1"
        and rollback_a["OldResourceProperties"]["Version"] == "2"
    )
    assert index_of(journal, "B", "Update", "B:1") < journal_entries(journal).index(
        rollback_a
    )  # dependents first
    assert index_of(journal, "A", "Delete", "A:2") > journal_entries(journal).index(
        rollback_a
    )  # then cleanup
    assert index_of(journal, "C", "Delete", "C:1") > 0
    assert not any(
        e["RequestType"] == "Delete" and e.get("PhysicalResourceId") == "A:1" for e in calls(journal, "A")
    )
    state = deployer.store.load(STACK)
    assert state is not None and state.status == "UPDATE_ROLLBACK_COMPLETE"
    assert {lid: record.physical_id for lid, record in state.resources.items()} == {"A": "A:1", "B": "B:1"}
    assert "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS" in events.statuses(STACK)


def test_destroy_deletes_dependents_first_and_forgets_the_stack(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    deployer.deploy(artifact(STACK, base_stack(journal)))
    assert deployer.destroy(STACK) is True
    assert index_of(journal, "A", "Delete") > max(
        index_of(journal, "B", "Delete"), index_of(journal, "C", "Delete")
    )
    assert deployer.store.load(STACK) is None
    assert events.statuses(STACK)[-1] == "DELETE_COMPLETE"
    assert deployer.destroy(STACK) is False


def test_independent_resources_are_created_concurrently(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    """P and Q each wait in on_event until the other has started: one at a time would fail."""
    deployer, _ = make_deployer(handler_module=RECORDING_HANDLER)
    stack = {"P": thing(journal, WaitFor="Q"), "Q": thing(journal, WaitFor="P")}
    assert deployer.deploy(artifact(STACK, stack)).status == "CREATE_COMPLETE"


def test_native_and_skipped_resources_and_conditions(
    make_deployer: DeployerFactory, journal: Path, endpoints: Endpoints
) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    resources = {
        "HandlerRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
            },
        },
        "Handler": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Role": {"Fn::GetAtt": ["HandlerRole", "Arn"]}},
        },
        "Data": {"Type": "AWS::S3::Bucket", "Properties": {"Tags": [{"Key": "k", "Value": "v"}]}},
        "Unwanted": {"Type": "AWS::S3::Bucket", "Condition": "Never"},
        "Thing": thing(
            journal,
            HandlerArn={"Fn::GetAtt": ["Handler", "Arn"]},
            Bucket={"Ref": "Data"},
            Optional={"Fn::If": ["Never", "x", {"Ref": "AWS::NoValue"}]},
        ),
    }
    conditions = {"Never": {"Fn::Equals": ["a", "b"]}}
    state = deployer.deploy(artifact(STACK, resources, Conditions=conditions))

    assert events.statuses("HandlerRole") == ["SKIPPED"] and events.statuses("Handler") == ["SKIPPED"]
    assert "Unwanted" not in state.resources
    properties = calls(journal, "Thing")[0]["ResourceProperties"]
    assert properties["HandlerArn"] == state.resources["Handler"].attributes["Arn"]
    assert properties["HandlerArn"].startswith("arn:aws:lambda:us-east-1:123456789012:function:")
    assert "Optional" not in properties
    assert bucket_names(endpoints) == [properties["Bucket"]]
    assert endpoints.client("iam").list_roles()["Roles"] == []  # the handler role is not created
    deployer.destroy(STACK)
    assert bucket_names(endpoints) == []


def test_an_unsupported_intrinsic_fails_before_anything_is_created(
    make_deployer: DeployerFactory, endpoints: Endpoints
) -> None:
    deployer, _ = make_deployer()
    resources = {
        "Early": {"Type": "AWS::S3::Bucket"},
        "Foo": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::ImportValue": "SharedName"}}},
    }
    with pytest.raises(TemplateError) as raised:
        deployer.deploy(artifact(STACK, resources))
    assert str(raised.value) == "resource Foo uses Fn::ImportValue, which the local deployer does not support"
    assert bucket_names(endpoints) == []
    assert deployer.store.load(STACK) is None


def test_unsupported_types_and_transforms_are_refused_by_name(make_deployer: DeployerFactory) -> None:
    deployer, _ = make_deployer()
    with pytest.raises(TemplateError, match=r"cannot create these resources: Queue \(AWS::SQS::Queue\)"):
        deployer.deploy(artifact(STACK, {"Queue": {"Type": "AWS::SQS::Queue"}}))
    with pytest.raises(TemplateError, match="uses Transform AWS::Serverless-2016-10-31"):
        deployer.deploy(artifact(STACK, {}, Transform="AWS::Serverless-2016-10-31"))


def test_is_complete_gives_up_after_the_providers_total_timeout(
    endpoints: Endpoints, tmp_path: Path, journal: Path
) -> None:
    properties = {"ServiceToken": TOKEN, "Journal": str(journal), "Polls": "1000"}
    timed_out = pytest.raises(ResourceFailedError, match=r"Operation timed out.*total timeout of 0\.5 s")
    with recording_provider(endpoints, tmp_path, "Slow", total_timeout=0.5) as (provider, context), timed_out:
        provider.create(context, Operation("Slow", "Custom::PersonalizeThing", properties))
    assert len(calls(journal, "Slow", "is_complete")) >= 2  # polled again and again, then gave up
