"""Custom::PersonalizeRecommender: honest about training, updated in place, deleted even when stopped."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.personalize import domain_rules, kinds
from lambda_handlers.personalize.errors import ResourceFailedError
from personalize_tools.emulator import EmulatorServer

from .support import decisions, drive, event, settle_import_job

ARN = "arn:aws:personalize:us-east-1:123456789012:recommender/pz-test-recommended-for-you"
BY_PURCHASES = "arn:aws:personalize:::recipe/aws-ecomm-popular-items-by-purchases"


@pytest.fixture
def imported(dataset_arn: str, data_location: str, personalize: Any) -> str:
    """Interactions imported and ACTIVE: ~1000 events, about half of them Purchase."""
    job = drive(event("import_job_create", properties={"DataLocation": data_location}))
    assert settle_import_job(personalize, job.physical_id) == "ACTIVE"
    return dataset_arn


def recommender(personalize: Any, arn: str = ARN) -> dict[str, Any]:
    found: dict[str, Any] = personalize.describe_recommender(recommenderArn=arn)["recommender"]
    return found


def test_waiting_create_completes_only_when_active(
    handlers: EmulatorServer, personalize: Any, imported: str
) -> None:
    outcome = drive(event("recommender_create"))

    assert outcome.physical_id == ARN
    assert outcome.data["Status"] == "ACTIVE"
    assert outcome.polls > 1, "the step pace shows the wait: CREATE PENDING, then IN_PROGRESS, then ACTIVE"
    described = recommender(personalize)
    assert described["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 1
    assert described["recommenderConfig"]["itemExplorationConfig"] == {
        "explorationWeight": "0.3",
        "explorationItemAgeCutOff": "30",
    }


def test_non_waiting_create_reports_the_real_status_never_active(
    handlers: EmulatorServer, personalize: Any, imported: str
) -> None:
    outcome = drive(event("recommender_create", properties={"WaitForActive": "false"}))

    assert outcome.data["Status"] in kinds.IN_FLIGHT_CREATE_STATUSES


def test_the_same_create_delivered_twice_makes_one_recommender(
    handlers: EmulatorServer, imported: str
) -> None:
    first = drive(event("recommender_create"))
    second = drive(event("recommender_create"))

    assert second.physical_id == first.physical_id
    assert handlers.calls()["calls"]["CreateRecommender"] == 1


def test_failed_training_surfaces_the_reason_verbatim(
    handlers: EmulatorServer, personalize: Any, imported: str
) -> None:
    with pytest.raises(ResourceFailedError) as failure:
        drive(event("recommender_create", properties={"RecipeArn": BY_PURCHASES}))

    assert str(failure.value) == (
        f"recommender pz-test-recommended-for-you ({ARN}) failed: "
        + domain_rules.reason_too_few_interactions("Purchase")
        + " (the failed recommender is being deleted, so that its name can be used again)"
    )
    # The Provider framework sends no Delete after a failed Create: the handler deletes it itself.
    statuses = {item["status"] for item in personalize.list_recommenders()["recommenders"]}
    assert statuses <= {"DELETE PENDING", "DELETE IN_PROGRESS"}


def test_config_change_updates_in_place_and_waits(
    handlers: EmulatorServer, personalize: Any, imported: str
) -> None:
    created = drive(event("recommender_create"))
    updated = drive(event("recommender_update"))

    assert updated.physical_id == created.physical_id
    described = recommender(personalize)
    assert described["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 5
    assert described["latestRecommenderUpdate"]["status"] == "ACTIVE"
    assert handlers.calls()["calls"]["CreateRecommender"] == 1


def test_config_change_while_training_waits_out_resource_in_use(
    handlers: EmulatorServer, personalize: Any, imported: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An update's rollback can send UpdateRecommender while training or another update runs: Personalize
    answers ResourceInUse, and the handler defers the update to is_complete instead of failing."""
    create = event("recommender_create", properties={"WaitForActive": "false"})
    created = drive(create)
    assert recommender(personalize)["status"] != "ACTIVE"  # still training
    update = event("recommender_update", physical_id=created.physical_id)
    update["OldResourceProperties"]["WaitForActive"] = "false"

    updated = drive(update, max_polls=60)

    assert updated.physical_id == created.physical_id
    lines = [line["decision"] for line in decisions(caplog.records)]
    assert "config-update-deferred" in lines and "config-update-requested" in lines
    assert recommender(personalize)["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 5


def test_recipe_change_replaces(handlers: EmulatorServer, imported: str) -> None:
    drive(event("recommender_create"))
    new_recipe = "arn:aws:personalize:::recipe/aws-ecomm-popular-items-by-views"
    with pytest.raises(ResourceFailedError):  # too few View events: the new one really was created
        drive(
            event(
                "recommender_update",
                properties={"RecipeArn": new_recipe, "Name": "pz-test-popular-by-views"},
            )
        )
    assert handlers.calls()["calls"]["CreateRecommender"] == 2


def test_stopped_recommender_is_deleted(handlers: EmulatorServer, personalize: Any, imported: str) -> None:
    drive(event("recommender_create"))
    personalize.stop_recommender(recommenderArn=ARN)
    for _ in range(6):
        if recommender(personalize)["status"] == "INACTIVE":
            break
    assert recommender(personalize)["status"] == "INACTIVE"

    drive(event("recommender_delete"))

    assert personalize.list_recommenders()["recommenders"] == []


def test_delete_while_training_waits_for_training_to_end(
    handlers: EmulatorServer, personalize: Any, imported: str
) -> None:
    drive(event("recommender_create", properties={"WaitForActive": "false"}))

    outcome = drive(event("recommender_delete"))

    assert outcome.physical_id == ARN
    assert outcome.polls > 2, "the delete was refused while training and retried until it went through"
    assert personalize.list_recommenders()["recommenders"] == []


def test_retained_recommender_stays(handlers: EmulatorServer, personalize: Any, imported: str) -> None:
    drive(event("recommender_create"))
    drive(event("recommender_delete", properties={"RemovalPolicy": "retain"}))

    assert recommender(personalize)["status"] == "ACTIVE"


def test_unknown_recipe_fails_before_any_call(handlers: EmulatorServer, imported: str) -> None:
    with pytest.raises(Exception, match="is not a domain recipe"):
        drive(event("recommender_create", properties={"RecipeArn": "arn:aws:personalize:::recipe/aws-nope"}))
    assert "CreateRecommender" not in handlers.calls()["calls"]
