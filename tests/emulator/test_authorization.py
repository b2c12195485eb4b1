"""IAM enforced by the emulator: callers resolved through moto's STS, policies read from moto's IAM,
AWS's AccessDenied message, every resource type of an action, and Personalize's own S3 reads."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain_rules, kinds
from personalize_tools.emulator import EmulatorServer, Pace

from .support import interactions_csv, raw_call, settle

REGION = "us-east-1"
ACCOUNT = "123456789012"
ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}"
pytestmark = pytest.mark.iam_enforced  # the emulator authorizes every call against moto's IAM


@pytest.fixture(scope="module")
def emulator_pace() -> Pace:
    return Pace.instant()


@pytest.fixture(autouse=True)
def _empty_account(emulator: EmulatorServer) -> None:
    emulator.reset()  # the dataset-group quota is 5


@pytest.fixture(scope="module")
def iam(moto_server: str) -> Any:
    return boto3.client("iam", endpoint_url=moto_server, region_name=REGION)


def _role(iam: Any, statements: list[dict[str, Any]], *, managed: list[dict[str, Any]] | None = None) -> str:
    name = f"caller-{uuid.uuid4().hex[:8]}"
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="inline",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    for index, document in enumerate(managed or []):
        policy = iam.create_policy(PolicyName=f"{name}-{index}", PolicyDocument=json.dumps(document))
        iam.attach_role_policy(RoleName=name, PolicyArn=policy["Policy"]["Arn"])
    return arn


def _as_role(moto_server: str, emulator: EmulatorServer, role_arn: str, region: str = REGION) -> Any:
    """A client signing as the role for `region`: the emulator takes the region from the credential scope."""
    sts = boto3.client("sts", endpoint_url=moto_server, region_name=REGION)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="handler")["Credentials"]
    return boto3.client(
        "personalize",
        endpoint_url=emulator.url,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _denied(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    return str(caught.value.response["Error"]["Message"])


def test_a_role_gets_what_its_policies_allow_and_awss_message_otherwise(
    moto_server: str, emulator: EmulatorServer, iam: Any
) -> None:
    role = _role(
        iam,
        [
            {
                "Effect": "Allow",
                "Action": "personalize:CreateDatasetGroup",
                "Resource": f"{ARN}:dataset-group/ok_*",
            }
        ],
        managed=[
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "personalize:List*", "Resource": "*"}],
            }
        ],
    )
    personalize = _as_role(moto_server, emulator, role)
    personalize.create_dataset_group(name=f"ok_{uuid.uuid4().hex[:6]}", domain="ECOMMERCE")
    personalize.list_dataset_groups()  # from the attached managed policy
    name = f"no_{uuid.uuid4().hex[:6]}"
    message = _denied(personalize.create_dataset_group, name=name, domain="ECOMMERCE")
    role_name = role.rpartition("/")[2]
    assert message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/handler is not authorized to perform: "
        f"personalize:CreateDatasetGroup on resource: {ARN}:dataset-group/{name} because no identity-based "
        "policy allows the personalize:CreateDatasetGroup action"
    )
    assert not [group for group in emulator.state()["resources"]["dataset_group"] if group["name"] == name]
    # Our choice: callers that are no role or user in moto (dummy keys, no Authorization) are administrators.
    status, _, _ = raw_call(emulator.url, "AmazonPersonalize.ListDatasetGroups", "{}")
    assert status == 200


def test_every_resource_type_tags_on_create_and_explicit_deny(
    moto_server: str, emulator: EmulatorServer, iam: Any, personalize: Any
) -> None:
    group_name = f"g_{uuid.uuid4().hex[:6]}"
    group_arn = personalize.create_dataset_group(name=group_name, domain="ECOMMERCE")[
        "datasetGroupArn"
    ]  # admin
    settle(personalize, "dataset_group", group_arn)
    trackers = f"{ARN}:event-tracker/*"
    only_tracker = _as_role(
        moto_server,
        emulator,
        _role(iam, [{"Effect": "Allow", "Action": "personalize:CreateEventTracker", "Resource": trackers}]),
    )
    message = _denied(only_tracker.create_event_tracker, name="t", datasetGroupArn=group_arn)
    assert f"on resource: {group_arn} because" in message  # the dataset group is a resource of the action
    both = [
        {"Effect": "Allow", "Action": "personalize:CreateEventTracker", "Resource": [trackers, group_arn]}
    ]
    no_tagging = _as_role(moto_server, emulator, _role(iam, both))
    tags = [{"tagKey": "owner", "tagValue": "me"}]
    message = _denied(no_tagging.create_event_tracker, name="t", datasetGroupArn=group_arn, tags=tags)
    assert "personalize:TagResource on resource: " in message and ":event-tracker/" in message
    deny = {"Effect": "Deny", "Action": "personalize:CreateEventTracker", "Resource": "*"}
    denied = _as_role(moto_server, emulator, _role(iam, [*both, deny]))
    assert "with an explicit deny in an identity-based policy" in _denied(
        denied.create_event_tracker, name="t", datasetGroupArn=group_arn
    )
    allowed = _as_role(moto_server, emulator, _role(iam, both))
    tracker = allowed.create_event_tracker(name="t", datasetGroupArn=group_arn)
    assert tracker["eventTrackerArn"].startswith(f"{ARN}:event-tracker/")


def test_pass_role_needs_passed_to_service(moto_server: str, emulator: EmulatorServer, iam: Any) -> None:
    service_role = f"arn:aws:iam::{ACCOUNT}:role/personalize-reads"
    create = {"Effect": "Allow", "Action": "personalize:CreateDatasetGroup", "Resource": "*"}
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    without = _as_role(moto_server, emulator, _role(iam, [create]))
    message = _denied(
        without.create_dataset_group, name=f"k_{uuid.uuid4().hex[:6]}", roleArn=service_role, kmsKeyArn=key
    )
    assert f"iam:PassRole on resource: {service_role}" in message
    pass_other = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": service_role,
        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
    }
    assert "iam:PassRole" in _denied(
        _as_role(moto_server, emulator, _role(iam, [create, pass_other])).create_dataset_group,
        name=f"k_{uuid.uuid4().hex[:6]}",
        roleArn=service_role,
        kmsKeyArn=key,
    )
    pass_personalize = {
        **pass_other,
        "Condition": {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
    }
    allowed = _as_role(moto_server, emulator, _role(iam, [create, pass_personalize]))
    allowed.create_dataset_group(name=f"k_{uuid.uuid4().hex[:6]}", roleArn=service_role, kmsKeyArn=key)


def _import(personalize: Any, s3: Any, bucket: str, role_arn: str) -> dict[str, Any]:
    s3.put_object(Bucket=bucket, Key="in/interactions.csv", Body=interactions_csv(1200))
    group = personalize.create_dataset_group(name=f"i_{uuid.uuid4().hex[:6]}", domain="ECOMMERCE")[
        "datasetGroupArn"
    ]
    settle(personalize, "dataset_group", group)
    schema = personalize.create_schema(
        name=f"i_{uuid.uuid4().hex[:6]}",
        schema=domain_rules.default_schema_json("ECOMMERCE"),
        domain="ECOMMERCE",
    )["schemaArn"]
    dataset = personalize.create_dataset(
        name="d", schemaArn=schema, datasetGroupArn=group, datasetType="INTERACTIONS"
    )["datasetArn"]
    settle(personalize, "dataset", dataset)
    job = personalize.create_dataset_import_job(
        jobName=f"i_{uuid.uuid4().hex[:6]}",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://{bucket}/in/"},
        roleArn=role_arn,
    )["datasetImportJobArn"]
    return settle(personalize, "import_job", job)


READS = [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{bucket}/in/*"},
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::{bucket}"},
]


def _reads(bucket: str) -> list[dict[str, Any]]:
    return json.loads(json.dumps(READS).replace("{bucket}", bucket))


def _service_bucket_policy(s3: Any, bucket: str) -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "personalize.amazonaws.com"},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )


def test_imports_read_as_the_passed_role_and_under_the_bucket_policy(
    emulator: EmulatorServer, iam: Any, personalize: Any, s3: Any, s3_bucket: str, capfd: Any
) -> None:
    role = _role(iam, _reads(s3_bucket))
    no_bucket_policy = _import(personalize, s3, s3_bucket, role)
    assert no_bucket_policy["status"] == kinds.CREATE_FAILED
    assert no_bucket_policy["failureReason"] == domain_rules.REASON_S3_ACCESS
    assert (
        f"the policy of bucket {s3_bucket} does not allow personalize.amazonaws.com" in capfd.readouterr().err
    )

    _service_bucket_policy(s3, s3_bucket)
    unreadable = _role(iam, [_reads(s3_bucket)[1]])  # ListBucket only
    assert _import(personalize, s3, s3_bucket, unreadable)["failureReason"] == domain_rules.REASON_S3_ACCESS
    assert _import(personalize, s3, s3_bucket, role)["status"] == kinds.ACTIVE


def test_kms_encrypted_data_needs_decrypt_for_the_role(
    moto_server: str, iam: Any, personalize: Any, s3: Any, s3_bucket: str
) -> None:
    kms = boto3.client("kms", endpoint_url=moto_server, region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["Arn"]  # moto's default key policy: the account (delegates to IAM)
    s3.put_bucket_encryption(
        Bucket=s3_bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}
            ]
        },
    )
    _service_bucket_policy(s3, s3_bucket)
    reads_only = _role(iam, _reads(s3_bucket))
    assert _import(personalize, s3, s3_bucket, reads_only)["failureReason"] == domain_rules.REASON_S3_ACCESS
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key}
    with_decrypt = _role(iam, [*_reads(s3_bucket), decrypt])
    assert _import(personalize, s3, s3_bucket, with_decrypt)["status"] == kinds.ACTIVE

    # A key policy that admits neither the account nor the role: IAM alone cannot grant the key.
    closed = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(closed))
    assert _import(personalize, s3, s3_bucket, with_decrypt)["failureReason"] == domain_rules.REASON_S3_ACCESS
    own = {"Effect": "Allow", "Principal": {"AWS": reads_only}, "Action": "kms:Decrypt", "Resource": "*"}
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps({**closed, "Statement": [own]}))
    assert (
        _import(personalize, s3, s3_bucket, reads_only)["status"] == kinds.ACTIVE
    )  # the key admits the role


def test_a_policy_the_emulator_cannot_evaluate_is_refused_by_name(
    moto_server: str, emulator: EmulatorServer, iam: Any
) -> None:
    dated = {
        "Effect": "Allow",
        "Action": "personalize:ListDatasetGroups",
        "Resource": "*",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
    }
    sts = boto3.client("sts", endpoint_url=moto_server, region_name=REGION)
    credentials = sts.assume_role(RoleArn=_role(iam, [dated]), RoleSessionName="dated")["Credentials"]
    personalize = boto3.client(
        "personalize",
        endpoint_url=emulator.url,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as caught:
        personalize.list_dataset_groups()
    assert caught.value.response["Error"]["Code"] == "InternalFailure"
    assert "DateGreaterThan" in caught.value.response["Error"]["Message"]


def test_a_request_signed_for_another_region_is_authorized_against_that_regions_arns(
    moto_server: str, emulator: EmulatorServer, iam: Any, s3: Any, s3_bucket: str
) -> None:
    """The server's default region is us-east-1; a caller signing for eu-west-1 names eu-west-1 ARNs, both
    in its own calls and in Personalize's reads of the import data (aws:SourceArn is the job's ARN)."""
    west = "eu-west-1"
    west_arns = f"arn:aws:personalize:{west}:{ACCOUNT}"
    role = _role(
        iam,
        [
            {"Effect": "Allow", "Action": "personalize:*", "Resource": f"{west_arns}:*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
            *_reads(s3_bucket),
        ],
    )
    in_west, in_east = (_as_role(moto_server, emulator, role, region) for region in (west, REGION))

    message = _denied(in_east.create_dataset_group, name="regional", domain="ECOMMERCE")
    assert f"on resource: {ARN}:dataset-group/regional" in message
    group = in_west.create_dataset_group(name="regional", domain="ECOMMERCE")["datasetGroupArn"]
    assert group == f"{west_arns}:dataset-group/regional"

    # The bucket admits Personalize only on behalf of eu-west-1 resources.
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "personalize.amazonaws.com"},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{s3_bucket}", f"arn:aws:s3:::{s3_bucket}/*"],
        "Condition": {"ArnLike": {"aws:SourceArn": f"{west_arns}:*"}},
    }
    s3.put_bucket_policy(
        Bucket=s3_bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    assert _import(in_west, s3, s3_bucket, role)["status"] == kinds.ACTIVE
