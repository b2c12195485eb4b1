"""The IAM role Personalize assumes to read import data."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.nag import acknowledge_wildcards
from lambda_handlers.personalize.domain_rules import SERVICE_PRINCIPAL

KMS_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ListGrants"]


class PersonalizeServiceRole(Construct):
    """Role trusted by personalize.amazonaws.com for this account and region only, read-only on its data.

    `grant_read` adds each import's data location: an object key, or a folder prefix ending in "/"
    (reads then cover every object under it). When the data is encrypted with a key this stack
    owns, the key policy admits both the role and the service; for an existing key only the role
    side can be granted here, so the key's own policy must admit the role (see README).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
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
        self._read_policy: iam.Policy | None = None

        if encryption_key is not None:
            self.read_policy.add_statements(
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
    def read_policy(self) -> iam.Policy:
        """Made on first use: without bulk data (no import, no key) the role needs no policy at all."""
        if self._read_policy is None:
            # A child of the role, so whatever depends on the role also waits for its permissions.
            self._read_policy = iam.Policy(self.role, "ReadData")
            self.role.attach_inline_policy(self._read_policy)
        return self._read_policy

    def grant_read(self, bucket: s3.IBucket, key: str, label: str) -> None:
        """Let Personalize read one import's data location; `label` names the statements (Interactions)."""
        object_pattern = f"{key}*" if key.endswith("/") or not key else key
        statements = [
            iam.PolicyStatement(
                sid=f"Read{label}",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(object_pattern)],
            ),
            iam.PolicyStatement(sid=f"List{label}", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
        ]
        self.read_policy.add_statements(*statements)
        acknowledge_wildcards(
            self.read_policy,
            "Personalize imports every object under the configured data folder; reads cover that prefix.",
            statements,
        )

    @property
    def role_arn(self) -> str:
        return self.role.role_arn
