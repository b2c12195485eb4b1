"""EventBridge event patterns as the user guide describes them, on S3 "Object Created" events."""

from __future__ import annotations

from typing import Any

import pytest

from personalize_tools.localdeploy.errors import TemplateError
from personalize_tools.localdeploy.eventpatterns import check_pattern, matches

EVENT = {
    "source": "aws.s3",
    "detail-type": "Object Created",
    "resources": ["arn:aws:s3:::data-bucket"],
    "detail": {
        "bucket": {"name": "data-bucket"},
        "object": {"key": "incoming/interactions/day1.csv", "size": 2048},
        "reason": "PutObject",
    },
}
RULE = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {
        "bucket": {"name": ["data-bucket"]},
        "object": {"key": [{"prefix": "incoming/interactions/"}]},
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (RULE, True),
        ({**RULE, "detail": {"object": {"key": [{"prefix": "incoming/items/"}]}}}, False),
        ({"source": ["aws.s3", "aws.ec2"]}, True),  # a list is OR
        ({"source": ["aws.s3"], "detail-type": ["Object Deleted"]}, False),  # fields are AND
        ({"resources": ["arn:aws:s3:::data-bucket"]}, True),  # an array in the event matches any element
        ({"detail": {"object": {"key": [{"suffix": ".csv"}]}}}, True),
        (
            {
                "detail": {
                    "object": {"key": [{"anything-but": {"prefix": "incoming/interactions/rejected/"}}]}
                }
            },
            True,
        ),
        ({"detail": {"reason": [{"anything-but": ["PutObject", "CopyObject"]}]}}, False),
        ({"detail": {"object": {"version-id": [{"exists": False}]}}}, True),
        ({"detail": {"object": {"size": [{"exists": True}]}}}, True),
        ({"detail": {"object": {"size": [{"numeric": [">", 0, "<=", 2048]}]}}}, True),
        ({"detail": {"object": {"size": [{"numeric": [">", 2048]}]}}}, False),
        ({"detail": {"object": {"size": ["2048"]}}}, False),  # a string does not match a number
        ({"detail-type": [{"equals-ignore-case": "object created"}]}, True),
        ({"detail": {"object": {"key": [{"wildcard": "incoming/*/day?.csv"}]}}}, False),
        ({"detail": {"object": {"key": [{"wildcard": "incoming/*.csv"}]}}}, True),
        ({"detail": {"missing": ["x"]}}, False),
    ],
)
def test_matching(pattern: dict[str, Any], expected: bool) -> None:
    check_pattern(pattern, "rule")
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ({"source": "aws.s3"}, "a pattern value must be a list"),
        ({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}, "cidr"),
        ({"$or": [{"source": ["a"]}]}, r"\$or"),
    ],
)
def test_unsupported_patterns_are_refused(pattern: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        check_pattern(pattern, "rule Imports")
