"""Issue 13's reproductions, each a whole deployment against the emulator and moto with the real handlers.

Every scenario ends by checking the world: what the stack must not delete is still there with its data
(an ACTIVE import), nothing it created is left behind, and the next deploy works without editing
anything. Each environment has a name prefix of its own, so scenarios sharing the module's emulator
cannot see each other's resources; every config is synthesized once for the module.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import load_file
from lambda_handlers.personalize import domain, domain_rules
from personalize_tools.emulator import EmulatorServer
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.localdeploy.engine import DeployOptions, LocalDeployer
from personalize_tools.localdeploy.errors import DeployFailedError
from personalize_tools.localdeploy.events import EventLog
from personalize_tools.localdeploy.state import StateStore
from personalize_tools.sample_data import generate_interactions

from .conftest import SESSION, DeployerFactory

EXTERNAL_BUCKET = "pz-ownership-external-data"
GOOD_ROWS, SHORT_ROWS = 1500, 200
RECIPE = "aws-ecomm-recommended-for-you"

BASE: dict[str, Any] = {
    "domain": "ECOMMERCE",
    "import_mode": "FULL",
    "data_version": "1",
    "event_tracker": True,
    "removal_policy": "destroy",
}


def _s3_source(key: str) -> dict[str, Any]:
    return {"data_source": {"s3_uri": f"s3://{EXTERNAL_BUCKET}/{key}"}}


# environment -> variant -> config. Prefixes are unique per environment.
SCENARIOS: dict[str, dict[str, dict[str, Any]]] = {
    "kept": {  # 1: retain, destroy, then the same stack with removal_policy destroy
        "retain": {**BASE, "name_prefix": "okept", **_s3_source("kept/"), "removal_policy": "retain"},
        # another location, so that this deployment imports (and its import fails: too few rows)
        "destroy": {**BASE, "name_prefix": "okept", **_s3_source("kept-short/")},
    },
    "again": {"v1": {**BASE, "name_prefix": "oagain", **_s3_source("again/")}},  # 2
    "fixed": {  # 3: a failed import under retain, then the file fixed in place
        "v1": {**BASE, "name_prefix": "ofixed", **_s3_source("fixed/"), "removal_policy": "retain"},
    },
    "recfail": {  # 3 and 4: a failure at each resource
        "v1": {
            **BASE,
            "name_prefix": "orecfail",
            **_s3_source("good/"),
            "recommenders": [{"use_case": RECIPE, "wait_for_active": True}],
        }
    },
    "renamed": {  # 5: a name_prefix rename
        "a": {**BASE, "name_prefix": "orena", **_s3_source("good/")},
        "b": {**BASE, "name_prefix": "orenb", **_s3_source("good/")},
    },
    "killed": {"v1": {**BASE, "name_prefix": "okilled", **_s3_source("good/")}},  # the deployer killed
    "regroup": {  # 6: a new dataset group name replaces the group, its dataset and tracker
        "a": {**BASE, "name_prefix": "oregroup", **_s3_source("good/")},
        "b": {
            **BASE,
            "name_prefix": "oregroup",
            **_s3_source("good/"),
            "names": {"dataset_group": "oregroup-moved"},
        },
    },
}


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], StackArtifact]:
    folder = tmp_path_factory.mktemp("ownership")
    two, one = folder / "two-files", folder / "one-file"  # 7: the same upload before and after a file went
    for target, parts in ((two, ("part-1", "part-2")), (one, ("part-1",))):
        for part in parts:
            generate_interactions(target / f"{part}.csv", domain="ECOMMERCE", rows=GOOD_ROWS, seed=5)
    scenarios = {
        **SCENARIOS,
        "pruned": {
            "two": {**BASE, "name_prefix": "opruned", "data_source": {"local_path": str(two)}},
            "one": {**BASE, "name_prefix": "opruned", "data_source": {"local_path": str(one)}},
        },
    }
    out = {}
    for environment, variants in scenarios.items():
        for variant, raw in variants.items():
            path = folder / f"{environment}-{variant}.yaml"
            path.write_text(yaml.safe_dump(raw))
            cdk_out = folder / f"cdk.out.{environment}.{variant}"
            out[(environment, variant)] = synthesize_config(load_file(path, environment), cdk_out)
    return out


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("ownership-data")
    return {
        "good": generate_interactions(folder / "good.csv", domain="ECOMMERCE", rows=GOOD_ROWS, seed=5),
        "short": generate_interactions(folder / "short.csv", domain="ECOMMERCE", rows=SHORT_ROWS, seed=5),
    }


@pytest.fixture
def put_data(endpoints: Endpoints, csv_files: dict[str, Path]) -> Callable[[str, str], None]:
    s3 = endpoints.client("s3")
    if EXTERNAL_BUCKET not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=EXTERNAL_BUCKET)

    def put(folder: str, which: str) -> None:
        s3.put_object(
            Bucket=EXTERNAL_BUCKET, Key=f"{folder}/interactions.csv", Body=csv_files[which].read_bytes()
        )

    return put


@pytest.fixture
def faults(clean_emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    """The emulator, emptied first: Personalize allows five dataset groups per region."""
    yield clean_emulator
    clean_emulator.set_faults(fail_name_pattern=None)


class World:
    """What exists in the emulator under one name prefix."""

    def __init__(self, endpoints: Endpoints, prefix: str) -> None:
        self.personalize = endpoints.client("personalize")
        self.prefix = f"{prefix}-"

    def groups(self) -> dict[str, str]:
        return {
            group["datasetGroupArn"]: group["status"]
            for group in self.personalize.list_dataset_groups()["datasetGroups"]
            if group["name"].startswith(self.prefix)
        }

    def datasets(self) -> dict[str, str]:
        return {
            dataset["datasetArn"]: dataset["status"]
            for group in self.groups()
            for dataset in self.personalize.list_datasets(datasetGroupArn=group)["datasets"]
        }

    def trackers(self) -> dict[str, str]:
        return {
            tracker["eventTrackerArn"]: tracker["status"]
            for group in self.groups()
            for tracker in self.personalize.list_event_trackers(datasetGroupArn=group)["eventTrackers"]
        }

    def recommenders(self) -> dict[str, str]:
        return {
            item["recommenderArn"]: item["status"]
            for group in self.groups()
            for item in self.personalize.list_recommenders(datasetGroupArn=group)["recommenders"]
        }

    def jobs(self, dataset_arn: str) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self.personalize.list_dataset_import_jobs(datasetArn=dataset_arn)[
            "datasetImportJobs"
        ]
        return jobs

    def active_imports(self, dataset_arn: str) -> int:
        return sum(job["status"] == domain.ACTIVE for job in self.jobs(dataset_arn))

    def active_imports_of_this_dataset(self, dataset_arn: str) -> int:
        """ACTIVE imports since the dataset was created: a deleted dataset's jobs stay listed under the
        same ARN (Personalize has no DeleteDatasetImportJob)."""
        created = self.personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]["creationDateTime"]
        return sum(
            job["status"] == domain.ACTIVE and job["creationDateTime"] >= created
            for job in self.jobs(dataset_arn)
        )

    def nothing(self) -> bool:
        return self.groups() == {}


def _dataset_arn(state: Any) -> str:
    return str(
        next(
            r.physical_id for r in state.resources.values() if r.resource_type == "Custom::PersonalizeDataset"
        )
    )


def test_1_rollback_never_deletes_what_the_deployment_adopted(
    assemblies: dict[tuple[str, str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    faults: EmulatorServer,
    put_data: Callable[[str, str], None],
) -> None:
    put_data("kept", "good")
    deployer, _ = make_deployer()
    world = World(endpoints, "okept")
    kept = deployer.deploy(assemblies[("kept", "retain")], environment="kept")
    dataset_arn = _dataset_arn(kept)
    assert deployer.destroy(kept.stack_name) is True
    before = (world.groups(), world.datasets(), world.trackers())
    assert len(before[0]) == len(before[1]) == len(before[2]) == 1  # retain kept them
    assert world.active_imports(dataset_arn) == 1

    put_data("kept-short", "short")
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(assemblies[("kept", "destroy")], environment="kept")
    assert raised.value.final_status == "ROLLBACK_COMPLETE"
    assert (world.groups(), world.datasets(), world.trackers()) == before  # adopted: none deleted
    assert world.active_imports(dataset_arn) == 1  # the data is still there

    put_data("kept-short", "good")  # the data fixed; nothing else changed
    again = deployer.deploy(assemblies[("kept", "destroy")], environment="kept")
    assert again.status == "CREATE_COMPLETE"
    assert world.active_imports(dataset_arn) == 2  # imported again, into the adopted dataset
    deployer.destroy(again.stack_name)
    assert (world.groups(), world.datasets(), world.trackers()) == before  # adopted, so never deleted


def test_2_a_recreated_dataset_is_imported_again(
    assemblies: dict[tuple[str, str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    faults: EmulatorServer,
    put_data: Callable[[str, str], None],
) -> None:
    put_data("again", "good")
    deployer, _ = make_deployer()
    world = World(endpoints, "oagain")
    first = deployer.deploy(assemblies[("again", "v1")], environment="again")
    deployer.destroy(first.stack_name)
    assert world.nothing()

    second = deployer.deploy(assemblies[("again", "v1")], environment="again")
    assert second.status == "CREATE_COMPLETE"
    dataset_arn = _dataset_arn(second)
    jobs = world.jobs(dataset_arn)
    # The old dataset's job (same dataset ARN string) and the new one: the new dataset was imported.
    assert sorted(job["status"] for job in jobs) == [domain.ACTIVE, domain.ACTIVE]
    assert len({job["jobName"] for job in jobs}) == 2
    created = world.personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]["creationDateTime"]
    newest = max(jobs, key=lambda job: job["creationDateTime"])
    assert newest["creationDateTime"] >= created
    deployer.destroy(second.stack_name)
    assert world.nothing()


def test_3_a_failed_import_is_not_adopted_once_the_file_is_fixed(
    assemblies: dict[tuple[str, str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    faults: EmulatorServer,
    put_data: Callable[[str, str], None],
) -> None:
    put_data("fixed", "short")
    deployer, _ = make_deployer()
    world = World(endpoints, "ofixed")
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(assemblies[("fixed", "v1")], environment="fixed")
    assert domain_rules.reason_too_few_records(SHORT_ROWS) in str(raised.value)
    (dataset_arn,) = world.datasets()  # retained by removal_policy: retain

    put_data("fixed", "good")  # fix the file in place; change nothing else
    state = deployer.deploy(assemblies[("fixed", "v1")], environment="fixed")
    assert state.status == "CREATE_COMPLETE"
    assert sorted(job["status"] for job in world.jobs(dataset_arn)) == [domain.ACTIVE, domain.CREATE_FAILED]


FAILING_RESOURCES = {  # a name pattern for each resource kind that has a CREATE FAILED status
    "dataset group": r"^orecfail[_-](.*[_-])?datasetgroup-",
    "dataset": r"^orecfail[_-](.*[_-])?interactions-",
    "import job": r"^orecfail[_-](.*[_-])?import-",
    "event tracker": r"^orecfail[_-](.*[_-])?eventtracker-",
    "recommender": r"^orecfail[_-](.*[_-])?ecomm-recommended-for-you-",
}


@pytest.mark.parametrize("kind", list(FAILING_RESOURCES))
def test_3_4_a_failure_at_any_resource_rolls_back_everything_and_the_next_deploy_works(
    kind: str,
    assemblies: dict[tuple[str, str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    faults: EmulatorServer,
    put_data: Callable[[str, str], None],
) -> None:
    """#3: a CREATE FAILED group is not reused; #4: a CREATE FAILED recommender does not wedge the stack.
    The Provider framework sends no Delete for a failed Create, so the handler deletes it itself."""
    put_data("good", "good")
    deployer, events = make_deployer()
    world = World(endpoints, "orecfail")
    faults.set_faults(fail_name_pattern=FAILING_RESOURCES[kind])
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(assemblies[("recfail", "v1")], environment="recfail")
    assert raised.value.final_status == "ROLLBACK_COMPLETE"
    assert f"{kind} " in str(raised.value) and ") failed: " in str(raised.value)
    assert events.for_status("DELETE_FAILED") == []
    assert world.nothing()  # no orphan: not even the failed resource

    faults.set_faults(fail_name_pattern=None)
    state = deployer.deploy(assemblies[("recfail", "v1")], environment="recfail")  # nothing edited
    assert state.status == "CREATE_COMPLETE"
    assert list(world.recommenders().values()) == [domain.ACTIVE]
    assert world.active_imports_of_this_dataset(_dataset_arn(state)) == 1
    assert deployer.destroy(state.stack_name) is True
    assert world.nothing()


def test_5_no_sequence_of_deploy_destroy_rename_needs_a_data_version_bump(
    assemblies: dict[tuple[str, str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    faults: EmulatorServer,
    put_data: Callable[[str, str], None],
) -> None:
    """A name_prefix rename is a new stack (the prefix starts the stack name) next to the old one."""
    put_data("good", "good")
    deployer, _ = make_deployer()
    old, new = World(endpoints, "orena"), World(endpoints, "orenb")
    first = deployer.deploy(assemblies[("renamed", "a")], environment="renamed")
    renamed = deployer.deploy(assemblies[("renamed", "b")], environment="renamed")
    assert renamed.status == "CREATE_COMPLETE" and renamed.stack_name != first.stack_name
    assert new.active_imports(_dataset_arn(renamed)) == 1
    deployer.destroy(first.stack_name)
    assert old.nothing()
    back = deployer.deploy(assemblies[("renamed", "a")], environment="renamed")  # the same name again
    assert back.status == "CREATE_COMPLETE" and _dataset_arn(back) == _dataset_arn(first)
    assert old.active_imports(_dataset_arn(back)) == 2  # the deleted dataset's job, and a new one
    for state in (back, renamed):
        deployer.destroy(state.stack_name)
    assert old.nothing() and new.nothing()


def test_6_replacing_the_group_deletes_the_old_one_after_its_contents(
    assemblies: dict[tuple[str, str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    faults: EmulatorServer,
    put_data: Callable[[str, str], None],
) -> None:
    put_data("good", "good")
    deployer, _ = make_deployer()
    world = World(endpoints, "oregroup")
    first = deployer.deploy(assemblies[("regroup", "a")], environment="regroup")
    (old_group,) = world.groups()
    moved = deployer.deploy(assemblies[("regroup", "b")], environment="regroup")
    assert moved.status == "UPDATE_COMPLETE" and moved.retired == []
    (new_group,) = world.groups()  # the old group, its dataset and tracker are gone
    assert new_group != old_group and new_group == moved.outputs["DatasetGroupArn"]
    assert len(world.datasets()) == len(world.trackers()) == 1
    assert world.active_imports(_dataset_arn(moved)) == 1
    assert first.stack_name == moved.stack_name
    deployer.destroy(moved.stack_name)
    assert world.nothing()


def test_7_a_full_import_of_a_folder_reads_exactly_its_current_files(
    assemblies: dict[tuple[str, str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    faults: EmulatorServer,
) -> None:
    deployer, _ = make_deployer()
    s3 = endpoints.client("s3")
    first = deployer.deploy(assemblies[("pruned", "two")], environment="pruned")
    bucket = first.outputs["DataBucketName"]

    def uploaded() -> list[str]:
        return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="imports/")["Contents"]]

    assert uploaded() == ["imports/interactions/part-1.csv", "imports/interactions/part-2.csv"]
    second = deployer.deploy(assemblies[("pruned", "one")], environment="pruned")  # part-2.csv deleted
    assert second.status == "UPDATE_COMPLETE"
    assert uploaded() == ["imports/interactions/part-1.csv"]
    assert World(endpoints, "opruned").active_imports(_dataset_arn(second)) == 2  # a new FULL import
    deployer.destroy(second.stack_name)
    assert World(endpoints, "opruned").nothing()


def _deploy_in_own_session(
    endpoints: Endpoints, state_dir: Path, artifact: StackArtifact
) -> None:  # pragma: no cover - runs in the child process that the test kills
    os.setsid()  # its own process group: the kill takes its Lambda workers along
    deployer = LocalDeployer(
        endpoints,
        store=StateStore(state_dir),
        session=SESSION,
        events=EventLog(stream=None),
        options=DeployOptions(query_interval=0.05),
    )
    deployer.deploy(artifact, environment="killed")


def test_a_deployer_killed_mid_way_and_run_again_converges_without_duplicates(
    assemblies: dict[tuple[str, str], StackArtifact],
    endpoints: Endpoints,
    faults: EmulatorServer,
    put_data: Callable[[str, str], None],
    tmp_path: Path,
) -> None:
    """SIGKILL while the import job runs (a replayed Create must adopt, not duplicate), then deploy again."""
    put_data("good", "good")
    artifact = assemblies[("killed", "v1")]
    world = World(endpoints, "okilled")
    child = multiprocessing.get_context("fork").Process(
        target=_deploy_in_own_session, args=(endpoints, tmp_path / "state", artifact)
    )
    child.start()
    deadline = time.monotonic() + 120
    while not any(world.jobs(arn) for arn in world.datasets()):
        assert child.is_alive() and time.monotonic() < deadline, "the import job never started"
        time.sleep(0.05)
    os.killpg(child.pid or 0, signal.SIGKILL)
    child.join(timeout=10)

    deployer = LocalDeployer(
        endpoints,
        store=StateStore(tmp_path / "state"),
        session=SESSION,
        events=EventLog(stream=None),
        options=DeployOptions(query_interval=0.05),
    )
    state = deployer.deploy(artifact, environment="killed")
    assert state.status.endswith("_COMPLETE") and "ROLLBACK" not in state.status
    assert len(world.groups()) == len(world.datasets()) == len(world.trackers()) == 1
    assert len(world.jobs(_dataset_arn(state))) == 1  # the killed run's job, adopted
    assert world.active_imports(_dataset_arn(state)) == 1
    deployer.destroy(state.stack_name)
    assert world.nothing()
