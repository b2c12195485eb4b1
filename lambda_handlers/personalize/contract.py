"""The contract between the constructs and the handlers: resource types, their properties, request types.

The constructs (constructs_lib/dataset_group.py) build each custom resource's properties as one of these
TypedDicts, so mypy checks a misspelt or missing property at the construct; the handlers read the same
names back from the event (`framework.Properties.typed`). As in aws-cdk's provider framework, whose
`runtime/consts.ts` both the construct and the Lambda import, the coupling is one module.

CloudFormation delivers every scalar as a string, so every value here is a `str` (or a CDK token, which
is a `str` at synth time); the handlers still check each value, because a template can be written by hand.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, TypeVar, get_args

RequestType = Literal["Create", "Update", "Delete"]
REQUEST_TYPES: tuple[RequestType, ...] = get_args(RequestType)

ResourceType = Literal[
    "Custom::PersonalizeDatasetGroup",
    "Custom::PersonalizeSchema",
    "Custom::PersonalizeDataset",
    "Custom::PersonalizeDatasetImportJob",
    "Custom::PersonalizeEventTracker",
    "Custom::PersonalizeRecommender",
]
DATASET_GROUP: ResourceType = "Custom::PersonalizeDatasetGroup"
SCHEMA: ResourceType = "Custom::PersonalizeSchema"
DATASET: ResourceType = "Custom::PersonalizeDataset"
IMPORT_JOB: ResourceType = "Custom::PersonalizeDatasetImportJob"
EVENT_TRACKER: ResourceType = "Custom::PersonalizeEventTracker"
RECOMMENDER: ResourceType = "Custom::PersonalizeRecommender"
RESOURCE_TYPES: tuple[ResourceType, ...] = get_args(ResourceType)
# What an Update of Tags does, per resource type: applied in place (TagResource, UntagResource) for these.
# A schema takes no tags (CreateSchema has none), and an import job cannot change: with the same JobName,
# its Tags and RoleArn apply only to the jobs a later change starts. The framework's tag sync and the
# handler role's policy (constructs_lib.personalize_provider) both read this.
TAGS_UPDATED_IN_PLACE: frozenset[ResourceType] = frozenset(
    {DATASET_GROUP, DATASET, EVENT_TRACKER, RECOMMENDER}
)

# Values the API takes (botocore: Domain, DatasetType, ImportMode enums; our RemovalPolicy).
Domain = Literal["ECOMMERCE", "VIDEO_ON_DEMAND"]
DOMAINS: tuple[Domain, ...] = get_args(Domain)
DatasetType = Literal["INTERACTIONS", "ITEMS", "USERS", "ACTIONS", "ACTION_INTERACTIONS"]
DATASET_TYPES: tuple[DatasetType, ...] = get_args(DatasetType)
ImportMode = Literal["FULL", "INCREMENTAL"]
IMPORT_MODES: tuple[ImportMode, ...] = get_args(ImportMode)
RemovalPolicy = Literal["retain", "destroy"]
REMOVAL_POLICIES: tuple[RemovalPolicy, ...] = get_args(RemovalPolicy)
Flag = Literal["true", "false"]
WhenNoData = Literal["fail", "skip"]


class Tag(TypedDict):
    Key: str
    Value: str


# Optional properties sit in a `total=False` base: NotRequired[...] is not seen at run time on Python 3.11
# under postponed annotations, and the handlers read the optional names at run time.
class _DatasetGroupEncryption(TypedDict, total=False):
    KmsKeyArn: str
    RoleArn: str  # required with KmsKeyArn (domain.key_without_role)


class DatasetGroupProperties(_DatasetGroupEncryption):
    Name: str
    Domain: Domain
    Tags: list[Tag]
    RemovalPolicy: RemovalPolicy


class SchemaProperties(TypedDict):
    Name: str
    Domain: Domain
    Schema: str  # the Avro schema as JSON
    RemovalPolicy: RemovalPolicy


class DatasetProperties(TypedDict):
    Name: str
    DatasetGroupArn: str
    DatasetType: DatasetType
    SchemaArn: str
    Tags: list[Tag]
    RemovalPolicy: RemovalPolicy


class _ImportJobOptions(TypedDict, total=False):
    ImportMode: ImportMode  # FULL when absent
    DataVersion: str  # a change starts a new job (through JobName); the handler does not read it
    Tags: list[Tag]
    WhenNoData: WhenNoData  # "skip": a location without data files yet creates no job
    # Waits longer than a custom resource may: the wait condition's handle and the state machine that
    # signals it (docs/event-imports.md).
    WaitHandle: str
    WaitStateMachineArn: str


class ImportJobProperties(_ImportJobOptions):
    JobName: str
    DatasetArn: str
    SchemaArn: str
    DataLocation: str
    RoleArn: str


class EventTrackerProperties(TypedDict):
    Name: str
    DatasetGroupArn: str
    Tags: list[Tag]
    RemovalPolicy: RemovalPolicy


class ItemExplorationConfig(TypedDict, total=False):
    explorationWeight: str
    explorationItemAgeCutOff: str


class _RecommenderExploration(TypedDict, total=False):
    itemExplorationConfig: ItemExplorationConfig


class RecommenderConfig(_RecommenderExploration):
    minRecommendationRequestsPerSecond: int | str


class RecommenderProperties(TypedDict):
    Name: str
    DatasetGroupArn: str
    RecipeArn: str
    RecommenderConfig: RecommenderConfig
    WaitForActive: Flag
    Tags: list[Tag]
    RemovalPolicy: RemovalPolicy


ResourceProperties = (
    DatasetGroupProperties
    | SchemaProperties
    | DatasetProperties
    | ImportJobProperties
    | EventTrackerProperties
    | RecommenderProperties
)

# Each resource type's properties, for the handlers' check of what arrives and for tests.
PROPERTIES: dict[ResourceType, Any] = {
    DATASET_GROUP: DatasetGroupProperties,
    SCHEMA: SchemaProperties,
    DATASET: DatasetProperties,
    IMPORT_JOB: ImportJobProperties,
    EVENT_TRACKER: EventTrackerProperties,
    RECOMMENDER: RecommenderProperties,
}


def property_names(resource_type: ResourceType) -> tuple[frozenset[str], frozenset[str]]:
    """(required, optional) property names of a resource type."""
    shape = PROPERTIES[resource_type]
    return frozenset(shape.__required_keys__), frozenset(shape.__optional_keys__)


Choice = TypeVar("Choice", bound=str)


def choice(value: str, allowed: tuple[Choice, ...]) -> Choice | None:
    """`value` as one of the allowed literals (typed), or None: how a plain string enters the contract."""
    return next((known for known in allowed if known == value), None)


def tags(values: dict[str, str]) -> list[Tag]:
    """Tags as CloudFormation passes them: a list of {Key, Value}, sorted for a stable template."""
    return [Tag(Key=key, Value=value) for key, value in sorted(values.items())]
