"""One environment's Personalize stack: data bucket, service role, data uploads, the Domain dataset group."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from config import EnvironmentConfig
from config.model import HIDDEN_PATTERNS, DatasetPlan
from constructs_lib import (
    DatasetImportJob,
    DeployWait,
    DomainDatasetGroup,
    ImportFlow,
    PersonalizeDataBucket,
    PersonalizeProvider,
    PersonalizeServiceRole,
)
from constructs_lib.nag import acknowledge, acknowledge_wildcards
from lambda_handlers.personalize.authorization import SCOPE_TAG_KEY
from lambda_handlers.personalize.domain_rules import RECORD_NAMES
from lambda_handlers.personalize.flow.contract import INCOMING_FOLDERS, INCOMING_PREFIX
from lambda_handlers.personalize.s3_location import S3Location

UPLOAD_PREFIX = "imports/"
# The DataLocation output of a dataset without bulk data: what fills it instead.
NO_IMPORT_OUTPUT = {
    "INTERACTIONS": "none: no import job; record interactions with PutEvents (the TrackingId output)",
    "USERS": "none: no import job; add users with PutUsers",
    "ITEMS": "none: no import job; add items with PutItems",
}


class PersonalizeStack(Stack):
    """Composes the constructs from config, wires grants and declares outputs; nothing else."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        smoke_test_account: str | None = None,
        **kwargs: Any,
    ) -> None:
        tags = config.resource_tags
        # Stack tags explicitly (the @aws-cdk/core:explicitStackTags flag), and on each resource below.
        super().__init__(scope, construct_id, tags=tags, **kwargs)
        for tag_key, tag_value in tags.items():
            Tags.of(self).add(tag_key, tag_value)
        removal_policy = RemovalPolicy.DESTROY if config.removal_policy == "destroy" else RemovalPolicy.RETAIN

        key: kms.IKey | None = None
        if config.kms_mode == "create":
            key = kms.Key(
                self,
                "DataKey",
                description=f"Encrypts Personalize import data of {config.stack_name}",
                enable_key_rotation=True,
                removal_policy=removal_policy,
            )
        elif config.kms_mode == "existing":
            key = kms.Key.from_key_arn(self, "DataKey", config.kms)
        self.encryption_key = key

        incoming = any(plan.incoming is not None for plan in config.datasets().values())
        self.data = PersonalizeDataBucket(
            self, "Data", encryption_key=key, removal_policy=removal_policy, event_bridge=incoming
        )
        self.service_role = PersonalizeServiceRole(
            self, "PersonalizeRole", encryption_key=key, key_is_owned=config.kms_mode == "create"
        )
        provider = PersonalizeProvider.of(
            self,
            query_interval=Duration.seconds(config.provider.query_interval_seconds),
            total_timeout=Duration.seconds(config.provider.waiter_timeout_seconds),
        )
        self.import_flow: ImportFlow | None = None
        self.deploy_wait: DeployWait | None = None
        if incoming or config.provider.waits_with_condition:
            self.import_flow = ImportFlow(
                self,
                "ImportFlow",
                bucket=self.data.bucket,
                service_role=self.service_role.role,
                name_prefix=config.resource_name_prefix,
                job_tags={**tags, SCOPE_TAG_KEY: config.resource_name_prefix},
                encryption_key=key,
            )
            CfnOutput(self, "ImportNotificationsTopicArn", value=self.import_flow.topic.topic_arn)
            CfnOutput(self, "ImportStateMachineArn", value=self.import_flow.state_machine.state_machine_arn)
        if self.import_flow is not None and config.provider.waits_with_condition:
            self.deploy_wait = DeployWait(
                self.import_flow.state_machine.state_machine_arn, config.provider.total_timeout_seconds
            )
            self.import_flow.allow_start(provider.handler_role)
        self.dataset_group = DomainDatasetGroup(
            self,
            "DatasetGroup",
            domain_name=config.domain,
            name_prefix=config.resource_name_prefix,
            name=config.names.dataset_group,
            provider=provider,
            removal_policy=removal_policy,
            encryption_key=key,
            service_role=self.service_role.role if key else None,
            tags=tags,
        )
        CfnOutput(self, "DataBucketName", value=self.data.bucket.bucket_name)
        CfnOutput(self, "PersonalizeRoleArn", value=self.service_role.role_arn)
        self.dataset_group_output = CfnOutput(
            self, "DatasetGroupArn", value=self.dataset_group.dataset_group_arn
        )

        self.uploads: dict[str, s3deploy.BucketDeployment] = {}
        self.import_jobs: dict[str, DatasetImportJob] = {}
        self.import_job_outputs: dict[str, CfnOutput] = {}
        for plan in config.datasets().values():
            self._add_dataset(plan)
        # None when the Interactions dataset has no bulk data: it fills through PutEvents.
        self.import_job_output = self.import_job_outputs.get("INTERACTIONS")

        if config.event_tracker:
            tracker = self.dataset_group.add_event_tracker(name=config.names.event_tracker)
            CfnOutput(self, "EventTrackerArn", value=tracker.event_tracker_arn)
            CfnOutput(self, "TrackingId", value=tracker.tracking_id)
        self.recommender_outputs: list[CfnOutput] = []
        for recommender_config in config.recommenders:
            recommender = self.dataset_group.add_recommender(
                recommender_config.use_case,
                name=recommender_config.name,
                min_recommendation_requests_per_second=recommender_config.min_recommendation_requests_per_second,
                exploration_weight=recommender_config.exploration_weight,
                exploration_item_age_cut_off=recommender_config.exploration_item_age_cut_off,
                wait_for_active=recommender_config.wait_for_active,
            )
            output_id = "".join(part.title() for part in recommender.recipe.use_case.split("-")[1:])
            self.recommender_outputs.append(
                CfnOutput(self, f"{output_id}RecommenderArn", value=recommender.recommender_arn)
            )
            CfnOutput(self, f"{output_id}RecommenderStatus", value=recommender.status)

        self.smoke_test_role_output: CfnOutput | None = None
        if smoke_test_account is not None:
            self._smoke_test_role(config, smoke_test_account)

    def _add_dataset(self, plan: DatasetPlan) -> None:
        """A dataset with its schema, its data uploaded if local, and its import job (if it has data)."""
        label = RECORD_NAMES[plan.dataset_type]
        dataset = self.dataset_group.add_dataset(plan.dataset_type, schema=plan.schema_json())
        CfnOutput(self, f"{label}SchemaArn", value=dataset.schema_arn)
        CfnOutput(self, f"{label}DatasetArn", value=dataset.dataset_arn)
        if plan.incoming is not None and self.import_flow is not None:
            prefix = f"{INCOMING_PREFIX}{INCOMING_FOLDERS[plan.dataset_type]}/"
            self.service_role.grant_read(self.data.bucket, prefix, f"{label}Incoming")
            location = self.import_flow.add_incoming(dataset, import_mode=plan.incoming.import_mode)
            CfnOutput(self, f"{label}IncomingLocation", value=location)
        if plan.data_source is None:
            CfnOutput(self, f"{label}DataLocation", value=NO_IMPORT_OUTPUT[plan.dataset_type])
            return
        bucket, key = self._data_location(plan, label)
        self.service_role.grant_read(bucket, key, label)
        if self.deploy_wait is not None and self.import_flow is not None:
            self.import_flow.allow_deploy_imports(dataset)
        job = dataset.import_data(
            bucket=bucket,
            key=key,
            role=self.service_role.role,
            import_mode=plan.import_mode,
            data_version=plan.data_version,
            encryption_key=self.encryption_key,
            content_fingerprint=_fingerprint(plan.local_path),
            # The stack's own bucket is empty on a first deploy: data that arrives later is imported then.
            skip_when_empty=plan.data_source.bucket_key is not None,
            deploy_wait=self.deploy_wait,
        )
        upload = self.uploads.get(plan.dataset_type)
        if upload is not None:
            job.node.add_dependency(upload)
        self.import_jobs[plan.dataset_type] = job
        self.import_job_outputs[plan.dataset_type] = CfnOutput(
            self, f"{label}ImportJobArn", value=job.import_job_arn
        )
        CfnOutput(self, f"{label}DataLocation", value=job.data_location)
        CfnOutput(self, f"{label}Import", value=job.status_message)

    def _data_location(self, plan: DatasetPlan, label: str) -> tuple[s3.IBucket, str]:
        """The bucket and key (or folder prefix) Personalize imports from; uploads local data first."""
        source = plan.data_source
        assert source is not None
        if source.s3_uri:
            location = S3Location.parse(source.s3_uri)
            return s3.Bucket.from_bucket_name(self, f"External{label}", location.bucket), location.key
        if source.bucket_key:
            return self.data.bucket, source.bucket_key
        local = plan.local_path
        assert local is not None
        prefix = f"{UPLOAD_PREFIX}{label.lower()}/"
        self._upload(plan.dataset_type, label, local, prefix)
        return self.data.bucket, prefix if local.is_dir() else f"{prefix}{local.name}"

    def _upload(self, dataset_type: str, label: str, local: Path, prefix: str) -> None:
        if local.is_dir():
            source = s3deploy.Source.asset(str(local), exclude=list(HIDDEN_PATTERNS))
        else:
            source = s3deploy.Source.asset(str(local.parent), exclude=["*", f"!{local.name}"])
        upload = s3deploy.BucketDeployment(
            self,
            f"Upload{label}",
            sources=[source],
            destination_bucket=self.data.bucket,
            destination_key_prefix=prefix,
            # Each upload owns its prefix: what the local folder no longer holds goes, so a FULL import
            # reads exactly the files that were validated (issue 13 #7).
            prune=True,
            memory_limit=512,
        )
        self.uploads[dataset_type] = upload
        if len(self.uploads) == 1:
            self._scope_bucket_deployment(upload)
        else:
            # Each BucketDeployment makes an AwsCliLayer, but only the first one's reaches the singleton
            # function; the others would deploy as unused LayerVersions (aws/aws-cdk#32907).
            upload.node.try_remove_child("AwsCliLayer")

    def _scope_bucket_deployment(self, upload: s3deploy.BucketDeployment) -> None:
        """The BucketDeployment function is one per stack (a singleton): scope it and acknowledge it once.

        CDK grants it read/write on the whole destination bucket; an explicit Deny keeps its writes and
        deletes under the import prefix, the only place this stack uploads to.
        """
        handler_role = upload.handler_role
        handler_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteOnlyUnderImportPrefix",
                effect=iam.Effect.DENY,
                actions=["s3:PutObject*", "s3:DeleteObject*", "s3:Abort*"],
                not_resources=[self.data.bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")],
            )
        )
        handler_function = handler_role.node.scope
        assert handler_function is not None
        acknowledge(
            handler_function,
            "AwsSolutions-L1",
            "The CDK-managed BucketDeployment function pins its own runtime; this app does not choose it.",
        )
        acknowledge(
            handler_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "The CDK BucketDeployment function only writes its own logs with the basic execution policy.",
        )
        default_policy = handler_role.node.find_child("DefaultPolicy")
        assert isinstance(default_policy, iam.Policy)
        acknowledge_wildcards(
            default_policy,
            "CDK's BucketDeployment copies the data assets: CDK grants it read/write on the data bucket "
            "and read on the CDK asset objects; an explicit Deny limits its writes and deletes to "
            f"{UPLOAD_PREFIX}*.",
        )

    def _smoke_test_role(self, config: EnvironmentConfig, pipeline_account: str) -> None:
        """A read-only role the pipeline's smoke test assumes to check the group and import are ACTIVE."""
        role = iam.Role(
            self,
            "SmokeTestRole",
            role_name=f"{config.resource_name_prefix}-personalize-smoke-test",
            assumed_by=iam.AccountPrincipal(pipeline_account),
            description="Assumed by the rollout pipeline to describe this environment's dataset group",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["personalize:DescribeDatasetGroup"], resources=[self.dataset_group.dataset_group_arn]
            )
        )
        recommenders = [recommender.recommender_arn for recommender in self.dataset_group.recommenders]
        if recommenders:  # the smoke test asks ACTIVE recommenders for recommendations, never records events
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["personalize:DescribeRecommender", "personalize:GetRecommendations"],
                    resources=recommenders,
                )
            )
        interactions_import = self.import_jobs.get("INTERACTIONS")
        if interactions_import is not None:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["personalize:DescribeDatasetImportJob"],
                    resources=[interactions_import.import_job_arn],
                )
            )
        self.smoke_test_role_output = CfnOutput(self, "SmokeTestRoleArn", value=role.role_arn)


def _fingerprint(local: Path | None) -> str:
    """A hash of data the stack uploads, so new content starts a new import job."""
    if local is None:
        return ""
    digest = hashlib.sha256()
    for path in sorted(local.rglob("*")) if local.is_dir() else [local]:
        if path.is_file():
            digest.update(path.name.encode())
            with path.open("rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]
