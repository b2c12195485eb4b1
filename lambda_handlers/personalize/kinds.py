"""One row per Personalize resource kind: the names the API, the ARNs and our messages use for it.

The handlers, the emulator, the local deployer, the provider's IAM and the tests derive their per-kind
metadata from this table instead of spelling it again. Every row is checked against botocore's
Personalize service model (tests/handlers/test_kinds.py): the operations exist, Describe answers with
`describe_key`, which carries `arn_member`, the List response carries `list_key`, and `statuses` are
the states the model's documentation of the `status` member lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The statuses, named once (note the space: "CREATE PENDING"): the rows' `statuses` are built from these
# chains, and everything else (the handlers, the emulator, the tools, the tests) imports them from here.
CREATE_CHAIN = ("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE", "CREATE FAILED")
DELETE_CHAIN = ("DELETE PENDING", "DELETE IN_PROGRESS")
STOP_START_CHAIN = ("STOP PENDING", "STOP IN_PROGRESS", "INACTIVE", "START PENDING", "START IN_PROGRESS")
# A dataset's latestDatasetUpdate: botocore's DatasetUpdateSummary documents no status values, so these
# are our choice (docs/emulator.md); a recommender's update reports the CREATE_CHAIN, as documented.
UPDATE_CHAIN = ("UPDATE PENDING", "UPDATE IN_PROGRESS", "ACTIVE", "UPDATE FAILED")
CREATE_PENDING, CREATE_IN_PROGRESS, ACTIVE, CREATE_FAILED = CREATE_CHAIN
DELETE_PENDING, DELETE_IN_PROGRESS = DELETE_CHAIN
STOP_PENDING, STOP_IN_PROGRESS, INACTIVE, START_PENDING, START_IN_PROGRESS = STOP_START_CHAIN
UPDATE_PENDING, UPDATE_IN_PROGRESS, _, UPDATE_FAILED = UPDATE_CHAIN
IN_FLIGHT_CREATE_STATUSES = frozenset({CREATE_PENDING, CREATE_IN_PROGRESS})
FAILED_STATUSES = frozenset({CREATE_FAILED, UPDATE_FAILED})


def method_name(operation: str) -> str:
    """boto3's method for an API operation: DescribeDatasetGroup -> describe_dataset_group."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


@dataclass(frozen=True)
class ResourceKind:
    """A kind of Personalize resource, by the names each audience gives it."""

    key: str  # ours, in snake case: emulator Pace attribute, state-file kind, summary key
    noun: str  # the API's: Describe{noun}, List{noun}s, Delete{noun}
    label: str  # as people say it, in messages: "dataset group"
    arn_resource: str  # the ARN's resource segment: arn:PARTITION:personalize:REGION:ACCOUNT:{segment}/...
    iam_type: str  # the Service Authorization Reference's resource type; also the Describe response key
    list_key: str  # the List response member holding the summaries (ListFilters answers `Filters`)
    parent: str | None = None  # key of the kind whose ARN the List call takes (datasetGroupArn, ...)
    name_member: str = "name"
    update_member: str | None = None  # the Describe member with the latest update (latestDatasetUpdate)
    statuses: tuple[str, ...] = ()  # as botocore documents them; () for a kind without status
    deletable: bool = True

    @property
    def arn_member(self) -> str:
        """The request and response member carrying this kind's ARN (datasetGroupArn)."""
        return f"{self.iam_type}Arn"

    @property
    def describe_key(self) -> str:
        return self.iam_type

    @property
    def has_status(self) -> bool:
        return bool(self.statuses)

    @property
    def resource_type(self) -> str:
        """The custom resource type that manages this kind (contract.RESOURCE_TYPES), if one does."""
        return f"Custom::Personalize{self.noun}"

    @property
    def create_operation(self) -> str:
        return f"Create{self.noun}"

    @property
    def update_operation(self) -> str | None:
        """Update{noun} where the API changes this kind in place: the kinds whose Describe reports it."""
        return f"Update{self.noun}" if self.update_member else None

    @property
    def describe_operation(self) -> str:
        return f"Describe{self.noun}"

    @property
    def list_operation(self) -> str:
        return f"List{self.noun}s"

    @property
    def delete_operation(self) -> str | None:
        return f"Delete{self.noun}" if self.deletable else None

    @property
    def describe_method(self) -> str:
        return method_name(self.describe_operation)

    @property
    def list_method(self) -> str:
        return method_name(self.list_operation)

    @property
    def delete_method(self) -> str | None:
        operation = self.delete_operation
        return None if operation is None else method_name(operation)

    @property
    def title(self) -> str:
        """The label at the start of a sentence: "Dataset group"."""
        return self.label[:1].upper() + self.label[1:]


DATASET_GROUP = ResourceKind(
    "dataset_group",
    "DatasetGroup",
    "dataset group",
    "dataset-group",
    "datasetGroup",
    "datasetGroups",
    statuses=(*CREATE_CHAIN, DELETE_PENDING),
)
SCHEMA = ResourceKind("schema", "Schema", "schema", "schema", "schema", "schemas")
DATASET = ResourceKind(
    "dataset",
    "Dataset",
    "dataset",
    "dataset",
    "dataset",
    "datasets",
    parent="dataset_group",
    update_member="latestDatasetUpdate",
    statuses=(*CREATE_CHAIN, *DELETE_CHAIN),
)
IMPORT_JOB = ResourceKind(
    "import_job",
    "DatasetImportJob",
    "dataset import job",
    "dataset-import-job",
    "datasetImportJob",
    "datasetImportJobs",
    parent="dataset",
    name_member="jobName",
    statuses=CREATE_CHAIN,
    deletable=False,  # the service has no DeleteDatasetImportJob
)
EVENT_TRACKER = ResourceKind(
    "event_tracker",
    "EventTracker",
    "event tracker",
    "event-tracker",
    "eventTracker",
    "eventTrackers",
    parent="dataset_group",
    statuses=(*CREATE_CHAIN, *DELETE_CHAIN),
)
RECOMMENDER = ResourceKind(
    "recommender",
    "Recommender",
    "recommender",
    "recommender",
    "recommender",
    "recommenders",
    parent="dataset_group",
    update_member="latestRecommenderUpdate",
    statuses=(*CREATE_CHAIN, *STOP_START_CHAIN, *DELETE_CHAIN),
)
# Not managed by this project, but a dataset group holding them cannot be deleted, and the local
# deployer describes any Personalize ARN a stack returns.
SOLUTION = ResourceKind(
    "solution",
    "Solution",
    "solution",
    "solution",
    "solution",
    "solutions",
    parent="dataset_group",
    update_member="latestSolutionUpdate",
    statuses=(*CREATE_CHAIN, *DELETE_CHAIN),
)
FILTER = ResourceKind(
    "filter", "Filter", "filter", "filter", "filter", "Filters", parent="dataset_group", statuses=()
)
CAMPAIGN = ResourceKind(
    "campaign",
    "Campaign",
    "campaign",
    "campaign",
    "campaign",
    "campaigns",
    parent="solution",
    update_member="latestCampaignUpdate",
    statuses=(*CREATE_CHAIN, *DELETE_CHAIN),
)

MANAGED = (DATASET_GROUP, SCHEMA, DATASET, IMPORT_JOB, EVENT_TRACKER, RECOMMENDER)
ALL = (*MANAGED, SOLUTION, FILTER, CAMPAIGN)
BY_KEY = {kind.key: kind for kind in ALL}
BY_ARN_RESOURCE = {kind.arn_resource: kind for kind in ALL}
BY_IAM_TYPE = {kind.iam_type: kind for kind in ALL}
# What a dataset group can hold: each blocks DeleteDatasetGroup while it exists.
GROUP_CONTENTS = tuple(kind for kind in ALL if kind.parent == DATASET_GROUP.key)


def of_arn(arn: str | None) -> ResourceKind | None:
    """The kind of a Personalize ARN (arn:PARTITION:personalize:REGION:ACCOUNT:SEGMENT/...), else None."""
    parts = (arn or "").split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "personalize":
        return None
    return BY_ARN_RESOURCE.get(parts[5].split("/", 1)[0])
