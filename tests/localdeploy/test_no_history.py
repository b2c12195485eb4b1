"""The seed's other path, deployed: no historical data → PutEvents until the minimum → a recommender.

A stack without any data_source deploys datasets and an event tracker but no import job; the recording
tool sends interactions with the stack's tracking id; the same environment with `interactions_recorded`
and a recommender then updates into an ACTIVE recommender that answers GetRecommendations. Destroy
leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config import load_file
from lambda_handlers.personalize import domain, domain_rules, kinds
from personalize_tools import record
from personalize_tools.emulator import EmulatorServer
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.localdeploy.errors import DeployFailedError

from .conftest import DeployerFactory, bucket_names

USE_CASE = "aws-ecomm-popular-items-by-views"


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackArtifact]:
    folder = tmp_path_factory.mktemp("no-history")
    base: dict[str, Any] = {
        "name_prefix": "nh",
        "domain": "ECOMMERCE",
        "event_tracker": True,
        "removal_policy": "destroy",
        "users": {},
    }
    variants = {
        "empty": base,
        "ready": {
            **base,
            "interactions_recorded": True,
            "recommenders": [{"use_case": USE_CASE, "wait_for_active": True}],
        },
    }
    out = {}
    for key, raw in variants.items():
        path = folder / f"{key}.yaml"
        path.write_text(yaml.safe_dump(raw))
        out[key] = synthesize_config(load_file(path, "fresh"), folder / f"cdk.out.{key}")
    return out


def _interactions(path: Path, rows: int) -> Path:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"]
    lines += [f"user-{n % 50},item-{(n * 7) % 97},{1_700_000_000 + n},View" for n in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_events_until_the_minimum_then_a_recommender(
    assemblies: dict[str, StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    emulator: EmulatorServer,
    tmp_path: Path,
) -> None:
    deployer, _ = make_deployer()
    created = deployer.deploy(assemblies["empty"], environment="fresh")
    assert created.status == "CREATE_COMPLETE"
    types = {resource.resource_type for resource in created.resources.values()}
    assert "Custom::PersonalizeDatasetImportJob" not in types
    assert created.outputs["InteractionsDataLocation"].startswith("none: no import job")
    tracking_id = created.outputs["TrackingId"]

    events = endpoints.client("personalize-events")
    short = record.record_file(
        _interactions(tmp_path / "first.csv", domain.MIN_INTERACTIONS - 100),
        "events",
        {"trackingId": tracking_id},
        events,
        rate=0,
    )
    assert short.accepted == domain.MIN_INTERACTIONS - 100
    dataset_arn = created.outputs["InteractionsDatasetArn"]
    state = next(d for d in emulator.state()["resources"]["dataset"] if d["datasetArn"] == dataset_arn)
    assert state["recordedRecords"] == domain.MIN_INTERACTIONS - 100
    assert "records" not in state  # nothing was bulk-imported

    rest = record.record_file(
        _interactions(tmp_path / "rest.csv", 100), "events", {"trackingId": tracking_id}, events, rate=0
    )
    assert rest.accepted == 100

    updated = deployer.deploy(assemblies["ready"], environment="fresh")
    assert updated.status == "UPDATE_COMPLETE"
    recommender_arn = updated.outputs["EcommPopularItemsByViewsRecommenderArn"]
    assert updated.outputs["EcommPopularItemsByViewsRecommenderStatus"] == kinds.ACTIVE
    runtime = endpoints.client("personalize-runtime")
    items = runtime.get_recommendations(recommenderArn=recommender_arn, userId="user-1", numResults=5)[
        "itemList"
    ]
    assert len(items) == 5

    assert deployer.destroy(assemblies["ready"].stack_name) is True
    remaining = emulator.state()["resources"]
    fresh = [
        item
        for items_of_kind in remaining.values()
        for item in items_of_kind
        if any(str(value).startswith("nh-fresh-") for value in item.values())
    ]
    assert fresh == []
    assert bucket_names(endpoints) == []


def test_too_few_events_fail_the_recommender_with_the_service_reason(
    assemblies: dict[str, StackArtifact], make_deployer: DeployerFactory, endpoints: Endpoints, tmp_path: Path
) -> None:
    """Opting in before the minimum is reached: training fails, and the deploy rolls back with the reason."""

    deployer, _ = make_deployer()
    created = deployer.deploy(assemblies["empty"], environment="fresh")
    record.record_file(
        _interactions(tmp_path / "few.csv", 30),
        "events",
        {"trackingId": created.outputs["TrackingId"]},
        endpoints.client("personalize-events"),
        rate=0,
    )
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(assemblies["ready"], environment="fresh")
    assert domain_rules.reason_too_few_interactions("View") in str(raised.value)
    # After a failed Create the Provider framework handles the rollback's Delete itself, so the handler
    # deletes the CREATE FAILED recommender it created before it reports the failure (ownership, in
    # docs/custom-resources.md): nothing is left to block the datasets deletion.
    personalize = endpoints.client("personalize")
    assert [
        r["name"] for r in personalize.list_recommenders()["recommenders"] if "nh-fresh" in r["name"]
    ] == []
    assert deployer.destroy(assemblies["empty"].stack_name) is True
