"""The one custom-resource provider per stack that runs the Personalize handlers."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

import lambda_handlers
from constructs_lib.nag import acknowledge, acknowledge_wildcards
from lambda_handlers.personalize import authorization as authz
from lambda_handlers.personalize import contract, domain, domain_rules, kinds

# The asset is the installed `lambda_handlers` package, found where Python imported it from: the checkout,
# or site-packages when constructs_lib comes from a wheel.
HANDLER_ASSET = Path(lambda_handlers.__file__).resolve().parent
# Synth-time facts that live next to the domain module but that no handler imports, and the lock file
# of the runtime-provided boto3 (lambda_handlers/requirements.in says why it is not bundled).
ASSET_EXCLUDES = [
    "**/__pycache__",
    "**/*.pyc",
    "personalize/authorization.py",
    "personalize/domain_rules.py",
    "requirements.*",
]


def handler_runtime() -> lambda_.Runtime:
    """The handlers' Lambda runtime. A function, like every aws_cdk value here: importing this module
    calls no jsii, so `cdk synth` imports it in a thread while CDK's engine starts (app._while_warming)."""
    return lambda_.Runtime.PYTHON_3_14


def _handler_operations() -> tuple[str, ...]:
    """Every Personalize operation the handlers call, from the resource-kind table and the contract.

    Per managed kind: Create, Describe, Update (where the API has one) and Delete (where it has one), and
    List (find by name, or list what a dataset or a dataset group holds); a group's delete also lists what
    it may hold that no stack manages (solutions, filters). Tags: TagResource and ListTagsForResource for
    kinds created with tags (the owner tag, docs/custom-resources.md#ownership), UntagResource where an
    Update changes Tags in place. tests/handlers/test_authorization.py compares this with the code.
    """
    per_kind = [
        operation
        for kind in kinds.MANAGED
        for operation in (
            kind.create_operation,
            kind.describe_operation,
            kind.update_operation,
            kind.delete_operation,
            kind.list_operation,
        )
        if operation is not None
    ]
    contents = [kind.list_operation for kind in kinds.GROUP_CONTENTS if kind not in kinds.MANAGED]
    tagged = any(authz.ACTIONS[kind.create_operation].tags_on_create for kind in kinds.MANAGED)
    tagging = ["TagResource", "ListTagsForResource"] if tagged else []
    if contract.TAGS_UPDATED_IN_PLACE:
        tagging.append("UntagResource")
    return (*per_kind, *contents, *tagging)


# The policy grants these and nothing else, each on the resource types the authorization table gives it.
HANDLER_OPERATIONS = _handler_operations()
# Kinds (IAM resource types) whose Tags an Update applies in place: these also need UntagResource.
TAGS_UPDATED_IN_PLACE = frozenset(
    kind.iam_type for kind in kinds.MANAGED if kind.resource_type in contract.TAGS_UPDATED_IN_PLACE
)
# Name-scoped kinds and the ARN path pattern of this environment's resources of that kind.
NAMED_KINDS = {
    kind.iam_type: f"{kind.arn_resource}/{{pattern}}"  # dataset/{group name}/{TYPE}: scoped by its group
    for kind in (kinds.DATASET_GROUP, kinds.SCHEMA, kinds.DATASET, kinds.IMPORT_JOB, kinds.RECOMMENDER)
}
# What a pinned name adds, per kind the construct lets users name.
PINNED_PATHS = {
    kinds.DATASET_GROUP.iam_type: (
        f"{kinds.DATASET_GROUP.arn_resource}/{{name}}",
        f"{kinds.DATASET.arn_resource}/{{name}}/*",
    ),
    kinds.RECOMMENDER.iam_type: (f"{kinds.RECOMMENDER.arn_resource}/{{name}}",),
}


class StateMachineLogs(TypedDict):
    """The fields sfn.LogOptions and cr.LogOptions share: both state machines log the same way."""

    destination: logs.ILogGroup
    level: sfn.LogLevel
    include_execution_data: bool


def state_machine_logs(scope: Construct, construct_id: str) -> StateMachineLogs:
    """How the import flow and the Provider's waiter log, in one place: every event, kept three months,
    removed with the stack, without execution data."""
    group = logs.LogGroup(
        scope,
        construct_id,
        retention=logs.RetentionDays.THREE_MONTHS,
        removal_policy=RemovalPolicy.DESTROY,
    )
    return {"destination": group, "level": sfn.LogLevel.ALL, "include_execution_data": False}


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
        total_timeout = total_timeout or Duration.seconds(domain_rules.MAX_WAIT_SECONDS)
        total_seconds = total_timeout.to_seconds()
        where = f"{scope.node.path}/{construct_id}"
        if total_seconds > domain_rules.MAX_WAIT_SECONDS:
            raise ValueError(
                f"{where}: total_timeout is {total_seconds:g} s; at most {domain_rules.MAX_WAIT_SECONDS} s: "
                f"CloudFormation waits {domain_rules.SERVICE_TIMEOUT_SECONDS} s for a custom resource, and "
                f"on_event may take {domain_rules.HANDLER_TIMEOUT_SECONDS} s of them"
            )
        if total_seconds % query_interval.to_seconds():
            raise ValueError(f"{where}: total_timeout must be a multiple of query_interval")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._arn_base = f"arn:{stack.partition}:personalize:{stack.region}:{stack.account}"
        self._scopes: dict[str, iam.Policy] = {}
        self._passed_roles: set[str] = set()
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
        code = lambda_.Code.from_asset(str(HANDLER_ASSET), exclude=ASSET_EXCLUDES)
        functions = {
            name: lambda_.Function(
                self,
                name,
                runtime=handler_runtime(),
                architecture=lambda_.Architecture.ARM_64,
                code=code,
                handler=f"personalize.entry.{entry}",
                role=self.handler_role,
                timeout=Duration.seconds(domain_rules.HANDLER_TIMEOUT_SECONDS),
                memory_size=256,
                log_group=self.log_group,
                # Lambda's JSON log format: each line a JSON object (level, requestId, message); the
                # handlers' decision records stay JSON strings in `message`.
                logging_format=lambda_.LoggingFormat.JSON,
                # The handlers' own deadline: one poll before the waiter's, so a wait that runs out
                # ends with their message (resource, last status, what to do), not "timed out".
                environment={
                    "LOG_LEVEL": "INFO",
                    domain.WAIT_SECONDS_ENV: str(int(total_seconds - query_interval.to_seconds())),
                },
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
            waiter_state_machine_log_options=cr.LogOptions(**state_machine_logs(self, "WaiterLogs")),
        )
        self._acknowledge_framework()

    @property
    def service_timeout(self) -> Duration:
        """Every Personalize custom resource's ServiceTimeout, set explicitly: CloudFormation's maximum."""
        return Duration.seconds(domain_rules.SERVICE_TIMEOUT_SECONDS)

    @property
    def service_token(self) -> str:
        return self.provider.service_token

    def allow_names(self, name_prefix: str) -> None:
        """Let the handlers manage this environment's Personalize resources: names `PREFIX_*`, and event
        trackers tagged `SCOPE_TAG_KEY=PREFIX` (their ARNs carry no name)."""
        if name_prefix in self._scopes:
            return
        pattern = authz.scope_pattern(name_prefix)
        statements = []
        for kind, path in NAMED_KINDS.items():
            actions = authz.actions_on(kind, HANDLER_OPERATIONS) + self._tagging_actions(kind)
            statements.append(
                iam.PolicyStatement(
                    sid=f"Manage{kind[0].upper()}{kind[1:]}s",
                    actions=actions,
                    resources=[f"{self._arn_base}:{path.format(pattern=pattern)}"],
                )
            )
        trackers = f"{self._arn_base}:{kinds.EVENT_TRACKER.arn_resource}/*"
        scope_tag = f"{authz.SCOPE_TAG_KEY}"
        statements += [
            iam.PolicyStatement(
                sid="CreateTaggedEventTrackers",
                actions=["personalize:CreateEventTracker", "personalize:TagResource"],
                resources=[trackers],
                conditions={
                    "StringEquals": {f"aws:RequestTag/{scope_tag}": name_prefix},
                    "Null": {f"aws:ResourceTag/{scope_tag}": "true"},
                },
            ),
            iam.PolicyStatement(
                sid="ManageOwnEventTrackers",
                actions=["personalize:DeleteEventTracker", *self._tagging_actions("eventTracker")],
                resources=[trackers],
                conditions={"StringEquals": {f"aws:ResourceTag/{scope_tag}": name_prefix}},
            ),
            # A deleted tracker has no tags: with StringEquals its Describe would be AccessDenied instead of
            # the ResourceNotFound the handler waits for. IfExists admits that (and untagged trackers).
            iam.PolicyStatement(
                sid="DescribeOwnEventTrackers",
                actions=["personalize:DescribeEventTracker"],
                resources=[trackers],
                conditions={"StringEqualsIfExists": {f"aws:ResourceTag/{scope_tag}": name_prefix}},
            ),
            iam.PolicyStatement(
                sid="KeepEventTrackersInScope",
                effect=iam.Effect.DENY,
                actions=["personalize:UntagResource"],
                resources=[trackers],
                conditions={"ForAnyValue:StringEquals": {"aws:TagKeys": [scope_tag]}},
            ),
            # ManageOwnEventTrackers lets TagResource set any tag on a tracker in scope, its scope tag
            # included: without this, the handler role could move a tracker into another environment's.
            iam.PolicyStatement(
                sid="KeepEventTrackerScopeTag",
                effect=iam.Effect.DENY,
                actions=["personalize:TagResource"],
                resources=[trackers],
                conditions={
                    "StringNotEquals": {f"aws:RequestTag/{scope_tag}": name_prefix},
                    "Null": {f"aws:RequestTag/{scope_tag}": "false"},
                },
            ),
            iam.PolicyStatement(
                sid="ListWithinDatasetGroups",
                actions=authz.list_actions(HANDLER_OPERATIONS),
                resources=["*"],
            ),
        ]
        # Policies are children of the role, so the handler functions (and so every custom
        # resource) depend on them: no resource runs before its permissions exist.
        policy = iam.Policy(self.handler_role, f"Personalize-{name_prefix}", statements=statements)
        policy.attach_to_role(self.handler_role)
        self._scopes[name_prefix] = policy
        acknowledge_wildcards(
            policy,
            f"Scoped to this environment's Personalize names ({pattern}); event trackers (random-hex ARNs) "
            f"only with the tag {scope_tag}={name_prefix}; List* actions accept no resource ARN "
            f"({authz.SOURCE}).",
        )

    def allow_pinned_name(self, name_prefix: str, kind: str, name: str, where: str) -> None:
        """A name given by the user instead of derived: granted exactly, unless it lies in another
        environment's namespace (`OTHER_…`), which that environment's policy already covers."""
        owner = authz.foreign_scope(name, name_prefix)
        if owner is not None:
            raise ValueError(
                f"{where}: name {name!r} lies in the namespace of the environment with prefix {owner!r} "
                f"(names up to the first {domain.SCOPE_DELIMITER!r} are an environment's prefix); "
                f"allowed: a name without {domain.SCOPE_DELIMITER!r}, or one starting with "
                f"{name_prefix}{domain.SCOPE_DELIMITER}"
            )
        self.allow_names(name_prefix)
        if name.startswith(f"{name_prefix}{domain.SCOPE_DELIMITER}"):
            return  # already within PREFIX_*
        paths = PINNED_PATHS[kind]
        actions = sorted(
            {
                *authz.actions_on(kind, HANDLER_OPERATIONS),
                *authz.actions_on("dataset", HANDLER_OPERATIONS),
                *self._tagging_actions(kind),
            }
            if kind == "datasetGroup"
            else {*authz.actions_on(kind, HANDLER_OPERATIONS), *self._tagging_actions(kind)}
        )
        self._scopes[name_prefix].add_statements(
            iam.PolicyStatement(
                sid=f"PinnedName{len(self._scopes[name_prefix].document.to_json().get('Statement', []))}",
                actions=actions,
                resources=[f"{self._arn_base}:{path.format(name=name)}" for path in paths],
            )
        )

    @staticmethod
    def _tagging_actions(kind: str) -> list[str]:
        """TagResource for kinds created with tags, and ListTagsForResource to read the owner tag those
        carry before any delete (docs/custom-resources.md, ownership); UntagResource where Tags change
        in place."""
        created_with_tags = any(
            authz.ACTIONS[operation].tags_on_create and authz.created_kind(operation) == kind
            for operation in HANDLER_OPERATIONS
        )
        actions = ["personalize:TagResource", "personalize:ListTagsForResource"] if created_with_tags else []
        if kind in TAGS_UPDATED_IN_PLACE:
            actions.append("personalize:UntagResource")
        return actions

    def allow_pass_role(self, role: iam.IRole) -> None:
        """Import jobs and KMS-encrypted groups hand the Personalize role to the service (iam:PassRole,
        only to personalize.amazonaws.com: the reference's iam:PassedToService condition)."""
        key = Stack.of(self).resolve(role.role_arn)
        if str(key) in self._passed_roles:
            return
        self._passed_roles.add(str(key))
        self.handler_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=f"PassPersonalizeRole{len(self._passed_roles)}",
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": authz.PASSED_TO_SERVICE}},
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
