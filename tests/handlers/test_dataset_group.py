"""Custom::PersonalizeDatasetGroup through on_event / is_complete against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.personalize import clients
from lambda_handlers.personalize.errors import (
    DatasetGroupNotEmptyError,
    NameConflictError,
    ResourceFailedError,
)
from personalize_tools.emulator import EmulatorServer

from .support import decisions, delete_of, drive, event, owner_tag, start, template_tags, update_of


def group_tags(personalize: Any, arn: str) -> dict[str, str]:
    return template_tags(personalize, arn)


def test_create_waits_for_active_and_returns_the_arn(handlers: EmulatorServer, personalize: Any) -> None:
    outcome = drive(event("dataset_group_create"))

    group = personalize.describe_dataset_group(datasetGroupArn=outcome.physical_id)["datasetGroup"]
    assert outcome.physical_id.endswith(":dataset-group/pz-test-ecommerce")
    assert outcome.data == {
        "DatasetGroupArn": outcome.physical_id,
        "Name": "pz-test-ecommerce",
        "Domain": "ECOMMERCE",
        "Status": "ACTIVE",
    }
    assert group["status"] == "ACTIVE"
    assert outcome.polls > 1  # stepwise pace: is_complete really waited through the pending statuses
    assert group_tags(personalize, outcome.physical_id) == {"environment": "test", "managed-by": "cdk"}
    create = event("dataset_group_create")
    assert owner_tag(personalize, outcome.physical_id) == "/".join(
        (
            create["StackId"].split("/")[1],
            create["StackId"].split("/")[2],
            create["LogicalResourceId"],
            create["RequestId"],
        )
    )  # the proof that this stack created it


def test_the_same_create_delivered_twice_makes_one_group(handlers: EmulatorServer, personalize: Any) -> None:
    first = start(event("dataset_group_create"))
    second = drive(event("dataset_group_create"))

    assert second.physical_id == first.physical_id
    assert first.finish().data["Status"] == "ACTIVE"
    assert len(personalize.list_dataset_groups()["datasetGroups"]) == 1
    assert handlers.calls()["calls"]["CreateDatasetGroup"] == 1


def test_tag_update_is_in_place(handlers: EmulatorServer, personalize: Any) -> None:
    created = drive(event("dataset_group_create"))

    updated = drive(event("dataset_group_update", physical_id=created.physical_id))

    assert updated.physical_id == created.physical_id
    assert group_tags(personalize, created.physical_id) == {"environment": "test", "cost-center": "recs-42"}


def test_domain_change_replaces_the_group_under_its_new_name(
    handlers: EmulatorServer, personalize: Any
) -> None:
    create = event("dataset_group_create")
    old = drive(create).physical_id
    update = update_of(create, old, Name="pz-test-vod", Domain="VIDEO_ON_DEMAND")

    new = drive(update)
    # CloudFormation then deletes the old physical id, with the old properties.
    drive(delete_of(create, old))

    assert new.physical_id != old
    assert new.data["Domain"] == "VIDEO_ON_DEMAND"
    names = [group["name"] for group in personalize.list_dataset_groups()["datasetGroups"]]
    assert names == ["pz-test-vod"]


def test_domain_change_under_the_same_name_fails_clearly(handlers: EmulatorServer) -> None:
    create = event("dataset_group_create")
    old = drive(create).physical_id

    with pytest.raises(NameConflictError, match="replacement needs a new Name") as failure:
        drive(update_of(create, old, Domain="VIDEO_ON_DEMAND"))
    assert old in str(failure.value)


def test_delete_waits_until_the_group_is_gone(handlers: EmulatorServer, personalize: Any) -> None:
    created = drive(event("dataset_group_create"))

    deleted = drive(event("dataset_group_delete", physical_id=created.physical_id))

    assert deleted.physical_id == created.physical_id
    assert personalize.list_dataset_groups()["datasetGroups"] == []


def test_delete_of_a_group_already_gone_succeeds(handlers: EmulatorServer, personalize: Any) -> None:
    created = drive(event("dataset_group_create"))
    drive(event("dataset_group_delete", physical_id=created.physical_id))

    again = drive(event("dataset_group_delete", physical_id=created.physical_id))

    assert again.physical_id == created.physical_id
    assert handlers.calls()["calls"]["DeleteDatasetGroup"] == 1  # the second Delete found it gone


def test_delete_after_a_failed_create_without_an_arn_is_a_no_op(
    handlers: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    request_id_as_physical_id = "5b6f0a10-0000-4000-8000-000000000001"

    outcome = drive(event("dataset_group_delete", physical_id=request_id_as_physical_id))

    assert outcome.physical_id == request_id_as_physical_id
    assert "DeleteDatasetGroup" not in handlers.calls()["calls"]
    assert {"not-an-arn"} <= {line["decision"] for line in decisions(caplog.records)}


def test_retain_leaves_the_group(
    handlers: EmulatorServer, personalize: Any, caplog: pytest.LogCaptureFixture
) -> None:
    created = drive(event("dataset_group_create", properties={"RemovalPolicy": "retain"}))

    drive(
        event("dataset_group_delete", physical_id=created.physical_id, properties={"RemovalPolicy": "retain"})
    )

    group = personalize.describe_dataset_group(datasetGroupArn=created.physical_id)["datasetGroup"]
    assert group["status"] == "ACTIVE"
    assert "retained" in [line["decision"] for line in decisions(caplog.records)]


def test_delete_refuses_while_the_group_holds_what_the_stack_does_not_own(
    handlers: EmulatorServer, personalize: Any, schema_arn: str
) -> None:
    created = drive(event("dataset_group_create"))
    foreign = personalize.create_dataset(
        name="made-by-hand",
        schemaArn=schema_arn,
        datasetGroupArn=created.physical_id,
        datasetType="INTERACTIONS",
    )["datasetArn"]

    with pytest.raises(DatasetGroupNotEmptyError) as failure:
        drive(event("dataset_group_delete", physical_id=created.physical_id))

    message = str(failure.value)
    assert f"dataset {foreign}" in message
    assert "delete them or set removal_policy: retain" in message
    assert "DeleteDatasetGroup" not in handlers.calls()["calls"]
    assert personalize.describe_dataset(datasetArn=foreign)["dataset"]["name"] == "made-by-hand"


def test_create_failed_is_raised_with_the_service_reason(handlers: EmulatorServer) -> None:
    handlers.set_faults(fail_name_pattern="ecommerce")

    with pytest.raises(ResourceFailedError) as failure:
        drive(event("dataset_group_create"))

    message = str(failure.value)
    assert message.startswith("dataset group pz-test-ecommerce (arn:aws:personalize:")
    assert "failed: Injected failure: Dataset group name 'pz-test-ecommerce' matches" in message


def test_throttling_and_server_errors_are_ridden_out(handlers: EmulatorServer, personalize: Any) -> None:
    handlers.set_faults(throttle_rate=0.25, server_error_rate=0.1, seed=3)

    created = drive(event("dataset_group_create"), max_polls=80)
    drive(event("dataset_group_delete", physical_id=created.physical_id), max_polls=80)

    errors = handlers.calls()["errors"]
    injected = {code for codes in errors.values() for code in codes}
    assert {"ThrottlingException"} <= injected
    assert injected & {"InternalFailure", "ServiceUnavailableException"}
    handlers.set_faults(throttle_rate=0.0, server_error_rate=0.0)
    assert personalize.list_dataset_groups()["datasetGroups"] == []


def test_is_complete_treats_exhausted_throttling_as_not_yet(
    handlers: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiter = start(event("dataset_group_create"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # exhaust retries quickly instead of backing off for a minute
    clients.reset_clients()
    handlers.set_faults(throttle_rate=1.0)

    answer = waiter.poll()

    handlers.set_faults(throttle_rate=0.0)
    assert answer == {"IsComplete": False}
    assert waiter.finish().data["Status"] == "ACTIVE"


def test_logs_one_json_line_per_decision_without_the_response_url(
    handlers: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    create = event("dataset_group_create")

    drive(create)

    lines = decisions(caplog.records)
    assert lines[0] | {"arn": None} == {
        "phase": "on_event",
        "resource_type": "Custom::PersonalizeDatasetGroup",
        "logical_id": "DatasetGroup1E6C3F0B",
        "request_type": "Create",
        "request_id": create["RequestId"],
        "decision": "created",
        "arn": None,
    }
    assert lines[-1]["decision"] == "complete"
    assert {line["phase"] for line in lines} == {"on_event", "is_complete"}
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "X-Amz-Signature" not in logged
    assert "cloudformation-custom-resource-response" not in logged


def test_clients_retry_eight_times_and_honour_the_endpoint_variables(handlers: EmulatorServer) -> None:
    personalize_client = clients.personalize()

    assert personalize_client.meta.endpoint_url == handlers.url
    # botocore counts the first try too: 1 + 8 retries; the import-job create client tries once.
    assert personalize_client.meta.config.retries["total_max_attempts"] == 9
    assert clients.personalize_single_attempt().meta.config.retries["total_max_attempts"] == 1
    assert "personalize-domain-cdk/custom-resources" in personalize_client.meta.config.user_agent_extra
