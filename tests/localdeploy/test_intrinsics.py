"""Intrinsic functions and conditions resolve as CloudFormation resolves them; others are refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from personalize_tools.localdeploy.errors import ResolutionError, UnsupportedIntrinsicError
from personalize_tools.localdeploy.intrinsics import (
    Resolver,
    StackContext,
    referenced_names,
    unsupported_function,
)

CONTEXT = StackContext(
    stack_name="pz-dev-personalize",
    stack_id="arn:aws:cloudformation:eu-west-1:123456789012:stack/pz-dev-personalize/abc",
    account="123456789012",
    region="eu-west-1",
)
TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Stage": {"Type": "String", "Default": "dev"},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a, b"},
        "NoDefault": {"Type": "String"},
        "BootstrapVersion": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": "/cdk-bootstrap/version",
        },
    },
    "Mappings": {"Sizes": {"dev": {"Memory": 256}}},
    "Conditions": {
        "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
        "IsProd": {"Fn::Not": [{"Condition": "IsDev"}]},
        "DevInIreland": {
            "Fn::And": [{"Condition": "IsDev"}, {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}]
        },
        "ProdOrIreland": {
            "Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["eu-west-1", {"Ref": "AWS::Region"}]}]
        },
    },
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "ProdOnly": {"Type": "AWS::S3::Bucket", "Condition": "IsProd"},
    },
}


class Resources:
    """What already exists: the Ref and Fn::GetAtt values the resolver asks for."""

    def ref(self, logical_id: str) -> Any:
        return {"Bucket": "pz-bucket-1"}[logical_id]

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return {("Bucket", "Arn"): "arn:aws:s3:::pz-bucket-1"}[(logical_id, attribute)]


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(TEMPLATE, CONTEXT, parameters={"NoDefault": "given"}, references=Resources())


def resolve(resolver: Resolver, value: Any) -> Any:
    return resolver.resolve(value, "resource Test")


def test_ref_resolves_pseudo_parameters_parameters_and_resources(resolver: Resolver) -> None:
    assert resolve(resolver, {"Ref": "AWS::AccountId"}) == "123456789012"
    assert resolve(resolver, {"Ref": "AWS::Region"}) == "eu-west-1"
    assert resolve(resolver, {"Ref": "AWS::Partition"}) == "aws"
    assert resolve(resolver, {"Ref": "AWS::StackName"}) == "pz-dev-personalize"
    assert resolve(resolver, {"Ref": "AWS::StackId"}) == CONTEXT.stack_id
    assert resolve(resolver, {"Ref": "AWS::URLSuffix"}) == "amazonaws.com"
    assert resolve(resolver, {"Ref": "Stage"}) == "dev"
    assert resolve(resolver, {"Ref": "NoDefault"}) == "given"
    assert resolve(resolver, {"Ref": "Zones"}) == ["a", "b"]
    assert resolve(resolver, {"Ref": "Bucket"}) == "pz-bucket-1"


def test_a_parameter_without_value_or_default_names_the_fix() -> None:
    resolver = Resolver(TEMPLATE, CONTEXT)
    with pytest.raises(
        ResolutionError, match=r"parameter NoDefault has no default; pass --parameter NoDefault="
    ):
        resolve(resolver, {"Ref": "NoDefault"})


def test_an_ssm_parameter_is_refused_only_when_used(resolver: Resolver) -> None:
    with pytest.raises(ResolutionError, match="SSM Parameter Store"):
        resolve(resolver, {"Ref": "BootstrapVersion"})


def test_get_att_join_select_split(resolver: Resolver) -> None:
    assert resolve(resolver, {"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:aws:s3:::pz-bucket-1"
    assert resolve(resolver, {"Fn::GetAtt": "Bucket.Arn"}) == "arn:aws:s3:::pz-bucket-1"
    joined = {"Fn::Join": ["", ["s3://", {"Ref": "Bucket"}, "/imports/", 7]]}
    assert resolve(resolver, joined) == "s3://pz-bucket-1/imports/7"
    assert resolve(resolver, {"Fn::Select": ["1", {"Fn::Split": ["/", "a/b/c"]}]}) == "b"
    assert resolve(resolver, {"Fn::Select": [0, {"Ref": "Zones"}]}) == "a"


def test_sub_in_both_forms(resolver: Resolver) -> None:
    text = "arn:${AWS::Partition}:s3:::${Bucket}/${!Literal}/${Bucket.Arn}"
    assert (
        resolve(resolver, {"Fn::Sub": text}) == "arn:aws:s3:::pz-bucket-1/${Literal}/arn:aws:s3:::pz-bucket-1"
    )
    with_variables = {"Fn::Sub": ["${Name}-${AWS::Region}", {"Name": {"Ref": "Stage"}}]}
    assert resolve(resolver, with_variables) == "dev-eu-west-1"


def test_conditions_and_if_drop_no_value(resolver: Resolver) -> None:
    assert resolver.condition("IsDev") is True
    assert resolver.condition("IsProd") is False
    assert resolver.condition("DevInIreland") is True
    assert resolver.condition("ProdOrIreland") is True
    value = {
        "Kept": {"Fn::If": ["IsDev", "dev-value", "prod-value"]},
        "Dropped": {"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["IsProd", "b", {"Ref": "AWS::NoValue"}]}],
    }
    assert resolve(resolver, value) == {"Kept": "dev-value", "List": ["a"]}
    assert resolver.is_active("Bucket") and not resolver.is_active("ProdOnly")


def test_get_azs_find_in_map_and_base64(resolver: Resolver) -> None:
    assert resolve(resolver, {"Fn::GetAZs": ""}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert resolve(resolver, {"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}) == 256
    assert resolve(resolver, {"Fn::Base64": "hi"}) == "aGk="


def test_an_iam_condition_block_is_data_not_a_function(resolver: Resolver) -> None:
    statement = {"Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}
    assert resolve(resolver, statement) == {
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    }


def test_an_unsupported_function_names_the_resource_and_the_function(resolver: Resolver) -> None:
    with pytest.raises(UnsupportedIntrinsicError) as raised:
        resolver.resolve({"Fn::ImportValue": "SharedBucket"}, "resource Foo")
    assert str(raised.value) == "resource Foo uses Fn::ImportValue, which the local deployer does not support"
    assert unsupported_function({"A": [{"B": {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}}]}) == "Fn::Cidr"
    assert unsupported_function({"A": {"Fn::Join": ["", [{"Ref": "X"}]]}}) is None


def test_unknown_references_say_what_is_missing(resolver: Resolver) -> None:
    with pytest.raises(ResolutionError, match="Ref Nowhere names no resource, parameter or pseudo parameter"):
        resolve(resolver, {"Ref": "Nowhere"})
    with pytest.raises(ResolutionError, match="Fn::Select index 5"):
        resolve(resolver, {"Fn::Select": [5, ["a"]]})


def test_referenced_names_find_implicit_dependencies() -> None:
    value = {
        "A": {"Ref": "Role"},
        "B": {"Fn::GetAtt": ["Bucket", "Arn"]},
        "C": {"Fn::Sub": "${Queue.Arn}/${AWS::Region}/${!Skip}"},
        "D": {"Fn::Sub": ["${Local}", {"Local": {"Ref": "Key"}}]},
        "E": {"Fn::If": ["Cond", {"Ref": "WhenTrue"}, {"Ref": "WhenFalse"}]},
    }
    names = referenced_names(value)
    assert {"Role", "Bucket", "Queue", "Key", "WhenTrue", "WhenFalse"} <= names
    assert "Local" not in names and "Skip" not in names
