"""CloudFormation's ServiceTimeout, enforced locally: a custom resource whose operation outlives it fails
with CloudFormation's reason, whatever its handler is doing, and the stack rolls back.

Hand-written stacks of `Custom::PersonalizeThing` resources served by `recording_handler` (as in
test_engine), with ServiceTimeout set to 1 s and handlers that wait longer: polls that never complete, an
on_event that sleeps, a Delete that never completes. The clock includes starting a handler worker (as a
Lambda cold start counts in AWS), so each timed resource depends on one without a timeout, whose call
leaves a warm worker behind.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from personalize_tools.localdeploy.engine import LocalDeployer
from personalize_tools.localdeploy.errors import DeployFailedError, StateError
from personalize_tools.localdeploy.events import EventLog
from personalize_tools.localdeploy.provider import SERVICE_TIMEOUT_REASON

from .conftest import RECORDING_HANDLER, DeployerFactory, artifact, journal_entries
from .test_engine import calls, index_of, thing

STACK = "service-timeout-test"
NEVER = "1000000"  # polls a handler needs before it answers IsComplete true: never, within a test


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal.jsonl"


def reason(events: EventLog, logical_id: str, status: str) -> str:
    (event,) = [e for e in events.for_status(status) if e.logical_id == logical_id]
    return event.reason


def destroy_until_done(deployer: LocalDeployer) -> None:
    """A destroy's first request starts a worker, and that cold start counts against B's 1 s
    ServiceTimeout (no resource warms one first), so on a loaded machine it may run out: destroy retries
    what it could not delete, as documented."""
    for _ in range(3):
        try:
            assert deployer.destroy(STACK)
        except DeployFailedError:
            continue
        break
    assert deployer.store.load(STACK) is None


def test_a_wait_past_the_service_timeout_fails_the_resource_and_the_create_rolls_back(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    slow = thing(journal, Parent={"Ref": "A"}, Polls=NEVER, ServiceTimeout=1)
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(artifact(STACK, {"A": thing(journal), "B": slow}))

    assert events.statuses("B") == [
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ]
    assert reason(events, "B", "CREATE_FAILED") == SERVICE_TIMEOUT_REASON
    assert str(raised.value) == (
        f"The following resource(s) failed to create: [B]. B: {SERVICE_TIMEOUT_REASON}"
    )
    assert raised.value.final_status == "ROLLBACK_COMPLETE"
    # No response reached CloudFormation, so the rollback's Delete carries an id CloudFormation made up,
    # not the one on_event answered (B:1), and reaches the handler; then A is deleted.
    (delete,) = [entry for entry in calls(journal, "B", "on_event") if entry["RequestType"] == "Delete"]
    assert delete["PhysicalResourceId"].startswith(f"{STACK}-B-")
    assert index_of(journal, "A", "Delete") > index_of(journal, "B", "Delete")
    polls = len([entry for entry in calls(journal, "B", "is_complete") if entry["RequestType"] == "Create"])
    assert polls >= 1
    time.sleep(0.3)
    creating = [entry for entry in calls(journal, "B", "is_complete") if entry["RequestType"] == "Create"]
    assert len(creating) == polls  # nobody polls on after the failure

    # The world: nothing left, and the next deploy with a patient resource completes.
    state = deployer.deploy(artifact(STACK, {"A": thing(journal), "B": thing(journal, Parent={"Ref": "A"})}))
    assert state.status == "CREATE_COMPLETE" and sorted(state.resources) == ["A", "B"]


def test_an_on_event_past_the_service_timeout_is_stopped(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    """CloudFormation does not wait for the handler: the invocation in flight is abandoned (its worker
    stopped), so the handler never gets to answer, and the rollback goes on meanwhile."""
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    sleeper = thing(journal, Parent={"Ref": "A"}, SleepOnEvent=3, ServiceTimeout=1)
    started = time.monotonic()
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(artifact(STACK, {"A": thing(journal), "B": sleeper}))
    assert reason(events, "B", "CREATE_FAILED") == SERVICE_TIMEOUT_REASON
    # The rollback's Delete reaches the same handler, which sleeps past its ServiceTimeout too.
    assert reason(events, "B", "DELETE_FAILED") == SERVICE_TIMEOUT_REASON
    assert raised.value.final_status == "ROLLBACK_FAILED"
    assert [entry["RequestType"] for entry in calls(journal, "B", "on_event")] == ["Create", "Delete"]
    assert not calls(journal, "B", "is_complete")
    time.sleep(max(0.0, started + 3.5 - time.monotonic()))  # past the moment the sleeper would answer
    assert not calls(journal, "B", "on_event_done")

    # ROLLBACK_FAILED: B's record is a failed Create's, never a resource. As in CloudFormation the stack can
    # only be deleted; the deploy refuses, saying so, before any request is sent.
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    requests = len(journal_entries(journal))
    with pytest.raises(StateError) as refused:
        deployer.deploy(artifact(STACK, {"A": thing(journal), "B": sleeper}))
    assert str(refused.value).startswith(f"stack {STACK} is in ROLLBACK_FAILED state and can not be updated")
    assert f"destroy --stack {STACK}`" in str(refused.value)
    assert len(journal_entries(journal)) == requests
    Path(f"{journal}.healed").touch()  # the handler fixed: the destroy's Delete answers
    destroy_until_done(deployer)
    state = deployer.deploy(artifact(STACK, {"A": thing(journal), "B": sleeper}))
    assert state.status == "CREATE_COMPLETE" and state.resources["B"].physical_id == "B:1"
    types = [entry["RequestType"] for entry in calls(journal, "B", "on_event")]
    assert types[:2] == ["Create", "Delete"] and types[-1] == "Create"  # the Create reaches the handler
    assert set(types[2:-1]) == {"Delete"}  # the destroy's Delete(s), none of them an Update
    destroy_until_done(deployer)


def test_a_failed_create_left_by_an_update_rollback_is_created_by_the_next_deploy(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    """UPDATE_ROLLBACK_FAILED keeps the record of a failed Create (its Delete failed too); the next deploy
    with the same properties must create the resource, not take the record as one that exists."""
    deployer, _ = make_deployer(handler_module=RECORDING_HANDLER)
    deployer.deploy(artifact(STACK, {"A": thing(journal)}))
    broken = thing(journal, Parent={"Ref": "A"}, FailOnComplete="Create", FailOn="Delete")
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(artifact(STACK, {"A": thing(journal), "B": broken}))
    assert raised.value.final_status == "UPDATE_ROLLBACK_FAILED"
    kept = deployer.store.load(STACK)
    assert kept is not None and kept.resources["B"].failed and kept.resources["B"].physical_id == "B:1"

    Path(f"{journal}.healed").touch()
    state = deployer.deploy(artifact(STACK, {"A": thing(journal), "B": broken}))
    assert state.status == "UPDATE_COMPLETE" and not state.resources["B"].failed
    assert [entry["RequestType"] for entry in calls(journal, "B", "on_event")] == [
        "Create",
        "Delete",
        "Create",
    ]
    assert state.retired == []  # the new Create answered the same id: nothing for cleanup to delete
    assert deployer.destroy(STACK) and deployer.store.load(STACK) is None


def test_an_update_past_the_service_timeout_is_rolled_back_to_the_old_properties(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    deployer.deploy(
        artifact(STACK, {"A": thing(journal, Size=1), "B": thing(journal, Parent={"Ref": "A"}, Size=1)})
    )
    slow = thing(journal, Parent={"Ref": "A"}, Size=2, Polls=NEVER, ServiceTimeout=1)
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(artifact(STACK, {"A": thing(journal, Size=2), "B": slow}))

    assert reason(events, "B", "UPDATE_FAILED") == SERVICE_TIMEOUT_REASON
    assert raised.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    update, rollback = [entry for entry in calls(journal, "B") if entry["RequestType"] == "Update"]
    assert update["ResourceProperties"]["Size"] == "2"
    assert (
        rollback["ResourceProperties"]["Size"] == "1"
        and "ServiceTimeout" not in rollback["ResourceProperties"]
    )
    state = deployer.store.load(STACK)
    assert state is not None
    assert state.resources["A"].properties["Size"] == "1" and state.resources["B"].properties["Size"] == "1"
    assert deployer.destroy(STACK) and deployer.store.load(STACK) is None


def test_a_delete_past_the_service_timeout_leaves_the_stack_delete_failed(
    make_deployer: DeployerFactory, journal: Path
) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    stuck = thing(journal, Parent={"Ref": "A"}, DeletePolls=NEVER, ServiceTimeout=1)
    deployer.deploy(artifact(STACK, {"A": thing(journal), "B": stuck}))
    # A destroy starts its workers anew: B's Delete may run out of time in on_event already; same reason.
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    with pytest.raises(DeployFailedError) as raised:
        deployer.destroy(STACK)
    assert reason(events, "B", "DELETE_FAILED") == SERVICE_TIMEOUT_REASON
    assert raised.value.final_status == "DELETE_FAILED"
    state = deployer.store.load(STACK)
    assert state is not None and state.resources["B"].physical_id == "B:1"  # kept for another destroy
    assert "A" in state.resources  # what B depends on is not deleted before it


@pytest.mark.parametrize("value", ["0", "3601", "1.5", "soon"])
def test_a_service_timeout_outside_1_to_3600_seconds_fails_the_resource(
    make_deployer: DeployerFactory, journal: Path, value: Any
) -> None:
    deployer, events = make_deployer(handler_module=RECORDING_HANDLER)
    with pytest.raises(DeployFailedError):
        deployer.deploy(artifact(STACK, {"B": thing(journal, ServiceTimeout=value)}))
    assert reason(events, "B", "CREATE_FAILED") == (
        f"B: ServiceTimeout '{value}' is not an integer from 1 to 3600 "
        "(seconds; AWS::CloudFormation::CustomResource)"
    )
    assert journal_entries(journal) == []  # refused before any request was sent
