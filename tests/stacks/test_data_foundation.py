"""Template assertions for the data bucket, its policy and the Personalize role, in every KMS mode.

One app with one stack per KMS mode is synthesized once for the whole module.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from config import EnvironmentConfig
from stacks.personalize_stack import PersonalizeStack

EXISTING_KEY = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENV = cdk.Environment(account="111111111111", region="eu-west-1")


def _config(name: str, **overrides: Any) -> EnvironmentConfig:
    base: dict[str, Any] = {
        "name": name,
        "name_prefix": "pz",
        "domain": "ECOMMERCE",
        "data_source": {"bucket_key": "imports/interactions/"},
        "removal_policy": "retain",
    }
    return EnvironmentConfig.model_validate({**base, **overrides})


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    app = cdk.App()
    stacks = {
        mode: PersonalizeStack(app, f"Kms{mode.title()}", config=_config(f"t{mode}", kms=kms), env=ENV)
        for mode, kms in (("none", "none"), ("create", "create"), ("existing", EXISTING_KEY))
    }
    return {mode: Template.from_stack(stack) for mode, stack in stacks.items()}


def _data_bucket(template: Template) -> dict[str, Any]:
    buckets = template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"VersioningConfiguration": Match.any_value()}}
    )
    assert len(buckets) == 1, buckets.keys()
    return next(iter(buckets.values()))


def test_data_bucket_is_private_versioned_logged_and_expires_old_versions(
    templates: dict[str, Template],
) -> None:
    bucket = _data_bucket(templates["none"])["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["LogFilePrefix"] == "data-bucket/"
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert any(rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 30 for rule in rules)
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ]
    assert encryption == {"SSEAlgorithm": "AES256"}


def test_kms_modes_encrypt_the_data_bucket_with_the_right_key(templates: dict[str, Template]) -> None:
    created = _data_bucket(templates["create"])["Properties"]["BucketEncryption"]
    default = created["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert "Fn::GetAtt" in default["KMSMasterKeyID"]
    templates["create"].has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})

    existing = _data_bucket(templates["existing"])["Properties"]["BucketEncryption"]
    assert existing["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
        "KMSMasterKeyID"
    ] == (EXISTING_KEY)
    templates["existing"].resource_count_is("AWS::KMS::Key", 0)
    templates["none"].resource_count_is("AWS::KMS::Key", 0)


def test_bucket_policy_enforces_tls_and_lets_personalize_read_for_this_account(
    templates: dict[str, Template],
) -> None:
    policies = templates["none"].find_resources("AWS::S3::BucketPolicy")
    statements = [
        s for policy in policies.values() for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    tls = [s for s in statements if s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s)]
    assert len(tls) == 2, "both the data bucket and its log bucket refuse plain HTTP"
    personalize = [s for s in statements if s.get("Sid") == "PersonalizeServiceRead"]
    assert len(personalize) == 1
    statement = personalize[0]
    assert statement["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert sorted(statement["Action"]) == ["s3:GetObject", "s3:ListBucket"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "111111111111"}}


def test_role_trusts_personalize_with_confused_deputy_conditions(templates: dict[str, Template]) -> None:
    templates["none"].has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "personalize.amazonaws.com"},
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": "111111111111"},
                            "ArnLike": {
                                "aws:SourceArn": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "arn:",
                                            {"Ref": "AWS::Partition"},
                                            ":personalize:eu-west-1:111111111111:*",
                                        ],
                                    ]
                                }
                            },
                        },
                    }
                ]
            }
        },
    )


def _role_statements(template: Template) -> list[dict[str, Any]]:
    policies = template.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"PolicyName": Match.string_like_regexp("^PersonalizeRoleReadData")}},
    )
    assert len(policies) == 1
    return next(iter(policies.values()))["Properties"]["PolicyDocument"]["Statement"]


def test_role_reads_only_the_data_location(templates: dict[str, Template]) -> None:
    statements = {s["Sid"]: s for s in _role_statements(templates["none"])}
    assert set(statements) == {"ReadInteractions", "ListInteractions"}
    assert statements["ReadInteractions"]["Action"] == "s3:GetObject"
    resource = json.dumps(statements["ReadInteractions"]["Resource"])
    assert "/imports/interactions/*" in resource
    assert statements["ListInteractions"]["Action"] == "s3:ListBucket"


def test_kms_permissions_sit_in_role_and_key_policy(templates: dict[str, Template]) -> None:
    role_kms = [s for s in _role_statements(templates["create"]) if s.get("Sid") == "DecryptImportData"]
    assert len(role_kms) == 1
    assert {"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"} <= set(role_kms[0]["Action"])

    key = next(iter(templates["create"].find_resources("AWS::KMS::Key").values()))
    key_statements = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    assert key_statements["PersonalizeServiceUse"]["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert "kms:CreateGrant" in key_statements["PersonalizeServiceUse"]["Action"]
    assert "Fn::GetAtt" in json.dumps(key_statements["PersonalizeRoleUse"]["Principal"])

    existing_kms = [s for s in _role_statements(templates["existing"]) if s.get("Sid") == "DecryptImportData"]
    assert existing_kms[0]["Resource"] == EXISTING_KEY
    assert not [s for s in _role_statements(templates["none"]) if s.get("Sid") == "DecryptImportData"]


def test_outputs_name_bucket_and_role(templates: dict[str, Template]) -> None:
    outputs = templates["none"].to_json()["Outputs"]
    assert {"DataBucketName", "PersonalizeRoleArn", "InteractionsDataLocation"} <= set(outputs)


def test_retain_policy_keeps_the_bucket(templates: dict[str, Template]) -> None:
    bucket = _data_bucket(templates["none"])
    assert bucket["DeletionPolicy"] == "Retain"
