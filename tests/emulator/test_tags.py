"""Tag rules from the Personalize tagging guide and the model's errors, from `domain.tag_problems`.

Keys and values can't start with `aws:` (InvalidInputException: the error the model lists for bad
input); more than 50 tags on a resource is TooManyTagsException; UntagResource naming more than 50
keys is TooManyTagKeysException (the model documents it as "more tag keys than can be associated").
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain
from personalize_tools.emulator import EmulatorServer


def refused(code: str, call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as error:
        call(**params)
    assert error.value.response["Error"]["Code"] == code, error.value.response["Error"]
    return str(error.value.response["Error"]["Message"])


@pytest.mark.parametrize(
    ("tag", "named"),
    [
        ({"tagKey": "aws:owner", "tagValue": "me"}, "tag key 'aws:owner' starts with 'aws:'"),
        ({"tagKey": "AWS:Owner", "tagValue": "me"}, "tag key 'AWS:Owner' starts with 'aws:'"),
        ({"tagKey": "owner", "tagValue": "aws:me"}, "tag value 'aws:me' starts with 'aws:'"),
    ],
)
def test_reserved_prefix_is_refused_at_create_and_by_tag_resource(
    clean_emulator: EmulatorServer, personalize: Any, tag: dict[str, str], named: str
) -> None:
    assert named in refused("InvalidInputException", personalize.create_dataset_group, name="g", tags=[tag])
    assert personalize.list_dataset_groups()["datasetGroups"] == []  # nothing was created

    arn = personalize.create_dataset_group(name="g")["datasetGroupArn"]
    assert named in refused("InvalidInputException", personalize.tag_resource, resourceArn=arn, tags=[tag])
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_more_than_fifty_tags_or_tag_keys(clean_emulator: EmulatorServer, personalize: Any) -> None:
    tags = [{"tagKey": f"k{index}", "tagValue": "v"} for index in range(domain.MAX_TAGS)]
    arn = personalize.create_dataset_group(name="g", tags=tags)["datasetGroupArn"]
    refused(
        "TooManyTagsException",
        personalize.tag_resource,
        resourceArn=arn,
        tags=[{"tagKey": "x", "tagValue": ""}],
    )

    keys = [f"k{index}" for index in range(domain.MAX_TAGS + 1)]
    message = refused("TooManyTagKeysException", personalize.untag_resource, resourceArn=arn, tagKeys=keys)

    assert "51 tag keys" in message
    assert len(personalize.list_tags_for_resource(resourceArn=arn)["tags"]) == domain.MAX_TAGS
    personalize.untag_resource(resourceArn=arn, tagKeys=keys[: domain.MAX_TAGS])
    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_a_key_named_twice_in_one_request_keeps_the_last_value(
    clean_emulator: EmulatorServer, personalize: Any
) -> None:
    tags = [{"tagKey": "team", "tagValue": "a"}, {"tagKey": "team", "tagValue": "b"}]
    arn = personalize.create_dataset_group(name="g", tags=tags)["datasetGroupArn"]

    assert personalize.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"tagKey": "team", "tagValue": "b"}
    ]
