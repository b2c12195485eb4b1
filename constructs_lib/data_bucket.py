"""The S3 bucket Personalize imports from, with its access-log bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.nag import acknowledge
from lambda_handlers.personalize.domain_rules import SERVICE_PRINCIPAL


class PersonalizeDataBucket(Construct):
    """A private, TLS-only, versioned, logged bucket whose policy lets Personalize read it.

    Personalize reads import data with its own service principal, so the bucket policy allows
    s3:GetObject and s3:ListBucket to personalize.amazonaws.com, limited to this account by
    aws:SourceAccount (the confused-deputy guard).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        noncurrent_version_days: int = 30,
        access_log_days: int = 365,
        event_bridge: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        # Log delivery through a bucket policy, not ACLs, whatever the app's feature flags say.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        destroy = removal_policy == RemovalPolicy.DESTROY

        # S3 server access logging only delivers to SSE-S3 buckets, hence no KMS here.
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(access_log_days))],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        )
        acknowledge(
            self.access_logs_bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket of the Personalize data bucket; logging it to itself would loop.",
        )

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=encryption_key is not None,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
            # Every object event to EventBridge, where the import flow's rules pick theirs (S3 user guide,
            # "Using EventBridge"): rules filter by prefix, which bucket notifications cannot overlap.
            event_bridge_enabled=event_bridge,
        )
        if event_bridge:
            self._acknowledge_notifications_handler()
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeServiceRead",
                principals=[iam.ServicePrincipal(SERVICE_PRINCIPAL)],
                actions=["s3:GetObject", "s3:ListBucket"],
                resources=[self.bucket.bucket_arn, self.bucket.arn_for_objects("*")],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )

    def _acknowledge_notifications_handler(self) -> None:
        """CDK applies the bucket's notification configuration with its own singleton function."""
        stack = Stack.of(self)
        for child in stack.node.children:
            if child.node.id.startswith("BucketNotificationsHandler"):
                acknowledge(
                    child,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                    "CDK's bucket-notifications function only writes its own logs with the basic execution "
                    "policy.",
                )
                acknowledge(
                    child,
                    "AwsSolutions-IAM5[Resource::*]",
                    "CDK's bucket-notifications function sets the notification configuration "
                    "(s3:PutBucketNotification), which it grants on '*'.",
                )
