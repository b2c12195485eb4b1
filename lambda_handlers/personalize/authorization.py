"""What IAM authorizes for each Personalize call: one table for the construct's policy and the emulator.

Source: Service Authorization Reference, "Actions, resources, and condition keys for Amazon Personalize"
(`SOURCE`). Every resource type listed for an action is required: the caller needs an Allow for each of
them. An operation called with `tags` also authorizes `personalize:TagResource` on the new resource (with
`aws:RequestTag/KEY` and `aws:TagKeys`); one that hands Personalize a role also authorizes `iam:PassRole`
on that role with `iam:PassedToService` = personalize.amazonaws.com (the reference's API-operations table).

Handlers do not use this module: the Lambda asset leaves it out (constructs_lib.personalize_provider),
so a change here never redeploys the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lambda_handlers.personalize import domain, kinds

SOURCE = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonpersonalize.html"
SERVICE = "personalize"
PASSED_TO_SERVICE = "personalize.amazonaws.com"

# Resource types: the reference's name → the ARN path after `arn:PARTITION:personalize:REGION:ACCOUNT:`.
# The dataset path is the group's name and the dataset type; the event tracker's id is random hex.
RESOURCE_TYPES: dict[str, str] = {
    kinds.DATASET_GROUP.iam_type: f"{kinds.DATASET_GROUP.arn_resource}/{{name}}",
    kinds.SCHEMA.iam_type: f"{kinds.SCHEMA.arn_resource}/{{name}}",
    kinds.DATASET.iam_type: f"{kinds.DATASET.arn_resource}/{{group_name}}/{{dataset_type}}",
    kinds.IMPORT_JOB.iam_type: f"{kinds.IMPORT_JOB.arn_resource}/{{name}}",
    kinds.EVENT_TRACKER.iam_type: f"{kinds.EVENT_TRACKER.arn_resource}/{{id}}",
    kinds.RECOMMENDER.iam_type: f"{kinds.RECOMMENDER.arn_resource}/{{name}}",
    "recipe": "recipe/{name}",  # AWS-owned: arn:PARTITION:personalize:::recipe/NAME
}
# The ARN's first path segment → the resource type, for ARNs that arrive in a request.
ARN_KINDS: dict[str, str] = {path.split("/", 1)[0]: kind for kind, path in RESOURCE_TYPES.items()}

# How the emulator finds the ARN of each resource an action is authorized against:
#   ("member", M)        the ARN in request member M
#   ("named", KIND, M)   a new resource of KIND named by request member M
#   ("dataset", G, T)    the dataset of group ARN member G and type member T
#   ("generated", KIND)  a new resource of KIND whose id the service draws
#   ("tagged", M)        the ARN in member M, of any taggable type
Locator = (
    tuple[Literal["member"], str]
    | tuple[Literal["named"], str, str]
    | tuple[Literal["dataset"], str, str]
    | tuple[Literal["generated"], str]
    | tuple[Literal["tagged"], str]
)


@dataclass(frozen=True)
class Authorization:
    """One API operation: its resources (kind, locator) in the reference's order, and extra authorizations."""

    resources: tuple[tuple[str, Locator], ...] = ()
    tags_on_create: bool = False  # `tags` in the request: personalize:TagResource on the new resource
    passes_role: str | None = None  # request member whose role is passed: iam:PassRole
    tag_keys: str | None = None  # request member listing tag keys (aws:TagKeys): TagResource/UntagResource
    request_tags: str | None = None  # request member with tags (aws:RequestTag/KEY, aws:TagKeys)
    notes: tuple[str, ...] = field(default=())

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind, _ in self.resources)


def _arn(kind: str, member: str) -> tuple[str, Locator]:
    return (kind, ("member", member))


def _named(kind: str, member: str = "name") -> tuple[str, Locator]:
    return (kind, ("named", kind, member))


_GROUP = _arn("datasetGroup", "datasetGroupArn")
_TAGGED: tuple[str, Locator] = ("*", ("tagged", "resourceArn"))

# The operations the emulator implements (and the stack uses), authorized as the reference says.
# A List action has no resource type: only Resource "*" grants it.
ACTIONS: dict[str, Authorization] = {
    "CreateDatasetGroup": Authorization(
        (_named("datasetGroup"),), tags_on_create=True, passes_role="roleArn"
    ),
    "DescribeDatasetGroup": Authorization((_GROUP,)),
    "DeleteDatasetGroup": Authorization((_GROUP,)),
    "ListDatasetGroups": Authorization(),
    "CreateSchema": Authorization((_named("schema"),)),
    "DescribeSchema": Authorization((_arn("schema", "schemaArn"),)),
    "DeleteSchema": Authorization((_arn("schema", "schemaArn"),)),
    "ListSchemas": Authorization(),
    "CreateDataset": Authorization(
        (("dataset", ("dataset", "datasetGroupArn", "datasetType")), _GROUP), tags_on_create=True
    ),
    "DescribeDataset": Authorization((_arn("dataset", "datasetArn"),)),
    "UpdateDataset": Authorization((_arn("dataset", "datasetArn"),)),
    "DeleteDataset": Authorization((_arn("dataset", "datasetArn"),)),
    "ListDatasets": Authorization(),
    "CreateDatasetImportJob": Authorization(
        (_arn("dataset", "datasetArn"), _named("datasetImportJob", "jobName")),
        tags_on_create=True,
        passes_role="roleArn",
    ),
    "DescribeDatasetImportJob": Authorization((_arn("datasetImportJob", "datasetImportJobArn"),)),
    "ListDatasetImportJobs": Authorization(),
    "CreateEventTracker": Authorization(
        (_GROUP, ("eventTracker", ("generated", "eventTracker"))), tags_on_create=True
    ),
    "DescribeEventTracker": Authorization((_arn("eventTracker", "eventTrackerArn"),)),
    "DeleteEventTracker": Authorization((_arn("eventTracker", "eventTrackerArn"),)),
    "ListEventTrackers": Authorization(),
    "CreateRecommender": Authorization((_GROUP, _named("recommender")), tags_on_create=True),
    "DescribeRecommender": Authorization((_arn("recommender", "recommenderArn"),)),
    "UpdateRecommender": Authorization((_arn("recommender", "recommenderArn"),)),
    "DeleteRecommender": Authorization((_arn("recommender", "recommenderArn"),)),
    "StartRecommender": Authorization((_arn("recommender", "recommenderArn"),)),
    "StopRecommender": Authorization((_arn("recommender", "recommenderArn"),)),
    "ListRecommenders": Authorization(),
    "TagResource": Authorization((_TAGGED,), request_tags="tags"),
    "UntagResource": Authorization((_TAGGED,), tag_keys="tagKeys"),
    "ListTagsForResource": Authorization((_TAGGED,)),
    # Kinds the emulator cannot hold: their Lists answer empty (and are authorized on "*").
    "ListSolutions": Authorization(),
    "ListSolutionVersions": Authorization(),
    "ListCampaigns": Authorization(),
    "ListFilters": Authorization(),
    "ListBatchInferenceJobs": Authorization(),
    "ListBatchSegmentJobs": Authorization(),
    "ListDatasetExportJobs": Authorization(),
    "ListMetricAttributions": Authorization(),
    "ListDataDeletionJobs": Authorization(),
}

# Every other operation in botocore's Personalize model: the emulator answers UnsupportedOperation for
# them, so their authorization is not modelled. Listed so the table's coverage is checked (tests).
NOT_MODELLED: frozenset[str] = frozenset(
    {
        "CreateBatchInferenceJob",
        "CreateBatchSegmentJob",
        "CreateCampaign",
        "CreateDataDeletionJob",
        "CreateDatasetExportJob",
        "CreateFilter",
        "CreateMetricAttribution",
        "CreateSolution",
        "CreateSolutionVersion",
        "DeleteCampaign",
        "DeleteFilter",
        "DeleteMetricAttribution",
        "DeleteSolution",
        "DescribeAlgorithm",
        "DescribeBatchInferenceJob",
        "DescribeBatchSegmentJob",
        "DescribeCampaign",
        "DescribeDataDeletionJob",
        "DescribeDatasetExportJob",
        "DescribeFeatureTransformation",
        "DescribeFilter",
        "DescribeMetricAttribution",
        "DescribeRecipe",
        "DescribeSolution",
        "DescribeSolutionVersion",
        "GetSolutionMetrics",
        "ListMetricAttributionMetrics",
        "ListRecipes",
        "StopSolutionVersionCreation",
        "UpdateCampaign",
        "UpdateMetricAttribution",
        "UpdateSolution",
    }
)


def action(operation: str) -> str:
    return f"{SERVICE}:{operation}"


def actions_on(kind: str, operations: list[str] | tuple[str, ...]) -> list[str]:
    """The IAM actions among `operations` that are authorized against resource type `kind`."""
    return [action(operation) for operation in operations if kind in ACTIONS[operation].kinds]


def created_kind(operation: str) -> str | None:
    """The resource type an operation creates (its resource located by name, by dataset or drawn)."""
    for kind, locator in ACTIONS[operation].resources:
        if locator[0] in ("named", "dataset", "generated"):
            return kind
    return None


def list_actions(operations: list[str] | tuple[str, ...]) -> list[str]:
    """The IAM actions among `operations` that have no resource type (Resource "*" only)."""
    return [action(operation) for operation in operations if not ACTIONS[operation].resources]


# --- how this app scopes its own grants -----------------------------------------------------------
# Event-tracker ARNs end in random hex, not a name: the handler tags each tracker with its environment's
# prefix under this key, and the policy matches the tag (aws:RequestTag on create, aws:ResourceTag after).
SCOPE_TAG_KEY = "personalize-domain-cdk:scope"


def scope_pattern(prefix: str) -> str:
    """The name pattern an environment's policy grants: every name its constructs derive matches it."""
    return f"{prefix}{domain.SCOPE_DELIMITER}*"


def foreign_scope(name: str, prefix: str) -> str | None:
    """The other environment's prefix whose namespace a pinned name lies in; None when free or ours."""
    owner, delimiter, _ = name.partition(domain.SCOPE_DELIMITER)
    if not delimiter or owner == prefix:
        return None
    return owner
