"""The local event-driven flow on a hand-written stack: moto's S3 event → rule → state machine → real
Lambda code; and wait conditions signalled by an execution, at a short time scale."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from personalize_tools.localdeploy import cli
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.errors import DeployFailedError
from personalize_tools.localdeploy.flowrunner import FlowRunner, FlowStore
from personalize_tools.localdeploy.stepfunctions import TIME_SCALE_VARIABLE
from tests.localdeploy.conftest import DeployerFactory, artifact

CHECK_CODE = """
import os, boto3
s3 = boto3.client("s3")
def handler(event, context):
    obj = event["detail"]["object"]
    body = s3.get_object(Bucket=event["detail"]["bucket"]["name"], Key=obj["key"])["Body"].read().decode()
    header = body.splitlines()[0]
    if header != "USER_ID,ITEM_ID,TIMESTAMP":
        raise ValueError(f"CSV header of {obj['key']} is {header!r}; expected USER_ID,ITEM_ID,TIMESTAMP")
    rows = len(body.splitlines()) - 1
    return {"key": obj["key"], "rows": rows, "etag": obj["etag"], "role": os.environ["ROLE"]}
"""
SIGNAL_CODE = """
import json, os, urllib.request
def handler(event, context):
    status = "SUCCESS" if event.get("ok") else "FAILURE"
    body = json.dumps({"Status": status, "Reason": event.get("reason", "done"), "UniqueId": "import",
                       "Data": event.get("data", "ACTIVE")}).encode()
    # The handle URL is presigned without a content type, so the PUT must send an empty one.
    headers = {"Content-Type": ""}
    request = urllib.request.Request(os.environ["HANDLE_URL"], data=body, method="PUT", headers=headers)
    urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request).read()
    return {"signalled": status}
"""
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def function(code: str, environment: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.12",
            "Handler": "index.handler",
            "Code": {"ZipFile": code},
            "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
            "Environment": {"Variables": {"ROLE": "checker", **(environment or {})}},
        },
    }


def base_resources(definition_string: Any) -> dict[str, Any]:
    """Bucket with EventBridge notifications, a rule for incoming/ CSVs, the state machine, its functions."""
    return {
        "Bucket": {  # a rollback keeps it: it holds uploaded data, and CloudFormation does not empty buckets
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
        },
        "Notifications": {
            "Type": "Custom::S3BucketNotifications",
            "Properties": {
                "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:BucketNotificationsHandler",
                "BucketName": {"Ref": "Bucket"},
                "NotificationConfiguration": {"EventBridgeConfiguration": {}},
                "Managed": True,
            },
        },
        "FunctionRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": LAMBDA_TRUST}},
        "Check": function(CHECK_CODE),
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "imports"}},
        "Flow": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "DefinitionString": definition_string,
                "RoleArn": "arn:aws:iam::123456789012:role/flow",
            },
        },
        "Rule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventPattern": {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {
                        "bucket": {"name": [{"Ref": "Bucket"}]},
                        "object": {"key": [{"prefix": "incoming/"}]},
                    },
                },
                "Targets": [
                    {"Arn": {"Ref": "Flow"}, "Id": "flow", "RoleArn": "arn:aws:iam::123456789012:role/x"}
                ],
            },
        },
    }


IMPORT_FLOW = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "CHECK_ARN", "Payload.$": "$"},
            "ResultSelector": {"result.$": "$.Payload", "status.$": "$.StatusCode"},
            "ResultPath": "$.check",
            "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.rejected", "Next": "Reject"}],
            "Next": "Notify",
        },
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": "TOPIC",
                "Message.$": "States.Format('imported {}', $.check.result.key)",
            },
            "ResultSelector": {"id.$": "$.MessageId"},
            "ResultPath": "$.notified",
            "Next": "Emit",
        },
        "Emit": {
            "Type": "Task",
            "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {
                "Entries": [
                    {"Source": "test.imports", "DetailType": "Imported", "Detail.$": "$.check.result"}
                ]
            },
            "ResultPath": "$.emitted",
            "End": True,
        },
        "Reject": {"Type": "Fail", "Error": "Rejected", "CausePath": "$.rejected.Cause"},
    },
}


@pytest.fixture
def fast_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TIME_SCALE_VARIABLE, str(1 / 4320))  # 12 hours pass in ten seconds


@pytest.fixture
def runner_for(endpoints: Endpoints) -> Iterator[Any]:
    runners: list[FlowRunner] = []

    def make(store: Any) -> FlowRunner:
        runners.append(FlowRunner(endpoints, store, scale=0.001))
        return runners[-1]

    yield make
    for runner in runners:
        runner.close()


def test_an_upload_starts_the_flow_and_a_bad_file_is_rejected(
    make_deployer: DeployerFactory, endpoints: Endpoints, runner_for: Any
) -> None:
    deployer, _ = make_deployer()
    definition = json.dumps(IMPORT_FLOW).replace('"TOPIC"', '{"Ref": "Topic"}')
    resources = base_resources({"Fn::Join": ["", _split(definition)]})
    state = deployer.deploy(artifact("FlowStack", resources))
    bucket = state.resources["Bucket"].physical_id
    assert state.resources["Flow"].skipped is False and state.resources["FunctionRole"].skipped is False
    s3 = endpoints.client("s3")
    s3.put_object(
        Bucket=bucket, Key="incoming/good.csv", Body=b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\nu2,i2,2\n"
    )
    s3.put_object(Bucket=bucket, Key="incoming/bad.csv", Body=b"USER,ITEM\nu1,i1\n")
    s3.put_object(Bucket=bucket, Key="elsewhere/ignored.csv", Body=b"USER_ID,ITEM_ID,TIMESTAMP\n")
    runner = runner_for(deployer.store)
    runner.run_until_idle(60)
    executions = {item["input"]["detail"]["object"]["key"]: item for item in runner.flows.executions()}
    assert set(executions) == {
        "incoming/good.csv",
        "incoming/bad.csv",
    }  # the rule's prefix filtered the third
    good, bad = executions["incoming/good.csv"], executions["incoming/bad.csv"]
    assert good["status"] == "SUCCEEDED", good
    assert good["output"]["check"]["result"]["rows"] == 2 and good["output"]["check"]["status"] == 200
    assert good["output"]["check"]["result"]["role"] == "checker"  # the function's own environment
    assert good["output"]["notified"]["id"]
    assert (
        good["output"]["emitted"]["FailedEntryCount"] == 0
        and good["output"]["emitted"]["Entries"][0]["EventId"]
    )
    assert good["input"]["detail-type"] == "Object Created" and "etag" in good["input"]["detail"]["object"]
    assert (bad["status"], bad["error"]) == ("FAILED", "Rejected")
    assert "CSV header of incoming/bad.csv is 'USER,ITEM'" in json.loads(bad["cause"])["errorMessage"]


def _split(definition: str) -> list[Any]:
    """The definition as Fn::Join parts: CHECK_ARN and the topic's Ref become template references."""
    parts: list[Any] = []
    for index, piece in enumerate(definition.split('"CHECK_ARN"')):
        if index:
            parts.append('"')
            parts.append({"Fn::GetAtt": ["Check", "Arn"]})
            parts.append('"')
        for inner_index, inner in enumerate(piece.split('{"Ref": "Topic"}')):
            if inner_index:
                parts += ['"', {"Ref": "Topic"}, '"']
            parts.append(inner)
    return parts


def wait_condition_resources(signal: dict[str, Any], timeout: int) -> dict[str, Any]:
    """The flow waits 3 hours (its own Wait state), then signals the stack's wait condition handle."""
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 3 * 3600, "Next": "Signal"},
            "Signal": {"Type": "Task", "Resource": "SIGNAL_ARN", "Parameters": signal, "End": True},
        },
    }
    before, after = json.dumps(definition).split('"SIGNAL_ARN"')
    resources = base_resources(
        {"Fn::Join": ["", [before, '"', {"Fn::GetAtt": ["Signal", "Arn"]}, '"', after]]}
    )
    resources["Signal"] = function(SIGNAL_CODE, {"HANDLE_URL": {"Ref": "Handle"}})
    resources["Handle"] = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
    resources["Wait"] = {
        "Type": "AWS::CloudFormation::WaitCondition",
        "DependsOn": ["Rule", "Notifications"],
        "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": str(timeout), "Count": 1},
    }
    return resources


def upload_when_the_rule_exists(deployer: Any, stack: str, endpoints: Endpoints) -> threading.Thread:
    """Plays the data that arrives while the deploy waits: a file lands once the rule is in place."""

    def upload() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = deployer.store.load(stack)
            if state and "Rule" in state.resources and "Notifications" in state.resources:
                bucket = state.resources["Bucket"].physical_id
                endpoints.client("s3").put_object(Bucket=bucket, Key="incoming/day1.csv", Body=b"x")
                return
            time.sleep(0.05)

    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    return thread


def test_a_twelve_hour_wait_condition_completes_when_the_flow_signals(
    make_deployer: DeployerFactory, endpoints: Endpoints, fast_time: None
) -> None:
    deployer, events = make_deployer()
    thread = upload_when_the_rule_exists(deployer, "WaitStack", endpoints)
    state = deployer.deploy(
        artifact("WaitStack", wait_condition_resources({"ok": True, "data": "ACTIVE"}, 43200))
    )
    thread.join()
    assert state.status == "CREATE_COMPLETE"
    assert json.loads(state.resources["Wait"].attributes["Data"]) == {"import": "ACTIVE"}
    executions = FlowStore(deployer.store.root).executions()
    assert [item["status"] for item in executions] == ["SUCCEEDED"]
    waited = [event for event in executions[0]["history"] if event["type"] == "WaitStateEntered"]
    assert waited and executions[0]["output"] == {"signalled": "SUCCESS"}
    assert any(e.logical_id == "Wait" and e.status == "CREATE_COMPLETE" for e in events.events)


def test_a_failure_signal_fails_the_wait_condition_with_its_reason(
    make_deployer: DeployerFactory, endpoints: Endpoints, fast_time: None
) -> None:
    deployer, events = make_deployer()
    reason = "Input data has 200 interaction records; at least 1000 are required."
    thread = upload_when_the_rule_exists(deployer, "FailStack", endpoints)
    with pytest.raises(DeployFailedError) as failure:
        deployer.deploy(
            artifact("FailStack", wait_condition_resources({"ok": False, "reason": reason}, 43200))
        )
    thread.join()
    expected = f"WaitCondition received failed message: '{reason}' for uniqueId: import"
    assert expected in str(failure.value)
    assert failure.value.final_status == "ROLLBACK_COMPLETE"
    assert any(
        e.logical_id == "Wait" and e.status == "CREATE_FAILED" and e.reason == expected for e in events.events
    )


def test_a_wait_condition_nobody_signals_times_out(make_deployer: DeployerFactory, fast_time: None) -> None:
    deployer, _ = make_deployer()
    with pytest.raises(
        DeployFailedError, match=r"WaitCondition timed out\. Received 0 conditions when expecting 1"
    ):
        deployer.deploy(artifact("TimeoutStack", wait_condition_resources({"ok": True}, 3600)))


def test_a_wait_condition_timeout_above_twelve_hours_is_refused(make_deployer: DeployerFactory) -> None:
    deployer, _ = make_deployer()
    with pytest.raises(DeployFailedError, match="Timeout 43201 is out of range; it must be 1 to 43200"):
        deployer.deploy(artifact("LongStack", wait_condition_resources({"ok": True}, 43201)))


def test_an_unsupported_state_fails_the_state_machine_resource(make_deployer: DeployerFactory) -> None:
    deployer, _ = make_deployer()
    resources = base_resources(json.dumps({"StartAt": "M", "States": {"M": {"Type": "Map", "End": True}}}))
    with pytest.raises(
        DeployFailedError, match="state 'M' has Type Map, which the local interpreter does not run"
    ):
        deployer.deploy(artifact("MapStack", resources))


def test_a_wait_condition_counts_distinct_signals_and_a_repeated_id_replaces_its_first(
    make_deployer: DeployerFactory, fast_time: None
) -> None:
    """Count 2: the second signal of id `a` replaces the first; `b` completes it; Data maps ids to data."""
    deployer, events = make_deployer()
    resources = {
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
        "Wait": {
            "Type": "AWS::CloudFormation::WaitCondition",
            "Properties": {"Handle": {"Ref": "Handle"}, "Timeout": "43200", "Count": "2"},
        },
    }

    def signal() -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = deployer.store.load("CountStack")
            if state and "Handle" in state.resources and state.resources["Handle"].physical_id:
                url = state.resources["Handle"].physical_id
                for unique_id, data in (("a", "first"), ("a", "second"), ("b", "third")):
                    body = json.dumps(
                        {"Status": "SUCCESS", "Reason": "", "UniqueId": unique_id, "Data": data}
                    )
                    request = urllib.request.Request(
                        url, data=body.encode(), method="PUT", headers={"Content-Type": ""}
                    )
                    opener.open(request).read()
                    time.sleep(0.6)  # each is seen before the next: "received 1 of 2"
                return
            time.sleep(0.05)

    thread = threading.Thread(target=signal, daemon=True)
    thread.start()
    state = deployer.deploy(artifact("CountStack", resources))
    thread.join()
    assert json.loads(state.resources["Wait"].attributes["Data"]) == {"a": "second", "b": "third"}
    assert any(e.logical_id == "Wait" and e.reason == "received 1 of 2 signals" for e in events.events)


def test_run_events_without_local_services_says_what_to_do(tmp_path: Path) -> None:
    out = io.StringIO()
    assert cli.main(["run-events", "--state-dir", str(tmp_path), "--until-idle", "1"], out=out) == 2
    assert "no local services are running; deploy first" in out.getvalue()


def test_a_time_scale_that_is_not_a_positive_number_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["run-events", "--time-scale", "0"])
    assert "expected a number > 0" in capsys.readouterr().err
