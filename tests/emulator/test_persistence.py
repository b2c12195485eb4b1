"""A state file keeps resources, statuses, tags and imported counts across a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambda_handlers.personalize import kinds
from personalize_tools.emulator import EmulatorServer, Pace
from personalize_tools.emulator.errors import EmulatorConfigError
from tests.emulator.support import (
    active_dataset,
    active_group,
    import_job,
    interactions_csv,
    resources,
    settle,
)


def client_for(server: EmulatorServer) -> Any:
    return boto3.client("personalize", endpoint_url=server.url, region_name="us-east-1")


def test_restart_keeps_resources(tmp_path: Path, moto_server: str, s3: Any, s3_bucket: str) -> None:
    state_file = tmp_path / "state" / "personalize.json"
    s3.put_object(Bucket=s3_bucket, Key="i.csv", Body=interactions_csv(1000))
    with EmulatorServer(pace=Pace.step(), state_file=state_file, s3_endpoint_url=moto_server) as first:
        client = client_for(first)
        group_arn = active_group(client, "durable")
        client.tag_resource(resourceArn=group_arn, tags=[{"tagKey": "owner", "tagValue": "ml"}])
        dataset_arn = active_dataset(client, group_arn, "durable-interactions")
        done = import_job(client, dataset_arn, "done", f"s3://{s3_bucket}/i.csv")
        assert settle(client, "import_job", done)["status"] == kinds.ACTIVE
        pending = import_job(client, dataset_arn, "pending", f"s3://{s3_bucket}/i.csv")
    assert json.loads(state_file.read_text())["version"] == 1

    with EmulatorServer(pace=Pace.step(), state_file=state_file, s3_endpoint_url=moto_server) as second:
        client = client_for(second)
        assert (
            client.describe_dataset_group(datasetGroupArn=group_arn)["datasetGroup"]["status"] == kinds.ACTIVE
        )
        assert client.list_tags_for_resource(resourceArn=group_arn)["tags"] == [
            {"tagKey": "owner", "tagValue": "ml"}
        ]
        assert resources(second.state(), "dataset")[dataset_arn]["records"] == 1000
        # The job left pending resumes: its reading starts again after the restart.
        assert settle(client, "import_job", pending)["status"] == kinds.ACTIVE
        second.reset()
    assert json.loads(state_file.read_text())["resources"] == []


@pytest.mark.parametrize("content", ['{"something": "else"}', "not json", '{"version": 1}'])
def test_a_foreign_state_file_is_refused(tmp_path: Path, content: str) -> None:
    state_file = tmp_path / "state.json"
    state_file.write_text(content)
    with pytest.raises(EmulatorConfigError, match="delete it to start empty"):
        EmulatorServer(state_file=state_file)
