"""The world checks every lifecycle scenario ends with, shared by test_ownership.py and test_matrix.py.

What exists in the emulator under one name prefix, how many records each dataset holds, and what the
local deployer left in moto that its state does not know (a native orphan).
"""

from __future__ import annotations

from typing import Any

from lambda_handlers.personalize import kinds
from personalize_tools.emulator import EmulatorServer
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.state import StackState


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

    def schemas(self) -> set[str]:
        """Schemas have no group: they are found by name."""
        return {
            schema["schemaArn"]
            for schema in self.personalize.list_schemas()["schemas"]
            if schema["name"].startswith(self.prefix)
        }

    def jobs(self, dataset_arn: str) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self.personalize.list_dataset_import_jobs(datasetArn=dataset_arn)[
            "datasetImportJobs"
        ]
        return jobs

    def active_imports(self, dataset_arn: str) -> int:
        return sum(job["status"] == kinds.ACTIVE for job in self.jobs(dataset_arn))

    def jobs_of_this_dataset(self, dataset_arn: str) -> list[dict[str, Any]]:
        """Jobs since the dataset was created: a deleted dataset's jobs stay listed under the same ARN
        (Personalize has no DeleteDatasetImportJob)."""
        created = self.personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]["creationDateTime"]
        return [job for job in self.jobs(dataset_arn) if job["creationDateTime"] >= created]

    def active_imports_of_this_dataset(self, dataset_arn: str) -> int:
        return sum(job["status"] == kinds.ACTIVE for job in self.jobs_of_this_dataset(dataset_arn))

    def nothing(self) -> bool:
        return self.groups() == {}

    def nothing_at_all(self) -> bool:
        """No group and no schema either (a schema outlives its group)."""
        return self.nothing() and self.schemas() == set()

    def everything(self) -> dict[str, dict[str, str]]:
        """Every resource by kind, ARN → status (schemas have no status: "-")."""
        return {
            "group": self.groups(),
            "schema": dict.fromkeys(self.schemas(), "-"),
            "dataset": self.datasets(),
            "tracker": self.trackers(),
            "recommender": self.recommenders(),
        }

    def whole(self, **expected: int) -> dict[str, dict[str, str]]:
        """One of each kind (or `expected` of it), every one ACTIVE: no orphan, no duplicate."""
        found = self.everything()
        counts = {kind: len(arns) for kind, arns in found.items()}
        assert counts == {kind: expected.get(kind, 1) for kind in found}, found
        statuses = {status for arns in found.values() for status in arns.values()} - {"-"}
        assert statuses <= {kinds.ACTIVE}, found
        return found


def records(emulator: EmulatorServer, dataset_arn: str) -> int:
    """The bulk records a dataset holds now, as the emulator counts them (no Personalize API shows it)."""
    datasets = emulator.state()["resources"][kinds.DATASET.key]
    (dataset,) = [item for item in datasets if item["datasetArn"] == dataset_arn]
    return int(dataset.get("records") or 0)


def native_orphans(endpoints: Endpoints, stack_name: str, state: StackState | None) -> list[str]:
    """Buckets and roles named after the stack (CloudFormation's generated names) that its state does not
    record: what a run killed between a create and its record would strand."""
    recorded = {str(record.physical_id) for record in (state.resources.values() if state else ())}
    recorded |= {str(record.physical_id) for record in (state.retired if state else ())}
    s3, iam = endpoints.client("s3"), endpoints.client("iam")
    buckets = [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    pages = iam.get_paginator("list_roles").paginate()
    roles = [role["RoleName"] for page in pages for role in page["Roles"]]
    return sorted(
        name
        for name in [
            *(name for name in buckets if name.startswith(stack_name.lower())),
            *(name for name in roles if name.startswith(stack_name)),
        ]
        if name not in recorded
    )
