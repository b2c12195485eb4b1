"""Issue 13's lifecycle matrix: an update of each property that replaces or is refused, a failure at each
resource during an update, a failure in an in-place update, and the local deployer killed at each step of
a deploy, of an update and of a destroy.

Each row ends with the world checks (tests/localdeploy/world.py): one of each resource and all ACTIVE (no
orphan, no duplicate), the kept dataset's record count, and a next deploy that works with nothing edited.
Rows share deployments: the "live" and "pinned" stacks are deployed once for the module, every row starts
from their first config and leaves them there (a refused or failed update rolls back; a replacement is
deployed back, which is itself the "next deploy works" check). Every config is synthesized once.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import multiprocessing
import os
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import load_file
from lambda_handlers.personalize import contract, domain_rules, kinds
from lambda_handlers.personalize.resources import RESOURCE_TYPES
from personalize_tools.emulator import EmulatorServer
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.localdeploy.engine import DeployOptions, LocalDeployer
from personalize_tools.localdeploy.errors import DeployFailedError
from personalize_tools.localdeploy.events import STACK_TYPE, EventLog, StackEvent
from personalize_tools.localdeploy.state import StackState, StateStore
from personalize_tools.sample_data import generate_interactions, generate_users

from .conftest import SESSION
from .world import World, native_orphans, records

BUCKET = "pz-matrix-data"
ROWS = 1500
ECOMM, VOD = "aws-ecomm-recommended-for-you", "aws-vod-top-picks"

LIVE: dict[str, Any] = {  # every resource's name derived
    "name_prefix": "mxlive",
    "domain": "ECOMMERCE",
    "data_source": {"s3_uri": f"s3://{BUCKET}/ecommerce/"},
    "event_tracker": True,
    "removal_policy": "destroy",
    "recommenders": [{"use_case": ECOMM, "wait_for_active": True}],
}
VOD_CHANGES: dict[str, Any] = {
    "domain": "VIDEO_ON_DEMAND",
    "data_source": {"s3_uri": f"s3://{BUCKET}/vod/"},
    "recommenders": [{"use_case": VOD, "wait_for_active": True}],
}
WIDER_USERS = "wider-users.avsc"  # the domain's Users schema and a nullable column, written by `assemblies`
IN_PLACE: dict[str, Any] = {  # a Users dataset too, whose schema can move in place
    **LIVE,
    "name_prefix": "mxin",
    "event_tracker": False,
    "recommenders": [],
    "users": {"data_source": {"s3_uri": f"s3://{BUCKET}/users/"}},
}
USERS = 100
PINNED: dict[str, Any] = {  # the same, with the group's and the recommender's names pinned
    **LIVE,
    "name_prefix": "mxpin",
    "names": {"dataset_group": "mxpin-pinned-group"},
    "recommenders": [{"use_case": ECOMM, "wait_for_active": True, "name": "mxpin-pinned-picks"}],
}
# environment -> variant -> config
CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "live": {
        "v0": LIVE,
        "domain": {**LIVE, **VOD_CHANGES},
        "kms": {**LIVE, "kms": "create"},  # adds KmsKeyArn and RoleArn
        "recipe": {
            **LIVE,
            "recommenders": [
                {
                    "use_case": "aws-ecomm-customers-who-viewed-x-also-viewed",
                    "wait_for_active": True,
                    "min_recommendation_requests_per_second": 3,
                }
            ],
        },
    },
    "pinned": {
        "v0": PINNED,
        "domain": {**PINNED, **VOD_CHANGES, "recommenders": [{**PINNED["recommenders"][0], "use_case": VOD}]},
        "kms": {**PINNED, "kms": "create"},
        "recipe": {
            **PINNED,
            "recommenders": [
                {**PINNED["recommenders"][0], "use_case": "aws-ecomm-customers-who-viewed-x-also-viewed"}
            ],
        },
    },
    "inplace": {
        "v0": IN_PLACE,
        "wider": {**IN_PLACE, "users": {**IN_PLACE["users"], "schema": WIDER_USERS}},
    },
    "killed": {
        "v0": {**LIVE, "name_prefix": "mxkill", "recommenders": []},
        "domain": {**LIVE, **VOD_CHANGES, "name_prefix": "mxkill", "recommenders": []},
    },
}


@dataclasses.dataclass
class Live:
    """A stack deployed once for the module, and what its first config looks like in the world."""

    environment: str
    deployer: LocalDeployer
    events: EventLog
    world: World
    start: dict[str, dict[str, str]]
    dataset_arn: str

    def deploy(self, artifact: StackArtifact) -> StackState:
        return self.deployer.deploy(artifact, environment=self.environment)


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], StackArtifact]:
    folder = tmp_path_factory.mktemp("matrix")
    wider = domain_rules.default_schema("ECOMMERCE", "USERS")
    wider["fields"].append({"name": "AGE_BAND", "type": ["null", "string"], "categorical": True})
    (folder / WIDER_USERS).write_text(json.dumps(wider))
    out = {}
    for environment, variants in CONFIGS.items():
        for variant, raw in variants.items():
            path = folder / f"{environment}-{variant}.yaml"
            path.write_text(yaml.safe_dump(raw).replace(WIDER_USERS, str(folder / WIDER_USERS)))
            cdk_out = folder / f"cdk.out.{environment}.{variant}"
            out[(environment, variant)] = synthesize_config(load_file(path, environment), cdk_out)
    return out


@pytest.fixture(scope="module")
def data(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each domain's Interactions data, in an S3 bucket outside the stacks."""
    folder = tmp_path_factory.mktemp("matrix-data")
    s3 = endpoints.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for name, domain_name in (("ecommerce", "ECOMMERCE"), ("vod", "VIDEO_ON_DEMAND")):
        path = generate_interactions(folder / f"{name}.csv", domain=domain_name, rows=ROWS, seed=7)
        s3.put_object(Bucket=BUCKET, Key=f"{name}/interactions.csv", Body=path.read_bytes())
    users = generate_users(folder / "users.csv", domain="ECOMMERCE", users=USERS)
    s3.put_object(Bucket=BUCKET, Key="users/users.csv", Body=users.read_bytes())


def _deployer(endpoints: Endpoints, state_dir: Path, events: Callable[[StackEvent], None]) -> LocalDeployer:
    return LocalDeployer(
        endpoints,
        store=StateStore(state_dir),
        session=SESSION,
        events=events,
        options=DeployOptions(query_interval=0.02, handler_processes=1),
    )


def _dataset_arn(state: StackState) -> str:
    (arn,) = [
        r.physical_id for r in state.resources.values() if r.resource_type == "Custom::PersonalizeDataset"
    ]
    return str(arn)


def _live(
    environment: str,
    assemblies: dict[tuple[str, str], StackArtifact],
    endpoints: Endpoints,
    emulator: EmulatorServer,
    folder: Path,
) -> Live:
    events = EventLog(stream=None)
    deployer = _deployer(endpoints, folder / "state", events)
    state = deployer.deploy(assemblies[(environment, "v0")], environment=environment)
    world = World(endpoints, CONFIGS[environment]["v0"]["name_prefix"])
    live = Live(environment, deployer, events, world, world.whole(), _dataset_arn(state))
    assert records(emulator, live.dataset_arn) == ROWS
    return live


@pytest.fixture(scope="module")
def live(
    assemblies: dict[tuple[str, str], StackArtifact],
    endpoints: Endpoints,
    emulator: EmulatorServer,
    data: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Live:
    return _live("live", assemblies, endpoints, emulator, tmp_path_factory.mktemp("live"))


@pytest.fixture(scope="module")
def pinned(
    assemblies: dict[tuple[str, str], StackArtifact],
    endpoints: Endpoints,
    emulator: EmulatorServer,
    data: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Live:
    return _live("pinned", assemblies, endpoints, emulator, tmp_path_factory.mktemp("pinned"))


@pytest.fixture
def faults(emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    yield emulator
    emulator.set_faults(fail_name_pattern=None, fail_operations=())


def _unchanged(stack: Live, emulator: EmulatorServer) -> None:
    """The world of the stack's first config, its data whole."""
    assert stack.world.whole() == stack.start
    assert records(emulator, stack.dataset_arn) == ROWS
    assert stack.world.active_imports_of_this_dataset(stack.dataset_arn) == 1  # no second import


def _edited(artifact: StackArtifact, resource_type: str, **properties: Any) -> StackArtifact:
    """The same stack with one custom resource's properties changed, as a construct user would."""
    template = copy.deepcopy(artifact.template)
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == resource_type]
    resource["Properties"].update(properties)
    return dataclasses.replace(artifact, template=template)


# --- updates that replace ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "replaced"),
    [
        pytest.param("domain", {"group", "schema", "dataset", "tracker", "recommender"}, id="Domain"),
        pytest.param("kms", {"group", "dataset", "tracker", "recommender"}, id="KmsKeyArn+RoleArn"),
        pytest.param("recipe", {"recommender"}, id="RecipeArn+config"),
    ],
)
def test_an_update_that_replaces_rebuilds_with_the_data_and_removes_the_old_in_order(
    variant: str,
    replaced: set[str],
    live: Live,
    assemblies: dict[tuple[str, str], StackArtifact],
    emulator: EmulatorServer,
) -> None:
    """Personalize changes none of these on a live resource, so a derived name changes with them and the
    stack builds the new one next to the old, imports the data into the new dataset, and its cleanup
    removes the old ones contents first. Deploying the first config again is the same, back."""
    moved = live.deploy(assemblies[("live", variant)])
    assert moved.status == "UPDATE_COMPLETE" and moved.retired == []  # the old ones went in cleanup
    now = live.world.whole()
    assert {kind for kind in now if now[kind].keys() != live.start[kind].keys()} == replaced
    dataset_arn = _dataset_arn(moved)
    assert records(emulator, dataset_arn) == ROWS  # imported again, not lost
    assert live.world.active_imports_of_this_dataset(dataset_arn) == 1
    if variant == "kms":
        (group,) = now["group"]
        described = live.world.personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"]
        assert described["kmsKeyArn"].startswith("arn:aws:kms:") and described["roleArn"]
    if variant == "recipe":
        (arn,) = now["recommender"]
        described = live.world.personalize.describe_recommender(recommenderArn=arn)["recommender"]
        assert described["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 3

    back = live.deploy(assemblies[("live", "v0")])
    assert back.status == "UPDATE_COMPLETE" and back.retired == []
    after = live.world.whole()
    assert {kind for kind in after if after[kind].keys() != live.start[kind].keys()} <= replaced - {"group"}
    live.start, live.dataset_arn = after, _dataset_arn(back)  # a recreated dataset has the same ARN
    assert records(emulator, live.dataset_arn) == ROWS
    assert live.events.for_status("DELETE_FAILED") == []


# --- updates that are refused ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        pytest.param("domain", "Changing Domain, RoleArn or KmsKeyArn replaces the group", id="Domain"),
        pytest.param(
            "kms", "Changing Domain, RoleArn or KmsKeyArn replaces the group", id="KmsKeyArn+RoleArn"
        ),
        pytest.param("recipe", "give this recommender another name", id="RecipeArn"),
    ],
)
def test_a_replacement_under_a_pinned_name_is_refused_and_nothing_changes(
    variant: str,
    message: str,
    pinned: Live,
    assemblies: dict[tuple[str, str], StackArtifact],
    emulator: EmulatorServer,
) -> None:
    """A replacement needs a new name (Personalize names are unique), which a pinned name forbids: the
    update is refused before the old resource is touched, and rolls back whatever it had made."""
    with pytest.raises(DeployFailedError) as refused:
        pinned.deploy(assemblies[("pinned", variant)])
    assert refused.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    assert message in str(refused.value)
    _unchanged(pinned, emulator)
    again = pinned.deploy(assemblies[("pinned", "v0")])  # nothing to edit by hand
    assert again.status == "UPDATE_COMPLETE"
    _unchanged(pinned, emulator)


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        pytest.param(
            {"Name": "mxpin-pinned-renamed"}, "cannot be renamed or replaced inside its group", id="Name"
        ),
        pytest.param(
            {"DatasetType": "ITEMS"}, "DatasetType cannot change from INTERACTIONS to ITEMS", id="DatasetType"
        ),
    ],
)
def test_a_dataset_rename_or_new_type_is_refused_before_any_change(
    changed: dict[str, str],
    message: str,
    pinned: Live,
    assemblies: dict[tuple[str, str], StackArtifact],
    emulator: EmulatorServer,
) -> None:
    """A group holds one dataset per type and the dataset's ARN is group and type, so a rename cannot be
    a replacement inside the group; a new type would delete the old dataset's data, which the new one
    cannot take. Both are refused by the handler before it creates anything (as a construct user could
    write them: config derives both)."""
    edited = _edited(assemblies[("pinned", "v0")], "Custom::PersonalizeDataset", **changed)
    creates = emulator.calls()["calls"].get("CreateDataset", 0)
    with pytest.raises(DeployFailedError) as refused:
        pinned.deploy(edited)
    assert refused.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    assert message in str(refused.value)
    assert emulator.calls()["calls"].get("CreateDataset", 0) == creates
    _unchanged(pinned, emulator)
    assert pinned.deploy(assemblies[("pinned", "v0")]).status == "UPDATE_COMPLETE"
    _unchanged(pinned, emulator)


# --- a failure at each resource during an update --------------------------------------------------

# Found by this matrix and fixed: once the failed update had made the new dataset (the failure is at its
# import job, tracker or recommender), the rollback cleanup reached the new schema while the new dataset
# still used it, and the schema was kept for good (an orphan). Now the cleanup deletes a replaced dataset
# before the replaced schema it used, and a schema's Delete waits for a dataset being deleted
# (tests/handlers/test_schema.py holds one in DELETE PENDING/IN_PROGRESS).
STATUS_KINDS = [
    resource_type
    for resource_type, handler in RESOURCE_TYPES.items()
    if handler.kind.has_status and handler.kind in kinds.MANAGED
]


@pytest.mark.parametrize("resource_type", STATUS_KINDS)
def test_a_failure_at_any_resource_during_an_update_rolls_back_to_the_old_world(
    resource_type: str,
    live: Live,
    assemblies: dict[tuple[str, str], StackArtifact],
    faults: EmulatorServer,
) -> None:
    """The Domain update replaces every resource; the emulator fails the new one of this kind (its name
    read from the template): the stack rolls back, the new ones go, the old ones keep their data."""
    artifact = assemblies[("live", "domain")]
    handler = RESOURCE_TYPES[resource_type]
    (name,) = [
        resource["Properties"][handler.name_property]
        for resource in artifact.template["Resources"].values()
        if resource["Type"] == resource_type
    ]
    # an import job's name is its JobName and a hash of what makes the import one of a kind
    faults.set_faults(fail_name_pattern=f"^{re.escape(name)}(-[0-9a-f]+)?$")
    with pytest.raises(DeployFailedError) as failed:
        live.deploy(artifact)
    assert failed.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    assert f"{handler.kind.label} {name}" in str(failed.value)
    faults.set_faults(fail_name_pattern=None)
    _unchanged(live, faults)
    assert live.events.for_status("DELETE_FAILED") == []
    assert live.deploy(assemblies[("live", "v0")]).status == "UPDATE_COMPLETE"  # no manual edit


# --- a failure in an in-place update ---------------------------------------------------------------


def _group_tags(stack: Live) -> dict[str, str]:
    (group,) = stack.world.groups()
    tags = stack.world.personalize.list_tags_for_resource(resourceArn=group)["tags"]
    return {tag["tagKey"]: tag["tagValue"] for tag in tags}


def _min_requests(stack: Live) -> int:
    (arn,) = stack.world.recommenders()
    described = stack.world.personalize.describe_recommender(recommenderArn=arn)["recommender"]
    return int(described["recommenderConfig"]["minRecommendationRequestsPerSecond"])


@pytest.mark.parametrize(
    ("operation", "resource_type", "changed", "applied"),
    [
        pytest.param(
            "UpdateRecommender",
            contract.RECOMMENDER,
            {"RecommenderConfig": {"minRecommendationRequestsPerSecond": "2"}},
            lambda stack: _min_requests(stack) == 2,
            id="UpdateRecommender",
        ),
        pytest.param(
            "TagResource",
            contract.DATASET_GROUP,
            {"Tags": contract.tags({"team": "matrix"})},
            lambda stack: _group_tags(stack).get("team") == "matrix",
            id="TagResource",
        ),
    ],
)
def test_a_failure_in_an_in_place_update_rolls_back_and_the_next_deploy_applies_it(
    operation: str,
    resource_type: str,
    changed: dict[str, Any],
    applied: Callable[[Live], bool],
    live: Live,
    assemblies: dict[tuple[str, str], StackArtifact],
    faults: EmulatorServer,
) -> None:
    """fail_name_pattern fails creates only; an update that changes a resource in place fails at its
    call (the emulator's fail_operations): the stack rolls back with nothing replaced and the data kept,
    and the same update deployed again applies."""
    edited = _edited(assemblies[("live", "v0")], resource_type, **changed)
    faults.set_faults(fail_operations=[operation])
    with pytest.raises(DeployFailedError) as failed:
        live.deploy(edited)
    assert failed.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    assert f"Injected failure: {operation}" in str(failed.value)
    assert faults.faults.fail_operations == ()  # failed once: the rollback's own calls went through
    _unchanged(live, faults)
    assert not applied(live)
    assert live.events.for_status("DELETE_FAILED") == []

    assert live.deploy(edited).status == "UPDATE_COMPLETE"  # the same update, nothing edited by hand
    assert applied(live)
    _unchanged(live, faults)
    assert live.deploy(assemblies[("live", "v0")]).status == "UPDATE_COMPLETE"
    assert not applied(live)


def test_a_failed_update_dataset_to_a_wider_schema_rolls_back_with_the_data_on_the_old_schema(
    assemblies: dict[tuple[str, str], StackArtifact],
    endpoints: Endpoints,
    faults: EmulatorServer,
    data: None,
    tmp_path: Path,
) -> None:
    """A Users schema that gains a nullable column moves the dataset in place (UpdateDataset); when that
    call fails, the rollback deletes the new schema and the dataset stays on the old one with its records;
    the next deploy moves it."""
    first, wider = assemblies[("inplace", "v0")], assemblies[("inplace", "wider")]
    world = World(endpoints, IN_PLACE["name_prefix"])
    deployer = _deployer(endpoints, tmp_path / "state", EventLog(stream=None))
    state = deployer.deploy(first, environment="inplace")
    start = world.whole(schema=2, dataset=2, tracker=0, recommender=0)
    (users,) = [arn for arn in start["dataset"] if arn.endswith("/USERS")]
    old_schema = world.personalize.describe_dataset(datasetArn=users)["dataset"]["schemaArn"]
    assert records(faults, users) == USERS and records(faults, _interactions(state)) == ROWS

    faults.set_faults(fail_operations=["UpdateDataset"])
    with pytest.raises(DeployFailedError) as failed:
        deployer.deploy(wider, environment="inplace")
    assert failed.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    assert "Injected failure: UpdateDataset" in str(failed.value)
    assert world.whole(schema=2, dataset=2, tracker=0, recommender=0) == start  # the new schema gone
    assert world.personalize.describe_dataset(datasetArn=users)["dataset"]["schemaArn"] == old_schema
    assert records(faults, users) == USERS and records(faults, _interactions(state)) == ROWS

    moved = deployer.deploy(wider, environment="inplace")
    assert moved.status == "UPDATE_COMPLETE"
    now = world.whole(schema=2, dataset=2, tracker=0, recommender=0)
    assert now["dataset"] == start["dataset"]  # moved in place: the same datasets
    assert world.personalize.describe_dataset(datasetArn=users)["dataset"]["schemaArn"] != old_schema
    assert records(faults, users) == USERS and records(faults, _interactions(state)) == ROWS
    assert deployer.destroy(first.stack_name) is True
    assert world.nothing_at_all()


def _interactions(state: StackState) -> str:
    (arn,) = [
        record.physical_id
        for record in state.resources.values()
        if record.resource_type == contract.DATASET and str(record.physical_id).endswith("/INTERACTIONS")
    ]
    return str(arn)


# --- the deployer killed at every step ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KillPoint:
    """An event of the deploy at which its process group gets SIGKILL."""

    status: str  # CREATE_IN_PROGRESS (a deploy), DELETE_IN_PROGRESS (a destroy, or an update's cleanup)
    logical_id: str
    reason_prefix: str  # "" for the step's start; "Personalize status" while Personalize works on it

    def __str__(self) -> str:
        return f"{self.status} {self.logical_id}{' (in flight, not recorded)' if self.reason_prefix else ''}"

    def __call__(self, event: StackEvent) -> None:
        if (
            event.logical_id == self.logical_id
            and event.status == self.status
            and event.reason.startswith(self.reason_prefix)
        ):
            os.killpg(0, signal.SIGKILL)


def kill_points(events: list[StackEvent], *statuses: str) -> list[KillPoint]:
    """Every step of a deploy, destroy or update as it ran: each resource's start, in the plan's order,
    and for each Personalize resource with a status the moment Personalize works on it but it is not
    recorded. An update's steps are its replacements (UPDATE_IN_PROGRESS) and its cleanup's deletes."""
    points: list[KillPoint] = []
    for event in events:
        if event.status not in statuses or event.resource_type == STACK_TYPE:
            continue
        point = KillPoint(event.status, event.logical_id, "Personalize status" if event.reason else "")
        if event.reason.startswith(point.reason_prefix) and point not in points:
            points.append(point)
    return points


def _run_and_die(
    endpoints: Endpoints, state_dir: Path, artifact: StackArtifact, point: KillPoint, destroy: bool
) -> None:  # pragma: no cover - runs in the child process that kills itself
    os.setsid()  # its own process group: the kill takes its Lambda workers along
    deployer = _deployer(endpoints, state_dir, point)
    if destroy:
        deployer.destroy(artifact.stack_name)
    else:
        deployer.deploy(artifact, environment="killed")


def _killed_at(
    endpoints: Endpoints, state_dir: Path, artifact: StackArtifact, point: KillPoint, destroy: bool = False
) -> bool:
    """Deploy (or destroy) in a child process that gets SIGKILL at `point`; False when the run never
    reached it (an earlier killed run of the same record had already passed that step) and completed."""
    child = multiprocessing.get_context("fork").Process(
        target=_run_and_die, args=(endpoints, state_dir, artifact, point, destroy)
    )
    child.start()
    child.join(timeout=120)
    assert child.exitcode in (0, -signal.SIGKILL), f"{point}: the deploy ended with {child.exitcode}"
    return child.exitcode == -signal.SIGKILL


def test_a_deployer_killed_at_every_step_of_a_deploy_converges_when_run_again(
    assemblies: dict[tuple[str, str], StackArtifact],
    endpoints: Endpoints,
    emulator: EmulatorServer,
    data: None,
    tmp_path: Path,
) -> None:
    """The steps come from a reference deploy. Kills are chained (each rerun is killed at the next step,
    which is cheaper than a fresh stack per step and harder: the record has been cut several times); when a
    rerun completes because an earlier run had passed the next step, the world is checked, the stack
    destroyed, and a fresh chain starts at that step. Then a destroy, killed at each of its steps."""
    artifact = assemblies[("killed", "v0")]
    world = World(endpoints, CONFIGS["killed"]["v0"]["name_prefix"])
    reference = EventLog(stream=None)
    state = _deployer(endpoints, tmp_path / "reference", reference).deploy(artifact, environment="killed")
    world.whole(recommender=0)
    assert _deployer(endpoints, tmp_path / "reference", reference).destroy(artifact.stack_name) is True
    points = kill_points(reference.events, "CREATE_IN_PROGRESS")
    created = {record.logical_id for record in state.resources.values() if not record.skipped}
    assert {point.logical_id for point in points} == created  # every step the plan ran
    assert len([p for p in points if p.reason_prefix]) == 4  # group, dataset, import job, tracker in flight

    pending, stranded, chains = list(points), [], 0
    while pending:
        chains += 1
        state_dir, killed = tmp_path / f"chain-{chains}", []
        while pending and _killed_at(endpoints, state_dir, artifact, pending[0]):
            killed.append(pending.pop(0))
        assert killed, f"{pending[0]}: a fresh deploy never reached this step"

        deployer = _deployer(endpoints, state_dir, EventLog(stream=None))
        state = deployer.deploy(artifact, environment="killed")
        assert state.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), killed
        world.whole(recommender=0)
        dataset_arn = _dataset_arn(state)
        assert len(world.jobs_of_this_dataset(dataset_arn)) == 1, killed  # the killed runs' job adopted
        assert records(emulator, dataset_arn) == ROWS, killed
        stranded += native_orphans(endpoints, artifact.stack_name, state)

        assert deployer.destroy(artifact.stack_name) is True
        assert world.nothing_at_all(), killed
        _remove_stranded(endpoints, native_orphans(endpoints, artifact.stack_name, None))

    # The destroy killed at each of its steps the same way: one deploy, then chained killed destroys.
    deleting = kill_points(reference.events, "DELETE_IN_PROGRESS")
    assert {point.logical_id for point in deleting} == created
    state_dir = tmp_path / "destroy"
    while deleting:
        _deployer(endpoints, state_dir, EventLog(stream=None)).deploy(artifact, environment="killed")
        killed = []
        while deleting and _killed_at(endpoints, state_dir, artifact, deleting[0], destroy=True):
            killed.append(deleting.pop(0))
        assert killed, f"{deleting[0]}: a fresh destroy never reached this step"
    _deployer(endpoints, state_dir, EventLog(stream=None)).destroy(artifact.stack_name)
    assert world.nothing_at_all()
    assert native_orphans(endpoints, artifact.stack_name, None) == []
    assert stranded == []  # a killed run's generated names are in its state before the create calls


def test_a_deployer_killed_at_every_step_of_an_update_converges_when_run_again(
    assemblies: dict[tuple[str, str], StackArtifact],
    endpoints: Endpoints,
    emulator: EmulatorServer,
    data: None,
    tmp_path: Path,
) -> None:
    """The Domain update replaces every resource, so it runs the most steps: each new resource's
    replacement and, in cleanup, each old one's delete. Its steps come from a reference update; the kills
    are chained as in the deploy row (a rerun that passes its step ends the chain: the world is checked,
    the first config deployed back, which is the next-deploy check, and a fresh chain starts there)."""
    first, update = assemblies[("killed", "v0")], assemblies[("killed", "domain")]
    world = World(endpoints, CONFIGS["killed"]["v0"]["name_prefix"])
    state_dir = tmp_path / "state"
    _deployer(endpoints, state_dir, EventLog(stream=None)).deploy(first, environment="killed")
    reference = EventLog(stream=None)
    state = _deployer(endpoints, state_dir, reference).deploy(update, environment="killed")
    points = kill_points(reference.events, "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")
    replaced = {point.logical_id for point in points if point.status == "UPDATE_IN_PROGRESS"}
    managed = {r.logical_id for r in state.resources.values() if r.resource_type in RESOURCE_TYPES}
    assert managed <= replaced, points  # every Personalize resource replaced, each a step
    assert {p.logical_id for p in points if p.status == "DELETE_IN_PROGRESS"} >= managed, points  # cleanup

    pending, stranded = list(points), []
    while pending:
        back = _deployer(endpoints, state_dir, EventLog(stream=None)).deploy(first, environment="killed")
        assert back.status == "UPDATE_COMPLETE"
        world.whole(recommender=0)
        assert records(emulator, _dataset_arn(back)) == ROWS
        killed = []
        while pending and _killed_at(endpoints, state_dir, update, pending[0]):
            killed.append(pending.pop(0))
        assert killed, f"{pending[0]}: a fresh update never reached this step"

        state = _deployer(endpoints, state_dir, EventLog(stream=None)).deploy(update, environment="killed")
        assert state.status == "UPDATE_COMPLETE", killed
        world.whole(recommender=0)
        dataset_arn = _dataset_arn(state)
        assert len(world.jobs_of_this_dataset(dataset_arn)) == 1, killed  # no duplicate import
        assert records(emulator, dataset_arn) == ROWS, killed
        stranded += native_orphans(endpoints, update.stack_name, state)
    back = _deployer(endpoints, state_dir, EventLog(stream=None)).deploy(first, environment="killed")
    assert back.status == "UPDATE_COMPLETE"
    world.whole(recommender=0)
    assert records(emulator, _dataset_arn(back)) == ROWS
    assert stranded == []
    assert _deployer(endpoints, state_dir, EventLog(stream=None)).destroy(first.stack_name) is True
    assert world.nothing_at_all()


def _remove_stranded(endpoints: Endpoints, names: list[str]) -> None:
    """What a killed run stranded in moto goes, so that the next chain starts from an empty world."""
    s3, iam = endpoints.client("s3"), endpoints.client("iam")
    buckets = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    for name in names:
        if name in buckets:
            for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
                s3.delete_object(Bucket=name, Key=item["Key"])
            s3.delete_bucket(Bucket=name)
            continue
        _delete_role(iam, name)


def _delete_role(iam: Any, name: str) -> None:
    """A role and its policies, in the order IAM accepts (DeleteRole refuses a role that has any)."""
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=name)


def test_a_run_killed_between_a_native_create_and_its_record_leaves_a_name_the_next_run_adopts(
    assemblies: dict[tuple[str, str], StackArtifact],
    endpoints: Endpoints,
    data: None,
    tmp_path: Path,
) -> None:
    """The kill row hits that window only by chance (threads), so here the state is cut exactly there: a
    bucket created but not recorded (its name only saved as an intent) is adopted, a role never created
    is created under its saved name, and a destroy deletes what an unrecorded intent names."""
    artifact = assemblies[("killed", "v0")]
    store = StateStore(tmp_path / "state")
    deployer = _deployer(endpoints, tmp_path / "state", EventLog(stream=None))
    state = deployer.deploy(artifact, environment="killed")
    generated = {
        record.resource_type: record
        for record in state.resources.values()
        if record.resource_type in ("AWS::S3::Bucket", "AWS::IAM::Role")
        and str(record.physical_id).lower().startswith(artifact.stack_name.lower())
    }
    bucket, role = generated["AWS::S3::Bucket"], generated["AWS::IAM::Role"]
    iam = endpoints.client("iam")
    _delete_role(iam, str(role.physical_id))  # killed after saving the name, before CreateRole
    cut = store.load(artifact.stack_name)
    assert cut is not None
    for record in (bucket, role):
        del cut.resources[record.logical_id]
        cut.intents[record.logical_id] = {
            "resource_type": record.resource_type,
            "physical_id": str(record.physical_id),
        }
    cut.status = "UPDATE_IN_PROGRESS"
    store.save(cut)

    again = deployer.deploy(artifact, environment="killed")

    assert again.resources[bucket.logical_id].physical_id == bucket.physical_id  # adopted, not made again
    assert again.resources[role.logical_id].physical_id == role.physical_id  # created under its name
    assert iam.get_role(RoleName=role.physical_id)["Role"]["RoleName"] == role.physical_id
    assert again.intents == {}
    assert native_orphans(endpoints, artifact.stack_name, again) == []

    stray = f"{artifact.stack_name.lower()}-stray-{os.getpid()}"
    endpoints.client("s3").create_bucket(Bucket=stray)
    again.intents["Stray"] = {"resource_type": "AWS::S3::Bucket", "physical_id": stray}
    store.save(again)
    assert deployer.destroy(artifact.stack_name) is True
    assert native_orphans(endpoints, artifact.stack_name, None) == []
