"""Event-driven imports: an upload to s3://BUCKET/incoming/<dataset>/ is validated, imported and reported.

S3 sends "Object Created" events to EventBridge; a rule per incoming folder starts the import state
machine (Standard) with the event as its input. Its Lambda steps (lambda_handlers/personalize/flow/)
validate the object, create the import job and describe it; Wait states do the waiting, for days if an
import takes them, so no Lambda ever polls. Every outcome goes to an encrypted SNS topic and, as an
event, to the default event bus. The same state machine signals the CloudFormation wait conditions
that hold a deploy for imports longer than a custom resource may wait (docs/event-imports.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from constructs_lib.dataset_group import Dataset
from constructs_lib.nag import acknowledge_wildcards
from constructs_lib.personalize_provider import (
    ASSET_EXCLUDES,
    HANDLER_ASSET,
    handler_runtime,
    state_machine_logs,
)
from lambda_handlers.personalize import authorization as authz
from lambda_handlers.personalize import domain, kinds
from lambda_handlers.personalize.flow import contract

STEP_MODULE = "personalize.flow.steps"
# Lambda's own transient errors, retried with backoff (Step Functions guide, "Handling errors": the
# Lambda service exceptions to retry when invoking a function).
LAMBDA_TRANSIENT_ERRORS = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
CHECK_TIMEOUT_SECONDS = 300  # the streaming row checks; the object's bytes read are bounded
STEP_TIMEOUT_SECONDS = 60
# Personalize operations each step calls; the policies grant these on the kinds the authorization table
# gives them (tests check the steps call nothing else).
STEP_OPERATIONS: dict[str, tuple[str, ...]] = {
    "CheckObject": ("DescribeSchema",),
    "StartImport": (
        "CreateDatasetImportJob",
        "DescribeDatasetImportJob",
        "ListDatasetImportJobs",
        "TagResource",
    ),
    "DescribeImport": ("DescribeDatasetImportJob",),
    "SignalDeploy": (),
}


@dataclass(frozen=True)
class IncomingDataset:
    """What the steps need to know of a dataset that takes uploads."""

    folder: str  # incoming/<folder>/
    dataset_arn: str
    schema_arn: str
    import_mode: str


class ImportFlow(Construct):
    """The import state machine, its Lambda steps, the notification topic and one rule per incoming folder.

    `add_incoming` opens a dataset's incoming folder; `allow_start` lets a role (the custom-resource
    handlers) start executions for deploy-time waits.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        service_role: iam.IRole,
        name_prefix: str,
        job_tags: dict[str, str],
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.bucket = bucket
        self.encryption_key = encryption_key
        self._arn_base = f"arn:{stack.partition}:personalize:{stack.region}:{stack.account}"
        self._job_names = f"dataset-import-job/{authz.scope_pattern(name_prefix)}"
        self._job_pattern = f"{self._arn_base}:{self._job_names}"
        self._incoming: dict[str, IncomingDataset] = {}
        self.incoming_locations: dict[str, str] = {}

        self.topic_key = kms.Key(
            self,
            "NotificationsKey",
            description=f"Encrypts the Personalize import notifications of {stack.stack_name}",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.topic = sns.Topic(
            self,
            "Notifications",
            display_name="Personalize imports",
            master_key=self.topic_key,
            enforce_ssl=True,
        )

        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.DESTROY
        )
        code = lambda_.Code.from_asset(str(HANDLER_ASSET), exclude=ASSET_EXCLUDES)
        environment = {
            "LOG_LEVEL": "INFO",
            contract.ROLE_ENV: service_role.role_arn,
            contract.TAGS_ENV: json.dumps(job_tags, sort_keys=True),
            contract.NAME_PREFIX_ENV: name_prefix,
            contract.MIN_POLL_ENV: str(contract.DEFAULT_MIN_POLL_SECONDS),
            contract.MAX_POLL_ENV: str(contract.DEFAULT_MAX_POLL_SECONDS),
            contract.DATASETS_ENV: "{}",
        }
        self.functions = {name: self._step_function(code, name, environment) for name in STEP_OPERATIONS}
        start_role = self.functions["StartImport"].role
        assert start_role is not None
        service_role.grant_pass_role(start_role)
        for step in ("StartImport", "DescribeImport"):
            self._allow_personalize(step, kinds.IMPORT_JOB.iam_type, [self._job_pattern])
            listing = authz.list_actions(STEP_OPERATIONS[step])
            if listing:  # List actions take no ARN: only Resource "*" grants them
                self.functions[step].add_to_role_policy(iam.PolicyStatement(actions=listing, resources=["*"]))

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            comment="Validates an uploaded CSV, imports it into Personalize, waits and reports",
            tracing_enabled=True,
            logs=sfn.LogOptions(**state_machine_logs(self, "StateMachineLogs")),
        )
        self.topic.grant_publish(self.state_machine)
        self._acknowledge_steps()
        role_policy = self.state_machine.role.node.try_find_child("DefaultPolicy")
        if isinstance(role_policy, iam.Policy):
            acknowledge_wildcards(
                role_policy,
                "Step Functions invokes the step functions (any version, hence :*) and writes X-Ray traces, "
                "which accept only '*'; the topic key's data-key actions are CDK's grant for publishing.",
            )

    # --- wiring ---------------------------------------------------------------------------------

    def dataset_arn(self, dataset: Dataset) -> str:
        """The dataset's ARN from names known at synth, not its resource's Ref: the custom-resource handlers
        may start this state machine, so it (and its steps) must not depend on the custom resources."""
        suffix = domain.dataset_arn_suffix(dataset.group.dataset_group_name, dataset.dataset_type)
        return f"{self._arn_base}:{suffix}"

    def add_incoming(self, dataset: Dataset, *, import_mode: str) -> str:
        """Open incoming/<folder>/ of a dataset; the S3 URI of the folder."""
        dataset_type = dataset.dataset_type
        dataset_arn = self.dataset_arn(dataset)
        schema_arn = f"{self._arn_base}:schema/{dataset.schema_name}"
        folder = contract.INCOMING_FOLDERS[dataset_type]
        prefix = f"{contract.INCOMING_PREFIX}{folder}/"
        self._incoming[folder] = IncomingDataset(folder, dataset_arn, schema_arn, import_mode)
        stack = Stack.of(self)
        datasets = {
            name: {
                "datasetArn": item.dataset_arn,
                "schemaArn": item.schema_arn,
                "importMode": item.import_mode,
            }
            for name, item in sorted(self._incoming.items())
        }
        for function in self.functions.values():
            function.add_environment(contract.DATASETS_ENV, stack.to_json_string(datasets))

        check = self.functions["CheckObject"]
        self.bucket.grant_read(check, f"{prefix}*")
        self.bucket.grant_put(check, f"{prefix}{contract.REJECTED_FOLDER}*")
        start = self.functions["StartImport"]
        start.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.bucket.arn_for_objects(f"{prefix}*")],
            )
        )
        self._allow_personalize("CheckObject", "schema", [schema_arn])
        self.allow_deploy_imports(dataset_arn)

        label = folder.title()
        events.Rule(
            self,
            f"{label}Uploads",
            description=f"Starts the import state machine for each object created under {prefix}",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.bucket.bucket_name]},
                    "object": {"key": [{"prefix": prefix}]},
                },
            ),
            targets=[targets.SfnStateMachine(self.state_machine)],
        )
        uri = f"s3://{self.bucket.bucket_name}/{prefix}"
        self.incoming_locations[dataset_type] = uri
        self._acknowledge_steps()
        return uri

    def allow_start(self, role: iam.IRole) -> None:
        """The import custom resource starts an execution to signal a deploy-time wait condition."""
        self.state_machine.grant_start_execution(role)

    def allow_deploy_imports(self, dataset: Dataset | str) -> None:
        """StartImport creates jobs in this dataset: for uploads, and for deploy-time imports that the
        five-imports limit deferred (Personalize reads their data with its role, not the step's)."""
        arn = dataset if isinstance(dataset, str) else self.dataset_arn(dataset)
        self._allow_personalize("StartImport", "dataset", [arn])
        self._acknowledge_steps()

    # --- the state machine ------------------------------------------------------------------------

    def _definition(self) -> sfn.IChainable:
        """Route → check → import → wait loop → notify → signal → outcome (docs/event-imports.md)."""
        check = self._invoke("CheckObject", "Check the uploaded object", input_path="$.detail")
        start = self._invoke("StartImport", "Start or adopt the import job")
        describe = self._invoke("DescribeImport", "Describe the import job")
        signal = self._invoke("SignalDeploy", "Signal the deploy's wait condition")
        # A refused or lost PUT (the URL is S3's): try again; the wait condition times out if it never lands.
        signal.add_retry(
            errors=["States.TaskFailed"], interval=Duration.seconds(10), max_attempts=5, backoff_rate=2
        )

        outcome = sfn.Choice(self, "Outcome", comment="End as the notice says")
        for name in contract.SUCCEEDING:
            outcome.when(
                sfn.Condition.string_equals("$.notice.outcome", name), sfn.Succeed(self, f"{name.title()}")
            )
        for name, error in contract.FAIL_ERRORS.items():
            outcome.when(
                sfn.Condition.string_equals("$.notice.outcome", name),
                sfn.Fail(self, error, error=error, cause=f"outcome {name}: see the notification"),
            )
        outcome.otherwise(sfn.Fail(self, "UnknownOutcome", error="UnknownOutcome"))

        signal_choice = (
            sfn.Choice(self, "DeployWaiting", comment="Started by a deploy that waits on a wait condition?")
            .when(sfn.Condition.is_present("$.deploy"), signal.next(outcome))
            .otherwise(outcome)
        )
        emit = tasks.EventBridgePutEvents(
            self,
            "Emit",
            comment="Put the notice on the default event bus",
            entries=[
                tasks.EventBridgePutEventsEntry(
                    source=contract.EVENT_SOURCE,
                    detail_type=contract.EVENT_DETAIL_TYPE,
                    detail=sfn.TaskInput.from_json_path_at("$.notice"),
                )
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        notify = tasks.SnsPublish(
            self,
            "Notify",
            comment="Publish the notice to the topic",
            topic=self.topic,
            subject=sfn.JsonPath.string_at("$.notice.subject"),
            message=sfn.TaskInput.from_text(sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.notice"))),
            message_attributes={
                "outcome": tasks.MessageAttribute(value=sfn.JsonPath.string_at("$.notice.outcome"))
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        for task in (emit, notify):
            task.add_retry(errors=["States.TaskFailed"], interval=Duration.seconds(5), max_attempts=5)
        finish = notify.next(emit).next(signal_choice)

        explain = sfn.Pass(
            self,
            "ExplainError",
            comment="A step failed after its retries: say which and why",
            parameters={
                "outcome": contract.ERROR,
                "subject": "Personalize import: a step failed",
                "error": sfn.JsonPath.string_at("$.error.Error"),
                "cause": sfn.JsonPath.string_at("$.error.Cause"),
            },
            result_path="$.notice",
        ).next(finish)
        for step in (check, start, describe):
            step.add_catch(explain, errors=["States.ALL"], result_path="$.error")

        wait_for_slot = sfn.Wait(
            self,
            "WaitForImportSlot",
            comment="Five imports are running: wait, then try again (no limit on attempts)",
            time=sfn.WaitTime.seconds_path("$.job.pollSeconds"),
        )
        wait_for_import = sfn.Wait(
            self,
            "WaitForImport",
            comment="The import is pending or in progress",
            time=sfn.WaitTime.seconds_path("$.job.pollSeconds"),
        )
        described = (
            sfn.Choice(self, "ImportSettled")
            .when(sfn.Condition.string_equals("$.outcome", contract.WAITING), wait_for_import)
            .otherwise(finish)
        )
        wait_for_import.next(describe).next(described)
        started = (
            sfn.Choice(self, "ImportStarted")
            .when(sfn.Condition.string_equals("$.outcome", contract.QUEUED), wait_for_slot.next(start))
            .when(sfn.Condition.string_equals("$.outcome", contract.WAITING), wait_for_import)
            .otherwise(finish)
        )
        start.next(started)
        checked = (
            sfn.Choice(self, "ObjectChecked")
            .when(sfn.Condition.string_equals("$.outcome", contract.IMPORT), start)
            .when(sfn.Condition.string_equals("$.outcome", contract.IGNORED), sfn.Succeed(self, "Ignored"))
            .otherwise(finish)
        )
        check.next(checked)
        return (
            sfn.Choice(self, "Route", comment="A deploy's wait, or an uploaded object")
            .when(sfn.Condition.is_present("$.deploy"), start)
            .otherwise(check)
        )

    def _invoke(self, name: str, comment: str, *, input_path: str = "$") -> tasks.LambdaInvoke:
        """A step: the function gets the flow state and returns the next one (Resource = its ARN)."""
        task = tasks.LambdaInvoke(
            self,
            name,
            comment=comment,
            lambda_function=self.functions[name],
            payload_response_only=True,
            input_path=input_path,
            retry_on_service_exceptions=False,  # the list below: CDK's, and throttling
        )
        task.add_retry(
            errors=LAMBDA_TRANSIENT_ERRORS,
            interval=Duration.seconds(2),
            max_attempts=6,
            backoff_rate=2,
        )
        return task

    # --- functions and permissions -------------------------------------------------------------------

    def _step_function(self, code: lambda_.Code, name: str, environment: dict[str, str]) -> lambda_.Function:
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the import flow's {name} step",
        )
        self.log_group.grant_write(role)
        return lambda_.Function(
            self,
            f"{name}Function",
            runtime=handler_runtime(),
            architecture=lambda_.Architecture.ARM_64,
            code=code,
            handler=f"{STEP_MODULE}.{_snake(name)}",
            role=role,
            timeout=Duration.seconds(
                CHECK_TIMEOUT_SECONDS if name == "CheckObject" else STEP_TIMEOUT_SECONDS
            ),
            # 1,769 MB is one full vCPU (Lambda developer guide, "Configure Lambda function memory"):
            # the row checks are CPU-bound Python.
            memory_size=1769 if name == "CheckObject" else 256,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment=dict(environment),
            description=f"Personalize import flow: {name}",
        )

    def _allow_personalize(self, step: str, kind: str, resources: list[str]) -> None:
        """The step's operations that the authorization table authorizes on `kind`, on these resources;
        a step that creates jobs with tags also needs TagResource on them."""
        operations = STEP_OPERATIONS[step]
        actions = set(authz.actions_on(kind, operations))
        if kind == kinds.IMPORT_JOB.iam_type and "TagResource" in operations:
            actions.add(authz.action("TagResource"))
        if actions:
            self.functions[step].add_to_role_policy(
                iam.PolicyStatement(actions=sorted(actions), resources=resources)
            )

    def _acknowledge_steps(self) -> None:
        """The steps' wildcards, each with its reason (called again as grants are added)."""
        for function in self.functions.values():
            role = function.role
            policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
            if isinstance(policy, iam.Policy):
                acknowledge_wildcards(
                    policy,
                    "The steps read and report under incoming/<dataset>/ only, and create and describe this "
                    f"environment's import jobs ({self._job_names}); ListDatasetImportJobs accepts no "
                    f"resource ARN ({authz.SOURCE}); KMS grants are CDK's for the bucket key.",
                )


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name).lstrip("_")
