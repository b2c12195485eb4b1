"""One environment's Personalize stack: data bucket, service role, data upload, the Domain dataset group."""

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
from constructs_lib import (
    DomainDatasetGroup,
    PersonalizeDataBucket,
    PersonalizeProvider,
    PersonalizeServiceRole,
)
from constructs_lib.nag import acknowledge, acknowledge_wildcards

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
        super().__init__(scope, construct_id, **kwargs)
        tags = {**config.tags, "environment": config.name, "managed-by": "personalize-domain-cdk"}
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

        self.data = PersonalizeDataBucket(self, "Data", encryption_key=key, removal_policy=removal_policy)
        read_bucket, read_key = self._data_source(config)
        self.service_role = PersonalizeServiceRole(
            self,
            "PersonalizeRole",
            data_bucket=read_bucket,
            data_key=read_key,
            encryption_key=key,
            key_is_owned=config.kms_mode == "create",
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
            provider=provider,
            removal_policy=removal_policy,
            encryption_key=key,
            service_role=self.service_role.role if key else None,
            tags=tags,
        )
        interactions = self.dataset_group.add_interactions_dataset(schema=config.interactions_schema())
        self.import_job = interactions.import_data(
            bucket=read_bucket,
            key=read_key,
            role=self.service_role.role,
            import_mode=config.import_mode,
            data_version=config.data_version,
            encryption_key=key,
            content_fingerprint=self._local_fingerprint(config),
        )
        if self.upload is not None:
            self.import_job.node.add_dependency(self.upload)
        tracker = self.dataset_group.add_event_tracker() if config.event_tracker else None

        CfnOutput(self, "DataBucketName", value=self.data.bucket.bucket_name)
        CfnOutput(self, "PersonalizeRoleArn", value=self.service_role.role_arn)
        CfnOutput(self, "DataLocation", value=self.import_job.data_location)
        self.dataset_group_output = CfnOutput(
            self, "DatasetGroupArn", value=self.dataset_group.dataset_group_arn
        )
        CfnOutput(self, "InteractionsSchemaArn", value=interactions.schema_arn)
        CfnOutput(self, "InteractionsDatasetArn", value=interactions.dataset_arn)
        self.import_job_output = CfnOutput(self, "ImportJobArn", value=self.import_job.import_job_arn)
        if tracker is not None:
            CfnOutput(self, "EventTrackerArn", value=tracker.event_tracker_arn)
            CfnOutput(self, "TrackingId", value=tracker.tracking_id)
        self.smoke_test_role_output: CfnOutput | None = None
        if smoke_test_account is not None:
            self._smoke_test_role(config, smoke_test_account)

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
                resources=[self.dataset_group.dataset_group_arn, self.import_job.import_job_arn],
            )
        )
        self.smoke_test_role_output = CfnOutput(self, "SmokeTestRoleArn", value=role.role_arn)

    def _data_source(self, config: EnvironmentConfig) -> tuple[s3.IBucket, str]:
        """The bucket and key (or folder prefix) Personalize imports from; uploads local data first."""
        source = config.data_source
        self.upload: s3deploy.BucketDeployment | None = None
        if source.s3_uri:
            bucket_name, _, key = source.s3_uri.removeprefix("s3://").partition("/")
            return s3.Bucket.from_bucket_name(self, "ExternalData", bucket_name), key
        if source.bucket_key:
            return self.data.bucket, source.bucket_key
        local = config.local_data_path
        assert local is not None
        prefix = f"{UPLOAD_PREFIX}{local.name}/" if local.is_dir() else UPLOAD_PREFIX
        self._upload(local, prefix)
        return self.data.bucket, prefix if local.is_dir() else f"{prefix}{local.name}"

    @staticmethod
    def _local_fingerprint(config: EnvironmentConfig) -> str:
        """A hash of the uploaded data, so new content starts a new import job."""
        local = config.local_data_path
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

    def _upload(self, local: Path, prefix: str) -> None:
        if local.is_dir():
            source = s3deploy.Source.asset(str(local))
        else:
            source = s3deploy.Source.asset(str(local.parent), exclude=["*", f"!{local.name}"])
        self.upload = s3deploy.BucketDeployment(
            self,
            "UploadData",
            sources=[source],
            destination_bucket=self.data.bucket,
            destination_key_prefix=prefix,
            prune=False,
            memory_limit=512,
        )
        handler_role = self.upload.handler_role
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
            "CDK's BucketDeployment copies the data asset: it reads the CDK asset object and writes "
            "under the import prefix of this stack's data bucket only.",
        )
