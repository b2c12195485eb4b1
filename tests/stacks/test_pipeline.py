"""The rollout pipeline of config/pipelines/rollout.example.yaml: three environments in two regions.

Synthesized once for the module through the real app (`-c pipeline=rollout.example`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import app as app_module
from config import ConfigError
from config.pipeline import available_pipelines, load_rollout
from stacks.pipeline_stack import pinned_cli_version
from tests import PROJECT_ROOT
from tests.stacks.nag_lint import assert_nag_clean, cfn_lint

PIPELINE = "rollout.example"


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pipeline")
    app_module.create_app({"pipeline": PIPELINE}, outdir=str(directory)).synth()
    return directory


@pytest.fixture(scope="module")
def pipeline(outdir: Path) -> dict[str, Any]:
    template = json.loads((outdir / "pz-rollout-example-pipeline.template.json").read_text())
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return resource["Properties"]


def _stage_names(pipeline: dict[str, Any]) -> list[str]:
    return [stage["Name"] for stage in pipeline["Stages"]]


def _actions(pipeline: dict[str, Any], stage: str) -> list[dict[str, Any]]:
    (found,) = [s for s in pipeline["Stages"] if s["Name"] == stage]
    return found["Actions"]


def _environment_actions(pipeline: dict[str, Any], stage: str) -> dict[str, dict[str, Any]]:
    """An environment's actions by short name; a wave of one stage is a pipeline stage of its own."""
    found = {}
    for pipeline_stage in pipeline["Stages"]:
        for action in pipeline_stage["Actions"]:
            if pipeline_stage["Name"] == stage:
                found[action["Name"]] = action
            elif action["Name"].startswith(f"{stage}."):
                found[action["Name"].removeprefix(f"{stage}.")] = action
    return found


def test_waves_follow_config_order(pipeline: dict[str, Any]) -> None:
    # CDK Pipelines names a wave of a single stage after that stage.
    assert _stage_names(pipeline) == [
        "Source",
        "Build",
        "UpdatePipeline",
        "Assets",
        "pz-staging-example",
        "production",
    ]


def test_synth_runs_make_test_before_synthesizing(outdir: Path) -> None:
    template = json.loads((outdir / "pz-rollout-example-pipeline.template.json").read_text())
    specs = [
        r["Properties"]["Source"]["BuildSpec"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CodeBuild::Project" and "make test" in json.dumps(r["Properties"]["Source"])
    ]
    assert len(specs) == 1
    commands = json.loads(specs[0])["phases"]["build"]["commands"]
    assert commands.index("make test") < commands.index("npx cdk synth --quiet -c pipeline=rollout.example")


def test_synth_has_the_memory_make_test_needs(outdir: Path) -> None:
    """make test's three workers need more than CodeBuild's default SMALL (4 GiB): Synth is MEDIUM."""
    template = json.loads((outdir / "pz-rollout-example-pipeline.template.json").read_text())
    (synth,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CodeBuild::Project" and "make test" in json.dumps(r["Properties"]["Source"])
    ]
    assert synth["Environment"]["ComputeType"] == "BUILD_GENERAL1_MEDIUM"


def test_production_waits_for_approval_where_environments_ask(pipeline: dict[str, Any]) -> None:
    approvals = [
        a["Name"] for a in _actions(pipeline, "production") if a["ActionTypeId"]["Category"] == "Approval"
    ]
    assert sorted(approvals) == [
        "pz-prod-example.Approve-pz-prod-example",
        "pz-prod-us-example.Approve-pz-prod-us-example",
    ]
    staging = _environment_actions(pipeline, "pz-staging-example")
    assert not [a for a in staging.values() if a["ActionTypeId"]["Category"] == "Approval"]


@pytest.mark.parametrize(
    ("stage", "account", "region"),
    [
        ("pz-staging-example", "222222222222", "eu-west-1"),
        ("pz-prod-example", "111111111111", "eu-west-1"),
        ("pz-prod-us-example", "111111111111", "us-east-1"),
    ],
)
def test_each_stage_deploys_to_its_account_and_region_then_smoke_tests(
    pipeline: dict[str, Any], stage: str, account: str, region: str
) -> None:
    actions = _environment_actions(pipeline, stage)
    deploys = [a for a in actions.values() if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert len(deploys) == 2, "a change set is prepared, then executed"
    for action in deploys:
        assert account in json.dumps(action["RoleArn"])
        assert action.get("Region", "eu-west-1") == region
        assert action["Configuration"]["StackName"] == f"{stage}-personalize"
    smoke = actions[f"SmokeTest-{stage}"]
    assert smoke["RunOrder"] > max(a["RunOrder"] for a in deploys), "the smoke test runs after the deploy"


def test_smoke_test_assumes_only_the_environments_read_only_role(outdir: Path) -> None:
    template = json.loads((outdir / "pz-rollout-example-pipeline.template.json").read_text())
    assume = [
        statement
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "sts:AssumeRole" and "smoke-test" in json.dumps(statement["Resource"])
    ]
    assert len(assume) == 3
    for statement in assume:
        assert "-personalize-smoke-test" in json.dumps(statement["Resource"])
    stage_template = next(outdir.rglob("*pzprodusexample*.template.json"))
    resources = json.loads(stage_template.read_text())["Resources"]
    (role,) = [
        r for k, r in resources.items() if k.startswith("SmokeTestRole") and r["Type"] == "AWS::IAM::Role"
    ]
    assert role["Properties"]["RoleName"] == "pz-prod-us-example-personalize-smoke-test"
    assert "333333333333" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    policies = [
        r for r in resources.values() if r["Type"] == "AWS::IAM::Policy" and "SmokeTest" in json.dumps(r)
    ]
    actions = {
        a
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert actions == {"personalize:DescribeDatasetGroup", "personalize:DescribeDatasetImportJob"}


def test_cross_account_keys_and_pinned_cli(outdir: Path) -> None:
    template = json.loads((outdir / "pz-rollout-example-pipeline.template.json").read_text())
    keys = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert keys and all(key["Properties"].get("EnableKeyRotation") for key in keys)
    assert f"aws-cdk@{pinned_cli_version()}" in json.dumps(template)


def test_no_secret_material_in_any_template(outdir: Path) -> None:
    for path in outdir.rglob("*.template.json"):
        text = path.read_text()
        assert "OAuthToken" not in text and "SecretString" not in text, path


def test_every_template_is_nag_and_lint_clean(outdir: Path) -> None:
    assert_nag_clean(outdir)
    result = cfn_lint(outdir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stack_names_never_collide(outdir: Path) -> None:
    names = [
        artifact["properties"].get("stackName") or artifact["displayName"]
        for manifest in outdir.rglob("manifest.json")
        for artifact in json.loads(manifest.read_text())["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    ]
    assert len(names) == len(set(names)) == 5  # pipeline, cross-region support, three environments


def test_shipped_pipelines_load() -> None:
    assert PIPELINE in available_pipelines()
    rollout = load_rollout(PIPELINE)
    assert [env.name for env in rollout.environments] == [
        "staging.example",
        "prod.example",
        "prod-us.example",
    ]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"waves": [{"name": "one", "environments": ["dev"]}]}, "needs an explicit account and region"),
        ({"waves": [{"name": "one", "environments": ["nope"]}]}, "unknown environment 'nope'"),
        (
            {
                "waves": [
                    {"name": "a", "environments": ["prod.example"]},
                    {"name": "b", "environments": ["prod.example"]},
                ]
            },
            "already in wave 'a'",
        ),
        ({"source": {}}, "set exactly one of connection or codecommit"),
        ({"account": "1"}, "account"),
    ],
)
def test_bad_pipeline_config(tmp_path: Path, change: dict[str, Any], fragment: str) -> None:
    raw = yaml.safe_load((PROJECT_ROOT / "config/pipelines/rollout.example.yaml").read_text())
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**raw, **change}))
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        load_rollout("bad", directory=tmp_path)


def test_smoke_tests_install_their_own_lock_and_run_the_pipeline_runtime(outdir: Path) -> None:
    """The smoke step installs boto3 from stacks/pipeline_runtime's lock, not the app's, and runs it."""
    import importlib.util

    from stacks.pipeline_stack import SMOKE_TEST_LOCK, SMOKE_TEST_MODULE

    template = json.loads((outdir / "pz-rollout-example-pipeline.template.json").read_text())
    specs = [
        json.loads(r["Properties"]["Source"]["BuildSpec"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CodeBuild::Project"
        and SMOKE_TEST_MODULE in json.dumps(r["Properties"]["Source"])
    ]
    assert len(specs) == 3, "one smoke test per environment of the rollout"
    for spec in specs:
        assert spec["phases"]["install"]["commands"] == [
            f"pip install --quiet --no-deps --require-hashes -r {SMOKE_TEST_LOCK}"
        ]
        assert spec["phases"]["build"]["commands"][0].startswith(f"python3 -m {SMOKE_TEST_MODULE} ")
    assert (PROJECT_ROOT / SMOKE_TEST_LOCK).is_file()
    assert importlib.util.find_spec(SMOKE_TEST_MODULE) is not None
