"""The IAM role Personalize assumes to read import data."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.nag import acknowledge_wildcards
from lambda_handlers.personalize.domain import SERVICE_PRINCIPAL

KMS_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ListGrants"]


class PersonalizeServiceRole(Construct):
    """Role trusted by personalize.amazonaws.com for this account and region only, read-only on its data.

    ``data_key`` is the import's object key, or its folder prefix ending in "/" (reads then cover
    every object under it). When the
    data is encrypted with a key this stack owns, the key policy admits both the role and the
    service; for an existing key only the role side can be granted here, so the key's own policy
    must admit the role (see docs).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_bucket: s3.IBucket,
        data_key: str,
        encryption_key: kms.IKey | None = None,
        key_is_owned: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Personalize to read dataset import data",
            assumed_by=iam.ServicePrincipal(
                SERVICE_PRINCIPAL,
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:personalize:{stack.region}:{stack.account}:*"
                    },
                },
            ),
        )
        object_pattern = f"{data_key}*" if data_key.endswith("/") or not data_key else data_key
        # A child of the role, so whatever depends on the role also waits for its permissions.
        read = iam.Policy(
            self.role,
            "ReadData",
            statements=[
                iam.PolicyStatement(
                    sid="ReadImportObjects",
                    actions=["s3:GetObject"],
                    resources=[data_bucket.arn_for_objects(object_pattern)],
                ),
                iam.PolicyStatement(
                    sid="ListImportLocation",
                    actions=["s3:ListBucket"],
                    resources=[data_bucket.bucket_arn],
                ),
            ],
        )
        self.role.attach_inline_policy(read)
        acknowledge_wildcards(
            read,
            "Personalize imports every object under the configured data folder, "
            "so reads cover that prefix only.",
        )

        if encryption_key is not None:
            read.add_statements(
                iam.PolicyStatement(
                    sid="DecryptImportData", actions=KMS_ACTIONS, resources=[encryption_key.key_arn]
                )
            )
            if key_is_owned:
                encryption_key.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid="PersonalizeRoleUse",
                        principals=[self.role],
                        actions=[*KMS_ACTIONS, "kms:CreateGrant"],
                        resources=["*"],
                    )
                )
                encryption_key.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid="PersonalizeServiceUse",
                        principals=[iam.ServicePrincipal(SERVICE_PRINCIPAL)],
                        actions=[*KMS_ACTIONS, "kms:CreateGrant"],
                        resources=["*"],
                        conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                    )
                )

    @property
    def role_arn(self) -> str:
        return self.role.role_arn
