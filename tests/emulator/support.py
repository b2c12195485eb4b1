"""Helpers the emulator tests share: deterministic CSVs, stepping resources to a settled status."""

from __future__ import annotations

import json
import random
import urllib.request
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain_rules, kinds

ROLE_ARN = "arn:aws:iam::123456789012:role/PersonalizeS3Access"
INTERACTIONS_HEADER = ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE")

MOVING = ("PENDING", "IN_PROGRESS")


def interactions_csv(
    rows: int,
    *,
    seed: int = 7,
    event_types: Sequence[str] = ("View", "Purchase"),
    header: Sequence[str] = INTERACTIONS_HEADER,
) -> bytes:
    """A reproducible Interactions CSV: the same arguments always give the same bytes."""
    chooser = random.Random(seed)
    lines = [",".join(header)]
    values = {
        "USER_ID": lambda: f"user-{chooser.randrange(200)}",
        "ITEM_ID": lambda: f"item-{chooser.randrange(500)}",
        "TIMESTAMP": lambda: str(1_700_000_000 + chooser.randrange(86_400 * 30)),
        "EVENT_TYPE": lambda: chooser.choice(list(event_types)),
    }
    for _ in range(rows):
        lines.append(",".join(values[column]() for column in header))
    return ("\n".join(lines) + "\n").encode()


def describe(personalize: Any, kind: str, arn: str) -> dict[str, Any]:
    """One Describe of a resource of `kind` (a key of the resource-kind table: "dataset_group", ...)."""
    row = kinds.BY_KEY[kind]
    answer: dict[str, Any] = getattr(personalize, row.describe_method)(**{row.arn_member: arn})
    return dict(answer[row.describe_key])


def settle(personalize: Any, kind: str, arn: str, *, limit: int = 12) -> dict[str, Any]:
    """Describe until the status stops moving; stepwise pace needs a few calls, instant pace one."""
    for _ in range(limit):
        resource = describe(personalize, kind, arn)
        if not resource["status"].endswith(MOVING):
            return resource
    raise AssertionError(f"{kind} {arn} still {resource['status']} after {limit} Describe calls")


def statuses_until_settled(personalize: Any, kind: str, arn: str, *, limit: int = 12) -> list[str]:
    seen: list[str] = []
    for _ in range(limit):
        seen.append(describe(personalize, kind, arn)["status"])
        if not seen[-1].endswith(MOVING):
            return seen
    raise AssertionError(f"{kind} {arn} never settled: {seen}")


def statuses_until_gone(personalize: Any, kind: str, arn: str, *, limit: int = 12) -> list[str]:
    """Describe a deleting resource until it raises ResourceNotFoundException; the statuses seen."""
    seen: list[str] = []
    for _ in range(limit):
        try:
            seen.append(describe(personalize, kind, arn)["status"])
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ResourceNotFoundException"
            return seen
    raise AssertionError(f"{kind} {arn} never went away: {seen}")


def active_group(personalize: Any, name: str, domain_name: str | None = "ECOMMERCE") -> str:
    params = {"name": name, **({"domain": domain_name} if domain_name else {})}
    arn: str = personalize.create_dataset_group(**params)["datasetGroupArn"]
    assert settle(personalize, "dataset_group", arn)["status"] == kinds.ACTIVE
    return arn


def active_dataset(
    personalize: Any,
    group_arn: str,
    name: str,
    *,
    domain_name: str | None = "ECOMMERCE",
    dataset_type: str = "INTERACTIONS",
) -> str:
    """A schema (the domain's default) and an ACTIVE dataset of that type in the group."""
    schema = domain_rules.default_schema_json(domain_name or "ECOMMERCE", dataset_type)
    schema_arn = personalize.create_schema(
        name=f"{name}-schema", schema=schema, **({"domain": domain_name} if domain_name else {})
    )
    arn: str = personalize.create_dataset(
        name=name, schemaArn=schema_arn["schemaArn"], datasetGroupArn=group_arn, datasetType=dataset_type
    )["datasetArn"]
    assert settle(personalize, "dataset", arn)["status"] == kinds.ACTIVE
    return arn


def import_job(
    personalize: Any, dataset_arn: str, name: str, location: str, *, mode: str = "FULL", role: bool = True
) -> str:
    arn: str = personalize.create_dataset_import_job(
        jobName=name,
        datasetArn=dataset_arn,
        dataSource={"dataLocation": location},
        importMode=mode,
        **({"roleArn": ROLE_ARN} if role else {}),
    )["datasetImportJobArn"]
    return arn


def raw_call(url: str, target: str, body: bytes | str) -> tuple[int, dict[str, Any], str]:
    """POST straight to the emulator, bypassing botocore: (status, JSON body, Content-Type)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(
        url + "/",
        data=data,
        method="POST",
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers["Content-Type"]


def admin(
    url: str, method: str, path: str, payload: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(payload).encode() if payload is not None else (b"" if method == "POST" else None)
    request = urllib.request.Request(
        f"{url}/_emulator/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def resources(emulator_state: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The admin state's resources of one kind, by ARN."""
    arn_member = kinds.BY_KEY[kind].arn_member
    return {entry[arn_member]: entry for entry in emulator_state["resources"][kind]}
