"""The custom resources of the dev stack: types, properties, names, dependency order and least privilege."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import add_environment
from config import EnvironmentConfig
from constructs_lib import DomainDatasetGroup, PersonalizeProvider
from constructs_lib.personalize_provider import HANDLER_OPERATIONS
from lambda_handlers.personalize import authorization, domain, domain_rules


@pytest.fixture(scope="module")
def template(dev_config: EnvironmentConfig) -> dict[str, Any]:
    app = cdk.App()
    return Template.from_stack(add_environment(app, dev_config)).to_json()


def _custom(template: dict[str, Any], kind: str, logical_prefix: str = "") -> tuple[str, dict[str, Any]]:
    """The one Custom::Personalize{kind} (whose logical id starts with `logical_prefix`)."""
    found = [
        (k, v)
        for k, v in template["Resources"].items()
        if v["Type"] == f"Custom::Personalize{kind}" and k.startswith(logical_prefix)
    ]
    assert len(found) == 1, f"expected one Custom::Personalize{kind} {logical_prefix}, found {len(found)}"
    return found[0]


def test_one_provider_serves_every_custom_resource(template: dict[str, Any]) -> None:
    tokens = {
        json.dumps(resource["Properties"]["ServiceToken"])
        for resource in template["Resources"].values()
        if resource["Type"].startswith("Custom::Personalize")
    }
    assert len(tokens) == 1
    handlers = sorted(
        resource["Properties"]["Handler"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Runtime") == "python3.14"
    )
    provider = [handler for handler in handlers if handler.startswith("personalize.entry.")]
    assert provider == ["personalize.entry.is_complete", "personalize.entry.on_event"]
    # the rest are dev's incoming location: the import flow's steps (docs/event-imports.md)
    assert all(handler.startswith("personalize.flow.") for handler in handlers if handler not in provider)


def test_dataset_group_properties(template: dict[str, Any], dev_config: EnvironmentConfig) -> None:
    _, group = _custom(template, "DatasetGroup")
    props = group["Properties"]
    assert props["Domain"] == dev_config.domain
    assert props["Name"].startswith("pz-dev_datasetgroup-")
    assert domain.name_problem(props["Name"]) is None
    assert props["RemovalPolicy"] == "destroy"
    assert {"Key": "environment", "Value": "dev"} in props["Tags"]


def test_schema_dataset_and_import_are_wired_in_order(template: dict[str, Any]) -> None:
    group_id, _ = _custom(template, "DatasetGroup")
    schema_id, schema = _custom(template, "Schema", "DatasetGroupInteractions")
    dataset_id, dataset = _custom(template, "Dataset", "DatasetGroupInteractions")
    _, job = _custom(template, "DatasetImportJob", "DatasetGroupInteractions")
    _, tracker = _custom(template, "EventTracker")

    assert json.loads(schema["Properties"]["Schema"]) == domain_rules.default_schema("ECOMMERCE")
    assert dataset["Properties"]["DatasetGroupArn"] == {"Ref": group_id}
    assert dataset["Properties"]["SchemaArn"] == {"Ref": schema_id}
    assert dataset["Properties"]["DatasetType"] == "INTERACTIONS"
    assert job["Properties"]["DatasetArn"] == {"Ref": dataset_id}
    assert job["Properties"]["SchemaArn"] == {"Ref": schema_id}
    assert job["Properties"]["ImportMode"] == "FULL"
    assert tracker["Properties"]["DatasetGroupArn"] == {"Ref": group_id}
    # The tracker must go before the Interactions dataset on delete, so it is created after it.
    assert dataset_id in tracker["DependsOn"]
    upload = [
        k
        for k, v in template["Resources"].items()
        if v["Type"] == "Custom::CDKBucketDeployment" and k.startswith("UploadInteractions")
    ]
    assert upload and upload[0] in job["DependsOn"], "the import starts only after the data is uploaded"
    uploads = [v for v in template["Resources"].values() if v["Type"] == "Custom::CDKBucketDeployment"]
    # Every upload prunes its own prefix: a FULL import reads exactly the local files of this deploy.
    assert uploads and all(v["Properties"].get("Prune", True) is True for v in uploads)
    assert len({json.dumps(v["Properties"]["DestinationBucketKeyPrefix"]) for v in uploads}) == len(uploads)
    role_policy = [k for k in template["Resources"] if k.startswith("PersonalizeRoleReadData")]
    assert role_policy and role_policy[0] in job["DependsOn"], "the import waits for the role's read policy"
    assert job["Properties"]["DataLocation"] == {
        "Fn::Join": [
            "",
            [
                "s3://",
                {"Ref": template["Outputs"]["DataBucketName"]["Value"]["Ref"]},
                "/imports/interactions/interactions.csv",
            ],
        ]
    }


def test_outputs_carry_every_arn_and_the_tracking_id(template: dict[str, Any]) -> None:
    assert {
        "DatasetGroupArn",
        "InteractionsSchemaArn",
        "InteractionsDatasetArn",
        "InteractionsImportJobArn",
        "EventTrackerArn",
        "TrackingId",
    } <= set(template["Outputs"])
    tracker_id, _ = _custom(template, "EventTracker")
    assert template["Outputs"]["TrackingId"]["Value"] == {"Fn::GetAtt": [tracker_id, "TrackingId"]}


def _handler_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy" and logical_id.startswith("PersonalizeProviderHandlerRole"):
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _personalize_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in _handler_statements(template) if "personalize:" in json.dumps(s["Action"])}


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_handler_role_grants_each_action_on_its_resource_types(template: dict[str, Any]) -> None:
    """Every action the handlers call is allowed on every resource type the reference lists for it."""
    statements = _personalize_statements(template)
    by_resource: dict[str, set[str]] = {}
    for statement in statements.values():
        if statement["Effect"] != "Allow":
            continue
        for resource in _listed(statement["Resource"]):
            by_resource.setdefault(json.dumps(resource), set()).update(_actions(statement))
    paths = {
        "datasetGroup": ":dataset-group/pz-dev_*",
        "schema": ":schema/pz-dev_*",
        "dataset": ":dataset/pz-dev_*",
        "datasetImportJob": ":dataset-import-job/pz-dev_*",
        "recommender": ":recommender/pz-dev_*",
        "eventTracker": ":event-tracker/*",
    }
    for operation in HANDLER_OPERATIONS:
        entry = authorization.ACTIONS[operation]
        for kind in entry.kinds:
            if kind == "*":
                continue
            granted = set().union(*(a for r, a in by_resource.items() if paths[kind] in r))
            assert f"personalize:{operation}" in granted, (operation, kind)
        if not entry.resources:
            assert f"personalize:{operation}" in by_resource['"*"'], operation
    # CreateEventTracker is authorized against the dataset group too (the bug this fixes).
    group = [a for r, a in by_resource.items() if paths["datasetGroup"] in r]
    assert any("personalize:CreateEventTracker" in actions for actions in group)


def test_handler_role_grants_nothing_the_handlers_do_not_call(template: dict[str, Any]) -> None:
    granted = set().union(*(_actions(s) for s in _personalize_statements(template).values()))
    assert granted == {f"personalize:{operation}" for operation in HANDLER_OPERATIONS}
    for useless in ("DescribeRecipe", "StartRecommender", "StopRecommender"):
        assert f"personalize:{useless}" not in granted
    assert "recipe/" not in json.dumps(_handler_statements(template))


def test_event_trackers_are_scoped_by_tag(template: dict[str, Any]) -> None:
    statements = _personalize_statements(template)
    key = authorization.SCOPE_TAG_KEY
    create = statements["CreateTaggedEventTrackers"]
    assert create["Condition"]["StringEquals"] == {f"aws:RequestTag/{key}": "pz-dev"}
    own = statements["ManageOwnEventTrackers"]
    assert own["Condition"] == {"StringEquals": {f"aws:ResourceTag/{key}": "pz-dev"}}
    assert _actions(own) == {
        "personalize:DeleteEventTracker",
        "personalize:TagResource",
        "personalize:ListTagsForResource",  # the owner tag, read before a delete
        "personalize:UntagResource",
    }
    describe = statements["DescribeOwnEventTrackers"]
    assert describe["Condition"] == {"StringEqualsIfExists": {f"aws:ResourceTag/{key}": "pz-dev"}}
    keep = statements["KeepEventTrackersInScope"]
    assert keep["Effect"] == "Deny"
    assert keep["Condition"] == {"ForAnyValue:StringEquals": {"aws:TagKeys": [key]}}
    retag = statements["KeepEventTrackerScopeTag"]
    assert retag["Effect"] == "Deny" and _actions(retag) == {"personalize:TagResource"}
    assert retag["Condition"] == {
        "StringNotEquals": {f"aws:RequestTag/{key}": "pz-dev"},
        "Null": {f"aws:RequestTag/{key}": "false"},
    }
    _, tracker = _custom(template, "EventTracker")
    assert {"Key": key, "Value": "pz-dev"} in tracker["Properties"]["Tags"]


def test_pass_role_only_to_personalize(template: dict[str, Any]) -> None:
    statements = _handler_statements(template)
    passes = [s for s in statements if "iam:PassRole" in json.dumps(s.get("Action"))]
    assert passes and all(s["Effect"] == "Allow" for s in passes)
    assert all("PersonalizeRole" in json.dumps(s["Resource"]) for s in passes)
    assert all(
        s["Condition"] == {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}
        for s in passes
    )


def test_bucket_deployment_writes_only_under_the_import_prefix(template: dict[str, Any]) -> None:
    denies = [
        statement
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Policy" and "BucketDeployment" in logical_id
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
    ]
    assert len(denies) == 1
    assert set(_listed(denies[0]["Action"])) == {"s3:PutObject*", "s3:DeleteObject*", "s3:Abort*"}
    assert json.dumps(denies[0]["NotResource"]).endswith('/imports/*"]]}')


def test_the_uploads_deploy_one_aws_cli_layer_the_one_their_function_uses(template: dict[str, Any]) -> None:
    """Each BucketDeployment makes a layer, but their function is one per stack (aws/aws-cdk#32907)."""
    resources = template["Resources"]
    assert sum(r["Type"] == "Custom::CDKBucketDeployment" for r in resources.values()) == 3
    layers = [logical_id for logical_id, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"]
    used = [
        layer["Ref"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        for layer in r["Properties"].get("Layers", [])
    ]
    assert len(layers) == 1
    assert used == layers


def test_pinned_names_are_granted_exactly_or_refused() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    group = DomainDatasetGroup(stack, "G", domain_name="ECOMMERCE", name_prefix="pz-prod", name="legacy-shop")
    policy = Template.from_stack(stack).to_json()
    resources = json.dumps(policy)
    assert ":dataset-group/legacy-shop" in resources and ":dataset/legacy-shop/*" in resources
    assert group.dataset_group_name == "legacy-shop"
    with pytest.raises(ValueError, match=r"namespace of the environment with prefix 'pz-prod-us'"):
        DomainDatasetGroup(stack, "H", domain_name="ECOMMERCE", name_prefix="pz-prod", name="pz-prod-us_shop")
    with pytest.raises(ValueError, match=r"must not be empty or contain '_'"):
        DomainDatasetGroup(stack, "I", domain_name="ECOMMERCE", name_prefix="pz_prod")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_handler_reads_only_the_data_locations(template: dict[str, Any]) -> None:
    gets = [s for s in _handler_statements(template) if s.get("Action") == "s3:GetObject"]
    resources = sorted(json.dumps(s["Resource"]) for s in gets)
    assert len(resources) == 3
    for kind in ("interactions", "items", "users"):
        assert sum(f"/imports/{kind}/{kind}.csv" in resource for resource in resources) == 1


def test_construct_rejects_bad_input_at_synth() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ValueError, match=r"domain 'RETAIL' is not one of ECOMMERCE, VIDEO_ON_DEMAND"):
        DomainDatasetGroup(stack, "G", domain_name="RETAIL", name_prefix="t")
    with pytest.raises(ValueError, match=r"dataset group name 'has space' must match"):
        DomainDatasetGroup(stack, "Named", domain_name="ECOMMERCE", name_prefix="t", name="has space")
    good = DomainDatasetGroup(stack, "Good", domain_name="VIDEO_ON_DEMAND", name_prefix="t")
    with pytest.raises(ValueError, match=r"lacks required field\(s\) GENRES"):
        good.add_dataset("ITEMS", schema=json.dumps(domain_rules.default_schema("ECOMMERCE", "ITEMS")))
    good.add_interactions_dataset()
    with pytest.raises(ValueError, match="holds one INTERACTIONS dataset"):
        good.add_interactions_dataset()


def test_provider_is_one_per_stack_and_checks_timeouts() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    first = PersonalizeProvider.of(stack)
    assert PersonalizeProvider.of(stack) is first
    other = cdk.Stack(cdk.App(), "T")
    with pytest.raises(ValueError, match="3600"):
        PersonalizeProvider.of(other, total_timeout=cdk.Duration.hours(2))
    with pytest.raises(ValueError, match=f"at most {domain_rules.MAX_WAIT_SECONDS} s"):
        PersonalizeProvider.of(other, total_timeout=cdk.Duration.hours(1))  # on_event needs room too
    with pytest.raises(ValueError, match="multiple of query_interval"):
        PersonalizeProvider.of(
            other, query_interval=cdk.Duration.seconds(7), total_timeout=cdk.Duration.seconds(60)
        )


def test_names_change_with_schema_content_and_differ_between_environments(
    dev_config: EnvironmentConfig,
) -> None:
    def names(config: EnvironmentConfig) -> dict[str, str]:
        resources = Template.from_stack(add_environment(cdk.App(), config)).to_json()["Resources"]
        return {
            logical_id: v["Properties"].get("Name") or v["Properties"].get("JobName")
            for logical_id, v in resources.items()
            if v["Type"].startswith("Custom::Personalize")
        }

    base = names(dev_config)
    other_env = names(dev_config.model_copy(update={"name": "staging"}))
    assert not set(base.values()) & set(other_env.values())
    new_version = names(dev_config.model_copy(update={"data_version": "2"}))
    changed = sorted(logical_id for logical_id in base if new_version[logical_id] != base[logical_id])
    assert len(changed) == 1 and changed[0].startswith("DatasetGroupInteractionsImport"), changed


def test_every_custom_resource_sets_service_timeout_and_the_handlers_stop_first(
    template: dict[str, Any], dev_config: EnvironmentConfig
) -> None:
    """CloudFormation's ServiceTimeout is explicit; the waiter ends before it, the handlers a poll earlier."""
    timeouts = {
        resource["Properties"].get("ServiceTimeout")
        for resource in template["Resources"].values()
        if resource["Type"].startswith("Custom::Personalize")
    }
    assert timeouts == {str(domain_rules.SERVICE_TIMEOUT_SECONDS)}
    handlers = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and str(resource["Properties"].get("Handler", "")).startswith("personalize.entry.")
    ]
    settings = dev_config.provider
    assert len(handlers) == 2
    for function in handlers:
        wait = int(function["Environment"]["Variables"][domain.WAIT_SECONDS_ENV])
        assert wait == settings.total_timeout_seconds - settings.query_interval_seconds
        assert function["Timeout"] + settings.total_timeout_seconds <= domain_rules.SERVICE_TIMEOUT_SECONDS
