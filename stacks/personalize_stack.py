"""One environment's Personalize stack: data bucket, service role, data upload and outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from config import EnvironmentConfig
from constructs_lib import PersonalizeDataBucket, PersonalizeServiceRole
from constructs_lib.nag import acknowledge, acknowledge_wildcards

UPLOAD_PREFIX = "imports/"


class PersonalizeStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        for tag_key, tag_value in {
            **config.tags,
            "environment": config.name,
            "managed-by": "personalize-domain-cdk",
        }.items():
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
        self.data_location, read_bucket, read_prefix = self._data_location(config)
        self.service_role = PersonalizeServiceRole(
            self,
            "PersonalizeRole",
            data_bucket=read_bucket,
            data_key=read_prefix,
            encryption_key=key,
            key_is_owned=config.kms_mode == "create",
        )

        CfnOutput(self, "DataBucketName", value=self.data.bucket.bucket_name)
        CfnOutput(self, "PersonalizeRoleArn", value=self.service_role.role_arn)
        CfnOutput(self, "DataLocation", value=self.data_location)

    def _data_location(self, config: EnvironmentConfig) -> tuple[str, s3.IBucket, str]:
        """The s3:// URI Personalize imports from, the bucket it lives in and the key prefix to read."""
        source = config.data_source
        bucket = self.data.bucket
        if source.s3_uri:
            bucket_name, _, key = source.s3_uri.removeprefix("s3://").partition("/")
            external = s3.Bucket.from_bucket_name(self, "ExternalData", bucket_name)
            return source.s3_uri, external, key
        if source.bucket_key:
            return f"s3://{bucket.bucket_name}/{source.bucket_key}", bucket, source.bucket_key
        local = config.local_data_path
        assert local is not None
        prefix = f"{UPLOAD_PREFIX}{local.name}/" if local.is_dir() else UPLOAD_PREFIX
        self._upload(local, prefix)
        key = prefix if local.is_dir() else f"{prefix}{local.name}"
        return f"s3://{bucket.bucket_name}/{key}", bucket, key

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
