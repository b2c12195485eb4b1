"""The strict rehearsal: the handlers run as their synthesized role and the emulator authorizes every call.

Every example config in config/ deploys from an empty local account with IAM enforced; removing one
grant from the synthesized handler policy makes the deploy fail with AWS's AccessDenied for that call.
Two fields change, the rest is each file as it is: the example configs import from a `bucket_key` their
users fill outside the stack, which here points at the sample data instead (the stack uploads it); and
their `account`/`region` are dropped, so the stack lands in the local account (123456789012, us-east-1),
as a deploy with an explicit account would land in that account on AWS.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from config import load_environment, load_file
from config.model import CONFIG_DIR, available_environments
from lambda_handlers.personalize import authorization
from personalize_tools.emulator import EmulatorServer
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.localdeploy.errors import DeployFailedError

from .conftest import DeployerFactory

REGION = "us-east-1"
pytestmark = pytest.mark.iam_enforced  # the emulator reads identities and policies from this module's moto


def _synthesize(name: str, folder: Path, sample: Path) -> StackArtifact:
    raw = yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text())
    source = raw.get("data_source")  # absent: a no-history config, fed by PutEvents
    if source is not None and "local_path" not in source:
        raw["data_source"] = {"local_path": str(sample)}
    raw.pop("account", None)
    raw.pop("region", None)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return synthesize_config(load_file(path, name), folder / f"cdk.out.{name}")


@pytest.fixture(scope="module")
def synthesized(
    tmp_path_factory: pytest.TempPathFactory, sample_data: Path
) -> Callable[[str], StackArtifact]:
    """Each example config synthesized once for the module (a deploy reads its artifact, never changes it)."""
    folder = tmp_path_factory.mktemp("iam-synth")
    cache: dict[str, StackArtifact] = {}

    def synthesize(name: str) -> StackArtifact:
        if name not in cache:
            cache[name] = _synthesize(name, folder, sample_data)
        return cache[name]

    return synthesize


@pytest.mark.parametrize("name", available_environments())
def test_every_example_config_deploys_under_iam_enforcement(
    name: str,
    synthesized: Callable[[str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    emulator: EmulatorServer,
) -> None:
    artifact = synthesized(name)
    deployer, _ = make_deployer()
    emulator.reset()  # an empty account: retained resources of the other configs are gone
    state = deployer.deploy(artifact, environment=name)
    assert state.status == "CREATE_COMPLETE"
    calls = emulator.calls()
    assert "AccessDeniedException" not in json.dumps(calls["errors"])
    resources = emulator.state()["resources"]
    assert all(group["status"] == "ACTIVE" for group in resources["dataset_group"])
    assert all(job["status"] == "ACTIVE" for job in resources["import_job"])
    for tracker in resources["event_tracker"]:
        assert tracker["tags"][authorization.SCOPE_TAG_KEY] == load_environment(name).resource_name_prefix
    # The handlers really ran as the role: moto's STS issued the keys the emulator saw.
    handler_role = [
        record
        for logical_id, record in state.resources.items()
        if logical_id.startswith("PersonalizeProviderHandlerRole")
        and record.resource_type == "AWS::IAM::Role"
    ]
    assert len(handler_role) == 1 and not handler_role[0].skipped
    if "EventTrackerArn" in state.outputs:
        tracker_arn = state.outputs["EventTrackerArn"]
        _check_scope_tag_cannot_be_moved(endpoints, emulator, handler_role[0].physical_id, tracker_arn)
    if load_environment(name).kms_mode == "create":  # Personalize's reads needed kms:Decrypt (checked)
        head = endpoints.client("s3").head_object(
            Bucket=state.outputs["DataBucketName"], Key="imports/interactions/interactions.csv"
        )
        assert head["ServerSideEncryption"] == "aws:kms"
    deployer.destroy(state.stack_name)  # as the handler role too: its deletes are authorized
    left = emulator.state()["resources"]["dataset_group"]
    assert len(left) == (1 if load_environment(name).removal_policy == "retain" else 0)


def _check_scope_tag_cannot_be_moved(
    endpoints: Endpoints, emulator: EmulatorServer, role_name: str, tracker_arn: str
) -> None:
    """As the handler role: TagResource may not give a tracker another environment's scope tag (it would
    move the tracker into that environment's policy); its own scope, and other tags, stay allowed."""
    role_arn = f"arn:aws:iam::{endpoints.account}:role/{role_name}"
    keys = endpoints.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="scope-check")["Credentials"]
    personalize = boto3.client(
        "personalize",
        endpoint_url=emulator.url,
        region_name=REGION,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    scope = authorization.SCOPE_TAG_KEY
    prefix = next(
        tag["tagValue"]
        for tag in personalize.list_tags_for_resource(resourceArn=tracker_arn)["tags"]
        if tag["tagKey"] == scope
    )
    with pytest.raises(ClientError) as denied:
        personalize.tag_resource(resourceArn=tracker_arn, tags=[{"tagKey": scope, "tagValue": "elsewhere"}])
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "with an explicit deny in an identity-based policy" in str(denied.value)
    personalize.tag_resource(resourceArn=tracker_arn, tags=[{"tagKey": scope, "tagValue": prefix}])
    personalize.tag_resource(resourceArn=tracker_arn, tags=[{"tagKey": "team", "tagValue": "search"}])


def _without_grant(artifact: StackArtifact, operation: str, resource_part: str) -> StackArtifact:
    """The artifact with `operation` removed from the handler policy statement on `resource_part`."""
    template: dict[str, Any] = copy.deepcopy(artifact.template)
    removed = 0
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Policy" or not logical_id.startswith(
            "PersonalizeProviderHandlerRole"
        ):
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if f"personalize:{operation}" in actions and resource_part in json.dumps(statement["Resource"]):
                statement["Action"] = [action for action in actions if action != f"personalize:{operation}"]
                removed += 1
    assert removed == 1
    return dataclasses.replace(artifact, template=template)


def test_a_missing_grant_fails_the_deploy_with_access_denied(
    synthesized: Callable[[str], StackArtifact],
    make_deployer: DeployerFactory,
    emulator: EmulatorServer,
) -> None:
    artifact = _without_grant(synthesized("dev"), "CreateEventTracker", "dataset-group/")
    deployer, events = make_deployer()
    emulator.reset()
    with pytest.raises(DeployFailedError) as failure:
        deployer.deploy(artifact, environment="dev")
    message = str(failure.value)
    assert "AccessDeniedException" in message
    assert (
        "is not authorized to perform: personalize:CreateEventTracker on resource: arn:aws:personalize:"
        in message
    )
    assert ":dataset-group/pz-dev_datasetgroup-" in message
    assert "because no identity-based policy allows the personalize:CreateEventTracker action" in message
    assert ":assumed-role/" in message
    failed = [event.logical_id for event in events.for_status("CREATE_FAILED")]
    assert any(logical_id.startswith("DatasetGroupEventTracker") for logical_id in failed)
    assert emulator.calls()["errors"]["CreateEventTracker"] == {"AccessDeniedException": 1}


def test_content_the_handler_role_may_not_read_is_someone_elses_and_blocks_the_group_by_name(
    synthesized: Callable[[str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    emulator: EmulatorServer,
) -> None:
    """A recommender someone else made in the stack's group, under a name outside this environment's
    prefix: the handler role may not list its tags (AccessDenied), so it is not this stack's. The
    destroy never deletes it and fails at the group naming it and what to do; once its owner deletes
    it, the next destroy completes."""
    deployer, events = make_deployer()
    emulator.reset()
    state = deployer.deploy(synthesized("dev"), environment="dev")
    admin = endpoints.client("personalize")  # the account's own credentials: not the handler role
    (group,) = [g["datasetGroupArn"] for g in admin.list_dataset_groups()["datasetGroups"]]
    outsider = admin.create_recommender(
        name="someone-elses-picks",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you",
    )["recommenderArn"]
    admin.describe_recommender(recommenderArn=outsider)  # instant pace: ACTIVE now

    with pytest.raises(DeployFailedError) as failure:
        deployer.destroy(state.stack_name)
    assert failure.value.final_status == "DELETE_FAILED"
    failed = [
        e for e in events.for_status("DELETE_FAILED") if e.resource_type != "AWS::CloudFormation::Stack"
    ]
    assert [e.resource_type for e in failed] == ["Custom::PersonalizeDatasetGroup"], failed
    message = failed[0].reason
    assert f"still holds: recommender {outsider} (not made by this stack" in message
    assert "delete them or set removal_policy: retain" in message
    assert emulator.calls()["errors"]["ListTagsForResource"]["AccessDeniedException"] >= 1  # really denied
    resources = emulator.state()["resources"]
    assert [r["recommenderArn"] for r in resources["recommender"]] == [outsider]  # never deleted
    assert [g["datasetGroupArn"] for g in resources["dataset_group"]] == [group]

    admin.delete_recommender(recommenderArn=outsider)
    deployer.destroy(state.stack_name)
    assert emulator.state()["resources"]["dataset_group"] == []


def _deny_list_tags(endpoints: Endpoints) -> Callable[[], None]:
    """Take personalize:ListTagsForResource out of every inline role policy in moto (as an SCP or a
    permission boundary would deny it); returns what puts the policies back."""
    iam = endpoints.client("iam")
    saved: list[tuple[str, str, str]] = []
    for role in iam.list_roles()["Roles"]:
        for policy_name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=policy_name)[
                "PolicyDocument"
            ]
            text = document if isinstance(document, str) else json.dumps(document)
            if "personalize:ListTagsForResource" not in text:
                continue
            saved.append((role["RoleName"], policy_name, text))
            edited = json.loads(text)
            for statement in edited["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                statement["Action"] = [a for a in actions if a != "personalize:ListTagsForResource"] or [
                    "personalize:DescribeRecipe"
                ]
            iam.put_role_policy(
                RoleName=role["RoleName"], PolicyName=policy_name, PolicyDocument=json.dumps(edited)
            )
    assert saved

    def restore() -> None:
        for role_name, policy_name, text in saved:
            iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=text)

    return restore


def test_a_delete_of_the_stacks_own_resource_whose_tags_are_denied_fails_naming_the_grant(
    synthesized: Callable[[str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    emulator: EmulatorServer,
) -> None:
    """Unreadable tags mean someone else's only for adoption and a group's contents: on the Delete of the
    stack's own resource a denied ListTagsForResource is a missing grant, so the Delete fails naming the
    ARN and the permission instead of reporting success and keeping the resource."""
    deployer, events = make_deployer()
    emulator.reset()
    state = deployer.deploy(synthesized("dev"), environment="dev")
    restore = _deny_list_tags(endpoints)
    try:
        with pytest.raises(DeployFailedError) as failure:
            deployer.destroy(state.stack_name)
    finally:
        restore()
    assert failure.value.final_status == "DELETE_FAILED"
    failed = [e for e in events.for_status("DELETE_FAILED") if e.resource_type.startswith("Custom::")]
    assert failed
    for event in failed:
        assert "personalize:ListTagsForResource was denied" in event.reason, event
        assert "(arn:aws:personalize:" in event.reason
    assert emulator.state()["resources"]["dataset_group"]  # nothing deleted behind the failure

    deployer.destroy(state.stack_name)  # the grant back: the destroy completes
    assert emulator.state()["resources"]["dataset_group"] == []
