"""The smoke test's optional read-only check: ACTIVE recommenders answer GetRecommendations."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.personalize import domain, domain_rules
from personalize_tools.emulator import EmulatorServer
from stacks.pipeline_runtime import smoke
from tests.emulator.support import active_dataset, active_group, settle
from tests.emulator.test_events import client, event


@pytest.fixture
def group(clean_emulator: EmulatorServer, personalize: Any) -> dict[str, Any]:
    """A group fed only by PutEvents (no import job), with an ACTIVE, a stopped and a failed recommender."""
    group_arn = active_group(personalize, "smokey")
    active_dataset(personalize, group_arn, "smokey-interactions")
    tracker = personalize.create_event_tracker(name="smokey-tracker", datasetGroupArn=group_arn)
    settle(personalize, "event_tracker", tracker["eventTrackerArn"])
    events = client(clean_emulator, "personalize-events")
    for batch in range(110):
        events.put_events(
            trackingId=tracker["trackingId"],
            userId=f"user-{batch % 30}",
            sessionId=f"s-{batch}",
            eventList=[event(f"item-{(batch + n) % 40}") for n in range(10)],
        )
    arns = {}
    for name, use_case in (
        ("viewed", "aws-ecomm-popular-items-by-views"),
        ("also", "aws-ecomm-customers-who-viewed-x-also-viewed"),
        ("stopped", "aws-ecomm-recommended-for-you"),
        ("failed", "aws-ecomm-popular-items-by-purchases"),  # no Purchase events at all
    ):
        arn = personalize.create_recommender(
            name=f"smokey-{name}", datasetGroupArn=group_arn, recipeArn=domain.RECIPES[use_case].arn
        )["recommenderArn"]
        settle(personalize, "recommender", arn)
        arns[name] = arn
    personalize.stop_recommender(recommenderArn=arns["stopped"])
    settle(personalize, "recommender", arns["stopped"])
    clean_emulator.reset_calls()
    return {"group": group_arn, **arns}


def run(emulator: EmulatorServer, group: dict[str, Any], *names: str, extra: tuple[str, ...] = ()) -> int:
    arguments = [
        "--dataset-group-arn",
        group["group"],
        "--endpoint-url",
        emulator.url,
        "--region",
        "us-east-1",
    ]
    for name in names:
        arguments += ["--recommender-arn", group[name]]
    return smoke.main([*arguments, *extra])


def test_active_recommenders_answer_and_nothing_is_written(
    clean_emulator: EmulatorServer, group: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(clean_emulator, group, "viewed", "also", "stopped") == 0
    out = capsys.readouterr().out
    assert f"{group['viewed']}  ACTIVE, 5 recommendation(s)" in out
    assert "needs an itemId: give --item-id" in out
    assert f"{group['stopped']}  INACTIVE: not asked" in out
    calls = clean_emulator.calls()["calls"]
    assert calls["GetRecommendations"] == 1
    assert not {"PutEvents", "PutUsers", "PutItems"} & set(calls)

    assert run(clean_emulator, group, "also", extra=("--item-id", "item-3")) == 0
    assert f"{group['also']}  ACTIVE, 5 recommendation(s)" in capsys.readouterr().out


def test_a_failed_recommender_fails_the_smoke_test_with_its_reason(
    clean_emulator: EmulatorServer, group: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(clean_emulator, group, "viewed", "failed") == 1
    assert domain_rules.reason_too_few_interactions("Purchase") in capsys.readouterr().err


def test_without_an_import_job_only_the_group_is_checked(
    clean_emulator: EmulatorServer, group: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(clean_emulator, group) == 0
    assert "dataset import job" not in capsys.readouterr().out
