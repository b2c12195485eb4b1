"""A recommender whose wait runs out, on a first deploy and during an update, with the real handlers.

The handlers' deadline (`PERSONALIZE_WAIT_SECONDS`, one poll before the Provider waiter's) is set to 2 s in
the synthesized template, and the emulator runs on a manual clock that stands still while the short-wait
deploy creates the recommender, so its wait always runs out while Personalize is still creating it; the
clock moves past the training when the recommender's failure is reported (and runs freely otherwise).
The FAILED response then carries the recommender's ARN (the Provider framework answers with the id
on_event gave, not its CREATE_FAILED marker), so CloudFormation's rollback sends a Delete (or, after an
update, the rollback Update and then the cleanup's Delete) that reaches the handler, which deletes it.
The stack ends ROLLBACK_COMPLETE or UPDATE_ROLLBACK_COMPLETE, nothing is left behind, and the next deploy
with the full wait (the cause fixed) works. A CREATE FAILED recommender (is_complete fails at once) is
test_ownership's test_3_4.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import load_file
from lambda_handlers.personalize import domain, kinds
from personalize_tools.emulator import EmulatorServer, ManualClock, Pace
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.localdeploy.engine import DeployOptions, LocalDeployer
from personalize_tools.localdeploy.errors import DeployFailedError
from personalize_tools.localdeploy.events import EventLog, StackEvent
from personalize_tools.localdeploy.state import StateStore
from personalize_tools.sample_data import generate_interactions

from .conftest import SESSION
from .world import World

BUCKET = "pz-rollback-delete-data"
PREFIX = "orbk"
RECOMMENDER_SECONDS = 3.0
SHORT_WAIT_SECONDS = "2"
RECOMMENDER_TYPE = "Custom::PersonalizeRecommender"
RECOMMENDER = {"use_case": "aws-ecomm-recommended-for-you", "wait_for_active": True}
CONFIG: dict[str, Any] = {
    "domain": "ECOMMERCE",
    "name_prefix": PREFIX,
    "data_source": {"s3_uri": f"s3://{BUCKET}/data/"},
    "removal_policy": "destroy",
    "recommenders": [RECOMMENDER],
}
VARIANTS = {
    "v1": CONFIG,
    "v2": {**CONFIG, "recommenders": [{**RECOMMENDER, "name": f"{PREFIX}-picks-2"}]},  # a replacement
}


@pytest.fixture(scope="module")
def emulator_pace() -> Pace:
    return dataclasses.replace(Pace.instant(), recommender=RECOMMENDER_SECONDS)


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def emulator(moto_server: str, emulator_pace: Pace, clock: ManualClock) -> Iterator[EmulatorServer]:
    with EmulatorServer(pace=emulator_pace, s3_endpoint_url=moto_server, clock=clock) as server:
        yield server


@contextmanager
def running(clock: ManualClock) -> Iterator[None]:
    """The emulator's clock runs (ten times faster than real time) while the block runs."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.05):
            clock.advance(0.5)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class TrainingReleased(EventLog):
    """Keeps the events; when the recommender's create or update is reported failed, moves the clock past
    its training, so the rollback's Delete finds it ACTIVE and may delete it."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(stream=None)
        self.clock = clock

    def __call__(self, event: StackEvent) -> None:
        super().__call__(event)
        if event.resource_type == RECOMMENDER_TYPE and event.status in ("CREATE_FAILED", "UPDATE_FAILED"):
            self.clock.advance(RECOMMENDER_SECONDS + 1)


@pytest.fixture
def deployer(endpoints: Endpoints, tmp_path: Path, clock: ManualClock) -> tuple[LocalDeployer, EventLog]:
    events = TrainingReleased(clock)
    store = StateStore(tmp_path / "state")
    options = DeployOptions(query_interval=0.05)
    return LocalDeployer(endpoints, store=store, session=SESSION, events=events, options=options), events


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackArtifact]:
    folder = tmp_path_factory.mktemp("rollback-delete")
    out = {}
    for variant, raw in VARIANTS.items():
        path = folder / f"rbk-{variant}.yaml"
        path.write_text(yaml.safe_dump(raw))
        out[variant] = synthesize_config(load_file(path, "rbk"), folder / f"cdk.out.{variant}")
    return out


def short_wait(artifact: StackArtifact) -> StackArtifact:
    """The same stack with the handlers' own deadline cut to SHORT_WAIT_SECONDS."""
    template = copy.deepcopy(artifact.template)
    patched = 0
    for resource in template["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if domain.WAIT_SECONDS_ENV in variables:
            variables[domain.WAIT_SECONDS_ENV] = SHORT_WAIT_SECONDS
            patched += 1
    assert patched == 2  # on_event and is_complete
    return dataclasses.replace(artifact, template=template)


@pytest.fixture
def world(endpoints: Endpoints, clean_emulator: EmulatorServer, tmp_path: Path) -> Iterator[World]:
    s3 = endpoints.client("s3")
    if BUCKET not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    data = generate_interactions(tmp_path / "interactions.csv", domain="ECOMMERCE", rows=1500, seed=5)
    s3.put_object(Bucket=BUCKET, Key="data/interactions.csv", Body=data.read_bytes())
    yield World(endpoints, PREFIX)


def recommender_statuses(events: EventLog) -> list[str]:
    return [
        event.status for event in events.events if event.resource_type == "Custom::PersonalizeRecommender"
    ]


def test_a_timed_out_recommender_on_a_first_deploy_is_deleted_by_the_rollback(
    assemblies: dict[str, StackArtifact],
    deployer: tuple[LocalDeployer, EventLog],
    world: World,
    clock: ManualClock,
) -> None:
    local, events = deployer
    with pytest.raises(DeployFailedError) as raised:
        local.deploy(short_wait(assemblies["v1"]), environment="rbk")
    assert raised.value.final_status == "ROLLBACK_COMPLETE"
    assert "was still CREATE" in str(raised.value)
    statuses = recommender_statuses(events)
    assert statuses[-2:] == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"] and "CREATE_FAILED" in statuses
    assert events.for_status("DELETE_FAILED") == []
    assert world.nothing_at_all()  # the recommender too: no orphan

    with running(clock):
        state = local.deploy(assemblies["v1"], environment="rbk")  # the full wait again
        assert state.status == "CREATE_COMPLETE"
        assert list(world.recommenders().values()) == [kinds.ACTIVE]
        assert local.destroy(state.stack_name) and world.nothing_at_all()


def test_a_timed_out_replacement_recommender_is_rolled_back_and_deleted_in_the_cleanup(
    assemblies: dict[str, StackArtifact],
    deployer: tuple[LocalDeployer, EventLog],
    world: World,
    clock: ManualClock,
) -> None:
    local, events = deployer
    with running(clock):
        state = local.deploy(assemblies["v1"], environment="rbk")
    (old,) = world.recommenders()
    with pytest.raises(DeployFailedError) as raised:
        local.deploy(short_wait(assemblies["v2"]), environment="rbk")
    assert raised.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    assert "was still CREATE" in str(raised.value)
    assert events.for_status("DELETE_FAILED") == [] and events.for_status("UPDATE_FAILED")
    assert recommender_statuses(events)[-2:] == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]  # the cleanup
    assert world.recommenders() == {old: kinds.ACTIVE}  # the new one went in the cleanup
    recorded = local.store.load(state.stack_name)
    assert recorded is not None and not recorded.retired
    assert old in [record.physical_id for record in recorded.resources.values()]

    with running(clock):
        state = local.deploy(assemblies["v2"], environment="rbk")  # the full wait again
        assert state.status == "UPDATE_COMPLETE"
        (new,) = world.recommenders()
        assert new != old and world.recommenders()[new] == kinds.ACTIVE
        assert local.destroy(state.stack_name) and world.nothing_at_all()
