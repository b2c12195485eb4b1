"""`make demo`'s last step: a user's recommendations before and after the events it records."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from lambda_handlers.personalize import domain, kinds
from personalize_tools import record
from personalize_tools.demo import DEMO_USER, close_the_loop
from personalize_tools.emulator import EmulatorServer
from personalize_tools.localdeploy.aws import Endpoints
from tests.emulator.support import active_dataset, active_group, settle


def _recorded(emulator: EmulatorServer, arn: str) -> int:
    dataset = next(item for item in emulator.state()["resources"]["dataset"] if item["datasetArn"] == arn)
    return int(dataset["recordedRecords"])


def test_the_demo_records_events_and_shows_recommendations_before_and_after(
    clean_emulator: EmulatorServer, personalize: Any, moto_server: str, tmp_path: Path
) -> None:
    group_arn = active_group(personalize, "demo")
    dataset_arn = active_dataset(personalize, group_arn, "demo-interactions")
    tracker = personalize.create_event_tracker(name="demo-tracker", datasetGroupArn=group_arn)
    settle(personalize, "event_tracker", tracker["eventTrackerArn"])
    history = tmp_path / "history.csv"
    history.write_text(
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n"
        + "".join(
            f"user-{n % 60},item-{n % 6 * 10 + n % 4},{1_700_000_000 + n},{'View' if n % 9 else 'Purchase'}\n"
            for n in range(1200)
        )
    )
    endpoints = Endpoints(personalize=clean_emulator.url, aws=moto_server)
    summary = record.record_file(
        history,
        "events",
        {"trackingId": tracker["trackingId"]},
        endpoints.client("personalize-events"),
        rate=0,
    )
    assert summary.accepted == 1200
    recipe = domain.RECIPES["aws-ecomm-recommended-for-you"].arn
    recommender_arn = personalize.create_recommender(
        name="demo-rfy", datasetGroupArn=group_arn, recipeArn=recipe
    )["recommenderArn"]
    assert settle(personalize, "recommender", recommender_arn)["status"] == kinds.ACTIVE
    outputs = {
        "TrackingId": tracker["trackingId"],
        "EcommRecommendedForYouRecommenderArn": recommender_arn,
        "EcommRecommendedForYouRecommenderStatus": kinds.ACTIVE,
    }

    out = io.StringIO()
    assert close_the_loop(outputs, endpoints, out) is True
    lines = {line.split()[0]: line for line in out.getvalue().splitlines() if line.strip()}
    before = lines["before"].split(None, 1)[1].split(", ")
    after = lines["after"].split(None, 1)[1].split(", ")
    assert len(before) == len(after) == 5
    assert f"{DEMO_USER} and demo-rfy (aws-ecomm-recommended-for-you)" in out.getvalue()
    assert f"Purchase {before[0]}" in lines["PutEvents"]
    assert before[0] not in after  # bought: "automatically filters out items the user purchased"
    assert after != before
    assert _recorded(clean_emulator, dataset_arn) == 1200 + 4


def test_the_demo_skips_the_loop_without_a_usable_recommender(
    clean_emulator: EmulatorServer, moto_server: str
) -> None:
    out = io.StringIO()
    endpoints = Endpoints(personalize=clean_emulator.url, aws=moto_server)
    outputs = {
        "TrackingId": "t",
        "EcommRecommendedForYouRecommenderArn": "arn",
        "EcommRecommendedForYouRecommenderStatus": "CREATE IN_PROGRESS",
    }
    assert close_the_loop(outputs, endpoints, out) is False
    assert "skipped" in out.getvalue()
