"""Who is calling, and may they: IAM for every Personalize request, and for Personalize's own S3 reads.

The caller is the access key id in the SigV4 `Authorization` header. moto's STS knows the keys it issued
(AssumeRole): `GetCallerIdentity` signed with that key id answers the assumed role (moto does not check
signatures), and moto's IAM holds the role's inline and attached managed policies. Each Personalize call
is then authorized as the authorization table (lambda_handlers/personalize/authorization.py) says: every
resource type of the action, `personalize:TagResource` for tags on create, `iam:PassRole` for a passed
role, with the condition keys AWS sets. Our choice: a caller that is not an IAM role or user in moto
(the dummy `testing` keys, moto's default identity) is an administrator, so tools and tests that do not
play a role keep working.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lambda_handlers.personalize import authorization as authz
from personalize_tools.emulator.errors import AccessDeniedError
from personalize_tools.emulator.policy import ContextValue, Decision, Request, evaluate, tag_context

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
ASSUMED_ROLE = re.compile(r"arn:[^:]+:sts::(\d{12}):assumed-role/([^/]+)/.+")
IAM_USER = re.compile(r"arn:[^:]+:iam::(\d{12}):user/(?:.*/)?([^/]+)")
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard"})


@dataclass(frozen=True)
class Caller:
    """An identity: its ARN, and its policies (None: an administrator, see the module docstring)."""

    arn: str
    policies: tuple[Mapping[str, Any], ...] | None


def denial(caller_arn: str, request: Request, decision: Decision) -> str:
    """AWS's access-denied message (IAM User Guide, "Access denied error messages")."""
    head = (
        f"User: {caller_arn} is not authorized to perform: {request.action} on resource: {request.resource}"
    )
    if decision is Decision.EXPLICIT_DENY:
        return f"{head} with an explicit deny in an identity-based policy"
    return f"{head} because no identity-based policy allows the {request.action} action"


class Authorizer:
    """Resolves callers through moto (STS, IAM) and authorizes Personalize requests like AWS."""

    def __init__(self, aws_endpoint_url: str, *, region: str, account: str) -> None:
        self.endpoint = aws_endpoint_url
        self.region = region
        self.account = account
        self._identities: dict[str, str] = {}
        self._lock = threading.Lock()
        self._iam: Any = None

    # --- identities ---------------------------------------------------------------------------

    def _client(self, service: str, access_key: str = "testing") -> Any:
        return boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key="emulator", region_name=self.region
        ).client(service, endpoint_url=self.endpoint, config=CLIENT_CONFIG)

    def caller_arn(self, access_key: str) -> str:
        """The ARN moto's STS gives the key (cached: a key never changes owner)."""
        with self._lock:
            known = self._identities.get(access_key)
        if known is not None:
            return known
        arn = str(self._client("sts", access_key).get_caller_identity()["Arn"])
        with self._lock:
            self._identities[access_key] = arn
        return arn

    def caller(self, authorization_header: str) -> Caller:
        match = CREDENTIAL.search(authorization_header or "")
        if match is None:
            return Caller("anonymous", None)
        arn = self.caller_arn(match.group(1))
        role = ASSUMED_ROLE.fullmatch(arn)
        if role is not None:
            return Caller(arn, self.role_policies(role.group(2)))
        user = IAM_USER.fullmatch(arn)
        if user is not None and user.group(2) != "moto":
            return Caller(arn, self.user_policies(user.group(2)))
        return Caller(arn, None)

    def _iam_client(self) -> Any:
        with self._lock:
            if self._iam is None:
                self._iam = self._client("iam")
            return self._iam

    def role_policies(self, role_name: str) -> tuple[Mapping[str, Any], ...]:
        """The role's inline and attached managed policies, read from moto's IAM at each request."""
        return self._identity_policies("role", RoleName=role_name)

    def user_policies(self, user_name: str) -> tuple[Mapping[str, Any], ...]:
        return self._identity_policies("user", UserName=user_name)

    def _identity_policies(self, kind: str, **identity: str) -> tuple[Mapping[str, Any], ...]:
        """Inline (`get_KIND_policy`) and attached managed policies of one IAM role or user."""
        iam = self._iam_client()
        inline = [
            _document(getattr(iam, f"get_{kind}_policy")(PolicyName=name, **identity)["PolicyDocument"])
            for name in _all(iam, f"list_{kind}_policies", "PolicyNames", **identity)
        ]
        attached = _all(iam, f"list_attached_{kind}_policies", "AttachedPolicies", **identity)
        return tuple(inline + [self._managed(entry["PolicyArn"]) for entry in attached])

    def _managed(self, policy_arn: str) -> Mapping[str, Any]:
        iam = self._iam_client()
        version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"]
        return _document(document["Document"])

    # --- Personalize requests -----------------------------------------------------------------

    def authorize(
        self,
        caller: Caller,
        operation: str,
        params: Mapping[str, Any],
        tags_of: Callable[[str], Mapping[str, str] | None],
        region: str | None = None,
    ) -> None:
        """Raise AccessDeniedError unless the caller may make this call; administrators always may.

        `region` is the request's signing region: the ARNs of resources it names are in that region.
        """
        if caller.policies is None or operation not in authz.ACTIONS:
            return
        for request in self.requests(operation, params, tags_of, region):
            decision = evaluate(caller.policies, request)
            if decision is not Decision.ALLOW:
                raise AccessDeniedError(denial(caller.arn, request, decision))

    def requests(
        self,
        operation: str,
        params: Mapping[str, Any],
        tags_of: Callable[[str], Mapping[str, str] | None],
        region: str | None = None,
    ) -> list[Request]:
        """Every authorization one call needs, in the order AWS's table lists them."""
        entry = authz.ACTIONS[operation]
        base: dict[str, ContextValue] = {}
        request_tags = {tag["tagKey"]: tag.get("tagValue", "") for tag in params.get("tags") or []}
        if request_tags:
            base |= tag_context("aws:RequestTag", request_tags)
            base["aws:TagKeys"] = list(request_tags)
        if entry.tag_keys:
            base["aws:TagKeys"] = [str(key) for key in params.get(entry.tag_keys) or []]
        action = authz.action(operation)
        if not entry.resources:
            return [Request(action, "*", base)]
        requests: list[Request] = []
        created: str | None = None
        for _kind, locator in entry.resources:
            arn = self._locate(locator, params, region or self.region)
            if locator[0] in ("named", "dataset", "generated"):
                created = arn
            existing = tags_of(arn) if locator[0] in ("member", "tagged") else None
            context = dict(base)
            if existing:
                context |= tag_context("aws:ResourceTag", existing)
            requests.append(Request(action, arn, context))
        if entry.tags_on_create and request_tags and created is not None:
            requests.append(Request(authz.action("TagResource"), created, base))
        role_arn = params.get(entry.passes_role) if entry.passes_role else None
        if role_arn:
            requests.append(
                Request("iam:PassRole", str(role_arn), {"iam:PassedToService": authz.PASSED_TO_SERVICE})
            )
        return requests

    def _arn(self, path: str, region: str) -> str:
        return f"arn:aws:personalize:{region}:{self.account}:{path}"

    def _locate(self, locator: authz.Locator, params: Mapping[str, Any], region: str) -> str:
        if locator[0] in ("member", "tagged"):
            return str(params[locator[1]])
        if locator[0] == "named":
            _, kind, member = locator
            return self._arn(authz.RESOURCE_TYPES[kind].format(name=params[member]), region)
        if locator[0] == "dataset":
            _, group_member, type_member = locator
            group_name = str(params[group_member]).rpartition("/")[2]
            dataset_type = str(params[type_member]).upper()
            return self._arn(
                authz.RESOURCE_TYPES["dataset"].format(group_name=group_name, dataset_type=dataset_type),
                region,
            )
        # A generated id is drawn by the service after authorization: any fresh id stands for it.
        return self._arn(authz.RESOURCE_TYPES[locator[1]].format(id=secrets.token_hex(4)), region)

    # --- Personalize's own reads of import data -------------------------------------------------

    def import_read_allowed(
        self, role_arn: str, bucket: str, keys: list[str], source_arn: str | None = None
    ) -> bool:
        """`import_read_problem` as the service's hook; the reason goes to the emulator's log."""
        problem = self.import_read_problem(role_arn, bucket, keys, source_arn)
        if problem is not None:
            print(f"import from s3://{bucket} refused: {problem}", file=sys.stderr, flush=True)
        return problem is None

    def import_read_problem(
        self, role_arn: str, bucket: str, keys: list[str], source_arn: str | None = None
    ) -> str | None:
        """Why Personalize could not read the data as the passed role, or None when it could.

        As the developer guide ("Giving Amazon Personalize access to Amazon S3 resources") requires, the
        role's policies must allow s3:GetObject on each object and s3:ListBucket on the bucket, and the
        bucket policy must allow the personalize.amazonaws.com service principal the same. Objects
        encrypted with a KMS key also need kms:Decrypt for the role ("Giving Amazon Personalize permission
        to use your AWS KMS key"), decided as KMS decides: the key policy allows the role itself, or it
        allows the account (delegating to IAM) and the role's policies allow it; an explicit Deny wins.
        """
        role_name = role_arn.rpartition("/")[2]
        try:
            role_policies = self.role_policies(role_name)
            s3 = self._client("s3")
            bucket_policy = _bucket_policy(s3, bucket)
            kms_keys = self._object_keys_kms(s3, bucket, keys)
        except (ClientError, BotoCoreError) as error:
            return f"cannot read the role, the bucket policy or the objects' encryption: {error}"
        context: dict[str, ContextValue] = {
            "aws:SourceAccount": self.account,
            "aws:SourceArn": source_arn or self._arn("*", self.region),
            "aws:SecureTransport": "true",
        }
        service = (("Service", authz.PASSED_TO_SERVICE),)
        wanted = [Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", context, service)] + [
            Request("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", context, service) for key in keys
        ]
        for request in wanted:
            if evaluate(role_policies, request) is not Decision.ALLOW:
                return f"role {role_arn} is not allowed {request.action} on {request.resource}"
            if bucket_policy is None or evaluate([bucket_policy], request) is not Decision.ALLOW:
                return (
                    f"the policy of bucket {bucket} does not allow {authz.PASSED_TO_SERVICE} {request.action}"
                )
        for key_arn in sorted(kms_keys):
            problem = self._decrypt_problem(role_arn, role_policies, key_arn)
            if problem is not None:
                return problem
        return None

    def _object_keys_kms(self, s3: Any, bucket: str, keys: list[str]) -> set[str]:
        """The ARNs of the KMS keys the objects are encrypted with (SSE-KMS)."""
        found: set[str] = set()
        for key in keys:
            head = s3.head_object(Bucket=bucket, Key=key)
            if head.get("ServerSideEncryption") == "aws:kms" and head.get("SSEKMSKeyId"):
                found.add(str(head["SSEKMSKeyId"]))
        if not found:
            return set()
        kms = self._client("kms")
        return {str(kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]) for key in found}

    def _decrypt_problem(
        self, role_arn: str, role_policies: tuple[Mapping[str, Any], ...], key_arn: str
    ) -> str | None:
        """KMS's decision for the role: the key policy allows it, or allows the account and IAM does."""
        kms = self._client("kms")
        key_policy = _document(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
        root = f"arn:aws:iam::{self.account}:root"
        by_key_to_role = evaluate([key_policy], Request("kms:Decrypt", key_arn, {}, (("AWS", role_arn),)))
        by_key_to_account = evaluate([key_policy], Request("kms:Decrypt", key_arn, {}, (("AWS", root),)))
        by_iam = evaluate(role_policies, Request("kms:Decrypt", key_arn))
        if Decision.EXPLICIT_DENY in (by_key_to_role, by_iam):
            return f"kms:Decrypt with {key_arn} is explicitly denied to role {role_arn}"
        if by_key_to_role is Decision.ALLOW or (
            by_key_to_account is Decision.ALLOW and by_iam is Decision.ALLOW
        ):
            return None
        return f"role {role_arn} may not kms:Decrypt with {key_arn} (neither its key policy nor IAM allow it)"


def _bucket_policy(s3: Any, bucket: str) -> Mapping[str, Any] | None:
    try:
        return _document(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return None
        raise


def _document(document: Any) -> Mapping[str, Any]:
    """botocore gives IAM documents parsed or URL-encoded JSON, depending on the call."""
    if isinstance(document, Mapping):
        return document
    text = str(document)
    return dict(json.loads(unquote(text) if text.startswith("%7B") else text))


def _all(client: Any, operation: str, key: str, **parameters: Any) -> list[Any]:
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate(**parameters):
        items += page[key]
    return items
