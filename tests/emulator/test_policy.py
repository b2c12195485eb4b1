"""The IAM policy evaluator: allow, no match, explicit deny, wildcards, conditions, resource policies."""

from __future__ import annotations

from typing import Any

import pytest

from personalize_tools.emulator.policy import Decision, Request, UnsupportedPolicyError, evaluate

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/pz-dev_group-1"
OTHER_GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/pz-dev-us_group-1"
TRACKER = "arn:aws:personalize:us-east-1:123456789012:event-tracker/0a1b2c3d"
SCOPE = "aws:ResourceTag/personalize-domain-cdk:scope"


def _policy(*statements: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


ALLOW_GROUPS = {
    "Effect": "Allow",
    "Action": ["personalize:CreateDatasetGroup", "personalize:Describe*"],
    "Resource": "arn:aws:personalize:us-east-1:123456789012:dataset-group/pz-dev_*",
}


def test_allow_needs_a_matching_action_and_resource() -> None:
    policies = _policy(ALLOW_GROUPS)
    assert evaluate(policies, Request("personalize:CreateDatasetGroup", GROUP)) is Decision.ALLOW
    assert evaluate(policies, Request("personalize:DescribeDatasetGroup", GROUP)) is Decision.ALLOW
    assert evaluate(policies, Request("personalize:DeleteDatasetGroup", GROUP)) is Decision.IMPLICIT_DENY
    assert (
        evaluate(policies, Request("personalize:CreateDatasetGroup", OTHER_GROUP)) is Decision.IMPLICIT_DENY
    )
    assert evaluate([], Request("personalize:CreateDatasetGroup", GROUP)) is Decision.IMPLICIT_DENY


def test_wildcards_follow_iam() -> None:
    policies = _policy(
        {
            "Effect": "Allow",
            "Action": "personalize:describe?ataset",
            "Resource": "arn:aws:personalize:*:*:dataset/*",
        }
    )
    dataset = "arn:aws:personalize:us-east-1:123456789012:dataset/pz-dev_group/INTERACTIONS"
    assert (
        evaluate(policies, Request("personalize:DescribeDataset", dataset)) is Decision.ALLOW
    )  # actions: any case
    assert evaluate(policies, Request("personalize:DescribeDatasets", dataset)) is Decision.IMPLICIT_DENY
    upper = dataset.replace("dataset/", "DATASET/")
    assert (
        evaluate(policies, Request("personalize:DescribeDataset", upper)) is Decision.IMPLICIT_DENY
    )  # ARNs: exact
    assert (
        evaluate(_policy({"Effect": "Allow", "Action": "*", "Resource": "*"}), Request("x:Y", "z"))
        is Decision.ALLOW
    )


def test_explicit_deny_wins_over_any_allow() -> None:
    deny = {"Effect": "Deny", "Action": "personalize:*", "NotResource": GROUP}
    policies = _policy(ALLOW_GROUPS, {"Effect": "Allow", "Action": "*", "Resource": "*"}, deny)
    assert evaluate(policies, Request("personalize:CreateDatasetGroup", GROUP)) is Decision.ALLOW
    other = Request("personalize:CreateDatasetGroup", OTHER_GROUP)
    assert evaluate(policies, other) is Decision.EXPLICIT_DENY


def test_not_action() -> None:
    policies = _policy({"Effect": "Allow", "NotAction": "personalize:Delete*", "Resource": "*"})
    assert evaluate(policies, Request("personalize:DescribeDatasetGroup", GROUP)) is Decision.ALLOW
    assert evaluate(policies, Request("personalize:DeleteDatasetGroup", GROUP)) is Decision.IMPLICIT_DENY


def test_tag_conditions_on_create_and_afterwards() -> None:
    create = {
        "Effect": "Allow",
        "Action": ["personalize:CreateEventTracker", "personalize:TagResource"],
        "Resource": "arn:aws:personalize:us-east-1:123456789012:event-tracker/*",
        "Condition": {
            "StringEquals": {"aws:RequestTag/personalize-domain-cdk:scope": "pz-dev"},
            "Null": {SCOPE: "true"},
        },
    }
    own = {
        "Effect": "Allow",
        "Action": "personalize:DeleteEventTracker",
        "Resource": "arn:aws:personalize:us-east-1:123456789012:event-tracker/*",
        "Condition": {"StringEquals": {SCOPE: "pz-dev"}},
    }
    policies = _policy(create, own)
    tagged = {"aws:RequestTag/personalize-domain-cdk:scope": "pz-dev"}
    assert evaluate(policies, Request("personalize:CreateEventTracker", TRACKER, tagged)) is Decision.ALLOW
    other_tag = {"aws:RequestTag/personalize-domain-cdk:scope": "pz-dev-us"}
    assert (
        evaluate(policies, Request("personalize:CreateEventTracker", TRACKER, other_tag))
        is Decision.IMPLICIT_DENY
    )
    assert evaluate(policies, Request("personalize:CreateEventTracker", TRACKER)) is Decision.IMPLICIT_DENY
    # Retagging another environment's tracker into this scope: its resource tag exists, so Null fails.
    retag = {**tagged, SCOPE: "pz-dev-us"}
    assert evaluate(policies, Request("personalize:TagResource", TRACKER, retag)) is Decision.IMPLICIT_DENY
    # Condition key names are case-insensitive.
    assert evaluate(
        policies, Request("personalize:DeleteEventTracker", TRACKER, {SCOPE.upper(): "pz-dev"})
    ) is (Decision.ALLOW)
    assert evaluate(policies, Request("personalize:DeleteEventTracker", TRACKER, {SCOPE: "pz-dev-us"})) is (
        Decision.IMPLICIT_DENY
    )


def test_missing_keys_negated_operators_and_if_exists() -> None:
    describe = _policy(
        {
            "Effect": "Allow",
            "Action": "personalize:DescribeEventTracker",
            "Resource": "*",
            "Condition": {"StringEqualsIfExists": {SCOPE: "pz-dev"}},
        }
    )
    assert evaluate(describe, Request("personalize:DescribeEventTracker", TRACKER)) is Decision.ALLOW
    assert evaluate(describe, Request("personalize:DescribeEventTracker", TRACKER, {SCOPE: "x"})) is (
        Decision.IMPLICIT_DENY
    )
    deny_pass = _policy(
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "iam:PassRole",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
        },
    )
    role = "arn:aws:iam::123456789012:role/r"
    to_personalize = {"iam:PassedToService": "personalize.amazonaws.com"}
    assert evaluate(deny_pass, Request("iam:PassRole", role, to_personalize)) is Decision.ALLOW
    to_ec2 = {"iam:PassedToService": "ec2.amazonaws.com"}
    assert evaluate(deny_pass, Request("iam:PassRole", role, to_ec2)) is Decision.EXPLICIT_DENY
    assert (
        evaluate(deny_pass, Request("iam:PassRole", role)) is Decision.EXPLICIT_DENY
    )  # negated: absent is true


def test_multivalued_tag_keys() -> None:
    deny_untag = {
        "Effect": "Deny",
        "Action": "personalize:UntagResource",
        "Resource": "*",
        "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["personalize-domain-cdk:scope"]}},
    }
    policies = _policy(
        {"Effect": "Allow", "Action": "personalize:UntagResource", "Resource": "*"}, deny_untag
    )
    untag = "personalize:UntagResource"
    assert evaluate(policies, Request(untag, TRACKER, {"aws:TagKeys": ["owner"]})) is Decision.ALLOW
    both = {"aws:TagKeys": ["owner", "personalize-domain-cdk:scope"]}
    assert evaluate(policies, Request(untag, TRACKER, both)) is Decision.EXPLICIT_DENY
    assert evaluate(policies, Request(untag, TRACKER)) is Decision.ALLOW  # ForAnyValue: absent is false
    only_owner = _policy(
        {
            "Effect": "Allow",
            "Action": untag,
            "Resource": "*",
            "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": ["own*"]}},
        }
    )
    assert evaluate(only_owner, Request(untag, TRACKER, {"aws:TagKeys": ["owner"]})) is Decision.ALLOW
    assert evaluate(only_owner, Request(untag, TRACKER, both)) is Decision.IMPLICIT_DENY
    assert evaluate(only_owner, Request(untag, TRACKER)) is Decision.ALLOW  # ForAllValues: absent is true


def test_arn_like_bool_and_service_principals() -> None:
    bucket_policy = _policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "personalize.amazonaws.com"},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnLike": {"aws:SourceArn": "arn:aws:personalize:us-east-1:123456789012:*"},
            },
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    context = {
        "aws:SourceAccount": "123456789012",
        "aws:SourceArn": "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/j",
        "aws:SecureTransport": "true",
    }
    service = (("Service", "personalize.amazonaws.com"),)
    assert (
        evaluate(bucket_policy, Request("s3:GetObject", "arn:aws:s3:::b/k", context, service))
        is Decision.ALLOW
    )
    other = (("Service", "ec2.amazonaws.com"),)
    assert evaluate(bucket_policy, Request("s3:GetObject", "arn:aws:s3:::b/k", context, other)) is (
        Decision.IMPLICIT_DENY
    )
    foreign = {**context, "aws:SourceAccount": "999999999999"}
    assert evaluate(bucket_policy, Request("s3:GetObject", "arn:aws:s3:::b/k", foreign, service)) is (
        Decision.IMPLICIT_DENY
    )
    plain = {**context, "aws:SecureTransport": "false"}
    assert evaluate(bucket_policy, Request("s3:GetObject", "arn:aws:s3:::b/k", plain, service)) is (
        Decision.EXPLICIT_DENY
    )


def test_unknown_operators_are_refused_not_guessed() -> None:
    policies = _policy(
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "x"}},
        }
    )
    with pytest.raises(UnsupportedPolicyError, match="DateGreaterThan"):
        evaluate(policies, Request("personalize:ListSchemas", "*"))
