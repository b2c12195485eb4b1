"""A first deploy whose bucket_key location is still empty completes, and a later one imports (issue 17 #1).

The stack creates its bucket, so a `bucket_key` location is empty on a first deploy: the import resource
creates no job and says so in its output; the data uploaded afterwards is imported by the next deploy
with a new data_version; destroy leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from config import load_file
from personalize_tools.emulator import EmulatorServer
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from tests.handlers.support import interactions_csv

from .conftest import DeployerFactory

FIRST: dict[str, Any] = {
    "name_prefix": "pz",
    "domain": "ECOMMERCE",
    "data_source": {"bucket_key": "imports/interactions/"},
    "data_version": "1",
    "event_tracker": False,
    "removal_policy": "destroy",
    "provider": {"query_interval_seconds": 5, "total_timeout_seconds": 300},
}


def _artifact(folder: Path, **changes: Any) -> Any:
    path = folder / "first.yaml"
    path.write_text(yaml.safe_dump({**FIRST, **changes}))
    return synthesize_config(load_file(path, "first"), folder / f"cdk.out.{changes.get('data_version', '1')}")


def test_an_empty_location_deploys_without_a_job_and_the_next_deploy_imports(
    tmp_path: Path, make_deployer: DeployerFactory, endpoints: Endpoints, emulator: EmulatorServer
) -> None:
    deployer, _ = make_deployer()
    emulator.reset()

    first = deployer.deploy(_artifact(tmp_path), environment="first")

    bucket = first.outputs["DataBucketName"]
    assert first.status == "CREATE_COMPLETE"
    assert first.outputs["InteractionsImport"].startswith(
        f"no data at s3://{bucket}/imports/interactions/ yet"
    )
    assert emulator.state()["resources"]["import_job"] == []

    endpoints.client("s3").put_object(
        Bucket=bucket, Key="imports/interactions/day-1.csv", Body=interactions_csv()
    )
    second = deployer.deploy(_artifact(tmp_path, data_version="2"), environment="first")

    assert second.status == "UPDATE_COMPLETE"
    jobs = emulator.state()["resources"]["import_job"]
    assert [job["status"] for job in jobs] == ["ACTIVE"]
    assert second.outputs["InteractionsImport"] == f"s3://{bucket}/imports/interactions/: ACTIVE"

    deployer.destroy(second.stack_name)
    assert emulator.state()["resources"]["dataset_group"] == []
