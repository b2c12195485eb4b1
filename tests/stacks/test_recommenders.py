"""Users and Items datasets and domain recommenders, in a VIDEO_ON_DEMAND stack synthesized once."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import add_environment
from config import EnvironmentConfig
from constructs_lib import DomainDatasetGroup
from lambda_handlers.personalize import domain, domain_rules
from personalize_tools.validate.engine import use_case_recipes
from personalize_tools.validate.errors import UsageError

CONFIG: dict[str, Any] = {
    "name": "vod",
    "account": "111111111111",
    "region": "eu-west-1",
    "name_prefix": "pz",
    "domain": "VIDEO_ON_DEMAND",
    "data_source": {"bucket_key": "imports/interactions/"},
    "users": {"data_source": {"bucket_key": "imports/users/"}},
    "items": {"data_source": {"bucket_key": "imports/items/"}},
    "recommenders": [
        {"use_case": "aws-vod-top-picks", "exploration_weight": 0.3, "exploration_item_age_cut_off": 30},
        {
            "use_case": "aws-vod-most-popular",
            "min_recommendation_requests_per_second": 2,
            "wait_for_active": True,
        },
    ],
}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    stack = add_environment(cdk.App(), EnvironmentConfig.model_validate(CONFIG))
    return Template.from_stack(stack).to_json()


def _of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources["Resources"].items() if v["Type"] == f"Custom::Personalize{kind}"}


def test_users_and_items_datasets_use_the_domain_schemas(resources: dict[str, Any]) -> None:
    datasets = {v["Properties"]["DatasetType"]: v for v in _of_type(resources, "Dataset").values()}
    assert set(datasets) == {"INTERACTIONS", "USERS", "ITEMS"}
    schemas = {
        json.loads(v["Properties"]["Schema"])["name"]: v for v in _of_type(resources, "Schema").values()
    }
    assert json.loads(schemas["Items"]["Properties"]["Schema"]) == domain_rules.default_schema(
        "VIDEO_ON_DEMAND", "ITEMS"
    )
    assert len(_of_type(resources, "DatasetImportJob")) == 3


def test_recommenders_wait_for_every_import_and_carry_their_config(resources: dict[str, Any]) -> None:
    jobs = set(_of_type(resources, "DatasetImportJob"))
    recommenders = {v["Properties"]["RecipeArn"]: v for v in _of_type(resources, "Recommender").values()}
    assert set(recommenders) == {
        "arn:aws:personalize:::recipe/aws-vod-top-picks",
        "arn:aws:personalize:::recipe/aws-vod-most-popular",
    }
    top_picks = recommenders["arn:aws:personalize:::recipe/aws-vod-top-picks"]
    assert jobs <= set(top_picks["DependsOn"])
    assert top_picks["Properties"]["RecommenderConfig"] == {
        "minRecommendationRequestsPerSecond": 1,
        "itemExplorationConfig": {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
    }
    assert top_picks["Properties"]["WaitForActive"] == "false"
    popular = recommenders["arn:aws:personalize:::recipe/aws-vod-most-popular"]
    assert popular["Properties"]["RecommenderConfig"] == {"minRecommendationRequestsPerSecond": 2}
    assert popular["Properties"]["WaitForActive"] == "true"
    for recommender in recommenders.values():
        assert recommender["Properties"]["Name"].startswith("pz-vod_")
        assert domain.name_problem(recommender["Properties"]["Name"]) is None


def test_outputs_name_each_recommender_and_its_status(resources: dict[str, Any]) -> None:
    outputs = resources["Outputs"]
    assert {
        "VodTopPicksRecommenderArn",
        "VodTopPicksRecommenderStatus",
        "ItemsImportJobArn",
        "UsersDatasetArn",
    } <= set(outputs)
    assert outputs["VodMostPopularRecommenderStatus"]["Value"]["Fn::GetAtt"][1] == "Status"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"recommenders": [{"use_case": "aws-ecomm-recommended-for-you"}]},
            "'aws-ecomm-recommended-for-you' belongs to ECOMMERCE; allowed for VIDEO_ON_DEMAND: ",
        ),
        ({"items": None, "recommenders": [{"use_case": "aws-vod-more-like-x"}]}, "needs an Items dataset"),
        ({"recommenders": [{"use_case": "aws-vod-nope"}]}, "'aws-vod-nope' is not a domain use case"),
        (
            {"recommenders": [{"use_case": "aws-vod-trending-now"}, {"use_case": "aws-vod-trending-now"}]},
            "listed twice",
        ),
        (
            {"recommenders": [{"use_case": "aws-vod-trending-now", "exploration_weight": 2}]},
            "less than or equal to 1",
        ),
    ],
)
def test_recommender_config_is_checked_at_synth(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EnvironmentConfig.model_validate({**CONFIG, **change})


@pytest.mark.parametrize(
    "use_case",
    ["aws-ecomm-recommended-for-you", "aws-vod-nope"],
    ids=["other-domain", "unknown"],
)
def test_config_construct_and_validator_refuse_a_use_case_with_the_one_rule_s_words(use_case: str) -> None:
    """domain_rules.recipe_for is the one answer; each caller only says where the value came from."""
    with pytest.raises(ValueError) as rule:
        domain_rules.recipe_for("VIDEO_ON_DEMAND", use_case)
    words = str(rule.value)
    assert words.startswith(f"{use_case!r} ") and "allowed for VIDEO_ON_DEMAND: aws-vod-" in words

    with pytest.raises(ValueError) as config:
        EnvironmentConfig.model_validate({**CONFIG, "recommenders": [{"use_case": use_case}]})
    assert f"recommenders.0.use_case: {words} (this environment's domain)" in str(config.value)

    group = DomainDatasetGroup(cdk.Stack(cdk.App(), "S"), "G", domain_name="VIDEO_ON_DEMAND", name_prefix="t")
    with pytest.raises(ValueError) as construct:
        group.add_recommender(use_case)
    assert str(construct.value) == f"S/G: {words}"

    with pytest.raises(UsageError) as validator:
        use_case_recipes("VIDEO_ON_DEMAND", "INTERACTIONS", [use_case])
    assert str(validator.value) == f"use case {words}"


def test_config_and_construct_refuse_more_like_x_without_items_with_the_one_rule_s_words() -> None:
    """domain_rules.missing_items reads DomainRecipe.needs_items; each caller adds its own advice."""
    more_like_x = domain_rules.recipe_for("VIDEO_ON_DEMAND", "aws-vod-more-like-x")
    top_picks = domain_rules.recipe_for("VIDEO_ON_DEMAND", "aws-vod-top-picks")
    assert domain_rules.missing_items(top_picks, has_items=False) is None
    assert domain_rules.missing_items(more_like_x, has_items=True) is None
    words = domain_rules.missing_items(more_like_x, has_items=False)
    assert words == "'aws-vod-more-like-x' needs an Items dataset"

    with pytest.raises(ValueError) as config:
        EnvironmentConfig.model_validate(
            {**CONFIG, "items": None, "recommenders": [{"use_case": "aws-vod-more-like-x"}]}
        )
    assert f"recommenders.0.use_case: {words}; add an `items:` section" in str(config.value)

    group = DomainDatasetGroup(cdk.Stack(cdk.App(), "S"), "G", domain_name="VIDEO_ON_DEMAND", name_prefix="t")
    group.add_interactions_dataset()
    group.add_recommender("aws-vod-top-picks")
    with pytest.raises(ValueError) as construct:
        group.add_recommender("aws-vod-more-like-x")
    assert str(construct.value) == f"S/G: {words}; add one first with add_dataset('ITEMS')"
    group.add_dataset("ITEMS")
    assert group.add_recommender("aws-vod-more-like-x").recipe == more_like_x
    assert domain_rules.reason_needs_items("aws-vod-more-like-x").startswith(f"Recipe {words} ")
