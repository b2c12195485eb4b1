"""Issue 13's reproductions, each a whole deployment against the emulator and moto with the real handlers.

Every scenario ends by checking the world: what the stack must not delete is still there with its data
(an ACTIVE import), nothing it created is left behind, and the next deploy works without editing
anything. Each environment has a name prefix of its own, so scenarios sharing the module's emulator
cannot see each other's resources; every config is synthesized once for the module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import load_file
from lambda_handlers.personalize import domain_rules, kinds
from personalize_tools.emulator import EmulatorServer
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.localdeploy.errors import DeployFailedError
from personalize_tools.sample_data import generate_interactions

from .conftest import DeployerFactory
from .world import World

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


MATRIX_RECOMMENDER: dict[str, Any] = {"use_case": RECIPE, "wait_for_active": True}
MATRIX: dict[str, Any] = {
    **BASE,
    "name_prefix": "omatrix",
    **_s3_source("good/"),
    "recommenders": [MATRIX_RECOMMENDER],
}

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
    "kms": {  # 8: a key the stack creates, everything retained, a first deploy that fails
        "v1": {
            **BASE,
            "name_prefix": "okms",
            **_s3_source("kms/"),
            "kms": "create",
            "removal_policy": "retain",
        }
    },
    "matrix": {  # one stack through an update of each kind, two of them failing first
        "v0": MATRIX,
        "in-place": {
            **MATRIX,
            "tags": {"team": "search"},
            "recommenders": [{**MATRIX_RECOMMENDER, "min_recommendation_requests_per_second": 2}],
        },
        "new-import": {
            **MATRIX,
            **_s3_source("matrix-incremental/"),
            "data_version": "2",
            "import_mode": "INCREMENTAL",
        },
        "new-recommender": {
            **MATRIX,
            "recommenders": [{**MATRIX_RECOMMENDER, "name": "omatrix-matrix_picks"}],
        },
        "new-tracker": {
            **MATRIX,
            "recommenders": [{**MATRIX_RECOMMENDER, "name": "omatrix-matrix_picks"}],
            "names": {"event_tracker": "omatrix-matrix_tracker-2"},
        },
    },
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
    assert sorted(job["status"] for job in jobs) == [kinds.ACTIVE, kinds.ACTIVE]
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
    assert sorted(job["status"] for job in world.jobs(dataset_arn)) == [kinds.ACTIVE, kinds.CREATE_FAILED]


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
    The handler deletes the failed resource at once; the rollback's Delete then finds it going or gone."""
    put_data("good", "good")
    deployer, events = make_deployer()
    world = World(endpoints, "orecfail")
    faults.set_faults(fail_name_pattern=FAILING_RESOURCES[kind])
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(assemblies[("recfail", "v1")], environment="recfail")
    # the error carries the first failure only; why a rollback step failed is in its DELETE_FAILED event
    assert raised.value.final_status == "ROLLBACK_COMPLETE", events.for_status("DELETE_FAILED")
    assert f"{kind} " in str(raised.value) and ") failed: " in str(raised.value)
    assert events.for_status("DELETE_FAILED") == []
    assert world.nothing()  # no orphan: not even the failed resource

    faults.set_faults(fail_name_pattern=None)
    state = deployer.deploy(assemblies[("recfail", "v1")], environment="recfail")  # nothing edited
    assert state.status == "CREATE_COMPLETE"
    assert list(world.recommenders().values()) == [kinds.ACTIVE]
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


def _group_settings(world: World) -> dict[str, tuple[str, str]]:
    out = {}
    for arn in world.groups():
        group = world.personalize.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]
        out[arn] = (str(group.get("kmsKeyArn")), str(group.get("roleArn")))
    return out


def test_8_a_kms_group_left_empty_by_a_failed_first_deploy_is_replaced_on_the_next(
    assemblies: dict[tuple[str, str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    faults: EmulatorServer,
    put_data: Callable[[str, str], None],
) -> None:
    """kms: create + retain: the failed attempt's group (its key and role) holds no data, so the next
    deploy, with a new key and role under the same derived name, replaces it instead of failing forever."""
    put_data("kms", "short")
    deployer, _ = make_deployer()
    world = World(endpoints, "okms")
    with pytest.raises(DeployFailedError) as raised:
        deployer.deploy(assemblies[("kms", "v1")], environment="kms")
    assert raised.value.final_status == "ROLLBACK_COMPLETE"
    ((old_group, (old_key, old_role)),) = _group_settings(world).items()  # retained
    assert old_key.startswith("arn:aws:kms:")

    put_data("kms", "good")  # the cause fixed; nothing else changed
    state = deployer.deploy(assemblies[("kms", "v1")], environment="kms")
    assert state.status == "CREATE_COMPLETE"
    ((group, (key, role)),) = _group_settings(world).items()  # no orphan: the empty group was replaced
    assert group == old_group == state.outputs["DatasetGroupArn"]  # the same derived name
    assert (key, role) != (old_key, old_role)
    assert len(world.datasets()) == len(world.trackers()) == 1
    assert world.active_imports_of_this_dataset(_dataset_arn(state)) == 1


def _arns(world: World) -> dict[str, set[str]]:
    return {
        "group": set(world.groups()),
        "dataset": set(world.datasets()),
        "tracker": set(world.trackers()),
        "recommender": set(world.recommenders()),
    }


def test_updates_of_each_kind_and_failed_updates_end_in_a_whole_world(
    assemblies: dict[tuple[str, str], StackArtifact],
    make_deployer: DeployerFactory,
    endpoints: Endpoints,
    faults: EmulatorServer,
    put_data: Callable[[str, str], None],
) -> None:
    """One stack (deploying shares the work) through: in-place updates (tags, recommender config); a new
    INCREMENTAL import whose data is too short (rolled back, then fixed in place); a recommender replaced
    by a new name, failing first (rolled back), then working; an event tracker renamed; and destroy.
    After each step: one of everything, ACTIVE, the expected ids changed or kept, nothing lost."""
    put_data("good", "good")
    deployer, events = make_deployer()
    world = World(endpoints, "omatrix")
    personalize = world.personalize

    def deploy(variant: str) -> Any:
        return deployer.deploy(assemblies[("matrix", variant)], environment="matrix")

    def whole() -> dict[str, set[str]]:
        arns = _arns(world)
        assert {kind: len(found) for kind, found in arns.items()} == dict.fromkeys(arns, 1), arns
        assert set(world.groups().values()) | set(world.datasets().values()) == {kinds.ACTIVE}
        assert set(world.trackers().values()) | set(world.recommenders().values()) == {kinds.ACTIVE}
        return arns

    first = deploy("v0")
    dataset_arn = _dataset_arn(first)
    start = whole()
    assert world.active_imports(dataset_arn) == 1

    updated = deploy("in-place")  # tags everywhere, the recommender's config: no new ids, no new import
    assert updated.status == "UPDATE_COMPLETE" and whole() == start
    (recommender_arn,) = start["recommender"]
    recommender = personalize.describe_recommender(recommenderArn=recommender_arn)["recommender"]
    assert recommender["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 2
    for arn in (*start["group"], *start["dataset"], *start["tracker"], recommender_arn):
        tags = personalize.list_tags_for_resource(resourceArn=arn)["tags"]
        assert {"tagKey": "team", "tagValue": "search"} in tags, arn
    assert world.active_imports(dataset_arn) == 1

    put_data("matrix-incremental", "short")  # the new INCREMENTAL import fails: fewer than 1,000 rows
    with pytest.raises(DeployFailedError) as failed:
        deploy("new-import")
    assert failed.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    assert domain_rules.reason_too_few_records(SHORT_ROWS) in str(failed.value)
    assert whole() == start and world.active_imports(dataset_arn) == 1  # the earlier import's data stays
    put_data("matrix-incremental", "good")  # fixed in place, nothing else changed
    imported = deploy("new-import")
    assert imported.status == "UPDATE_COMPLETE" and whole() == start
    jobs = world.jobs(dataset_arn)
    assert sorted(job["status"] for job in jobs) == [kinds.ACTIVE, kinds.ACTIVE, kinds.CREATE_FAILED]
    newest = max(jobs, key=lambda job: job["creationDateTime"])
    described = personalize.describe_dataset_import_job(datasetImportJobArn=newest["datasetImportJobArn"])
    assert described["datasetImportJob"]["importMode"] == "INCREMENTAL"

    faults.set_faults(fail_name_pattern=r"^omatrix-matrix_picks$")  # the replacement recommender fails
    with pytest.raises(DeployFailedError) as failed:
        deploy("new-recommender")
    assert failed.value.final_status == "UPDATE_ROLLBACK_COMPLETE"
    assert whole() == start  # the old recommender stays; the failed one is gone, not orphaned
    faults.set_faults(fail_name_pattern=None)
    replaced = deploy("new-recommender")
    assert replaced.status == "UPDATE_COMPLETE"
    after = whole()
    assert after["recommender"] != start["recommender"]
    assert {kind: arns for kind, arns in after.items() if kind != "recommender"} == {
        kind: arns for kind, arns in start.items() if kind != "recommender"
    }

    renamed = deploy("new-tracker")
    assert renamed.status == "UPDATE_COMPLETE"
    last = whole()
    assert last["tracker"] != after["tracker"] and last["recommender"] == after["recommender"]
    assert renamed.outputs["EventTrackerArn"] in last["tracker"]
    assert events.for_status("DELETE_FAILED") == []

    assert deployer.destroy(renamed.stack_name) is True
    assert world.nothing()
