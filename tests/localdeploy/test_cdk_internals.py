"""The CDK internals the local deployer reads, checked against what the pinned aws-cdk-lib synthesizes.

personalize_tools/localdeploy/cdk_internals.py names every shape the deployer reads from CDK's output
(the Provider framework's wiring and waiter, the markers of its runtime, CDK's own custom resources,
the cloud assembly's artifacts). These tests synthesize the dev environment and a minimal Provider
app with the aws-cdk-lib in requirements.txt; when an upgrade changes a shape, the failure names it
and the aws-cdk-lib source to read again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as core
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr

from config import EnvironmentConfig, load_environment
from personalize_tools.localdeploy import cdk_internals as cdk
from personalize_tools.localdeploy.assembly import CloudAssembly, StackArtifact
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.localdeploy.intrinsics import Resolver, StackContext

FRAMEWORK_SOURCE = "aws-cdk-lib custom-resources/lib/provider-framework"
CHANGED = "the pinned aws-cdk-lib changed"


class _Arns:
    """Ref and Fn::GetAtt values for resolving a template without deploying it."""

    def ref(self, logical_id: str) -> Any:
        return f"ref-{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{logical_id}"


def _resolver(template: dict[str, Any]) -> Resolver:
    stack = StackContext(
        "s", "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "123456789012", "us-east-1"
    )
    return Resolver(template, stack, references=_Arns())


def _of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == resource_type}


@pytest.fixture(scope="module")
def dev(
    tmp_path_factory: pytest.TempPathFactory, sample_data: Path
) -> tuple[StackArtifact, EnvironmentConfig, Path]:
    """The dev environment as the local deployer gets it (local files, so BucketDeployments too)."""
    config = load_environment("dev")
    cdk_out = tmp_path_factory.mktemp("cdk-internals") / "cdk.out"
    return synthesize_config(config, cdk_out), config, cdk_out


@pytest.fixture(scope="module")
def minimal(tmp_path_factory: pytest.TempPathFactory) -> StackArtifact:
    """A Provider with the framework's defaults, a plain Lambda-backed custom resource and a function
    whose log retention CDK sets through its own custom resource."""
    outdir = tmp_path_factory.mktemp("minimal") / "cdk.out"
    app = core.App(outdir=str(outdir))
    stack = core.Stack(app, "Minimal")

    def function(name: str, **extra: Any) -> lambda_.Function:
        return lambda_.Function(
            stack,
            name,
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
            **extra,
        )

    provider = cr.Provider(
        stack, "Provider", on_event_handler=function("OnEvent"), is_complete_handler=function("IsComplete")
    )
    core.CustomResource(stack, "ThroughFramework", service_token=provider.service_token)
    core.CustomResource(stack, "Plain", service_token=function("Direct").function_arn)
    function("Retained", log_retention=logs.RetentionDays.ONE_WEEK)
    app.synth()
    return CloudAssembly(outdir).stack("Minimal")


def test_every_personalize_resource_is_wired_through_the_provider_framework(
    dev: tuple[StackArtifact, EnvironmentConfig, Path],
) -> None:
    template = dev[0].template
    resources = template["Resources"]
    custom = {key for key, value in resources.items() if value["Type"].startswith("Custom::Personalize")}
    assert custom, "the dev stack has no Custom::Personalize* resources to trace"
    for logical_id in sorted(custom):
        wiring = cdk.provider_wiring(template, logical_id)
        assert wiring is not None and wiring.through_framework, (
            f"{logical_id}: its ServiceToken no longer leads to a function with "
            f"{cdk.USER_ON_EVENT_FUNCTION_ARN_ENV}; {CHANGED} provider.ts (createFunction)"
        )
        framework = resources[wiring.token_function]["Properties"]
        assert framework["Handler"] == cdk.FRAMEWORK_ON_EVENT_HANDLER, (
            f"the ServiceToken's function runs {framework['Handler']}, not {cdk.FRAMEWORK_ON_EVENT_HANDLER}; "
            f"{CHANGED} {FRAMEWORK_SOURCE}/runtime/consts.ts"
        )
        variables = set(framework["Environment"]["Variables"])
        known = {
            cdk.USER_ON_EVENT_FUNCTION_ARN_ENV,
            cdk.USER_IS_COMPLETE_FUNCTION_ARN_ENV,
            cdk.WAITER_STATE_MACHINE_ARN_ENV,
        }
        assert variables == known, (
            f"the framework's onEvent function has environment variables {sorted(variables)}, the local "
            f"deployer knows {sorted(known)}; {CHANGED} {FRAMEWORK_SOURCE}/runtime/consts.ts and provider.ts"
        )
        assert resources[wiring.on_event_function]["Properties"]["Handler"] == "personalize.entry.on_event"
        assert wiring.is_complete_function is not None
        assert (
            resources[wiring.is_complete_function]["Properties"]["Handler"] == "personalize.entry.is_complete"
        )
        assert wiring.waiter_state_machine in cdk.waiter_state_machines(template)


def test_the_waiter_retrier_carries_the_providers_interval_and_total_timeout(
    dev: tuple[StackArtifact, EnvironmentConfig, Path],
) -> None:
    template, config = dev[0].template, dev[1]
    (waiter_id,) = cdk.waiter_state_machines(template)
    definition = _resolver(template).resolve(
        template["Resources"][waiter_id]["Properties"]["DefinitionString"], waiter_id
    )
    states = json.loads(definition)["States"]
    assert set(states) == {cdk.WAITER_START_STATE, cdk.WAITER_TIMEOUT_STATE}, (
        f"the waiter's states are {sorted(states)}; {CHANGED} {FRAMEWORK_SOURCE}/waiter-state-machine.ts"
    )
    assert states[cdk.WAITER_START_STATE]["Catch"][0]["Next"] == cdk.WAITER_TIMEOUT_STATE
    retry = cdk.waiter_retry(definition, waiter_id)
    settings = config.provider
    assert retry == cdk.WaiterRetry(
        float(settings.query_interval_seconds),
        settings.total_timeout_seconds // settings.query_interval_seconds,
        1.0,
    ), (
        f"the waiter's retrier {retry} no longer encodes the Provider's queryInterval and totalTimeout; "
        f"{CHANGED} {FRAMEWORK_SOURCE}/util.ts"
    )
    assert retry.total_timeout_seconds == settings.total_timeout_seconds


def test_the_framework_defaults_and_a_plain_lambda_backed_resource(minimal: StackArtifact) -> None:
    template = minimal.template
    (through,) = [
        key for key in _of_type(template, "AWS::CloudFormation::CustomResource") if "Through" in key
    ]
    wiring = cdk.provider_wiring(template, through)
    assert wiring is not None and wiring.waiter_state_machine is not None
    definition = _resolver(template).resolve(
        template["Resources"][wiring.waiter_state_machine]["Properties"]["DefinitionString"], "waiter"
    )
    assert cdk.waiter_retry(definition, "waiter") == cdk.DEFAULT_WAITER, (
        f"the Provider's default queryInterval / totalTimeout changed; {CHANGED} {FRAMEWORK_SOURCE}/util.ts"
    )
    assert cdk.DEFAULT_WAITER.total_timeout_seconds == cdk.DEFAULT_TOTAL_TIMEOUT_SECONDS
    (plain,) = [key for key in _of_type(template, "AWS::CloudFormation::CustomResource") if "Plain" in key]
    direct = cdk.provider_wiring(template, plain)
    assert direct is not None and not direct.through_framework and direct.is_complete_function is None
    assert _of_type(template, cdk.LOG_RETENTION_TYPE), f"no {cdk.LOG_RETENTION_TYPE}: {CHANGED} aws-logs"


def test_the_framework_runtime_in_cdk_out_uses_the_markers_the_local_provider_plays(
    dev: tuple[StackArtifact, EnvironmentConfig, Path],
) -> None:
    """The framework's own code is an asset of the assembly: read the pinned runtime, not a copy."""
    artifact, _, _ = dev
    template = artifact.template
    (framework_id,) = [
        key
        for key, value in _of_type(template, "AWS::Lambda::Function").items()
        if value["Properties"]["Handler"] == cdk.FRAMEWORK_ON_EVENT_HANDLER
    ]
    asset = artifact.asset_for_key(template["Resources"][framework_id]["Properties"]["Code"]["S3Key"])
    assert asset is not None and asset.source.is_dir()
    runtime = {path.name: path.read_text(encoding="utf-8") for path in asset.source.glob("*.js")}
    assert json.dumps(cdk.CREATE_FAILED_MARKER) in runtime["cfn-response.js"], (
        f"the framework's failed-Create marker is no longer {cdk.CREATE_FAILED_MARKER}; "
        f"{CHANGED} {FRAMEWORK_SOURCE}/runtime/cfn-response.ts"
    )
    assert json.dumps(cdk.TIMEOUT_REASON) in runtime["framework.js"], (
        f"a timed-out waiter no longer fails with {cdk.TIMEOUT_REASON!r}; {CHANGED} runtime/framework.ts"
    )
    # The framework hides the ResponseURL in its own logs only: the user's functions get it as it is.
    assert "ResponseURL:responseUrl" in runtime["framework.js"], (
        f"the framework no longer passes CloudFormation's ResponseURL to the user's functions; {CHANGED} "
        "runtime/framework.ts (invokeUserFunction): see provider.response_url"
    )


def test_cdk_custom_resources_tags_and_assets_are_what_the_local_deployer_reads(
    dev: tuple[StackArtifact, EnvironmentConfig, Path],
) -> None:
    artifact, _, cdk_out = dev
    template = artifact.template
    deployments = _of_type(template, cdk.BUCKET_DEPLOYMENT_TYPE)
    assert deployments, f"no {cdk.BUCKET_DEPLOYMENT_TYPE}: {CHANGED} aws-s3-deployment's resource type"
    for logical_id, deployment in deployments.items():
        unknown = set(deployment["Properties"]) - cdk.BUCKET_DEPLOYMENT_PROPERTIES
        assert not unknown, (
            f"{logical_id} has properties the local BucketDeployment does not know: {sorted(unknown)}; "
            f"{CHANGED} aws-s3-deployment/lib/bucket-deployment.ts (teach cdk_custom.BucketDeployment)"
        )
        for object_key in deployment["Properties"]["SourceObjectKeys"]:
            assert artifact.asset_for_key(object_key) is not None, f"{object_key} not in the asset manifest"
    auto_delete = _of_type(template, cdk.AUTO_DELETE_OBJECTS_TYPE)
    assert auto_delete, f"no {cdk.AUTO_DELETE_OBJECTS_TYPE}: {CHANGED} aws-s3's auto-delete resource type"
    tagged = [
        key
        for key, bucket in _of_type(template, "AWS::S3::Bucket").items()
        if {"Key": cdk.AUTO_DELETE_TAG, "Value": "true"} in bucket["Properties"].get("Tags", [])
    ]
    assert len(tagged) == len(auto_delete), f"buckets tagged {cdk.AUTO_DELETE_TAG}=true: {tagged}"
    handler_role = {
        value["Properties"]["Role"]["Fn::GetAtt"][0]
        for value in _of_type(template, "AWS::Lambda::Function").values()
        if str(value["Properties"]["Handler"]).startswith("personalize.entry.")
    }
    assert cdk.user_function_roles(template) == handler_role
    manifest = json.loads((cdk_out / "manifest.json").read_text(encoding="utf-8"))
    types = {artifact_entry["type"] for artifact_entry in manifest["artifacts"].values()}
    assert {cdk.STACK_ARTIFACT, cdk.ASSET_MANIFEST_ARTIFACT} <= types, (
        f"manifest.json artifact types are {sorted(types)}; {CHANGED} cloud-assembly-schema"
    )


def test_a_waiter_of_another_shape_is_refused_by_name() -> None:
    """At deploy time too: a retrier the local waiter does not know fails, it is not guessed."""
    retrier = {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 5,
        "MaxAttempts": 3,
        "JitterStrategy": "FULL",
    }
    definition = {"StartAt": cdk.WAITER_START_STATE, "States": {cdk.WAITER_START_STATE: {"Retry": [retrier]}}}
    with pytest.raises(cdk.CdkShapeError, match="Waiter: the waiter's retrier has fields JitterStrategy"):
        cdk.waiter_retry(json.dumps(definition), "Waiter")
    with pytest.raises(cdk.CdkShapeError, match="does not start at a state 'framework-isComplete-task'"):
        cdk.waiter_retry(json.dumps({"StartAt": "Poll", "States": {}}), "Waiter")
    template = {
        "Resources": {
            "Thing": {"Type": "Custom::Thing", "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fw", "Arn"]}}},
            "Fw": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Environment": {
                        "Variables": {
                            cdk.USER_ON_EVENT_FUNCTION_ARN_ENV: {"Fn::GetAtt": ["Fw", "Arn"]},
                            cdk.USER_IS_COMPLETE_FUNCTION_ARN_ENV: {"Fn::GetAtt": ["Fw", "Arn"]},
                            cdk.WAITER_STATE_MACHINE_ARN_ENV: "arn:aws:states:us-east-1:1:stateMachine:x",
                        }
                    }
                },
            },
        }
    }
    with pytest.raises(cdk.CdkShapeError, match="WAITER_STATE_MACHINE_ARN is 'arn:aws:states"):
        cdk.provider_wiring(template, "Thing")
