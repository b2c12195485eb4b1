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
from config.model import DatasetPlan
from constructs_lib import (
    DatasetImportJob,
    DomainDatasetGroup,
    PersonalizeDataBucket,
    PersonalizeProvider,
    PersonalizeServiceRole,
)
from constructs_lib.nag import acknowledge, acknowledge_wildcards
from lambda_handlers.personalize.domain import RECORD_NAMES

UPLOAD_PREFIX = "imports/"


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
        tags = {**config.tags, "environment": config.name, "managed-by": "personalize-domain-cdk"}
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

        self.data = PersonalizeDataBucket(self, "Data", encryption_key=key, removal_policy=removal_policy)
        self.service_role = PersonalizeServiceRole(
            self, "PersonalizeRole", encryption_key=key, key_is_owned=config.kms_mode == "create"
        )
        provider = PersonalizeProvider.of(
            self,
            query_interval=Duration.seconds(config.provider.query_interval_seconds),
            total_timeout=Duration.seconds(config.provider.total_timeout_seconds),
        )
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
        for dataset_type, plan in config.datasets().items():
            self.import_jobs[dataset_type] = self._add_dataset(plan)
        self.import_job_output = self.import_job_outputs["INTERACTIONS"]

        if config.event_tracker:
            tracker = self.dataset_group.add_event_tracker(name=config.names.event_tracker)
            CfnOutput(self, "EventTrackerArn", value=tracker.event_tracker_arn)
            CfnOutput(self, "TrackingId", value=tracker.tracking_id)
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
            CfnOutput(self, f"{output_id}RecommenderArn", value=recommender.recommender_arn)
            CfnOutput(self, f"{output_id}RecommenderStatus", value=recommender.status)

        self.smoke_test_role_output: CfnOutput | None = None
        if smoke_test_account is not None:
            self._smoke_test_role(config, smoke_test_account)

    def _add_dataset(self, plan: DatasetPlan) -> DatasetImportJob:
        """A dataset with its schema, its data uploaded if local, and its import job."""
        label = RECORD_NAMES[plan.dataset_type]
        bucket, key = self._data_location(plan, label)
        self.service_role.grant_read(bucket, key, label)
        dataset = self.dataset_group.add_dataset(plan.dataset_type, schema=plan.schema_json())
        job = dataset.import_data(
            bucket=bucket,
            key=key,
            role=self.service_role.role,
            import_mode=plan.import_mode,
            data_version=plan.data_version,
            encryption_key=self.encryption_key,
            content_fingerprint=_fingerprint(plan.local_path),
        )
        upload = self.uploads.get(plan.dataset_type)
        if upload is not None:
            job.node.add_dependency(upload)
        CfnOutput(self, f"{label}SchemaArn", value=dataset.schema_arn)
        CfnOutput(self, f"{label}DatasetArn", value=dataset.dataset_arn)
        self.import_job_outputs[plan.dataset_type] = CfnOutput(
            self, f"{label}ImportJobArn", value=job.import_job_arn
        )
        CfnOutput(self, f"{label}DataLocation", value=job.data_location)
        return job

    def _data_location(self, plan: DatasetPlan, label: str) -> tuple[s3.IBucket, str]:
        """The bucket and key (or folder prefix) Personalize imports from; uploads local data first."""
        source = plan.data_source
        if source.s3_uri:
            bucket_name, _, key = source.s3_uri.removeprefix("s3://").partition("/")
            return s3.Bucket.from_bucket_name(self, f"External{label}", bucket_name), key
        if source.bucket_key:
            return self.data.bucket, source.bucket_key
        local = plan.local_path
        assert local is not None
        prefix = f"{UPLOAD_PREFIX}{label.lower()}/"
        self._upload(plan.dataset_type, label, local, prefix)
        return self.data.bucket, prefix if local.is_dir() else f"{prefix}{local.name}"

    def _upload(self, dataset_type: str, label: str, local: Path, prefix: str) -> None:
        if local.is_dir():
            source = s3deploy.Source.asset(str(local))
        else:
            source = s3deploy.Source.asset(str(local.parent), exclude=["*", f"!{local.name}"])
        upload = s3deploy.BucketDeployment(
            self,
            f"Upload{label}",
            sources=[source],
            destination_bucket=self.data.bucket,
            destination_key_prefix=prefix,
            prune=False,
            memory_limit=512,
        )
        self.uploads[dataset_type] = upload
        if len(self.uploads) == 1:
            self._acknowledge_bucket_deployment(upload)

    @staticmethod
    def _acknowledge_bucket_deployment(upload: s3deploy.BucketDeployment) -> None:
        """The BucketDeployment function is one per stack (a singleton): acknowledge its findings once."""
        handler_role = upload.handler_role
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
            "CDK's BucketDeployment copies the data assets: it reads the CDK asset objects and writes "
            "under the import prefixes of this stack's data bucket only.",
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
                actions=["personalize:DescribeDatasetGroup", "personalize:DescribeDatasetImportJob"],
                resources=[
                    self.dataset_group.dataset_group_arn,
                    self.import_jobs["INTERACTIONS"].import_job_arn,
                ],
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
