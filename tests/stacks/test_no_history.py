"""An environment without historical data: datasets without import jobs, recommenders refused unless asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from app import add_environment
from config import ConfigError, EnvironmentConfig, load_environment
from lambda_handlers.personalize import domain_rules
from stacks.personalize_stack import NO_IMPORT_OUTPUT
from stacks.stage import PersonalizeStage
from tests import PROJECT_ROOT
from tests.stacks.nag_lint import assert_nag_clean, cfn_lint

NO_HISTORY: dict[str, Any] = {
    "name": "fresh",
    "account": "111111111111",
    "region": "eu-west-1",
    "name_prefix": "pz",
    "domain": "ECOMMERCE",
    "users": {},
    "items": {"data_source": {"bucket_key": "imports/items/"}},
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    stack = add_environment(cdk.App(), EnvironmentConfig.model_validate(NO_HISTORY))
    return Template.from_stack(stack).to_json()


def _of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == f"Custom::Personalize{kind}"}


def test_datasets_without_a_data_source_have_no_import_job(template: dict[str, Any]) -> None:
    datasets = {v["Properties"]["DatasetType"] for v in _of_type(template, "Dataset").values()}
    assert datasets == {"INTERACTIONS", "USERS", "ITEMS"}
    jobs = _of_type(template, "DatasetImportJob")
    assert len(jobs) == 1  # only Items has a data_source
    assert "imports/items/" in json.dumps(next(iter(jobs.values()))["Properties"]["DataLocation"])


def test_outputs_say_how_the_datasets_fill(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["InteractionsDataLocation"]["Value"] == NO_IMPORT_OUTPUT["INTERACTIONS"]
    assert outputs["UsersDataLocation"]["Value"] == NO_IMPORT_OUTPUT["USERS"]
    assert "InteractionsImportJobArn" not in outputs
    assert "ItemsImportJobArn" in outputs
    assert "TrackingId" in outputs


def _error(tmp_path: Path, content: dict[str, Any]) -> str:
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError) as caught:
        load_environment("bad", config_dir=tmp_path)
    return str(caught.value)


def _file_fields() -> dict[str, Any]:
    return {key: value for key, value in NO_HISTORY.items() if key != "name"}


def test_recommenders_without_any_interaction_data_fail_with_the_rule(tmp_path: Path) -> None:
    message = _error(
        tmp_path, {**_file_fields(), "recommenders": [{"use_case": "aws-ecomm-recommended-for-you"}]}
    )
    assert "bad.yaml" in message
    assert "aws-ecomm-recommended-for-you" in message
    assert domain_rules.RULE_MIN_INTERACTIONS in message
    assert "interactions_recorded: true" in message


def test_opting_in_creates_the_recommender(tmp_path: Path) -> None:
    config = EnvironmentConfig.model_validate(
        {
            **NO_HISTORY,
            "interactions_recorded": True,
            "recommenders": [{"use_case": "aws-ecomm-recommended-for-you"}],
        }
    )
    stack = add_environment(cdk.App(), config)
    recommenders = _of_type(Template.from_stack(stack).to_json(), "Recommender")
    assert len(recommenders) == 1
    recommender = next(iter(recommenders.values()))
    # It waits for every dataset, with or without an import job.
    depends = recommender.get("DependsOn", [])
    assert any(name.startswith("DatasetGroupInteractions") for name in depends)


def test_opt_in_with_imported_interactions_is_refused(tmp_path: Path) -> None:
    message = _error(
        tmp_path, {**_file_fields(), "data_source": {"bucket_key": "a.csv"}, "interactions_recorded": True}
    )
    assert "interactions_recorded" in message and "remove it" in message


@pytest.mark.parametrize("field", ["import_mode", "data_version"])
def test_import_settings_without_a_data_source_are_refused(tmp_path: Path, field: str) -> None:
    value = "INCREMENTAL" if field == "import_mode" else "2"
    message = _error(tmp_path, {**_file_fields(), "users": {field: value}})
    assert f"users.{field}" in message or field in message
    assert "without a data_source" in message


def test_the_smoke_test_role_reads_the_recommenders_and_no_import_job() -> None:
    config = EnvironmentConfig.model_validate(
        {
            **NO_HISTORY,
            "interactions_recorded": True,
            "recommenders": [{"use_case": "aws-ecomm-recommended-for-you"}],
        }
    )
    stack = PersonalizeStage(cdk.App(), config=config, smoke_test_account="222222222222").stack
    resources = Template.from_stack(stack).to_json()["Resources"]
    policies = [
        resource["Properties"]["PolicyDocument"]["Statement"]
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy"
        and "SmokeTestRole" in json.dumps(resource["Properties"]["Roles"])
    ]
    actions = {json.dumps(statement["Action"]): statement["Resource"] for statement in policies[0]}
    assert set(actions) == {
        '"personalize:DescribeDatasetGroup"',
        '["personalize:DescribeRecommender", "personalize:GetRecommendations"]',
    }
    recommender = actions['["personalize:DescribeRecommender", "personalize:GetRecommendations"]']
    assert recommender == {
        "Ref": next(k for k in resources if k.startswith("DatasetGroupecommrecommendedforyou"))
    }


def test_a_no_history_stack_passes_cdk_nag_and_cfn_lint(tmp_path: Path) -> None:
    config = EnvironmentConfig.model_validate(
        {
            **NO_HISTORY,
            "interactions_recorded": True,
            "recommenders": [{"use_case": "aws-ecomm-popular-items-by-views"}],
        }
    )
    flags = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(context=flags, outdir=str(tmp_path))
    PersonalizeStage(app, config=config, smoke_test_account="222222222222")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    assert_nag_clean(tmp_path)
    result = cfn_lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_top_picks_needs_no_items_section_but_more_like_x_does() -> None:
    """The config reads domain.RECIPES' needs_items: Top picks lists Items as optional, More like X not."""
    vod: dict[str, Any] = {
        **NO_HISTORY,
        "domain": "VIDEO_ON_DEMAND",
        "items": None,
        "interactions_recorded": True,
    }
    vod["recommenders"] = [{"use_case": "aws-vod-top-picks"}]
    EnvironmentConfig.model_validate(vod)
    vod["recommenders"] = [{"use_case": "aws-vod-more-like-x"}]
    with pytest.raises(ValueError, match="'aws-vod-more-like-x' needs an Items dataset"):
        EnvironmentConfig.model_validate(vod)
