"""Native resources created in moto's server: S3 buckets and bucket policies, IAM roles and policies, KMS.

Each maps the CloudFormation properties CDK emits for this app onto the service API. Properties a
type accepts but moto cannot act on are listed in the event's reason ("not emulated: ..."), never
silently dropped. A change to a name property replaces the resource, as in CloudFormation.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from personalize_tools.localdeploy.cdk_custom import empty_auto_delete_bucket
from personalize_tools.localdeploy.errors import ResourceFailedError
from personalize_tools.localdeploy.flowresources import FLOW_TYPES
from personalize_tools.localdeploy.resources import (
    DeployContext,
    Operation,
    Outcome,
    ResourceType,
    aws_call,
    error_code,
    exists,
    ignore_missing,
)
from personalize_tools.localdeploy.state import ResourceRecord

NO_SUCH_BUCKET = frozenset({"NoSuchBucket"})
NO_SUCH_ENTITY = frozenset({"NoSuchEntity"})
KMS_MISSING = frozenset({"NotFoundException", "KMSInvalidStateException"})
MOTO_CONDITION_OPERATORS = frozenset({"StringEquals"})
BUCKET_NAME_MAX = 63
ROLE_NAME_MAX = 64
POLICY_NAME_MAX = 128


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _not_emulated(properties: Mapping[str, Any], handled: set[str]) -> str:
    extra = sorted(set(properties) - handled)
    return f"not emulated: {', '.join(extra)}" if extra else ""


# --- S3 ----------------------------------------------------------------------------------------


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape (the two name several fields differently)."""
    converted: dict[str, Any] = {"Status": rule["Status"], "Filter": _lifecycle_filter(rule)}
    if "Id" in rule:
        converted["ID"] = rule["Id"]
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = bool(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        converted["Expiration"] = expiration
    noncurrent = dict(rule.get("NoncurrentVersionExpiration", {}))
    if "NoncurrentVersionExpirationInDays" in rule:
        noncurrent["NoncurrentDays"] = rule["NoncurrentVersionExpirationInDays"]
    if noncurrent:
        converted["NoncurrentVersionExpiration"] = {key: int(value) for key, value in noncurrent.items()}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    converted.update(_lifecycle_transitions(rule))
    return converted


def _lifecycle_filter(rule: Mapping[str, Any]) -> dict[str, Any]:
    """Prefix, tags and sizes: one condition as it is, several under And."""
    conditions: dict[str, Any] = {}
    if "Prefix" in rule:
        conditions["Prefix"] = rule["Prefix"]
    if "TagFilters" in rule:
        conditions["Tags"] = rule["TagFilters"]
    for size in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if size in rule:
            conditions[size] = int(rule[size])
    if len(conditions) > 1:
        return {"And": conditions}
    if "Tags" in conditions:
        return {"Tag": conditions["Tags"][0]}
    return conditions


def _lifecycle_transitions(rule: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    transitions = [*rule.get("Transitions", []), *([rule["Transition"]] if "Transition" in rule else [])]
    if transitions:
        converted["Transitions"] = [
            {"StorageClass": item["StorageClass"]}
            | ({"Days": int(item["TransitionInDays"])} if "TransitionInDays" in item else {})
            | ({"Date": item["TransitionDate"]} if "TransitionDate" in item else {})
            for item in transitions
        ]
    if "NoncurrentVersionTransitions" in rule:
        converted["NoncurrentVersionTransitions"] = [
            {"StorageClass": item["StorageClass"], "NoncurrentDays": int(item["TransitionInDays"])}
            for item in rule["NoncurrentVersionTransitions"]
        ]
    return converted


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    if "ServerSideEncryptionByDefault" in rule:
        converted["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
    if "BucketKeyEnabled" in rule:
        converted["BucketKeyEnabled"] = bool(rule["BucketKeyEnabled"])
    return converted


@dataclass(frozen=True)
class BucketSetting:
    """One bucket property: how to apply it and how to take it away when an update removes it."""

    prop: str
    apply: Callable[[Any, str, Any], None]
    clear: Callable[[Any, str, Any], None]


def _apply_logging(s3: Any, bucket: str, value: Any) -> None:
    target = {
        "TargetBucket": value.get("DestinationBucketName", bucket),
        "TargetPrefix": value.get("LogFilePrefix", ""),
    }
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": target})


BUCKET_SETTINGS = (
    BucketSetting(
        "BucketEncryption",
        lambda s3, bucket, value: s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [_encryption_rule(rule) for rule in value["ServerSideEncryptionConfiguration"]]
            },
        ),
        lambda s3, bucket, old: s3.delete_bucket_encryption(Bucket=bucket),
    ),
    BucketSetting(
        "VersioningConfiguration",
        lambda s3, bucket, value: s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": value["Status"]}
        ),
        lambda s3, bucket, old: s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
        ),
    ),
    BucketSetting(
        "PublicAccessBlockConfiguration",
        lambda s3, bucket, value: s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=value
        ),
        lambda s3, bucket, old: s3.delete_public_access_block(Bucket=bucket),
    ),
    BucketSetting(
        "OwnershipControls",
        lambda s3, bucket, value: s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": value["Rules"]}
        ),
        lambda s3, bucket, old: s3.delete_bucket_ownership_controls(Bucket=bucket),
    ),
    BucketSetting(
        "LifecycleConfiguration",
        lambda s3, bucket, value: s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in value["Rules"]]},
        ),
        lambda s3, bucket, old: s3.delete_bucket_lifecycle(Bucket=bucket),
    ),
    BucketSetting(
        "LoggingConfiguration",
        _apply_logging,
        lambda s3, bucket, old: s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={}),
    ),
    BucketSetting(
        "Tags",
        lambda s3, bucket, value: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": value}),
        lambda s3, bucket, old: s3.delete_bucket_tagging(Bucket=bucket),
    ),
)
BUCKET_HANDLED = {setting.prop for setting in BUCKET_SETTINGS} | {"BucketName", "ObjectLockEnabled"}


class S3Bucket(ResourceType):
    """AWS::S3::Bucket. Moto refuses access logging into a bucket whose policy does not admit the logging
    service yet; CDK writes that policy after both buckets, so such logging is applied once all exist."""

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        properties = operation.properties
        name = properties.get("BucketName") or context.physical_name(
            operation.logical_id, max_length=BUCKET_NAME_MAX, lowercase=True
        )
        s3 = context.client("s3")
        location = (
            {}
            if context.stack.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": context.stack.region}}
        )
        lock = {"ObjectLockEnabledForBucket": True} if properties.get("ObjectLockEnabled") else {}
        if not (
            context.adopting(operation.logical_id, name)
            and exists(f"HeadBucket {name}", s3.head_bucket, NO_SUCH_BUCKET | {"404"}, Bucket=name)
        ):
            aws_call(f"CreateBucket {name}", s3.create_bucket, Bucket=name, **location, **lock)
        try:
            self._configure(context, operation.logical_id, name, properties, {})
        except ResourceFailedError:
            ignore_missing(s3.delete_bucket, NO_SUCH_BUCKET, Bucket=name)
            raise
        return Outcome(name, self._attributes(context, name), _not_emulated(properties, BUCKET_HANDLED))

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        if operation.properties.get("BucketName") != operation.old_properties.get("BucketName"):
            return self.create(context, operation)
        name = operation.old.physical_id
        self._configure(context, operation.logical_id, name, operation.properties, operation.old_properties)
        return Outcome(
            name, self._attributes(context, name), _not_emulated(operation.properties, BUCKET_HANDLED)
        )

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        assert record.physical_id is not None
        try:
            context.client("s3").delete_bucket(Bucket=record.physical_id)
        except ClientError as error:
            if error_code(error) in NO_SUCH_BUCKET:
                return
            if error_code(error) == "BucketNotEmpty" and empty_auto_delete_bucket(
                context, record.physical_id
            ):
                aws_call(
                    f"DeleteBucket {record.physical_id}",
                    context.client("s3").delete_bucket,
                    Bucket=record.physical_id,
                )
                return
            if error_code(error) == "BucketNotEmpty":
                raise ResourceFailedError(
                    f"The bucket you tried to delete is not empty ({record.physical_id}); CloudFormation "
                    "does not empty buckets: set removal_policy destroy (auto-delete) or empty it first"
                ) from error
            raise ResourceFailedError(f"DeleteBucket failed: {error_code(error)}: {error}") from error

    def _configure(
        self,
        context: DeployContext,
        logical_id: str,
        name: str,
        properties: Mapping[str, Any],
        old_properties: Mapping[str, Any],
    ) -> None:
        s3 = context.client("s3")
        for setting in BUCKET_SETTINGS:
            value, old_value = properties.get(setting.prop), old_properties.get(setting.prop)
            if value == old_value:
                continue
            if value is None:
                aws_call(f"removing {setting.prop} of {name}", setting.clear, s3, name, old_value)
                continue
            try:
                setting.apply(s3, name, value)
            except BotoCoreError as error:
                raise ResourceFailedError(f"{setting.prop} of {name}: {error}") from error
            except ClientError as error:
                if (
                    setting.prop == "LoggingConfiguration"
                    and error_code(error) == "InvalidTargetBucketForLogging"
                ):
                    context.defer(
                        logical_id,
                        f"LoggingConfiguration of {name}",
                        functools.partial(
                            aws_call, f"PutBucketLogging {name}", _apply_logging, s3, name, value
                        ),
                    )
                    continue
                message = error.response.get("Error", {}).get("Message", str(error))
                raise ResourceFailedError(
                    f"{setting.prop} of {name}: {error_code(error)}: {message}"
                ) from error

    @staticmethod
    def _attributes(context: DeployContext, name: str) -> dict[str, Any]:
        region = context.stack.region
        return {
            "Arn": f"arn:{context.stack.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
        }


def moto_evaluable(document: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The policy without Deny statements whose conditions moto cannot evaluate, and what was left out.

    Moto evaluates only StringEquals in bucket-policy conditions and treats every other operator as
    matching, so CDK's TLS-only rule (Deny s3:* when aws:SecureTransport is false) would deny every
    request, TLS or not. Such statements are left out locally and named in the event's reason.
    """
    kept, dropped = [], []
    for index, statement in enumerate(document.get("Statement", [])):
        operators = set(statement.get("Condition", {})) - MOTO_CONDITION_OPERATORS
        if statement.get("Effect") == "Deny" and operators:
            dropped.append(
                str(statement.get("Sid", f"statement {index + 1}")) + f" ({', '.join(sorted(operators))})"
            )
        else:
            kept.append(statement)
    return {**document, "Statement": kept}, dropped


class S3BucketPolicy(ResourceType):
    """AWS::S3::BucketPolicy: the policy document on its bucket; a different bucket means replacement."""

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        note = self._put(context, operation.properties)
        return Outcome(context.physical_name(operation.logical_id, max_length=POLICY_NAME_MAX), note=note)

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        if operation.properties["Bucket"] != operation.old_properties.get("Bucket"):
            return self.create(context, operation)
        return Outcome(operation.old.physical_id, note=self._put(context, operation.properties))

    @staticmethod
    def _put(context: DeployContext, properties: Mapping[str, Any]) -> str:
        bucket = properties["Bucket"]
        document, dropped = moto_evaluable(properties["PolicyDocument"])
        aws_call(
            f"PutBucketPolicy {bucket}",
            context.client("s3").put_bucket_policy,
            Bucket=bucket,
            Policy=_document(document),
        )
        return f"not enforced locally (moto cannot evaluate): Deny {'; '.join(dropped)}" if dropped else ""

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        ignore_missing(
            context.client("s3").delete_bucket_policy, NO_SUCH_BUCKET, Bucket=record.properties["Bucket"]
        )


# --- IAM ---------------------------------------------------------------------------------------


class IamRole(ResourceType):
    """AWS::IAM::Role with its trust policy, managed policies, inline Policies, boundary and tags."""

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        properties = operation.properties
        name = properties.get("RoleName") or context.physical_name(
            operation.logical_id, max_length=ROLE_NAME_MAX
        )
        iam = context.client("iam")
        optional: dict[str, Any] = {
            key: properties[key]
            for key in ("Path", "Description", "PermissionsBoundary")
            if key in properties
        }
        if "MaxSessionDuration" in properties:
            optional["MaxSessionDuration"] = int(properties["MaxSessionDuration"])
        if properties.get("Tags"):
            optional["Tags"] = properties["Tags"]
        if context.adopting(operation.logical_id, name) and exists(
            f"GetRole {name}", iam.get_role, NO_SUCH_ENTITY, RoleName=name
        ):
            # a killed run created it before its record: bring it to the template, as an update from nothing
            self._update_role_settings(iam, name, properties, {})
            self._sync_tags(iam, name, properties, {})
            role = aws_call(f"GetRole {name}", iam.get_role, RoleName=name)["Role"]
        else:
            role = aws_call(
                f"CreateRole {name}",
                iam.create_role,
                RoleName=name,
                AssumeRolePolicyDocument=_document(properties["AssumeRolePolicyDocument"]),
                **optional,
            )["Role"]
        try:
            self._sync_policies(iam, name, properties, {})
        except ResourceFailedError:
            self._delete_role(iam, name)
            raise
        return Outcome(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        new, old = operation.properties, operation.old_properties
        if any(new.get(key) != old.get(key) for key in ("RoleName", "Path")):
            return self.create(context, operation)
        iam, name = context.client("iam"), operation.old.physical_id
        self._update_role_settings(iam, name, new, old)
        self._sync_policies(iam, name, new, old)
        self._sync_tags(iam, name, new, old)
        role = aws_call(f"GetRole {name}", iam.get_role, RoleName=name)["Role"]
        return Outcome(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        assert record.physical_id is not None
        self._delete_role(context.client("iam"), record.physical_id)

    @staticmethod
    def _update_role_settings(iam: Any, name: str, new: Mapping[str, Any], old: Mapping[str, Any]) -> None:
        """Trust policy, description, session duration and permissions boundary, where they changed."""
        if new["AssumeRolePolicyDocument"] != old.get("AssumeRolePolicyDocument"):
            aws_call(
                f"UpdateAssumeRolePolicy {name}",
                iam.update_assume_role_policy,
                RoleName=name,
                PolicyDocument=_document(new["AssumeRolePolicyDocument"]),
            )
        if (new.get("Description"), new.get("MaxSessionDuration")) != (
            old.get("Description"),
            old.get("MaxSessionDuration"),
        ):
            aws_call(
                f"UpdateRole {name}",
                iam.update_role,
                RoleName=name,
                Description=new.get("Description", ""),
                MaxSessionDuration=int(new.get("MaxSessionDuration", 3600)),
            )
        if new.get("PermissionsBoundary") != old.get("PermissionsBoundary"):
            if new.get("PermissionsBoundary"):
                aws_call(
                    f"PutRolePermissionsBoundary {name}",
                    iam.put_role_permissions_boundary,
                    RoleName=name,
                    PermissionsBoundary=new["PermissionsBoundary"],
                )
            else:
                aws_call(
                    f"DeleteRolePermissionsBoundary {name}",
                    iam.delete_role_permissions_boundary,
                    RoleName=name,
                )

    @staticmethod
    def _sync_tags(iam: Any, name: str, new: Mapping[str, Any], old: Mapping[str, Any]) -> None:
        old_tags = {tag["Key"]: tag["Value"] for tag in old.get("Tags", [])}
        new_tags = {tag["Key"]: tag["Value"] for tag in new.get("Tags", [])}
        if set(old_tags) - set(new_tags):
            aws_call(
                f"UntagRole {name}",
                iam.untag_role,
                RoleName=name,
                TagKeys=sorted(set(old_tags) - set(new_tags)),
            )
        if new_tags != old_tags and new_tags:
            aws_call(f"TagRole {name}", iam.tag_role, RoleName=name, Tags=new.get("Tags", []))

    @staticmethod
    def _sync_policies(iam: Any, name: str, new: Mapping[str, Any], old: Mapping[str, Any]) -> None:
        new_managed, old_managed = (
            set(new.get("ManagedPolicyArns", [])),
            set(old.get("ManagedPolicyArns", [])),
        )
        for arn in sorted(old_managed - new_managed):
            ignore_missing(iam.detach_role_policy, NO_SUCH_ENTITY, RoleName=name, PolicyArn=arn)
        for arn in sorted(new_managed - old_managed):
            aws_call(
                f"AttachRolePolicy {arn} to {name}", iam.attach_role_policy, RoleName=name, PolicyArn=arn
            )
        new_inline = {policy["PolicyName"]: policy["PolicyDocument"] for policy in new.get("Policies", [])}
        old_inline = {policy["PolicyName"]: policy["PolicyDocument"] for policy in old.get("Policies", [])}
        for policy_name in sorted(set(old_inline) - set(new_inline)):
            ignore_missing(iam.delete_role_policy, NO_SUCH_ENTITY, RoleName=name, PolicyName=policy_name)
        for policy_name, document in sorted(new_inline.items()):
            if old_inline.get(policy_name) != document:
                aws_call(
                    f"PutRolePolicy {policy_name} on {name}",
                    iam.put_role_policy,
                    RoleName=name,
                    PolicyName=policy_name,
                    PolicyDocument=_document(document),
                )

    @staticmethod
    def _delete_role(iam: Any, name: str) -> None:
        try:
            attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            inline = iam.list_role_policies(RoleName=name)["PolicyNames"]
        except ClientError as error:
            if error_code(error) in NO_SUCH_ENTITY:
                return
            raise ResourceFailedError(f"reading role {name}: {error}") from error
        for policy in attached:
            ignore_missing(
                iam.detach_role_policy, NO_SUCH_ENTITY, RoleName=name, PolicyArn=policy["PolicyArn"]
            )
        for policy_name in inline:
            ignore_missing(iam.delete_role_policy, NO_SUCH_ENTITY, RoleName=name, PolicyName=policy_name)
        ignore_missing(iam.delete_role, NO_SUCH_ENTITY, RoleName=name)


class IamPolicy(ResourceType):
    """AWS::IAM::Policy: one inline policy put on each of its roles, users and groups."""

    TARGETS = (
        ("Roles", "RoleName", "put_role_policy", "delete_role_policy"),
        ("Users", "UserName", "put_user_policy", "delete_user_policy"),
        ("Groups", "GroupName", "put_group_policy", "delete_group_policy"),
    )

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        self._put(context, operation.properties, {})
        return Outcome(context.physical_name(operation.logical_id, max_length=POLICY_NAME_MAX))

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        self._put(context, operation.properties, operation.old_properties)
        return Outcome(operation.old.physical_id)

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        self._remove(context, record.properties, {})

    def _put(self, context: DeployContext, new: Mapping[str, Any], old: Mapping[str, Any]) -> None:
        iam = context.client("iam")
        self._remove(context, old, new)
        for prop, key, put, _ in self.TARGETS:
            for target in new.get(prop, []):
                aws_call(
                    f"{put} {new['PolicyName']} on {target}",
                    getattr(iam, put),
                    **{key: target},
                    PolicyName=new["PolicyName"],
                    PolicyDocument=_document(new["PolicyDocument"]),
                )

    def _remove(self, context: DeployContext, old: Mapping[str, Any], keep: Mapping[str, Any]) -> None:
        """Delete the old policy from every principal that will not hold it under the same name."""
        if not old:
            return
        iam = context.client("iam")
        for prop, key, _, delete in self.TARGETS:
            kept = set(keep.get(prop, [])) if keep.get("PolicyName") == old["PolicyName"] else set()
            for target in set(old.get(prop, [])) - kept:
                ignore_missing(
                    getattr(iam, delete), NO_SUCH_ENTITY, **{key: target}, PolicyName=old["PolicyName"]
                )


# --- KMS ---------------------------------------------------------------------------------------


class KmsKey(ResourceType):
    """AWS::KMS::Key; deleting schedules deletion after PendingWindowInDays, as AWS does."""

    REPLACING = ("KeySpec", "KeyUsage", "MultiRegion")

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        properties = operation.properties
        kms = context.client("kms")
        optional: dict[str, Any] = {
            key: properties[key] for key in ("Description", "KeyUsage", "KeySpec") if key in properties
        }
        if "MultiRegion" in properties:
            optional["MultiRegion"] = bool(properties["MultiRegion"])
        if properties.get("Tags"):
            optional["Tags"] = [
                {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties["Tags"]
            ]
        if "KeyPolicy" in properties:
            optional["Policy"] = _document(properties["KeyPolicy"])
        metadata = aws_call("CreateKey", kms.create_key, **optional)["KeyMetadata"]
        key_id = metadata["KeyId"]
        self._settings(kms, key_id, properties, {})
        return Outcome(key_id, {"Arn": metadata["Arn"], "KeyId": key_id})

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        new, old = operation.properties, operation.old_properties
        if any(new.get(key) != old.get(key) for key in self.REPLACING):
            return self.create(context, operation)
        kms, key_id = context.client("kms"), operation.old.physical_id
        if new.get("KeyPolicy") != old.get("KeyPolicy") and "KeyPolicy" in new:
            aws_call(
                f"PutKeyPolicy {key_id}",
                kms.put_key_policy,
                KeyId=key_id,
                PolicyName="default",
                Policy=_document(new["KeyPolicy"]),
            )
        if new.get("Description") != old.get("Description"):
            aws_call(
                f"UpdateKeyDescription {key_id}",
                kms.update_key_description,
                KeyId=key_id,
                Description=new.get("Description", ""),
            )
        self._settings(kms, key_id, new, old)
        return Outcome(key_id, operation.old.attributes)

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        days = min(max(int(record.properties.get("PendingWindowInDays", 30)), 7), 30)
        ignore_missing(
            context.client("kms").schedule_key_deletion,
            KMS_MISSING,
            KeyId=record.physical_id,
            PendingWindowInDays=days,
        )

    @staticmethod
    def _settings(kms: Any, key_id: str, new: Mapping[str, Any], old: Mapping[str, Any]) -> None:
        rotation, old_rotation = bool(new.get("EnableKeyRotation")), bool(old.get("EnableKeyRotation"))
        if rotation != old_rotation:
            call = kms.enable_key_rotation if rotation else kms.disable_key_rotation
            aws_call(f"key rotation of {key_id}", call, KeyId=key_id)
        enabled, old_enabled = bool(new.get("Enabled", True)), bool(old.get("Enabled", True)) if old else True
        if enabled != old_enabled:
            aws_call(f"enabling {key_id}", kms.enable_key if enabled else kms.disable_key, KeyId=key_id)


class KmsAlias(ResourceType):
    """AWS::KMS::Alias; a new alias name replaces it, a new target key updates it."""

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        name = operation.properties["AliasName"]
        aws_call(
            f"CreateAlias {name}",
            context.client("kms").create_alias,
            AliasName=name,
            TargetKeyId=operation.properties["TargetKeyId"],
        )
        return Outcome(name)

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        if operation.properties["AliasName"] != operation.old_properties.get("AliasName"):
            return self.create(context, operation)
        aws_call(
            f"UpdateAlias {operation.old.physical_id}",
            context.client("kms").update_alias,
            AliasName=operation.old.physical_id,
            TargetKeyId=operation.properties["TargetKeyId"],
        )
        return Outcome(operation.old.physical_id)

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        ignore_missing(context.client("kms").delete_alias, KMS_MISSING, AliasName=record.physical_id)


NATIVE_TYPES: dict[str, ResourceType] = {
    "AWS::S3::Bucket": S3Bucket(),
    "AWS::S3::BucketPolicy": S3BucketPolicy(),
    "AWS::IAM::Role": IamRole(),
    "AWS::IAM::Policy": IamPolicy(),
    "AWS::KMS::Key": KmsKey(),
    "AWS::KMS::Alias": KmsAlias(),
    **FLOW_TYPES,  # the event-driven import flow (flowresources.py)
}
