"""Recommender config updates: waited for on latestRecommenderUpdate, as DescribeRecommender documents it.

A recommender update's status is CREATE PENDING > CREATE IN_PROGRESS > ACTIVE (or CREATE FAILED) while
the recommender itself stays ACTIVE on its previous configuration; UpdateRecommender is refused while
the recommender still trains, so the handler asks again once it can.
"""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.personalize import kinds
from personalize_tools.emulator import EmulatorServer

from .support import drive, event, settle_import_job, start

ARN = "arn:aws:personalize:us-east-1:123456789012:recommender/pz-test-recommended-for-you"


@pytest.fixture
def imported(dataset_arn: str, data_location: str, personalize: Any) -> str:
    job = drive(event("import_job_create", properties={"DataLocation": data_location}))
    assert settle_import_job(personalize, job.physical_id) == "ACTIVE"
    return dataset_arn


def test_update_waits_for_the_latest_update_not_the_recommender_status(
    handlers: EmulatorServer, personalize: Any, imported: str
) -> None:
    drive(event("recommender_create"))
    waiter = start(event("recommender_update"))

    seen = []
    for _ in range(10):
        answer = waiter.poll()
        described = personalize.describe_recommender(recommenderArn=ARN)["recommender"]
        seen.append((described["status"], answer["IsComplete"]))
        if answer["IsComplete"]:
            break

    # While the update runs the recommender is ACTIVE: a wait on its status alone would end at once.
    assert seen[0] == ("ACTIVE", False)
    assert seen[-1] == ("ACTIVE", True)
    latest = personalize.describe_recommender(recommenderArn=ARN)["recommender"]["latestRecommenderUpdate"]
    assert latest["status"] == kinds.ACTIVE
    assert latest["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 5
    assert handlers.calls()["calls"]["UpdateRecommender"] == 1


def test_update_refused_while_training_is_asked_again_and_waited_for(
    handlers: EmulatorServer, personalize: Any, imported: str
) -> None:
    created = drive(event("recommender_create", properties={"WaitForActive": "false"}))
    assert created.data["Status"] in kinds.IN_FLIGHT_CREATE_STATUSES  # still training

    outcome = drive(event("recommender_update"))

    assert outcome.physical_id == ARN
    assert handlers.calls()["errors"]["UpdateRecommender"]["ResourceInUseException"] >= 1
    described = personalize.describe_recommender(recommenderArn=ARN)["recommender"]
    assert described["status"] == kinds.ACTIVE
    assert described["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 5
    assert described["latestRecommenderUpdate"]["status"] == kinds.ACTIVE
