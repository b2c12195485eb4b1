"""The one custom-resource provider per stack that runs the Personalize handlers."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from constructs_lib.nag import acknowledge, acknowledge_wildcards
from lambda_handlers.personalize.domain import SERVICE_PRINCIPAL

HANDLER_ASSET = Path(__file__).resolve().parent.parent / "lambda_handlers"
HANDLER_RUNTIME = lambda_.Runtime.PYTHON_3_14
MAX_TOTAL_TIMEOUT = Duration.hours(1)

# Actions on resources whose ARNs carry our names, so they can be scoped to the name prefix.
NAMED_RESOURCE_ACTIONS = {
    "dataset-group": ["CreateDatasetGroup", "DescribeDatasetGroup", "DeleteDatasetGroup"],
    "schema": ["CreateSchema", "DescribeSchema", "DeleteSchema"],
    "dataset": ["CreateDataset", "DescribeDataset", "UpdateDataset", "DeleteDataset"],
    "dataset-import-job": ["CreateDatasetImportJob", "DescribeDatasetImportJob"],
    "recommender": [
        "CreateRecommender",
        "DescribeRecommender",
        "UpdateRecommender",
        "StopRecommender",
        "StartRecommender",
        "DeleteRecommender",
    ],
}
TAGGING_ACTIONS = ["TagResource", "UntagResource", "ListTagsForResource"]
# Event-tracker ARNs end in 8 random hex digits, not our name; List* take no resource at all.
TRACKER_ACTIONS = ["CreateEventTracker", "DescribeEventTracker", "DeleteEventTracker"]
LIST_ACTIONS = [
    "ListDatasetGroups",
    "ListSchemas",
    "ListDatasets",
    "ListDatasetImportJobs",
    "ListEventTrackers",
    "ListRecommenders",
    "ListSolutions",
    "ListFilters",
]


class PersonalizeProvider(Construct):
    """A CDK `Provider` (on_event + is_complete) over the handler asset in lambda_handlers/.

    Found or created once per stack with `PersonalizeProvider.of(scope)`; every Personalize
    custom resource in the stack shares it, and each construct grants it exactly what it needs.
    """

    CONSTRUCT_ID = "PersonalizeProvider"

    @classmethod
    def of(
        cls,
        scope: Construct,
        *,
        query_interval: Duration | None = None,
        total_timeout: Duration | None = None,
    ) -> PersonalizeProvider:
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(cls.CONSTRUCT_ID)
        if isinstance(existing, PersonalizeProvider):
            return existing
        return cls(stack, cls.CONSTRUCT_ID, query_interval=query_interval, total_timeout=total_timeout)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        query_interval: Duration | None = None,
        total_timeout: Duration | None = None,
    ) -> None:
        query_interval = query_interval or Duration.seconds(30)
        total_timeout = total_timeout or MAX_TOTAL_TIMEOUT
        total_seconds = total_timeout.to_seconds()
        where = f"{scope.node.path}/{construct_id}"
        if total_seconds > MAX_TOTAL_TIMEOUT.to_seconds():
            raise ValueError(
                f"{where}: total_timeout is {total_seconds:g} s; CloudFormation allows at most 3600"
            )
        if total_seconds % query_interval.to_seconds():
            raise ValueError(f"{where}: total_timeout must be a multiple of query_interval")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._arn_base = f"arn:{stack.partition}:personalize:{stack.region}:{stack.account}"
        self._granted_prefixes: set[str] = set()
        self._read_grants = 0

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.handler_role = iam.Role(
            self,
            "HandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Runs the Personalize custom-resource handlers",
        )
        self.log_group.grant_write(self.handler_role)
        code = lambda_.Code.from_asset(str(HANDLER_ASSET), exclude=["**/__pycache__", "**/*.pyc"])
        functions = {
            name: lambda_.Function(
                self,
                name,
                runtime=HANDLER_RUNTIME,
                architecture=lambda_.Architecture.ARM_64,
                code=code,
                handler=f"personalize.entry.{entry}",
                role=self.handler_role,
                timeout=Duration.minutes(5),
                memory_size=256,
                log_group=self.log_group,
                # Lambda's JSON log format: each line a JSON object (level, requestId, message); the
                # handlers' decision records stay JSON strings in `message`.
                logging_format=lambda_.LoggingFormat.JSON,
                environment={"LOG_LEVEL": "INFO"},
                description=f"Personalize custom resources: {entry}",
            )
            for name, entry in (("OnEvent", "on_event"), ("IsComplete", "is_complete"))
        }
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=functions["OnEvent"],
            is_complete_handler=functions["IsComplete"],
            query_interval=query_interval,
            total_timeout=total_timeout,
            log_group=self.log_group,
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=logs.LogGroup(
                    self,
                    "WaiterLogs",
                    retention=logs.RetentionDays.THREE_MONTHS,
                    removal_policy=RemovalPolicy.DESTROY,
                ),
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
        )
        self._acknowledge_framework()

    @property
    def service_token(self) -> str:
        return self.provider.service_token

    def allow_names(self, name_prefix: str) -> None:
        """Let the handlers manage Personalize resources whose names start with `name_prefix-`."""
        if name_prefix in self._granted_prefixes:
            return
        self._granted_prefixes.add(name_prefix)
        # Policies are children of the role, so the handler functions (and so every custom
        # resource) depend on them: no resource runs before its permissions exist.
        policy = iam.Policy(
            self.handler_role,
            f"Personalize-{name_prefix}",
            statements=[
                iam.PolicyStatement(
                    sid="ManageNamedResources",
                    actions=sorted(
                        {f"personalize:{a}" for actions in NAMED_RESOURCE_ACTIONS.values() for a in actions}
                        | {f"personalize:{a}" for a in TAGGING_ACTIONS}
                    ),
                    resources=[f"{self._arn_base}:{kind}/{name_prefix}-*" for kind in NAMED_RESOURCE_ACTIONS],
                ),
                iam.PolicyStatement(
                    sid="ManageEventTrackers",
                    actions=[f"personalize:{a}" for a in [*TRACKER_ACTIONS, *TAGGING_ACTIONS]],
                    resources=[f"{self._arn_base}:event-tracker/*"],
                ),
                iam.PolicyStatement(
                    sid="UseDomainRecipes",
                    actions=["personalize:DescribeRecipe", "personalize:CreateRecommender"],
                    resources=[f"arn:{Stack.of(self).partition}:personalize:::recipe/aws-*"],
                ),
                iam.PolicyStatement(
                    sid="ListWithinDatasetGroups",
                    actions=[f"personalize:{a}" for a in LIST_ACTIONS],
                    resources=["*"],
                ),
            ],
        )
        policy.attach_to_role(self.handler_role)
        acknowledge_wildcards(
            policy,
            f"Scoped to Personalize resources named {name_prefix}-*; event-tracker ARNs end in random hex, "
            "domain recipes are AWS-owned (aws-*), and Personalize List* actions accept no resource ARN.",
        )

    def allow_pass_role(self, role: iam.IRole) -> None:
        """Import jobs and KMS-encrypted groups hand the Personalize role to the service."""
        role.grant_pass_role(self.handler_role)
        self.handler_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassPersonalizeRoleOnlyToPersonalize",
                effect=iam.Effect.DENY,
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringNotEquals": {"iam:PassedToService": SERVICE_PRINCIPAL}},
            )
        )

    def allow_read(self, bucket: s3.IBucket, key: str, encryption_key: kms.IKey | None = None) -> None:
        """The preflight reads the CSV header (and lists a folder) before an import job starts."""
        pattern = f"{key}*" if key.endswith("/") or not key else key
        self._read_grants += 1
        policy = iam.Policy(
            self.handler_role,
            f"ReadData{self._read_grants}",
            statements=[
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(pattern)]),
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
            ],
        )
        policy.attach_to_role(self.handler_role)
        if encryption_key is not None:
            encryption_key.grant_decrypt(self.handler_role)
        acknowledge_wildcards(
            policy, "The preflight reads the header of the objects under the import's data folder."
        )

    def _acknowledge_framework(self) -> None:
        """Findings on the parts the CDK Provider framework builds for us, each with its reason."""
        acknowledge(
            self.provider,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "The CDK provider-framework functions only write their own logs with the basic execution policy.",
        )
        acknowledge(
            self.provider,
            "AwsSolutions-L1",
            "The CDK provider-framework functions pin their own Node.js runtime; our handlers run Python.",
        )
        for policy in self.provider.node.find_all():
            if isinstance(policy, iam.Policy):
                acknowledge_wildcards(
                    policy,
                    "The CDK provider framework invokes its own functions (any version, hence :*) and "
                    "delivers waiter logs, which CloudWatch Logs only accepts on '*'.",
                )
        acknowledge(
            self.provider,
            "AwsSolutions-SF2",
            "The waiter state machine only polls is_complete; X-Ray traces would add cost and no insight.",
        )
