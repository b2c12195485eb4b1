"""Native resources of the event-driven import flow: state machines, EventBridge rules, S3 bucket
EventBridge notifications, SNS topics and subscriptions, and CloudFormation wait conditions.

They are created in moto's server where moto has the service (Step Functions, EventBridge, SNS, S3), so
the AWS CLI and handlers see them; what moto cannot do is done by the local flow runner
(flowrunner.py): running executions and starting them from rule matches. Each keeps CloudFormation's
Ref and Fn::GetAtt values (CloudFormation template reference, per resource type).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from lambda_handlers.personalize import domain_rules
from personalize_tools.localdeploy.errors import ResourceFailedError, TemplateError
from personalize_tools.localdeploy.eventpatterns import check_pattern
from personalize_tools.localdeploy.flowrunner import FlowRunner, FlowStore, ensure_delivery, time_scale
from personalize_tools.localdeploy.intrinsics import referenced_names
from personalize_tools.localdeploy.provider import HandlerFunction, handler_function
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
from personalize_tools.localdeploy.state import ResourceRecord, StateStore
from personalize_tools.localdeploy.stepfunctions import DefinitionError, StateMachine

STATE_MACHINE_NAME_MAX = 80
RULE_NAME_MAX = 64
TOPIC_NAME_MAX = 256
NO_SUCH_STATE_MACHINE = frozenset({"StateMachineDoesNotExist"})
WAIT_CONDITION_POLL_SECONDS = 0.5
HANDLE_URL_EXPIRY_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live
WAIT_CONDITION_BUCKET = "cloudformation-waitcondition-{region}"  # the bucket AWS's handle URLs name


def _not_emulated(properties: Mapping[str, Any], handled: set[str]) -> str:
    extra = sorted(set(properties) - handled)
    return f"not emulated: {', '.join(extra)}" if extra else ""


def _state_root(context: DeployContext) -> StateStore:
    return StateStore(context.assets.root.parent)


# --- Step Functions ----------------------------------------------------------------------------


def _definition(properties: Mapping[str, Any]) -> str:
    """DefinitionString, or Definition as JSON, with DefinitionSubstitutions applied (${key})."""
    if "DefinitionS3Location" in properties:
        raise ResourceFailedError("DefinitionS3Location is not supported locally; use DefinitionString")
    text = properties.get("DefinitionString")
    if text is None:
        text = json.dumps(properties.get("Definition", {}))
    for key, value in properties.get("DefinitionSubstitutions", {}).items():
        text = str(text).replace("${" + key + "}", str(value))
    return str(text)


def _function_ids(
    context: DeployContext, logical_id: str, wanted: set[str], where: str
) -> dict[str, HandlerFunction]:
    """The template's Lambda functions the definition invokes (by ARN or name), as the runner plays them."""
    if context.artifact is None or context.resolve is None:
        raise ResourceFailedError(f"{where}: a state machine can only be created by a deploy")
    resources = context.artifact.template.get("Resources", {})
    found: dict[str, HandlerFunction] = {}
    for function_id in sorted(referenced_names(resources[logical_id].get("Properties", {}))):
        if resources.get(function_id, {}).get("Type") != "AWS::Lambda::Function":
            continue
        arn = str(context.resolve({"Fn::GetAtt": [function_id, "Arn"]}, where))
        names = {arn, arn.rpartition(":")[2]} & wanted
        if names:
            function = handler_function(
                resources,
                function_id,
                f"{where} (Task function {function_id})",
                artifact=context.artifact,
                resolve=context.resolve,
                assets=context.assets,
            )
            found.update({name: function for name in names})
    missing = wanted - set(found)
    if missing:
        raise ResourceFailedError(
            f"{where}: Task states invoke {', '.join(sorted(missing))}, which is not a Lambda function of "
            "this stack; the local runner can only run the stack's own functions"
        )
    return found


class StepFunctionsStateMachine(ResourceType):
    """AWS::StepFunctions::StateMachine (Standard): checked by the interpreter at create, so a definition
    it cannot run fails the deploy; registered in moto so StartExecution and Describe* work."""

    HANDLED = {
        "DefinitionString",
        "Definition",
        "DefinitionSubstitutions",
        "RoleArn",
        "StateMachineName",
        "StateMachineType",
        "Tags",
    }

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        properties = operation.properties
        name = str(
            properties.get("StateMachineName")
            or context.physical_name(operation.logical_id, max_length=STATE_MACHINE_NAME_MAX)
        )
        # a killed run's machine (created before its record) is updated to the template, not made again
        existing = context.adopting(operation.logical_id, name) and exists(
            f"DescribeStateMachine {name}",
            context.client("stepfunctions").describe_state_machine,
            NO_SUCH_STATE_MACHINE,
            stateMachineArn=context.arn("states", f"stateMachine:{name}"),
        )
        return self._put(context, operation.logical_id, name, properties, existing=existing)

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        if operation.properties.get("StateMachineName") != operation.old_properties.get("StateMachineName"):
            return self.create(context, operation)
        name = operation.old.physical_id.rpartition(":")[2]
        return self._put(context, operation.logical_id, name, operation.properties, existing=True)

    def _put(
        self,
        context: DeployContext,
        logical_id: str,
        name: str,
        properties: Mapping[str, Any],
        *,
        existing: bool = False,
    ) -> Outcome:
        where = f"state machine {logical_id}"
        if properties.get("StateMachineType", "STANDARD") != "STANDARD":
            raise ResourceFailedError(f"{where}: only STANDARD state machines run locally")
        arn = context.arn("states", f"stateMachine:{name}")
        definition = _definition(properties)
        try:
            machine = StateMachine(definition, arn=arn, name=name)
        except (DefinitionError, ValueError) as error:
            raise ResourceFailedError(f"{where}: {error}") from error
        functions = _function_ids(context, logical_id, machine.lambda_functions(), where)
        client = context.client("stepfunctions")
        role = str(properties.get("RoleArn", context.arn("iam", "role/local-states", region=False)))
        if existing:
            aws_call(
                f"UpdateStateMachine {name}",
                client.update_state_machine,
                stateMachineArn=arn,
                definition=definition,
                roleArn=role,
            )
        else:
            aws_call(
                f"CreateStateMachine {name}",
                client.create_state_machine,
                name=name,
                definition=definition,
                roleArn=role,
            )
        FlowStore(_state_root(context).root).save_machine(
            arn, context.stack.stack_name, definition, functions
        )
        return Outcome(
            arn,
            {"Arn": arn, "Name": name, "StateMachineRevisionId": "INITIAL"},
            _not_emulated(properties, self.HANDLED),
        )

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        assert record.physical_id is not None
        ignore_missing(
            context.client("stepfunctions").delete_state_machine,
            NO_SUCH_STATE_MACHINE,
            stateMachineArn=record.physical_id,
        )
        FlowStore(_state_root(context).root).forget_machine(record.physical_id)


# --- EventBridge -------------------------------------------------------------------------------


class EventsRule(ResourceType):
    """AWS::Events::Rule on the default bus with an event pattern and state-machine targets.

    The rule is put into moto without its targets (moto cannot start executions); the local flow runner
    matches events against the pattern kept in the stack state and starts the targets itself.
    """

    HANDLED = {"EventPattern", "State", "Targets", "Name", "Description", "EventBusName"}
    TARGET_FIELDS = {"Arn", "Id", "RoleArn", "Input", "InputPath", "RetryPolicy", "DeadLetterConfig"}

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        name = operation.properties.get("Name") or context.physical_name(
            operation.logical_id, max_length=RULE_NAME_MAX
        )
        return self._put(context, operation.logical_id, str(name), operation.properties)

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        if operation.properties.get("Name") != operation.old_properties.get("Name"):
            return self.create(context, operation)
        return self._put(context, operation.logical_id, operation.old.physical_id, operation.properties)

    def _put(
        self, context: DeployContext, logical_id: str, name: str, properties: Mapping[str, Any]
    ) -> Outcome:
        where = f"rule {logical_id}"
        if "ScheduleExpression" in properties:
            raise ResourceFailedError(f"{where}: scheduled rules are not run locally; only event patterns")
        if properties.get("EventBusName", "default") not in ("default", None):
            raise ResourceFailedError(f"{where}: only the default event bus is emulated")
        pattern = properties.get("EventPattern", {})
        if isinstance(pattern, str):
            pattern = json.loads(pattern)
        try:
            check_pattern(pattern, where)
        except TemplateError as error:
            raise ResourceFailedError(str(error)) from error
        notes = []
        for target in properties.get("Targets", []):
            if ":states:" not in str(target.get("Arn", "")) or ":stateMachine:" not in str(target.get("Arn")):
                raise ResourceFailedError(
                    f"{where}: target {target.get('Id')} ({target.get('Arn')}) is not a state machine; "
                    "the local "
                    "runner delivers events to Step Functions targets only"
                )
            unknown = set(target) - self.TARGET_FIELDS
            if unknown:
                raise ResourceFailedError(
                    f"{where}: target fields {', '.join(sorted(unknown))} are not supported locally"
                )
            notes += [
                f"{field} of target {target['Id']}"
                for field in ("RetryPolicy", "DeadLetterConfig")
                if field in target
            ]
        events = context.client("events")
        aws_call(
            f"PutRule {name}",
            events.put_rule,
            Name=name,
            EventPattern=json.dumps(pattern),
            State=properties.get("State", "ENABLED"),
            **({"Description": properties["Description"]} if "Description" in properties else {}),
        )
        note = _not_emulated(properties, self.HANDLED)
        if notes:
            note = "; ".join(filter(None, [note, "not emulated: " + ", ".join(notes)]))
        return Outcome(name, {"Arn": context.arn("events", f"rule/{name}")}, note)

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        assert record.physical_id is not None
        ignore_missing(
            context.client("events").delete_rule,
            frozenset({"ResourceNotFoundException"}),
            Name=record.physical_id,
        )


class BucketNotifications(ResourceType):
    """Custom::S3BucketNotifications (CDK's BucketNotificationsHandler): the bucket's notification
    configuration, which CDK replaces as a whole for a bucket it manages. Locally only the EventBridge
    configuration has an effect: moto's S3 then sends its events to moto's EventBridge."""

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        return self._put(context, operation)

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        return self._put(context, operation)

    def _put(self, context: DeployContext, operation: Operation) -> Outcome:
        properties = operation.properties
        bucket = str(properties["BucketName"])
        configuration = dict(properties.get("NotificationConfiguration", {}))
        other = sorted(key for key in configuration if key != "EventBridgeConfiguration")
        if other:
            raise ResourceFailedError(
                f"notifications of bucket {bucket}: {', '.join(other)} cannot be delivered locally; only "
                "EventBridgeConfiguration is emulated"
            )
        if "EventBridgeConfiguration" in configuration:
            ensure_delivery(context.endpoints)
        aws_call(
            f"PutBucketNotificationConfiguration {bucket}",
            context.client("s3").put_bucket_notification_configuration,
            Bucket=bucket,
            NotificationConfiguration=configuration,
            **(
                {"SkipDestinationValidation": True}
                if properties.get("SkipDestinationValidation") in ("true", True)
                else {}
            ),
        )
        physical_id = (
            operation.old.physical_id
            if operation.old and operation.old.physical_id
            else f"{bucket}-notifications"
        )
        return Outcome(physical_id)

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        ignore_missing(
            context.client("s3").put_bucket_notification_configuration,
            frozenset({"NoSuchBucket"}),
            Bucket=str(record.properties["BucketName"]),
            NotificationConfiguration={},
        )


# --- SNS ---------------------------------------------------------------------------------------


class SnsTopic(ResourceType):
    """AWS::SNS::Topic in moto (Ref: the topic ARN) with its KMS key, display name, tags, subscriptions."""

    ATTRIBUTES = {
        "KmsMasterKeyId": "KmsMasterKeyId",
        "DisplayName": "DisplayName",
        "FifoTopic": "FifoTopic",
        "ContentBasedDeduplication": "ContentBasedDeduplication",
    }
    HANDLED = {*ATTRIBUTES, "TopicName", "Tags", "Subscription"}

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        properties = operation.properties
        name = properties.get("TopicName") or context.physical_name(
            operation.logical_id, max_length=TOPIC_NAME_MAX
        )
        attributes = {
            target: str(properties[source]).lower()
            if isinstance(properties[source], bool)
            else str(properties[source])
            for source, target in self.ATTRIBUTES.items()
            if source in properties
        }
        arn = aws_call(
            f"CreateTopic {name}",
            context.client("sns").create_topic,
            Name=str(name),
            Attributes=attributes,
            **({"Tags": properties["Tags"]} if properties.get("Tags") else {}),
        )["TopicArn"]
        for subscription in properties.get("Subscription", []):
            aws_call(
                f"Subscribe {arn}",
                context.client("sns").subscribe,
                TopicArn=arn,
                Protocol=subscription["Protocol"],
                Endpoint=subscription["Endpoint"],
            )
        return Outcome(
            arn, {"TopicArn": arn, "TopicName": str(name)}, _not_emulated(properties, self.HANDLED)
        )

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        if operation.properties.get("TopicName") != operation.old_properties.get("TopicName"):
            return self.create(context, operation)
        arn = operation.old.physical_id
        for source, target in self.ATTRIBUTES.items():
            if source in operation.properties and operation.properties[
                source
            ] != operation.old_properties.get(source):
                aws_call(
                    f"SetTopicAttributes {arn}",
                    context.client("sns").set_topic_attributes,
                    TopicArn=arn,
                    AttributeName=target,
                    AttributeValue=str(operation.properties[source]),
                )
        return Outcome(arn, dict(operation.old.attributes), _not_emulated(operation.properties, self.HANDLED))

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        ignore_missing(
            context.client("sns").delete_topic, frozenset({"NotFound"}), TopicArn=record.physical_id
        )


class SnsTopicPolicy(ResourceType):
    """AWS::SNS::TopicPolicy: the Policy attribute of each topic (moto stores it; it does not enforce it)."""

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        self._put(context, operation.properties)
        return Outcome(
            operation.old.physical_id
            if operation.old and operation.old.physical_id
            else context.physical_name(operation.logical_id, max_length=TOPIC_NAME_MAX)
        )

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        return self.create(context, operation)

    @staticmethod
    def _put(context: DeployContext, properties: Mapping[str, Any]) -> None:
        document = properties["PolicyDocument"]
        for topic in properties.get("Topics", []):
            aws_call(
                f"SetTopicAttributes {topic}",
                context.client("sns").set_topic_attributes,
                TopicArn=topic,
                AttributeName="Policy",
                AttributeValue=document if isinstance(document, str) else json.dumps(document),
            )

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        return None  # the topic's policy goes with the topic; moto has no "default policy" to restore


class SnsSubscription(ResourceType):
    """AWS::SNS::Subscription (Ref: the subscription ARN)."""

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        properties = operation.properties
        arn = aws_call(
            f"Subscribe {properties['TopicArn']}",
            context.client("sns").subscribe,
            TopicArn=properties["TopicArn"],
            Protocol=properties["Protocol"],
            Endpoint=properties.get("Endpoint", ""),
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Outcome(arn, {}, _not_emulated(properties, {"TopicArn", "Protocol", "Endpoint", "Region"}))

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        return self.create(context, operation)  # every property of a subscription replaces it

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        ignore_missing(
            context.client("sns").unsubscribe, frozenset({"NotFound"}), SubscriptionArn=record.physical_id
        )


# --- wait conditions ---------------------------------------------------------------------------


def _handle_location(url: str) -> tuple[str, str]:
    """(bucket, key) of a handle URL in moto's path style: http://HOST/BUCKET/KEY?signature."""
    path = urllib.parse.urlsplit(url).path.lstrip("/")
    bucket, _, key = path.partition("/")
    return bucket, urllib.parse.unquote(key)


class WaitConditionHandle(ResourceType):
    """AWS::CloudFormation::WaitConditionHandle: Ref is a presigned S3 URL, as in AWS; a signal is a PUT
    of a JSON document to it. The bucket is versioned, so every signal PUT stays readable."""

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        s3 = context.client("s3")
        bucket = WAIT_CONDITION_BUCKET.format(region=context.stack.region)
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            aws_call(f"CreateBucket {bucket}", s3.create_bucket, Bucket=bucket)
            aws_call(
                f"PutBucketVersioning {bucket}",
                s3.put_bucket_versioning,
                Bucket=bucket,
                VersioningConfiguration={"Status": "Enabled"},
            )
        key = f"{context.stack.stack_id}/{operation.logical_id}"
        url = s3.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=HANDLE_URL_EXPIRY_SECONDS
        )
        return Outcome(str(url))

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        return Outcome(operation.old.physical_id, note="updates aren't supported for this resource")

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        assert record.physical_id is not None
        bucket, key = _handle_location(record.physical_id)
        s3 = context.client("s3")
        try:
            versions = s3.list_object_versions(Bucket=bucket, Prefix=key)
        except ClientError as error:
            if error_code(error) == "NoSuchBucket":
                return
            raise
        objects = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]
        ]
        if objects:
            aws_call(f"DeleteObjects {bucket}", s3.delete_objects, Bucket=bucket, Delete={"Objects": objects})


def read_signals(context: DeployContext, handle_url: str) -> dict[str, dict[str, Any]]:
    """The signals PUT to a handle so far, by UniqueId (a later signal with the same id replaces it)."""
    bucket, key = _handle_location(handle_url)
    s3 = context.client("s3")
    versions = aws_call(f"ListObjectVersions {bucket}", s3.list_object_versions, Bucket=bucket, Prefix=key)
    signals: dict[str, dict[str, Any]] = {}
    # ListObjectVersions lists a key's versions newest first, and LastModified has whole seconds: two
    # signals in one second tie, so the listing's order, reversed, decides (oldest first, the last one wins).
    oldest_first = list(reversed(versions.get("Versions", [])))
    for version in sorted(oldest_first, key=lambda item: item["LastModified"]):
        if version["Key"] != key:
            continue
        body = s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
        try:
            signal = json.loads(body)
        except ValueError:
            hint = (
                " (empty: send the PUT with an empty Content-Type, as the presigned URL requires; moto drops "
                "a form-encoded body)"
                if not body
                else ""
            )
            signal = {
                "Status": "FAILURE",
                "Reason": f"signal is not JSON: {body[:200]!r}{hint}",
                "UniqueId": "?",
            }
        signals[str(signal.get("UniqueId", ""))] = signal
    return signals


class WaitCondition(ResourceType):
    """AWS::CloudFormation::WaitCondition: waits for Count SUCCESS signals on its handle within Timeout
    (CloudFormation user guide, "Create wait conditions in a CloudFormation template"); a FAILURE signal
    or the timeout fails it. Timeout runs on the local time scale (PERSONALIZE_LOCAL_TIME_SCALE), and
    while it waits the flow runner delivers events and runs executions, which is what signals it."""

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        properties = operation.properties
        where = f"wait condition {operation.logical_id}"
        try:
            timeout = int(str(properties["Timeout"]))
            count = int(str(properties.get("Count", 1)))
        except (KeyError, ValueError) as error:
            raise ResourceFailedError(
                f"{where}: Timeout (seconds) and Count must be integers: {error}"
            ) from error
        if not 0 < timeout <= domain_rules.WAIT_CONDITION_MAX_SECONDS:
            raise ResourceFailedError(
                f"{where}: Timeout {timeout} is out of range; it must be 1 to "
                f"{domain_rules.WAIT_CONDITION_MAX_SECONDS} seconds"
            )
        handle = str(properties["Handle"])
        scale = time_scale()
        deadline = time.monotonic() + timeout * scale
        runner = FlowRunner(context.endpoints, _state_root(context), scale=scale)
        received = 0
        with runner.in_background():
            while True:
                signals = read_signals(context, handle)
                failed = [signal for signal in signals.values() if signal.get("Status") != "SUCCESS"]
                if failed:
                    signal = failed[0]
                    raise ResourceFailedError(
                        f"WaitCondition received failed message: '{signal.get('Reason', '')}' for uniqueId: "
                        f"{signal.get('UniqueId', '')}"
                    )
                if len(signals) >= count:
                    data = {unique_id: signal.get("Data", "") for unique_id, signal in signals.items()}
                    return Outcome(handle.split("?", 1)[0], {"Data": json.dumps(data)})
                if len(signals) != received:
                    received = len(signals)
                    context.progress(
                        operation.logical_id,
                        operation.resource_type,
                        "CREATE_IN_PROGRESS",
                        f"received {received} of {count} signals",
                    )
                if time.monotonic() > deadline:
                    raise ResourceFailedError(
                        f"WaitCondition timed out. Received {len(signals)} conditions when expecting {count}"
                    )
                if context.cancel.wait(WAIT_CONDITION_POLL_SECONDS):
                    raise ResourceFailedError("Resource operation cancelled")

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        return Outcome(
            operation.old.physical_id,
            dict(operation.old.attributes),
            "updates aren't supported for this resource: it is not waited on again",
        )

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        return None  # nothing exists beyond the handle's signals


FLOW_TYPES: dict[str, ResourceType] = {
    "AWS::StepFunctions::StateMachine": StepFunctionsStateMachine(),
    "AWS::Events::Rule": EventsRule(),
    "Custom::S3BucketNotifications": BucketNotifications(),
    "AWS::SNS::Topic": SnsTopic(),
    "AWS::SNS::TopicPolicy": SnsTopicPolicy(),
    "AWS::SNS::Subscription": SnsSubscription(),
    "AWS::CloudFormation::WaitConditionHandle": WaitConditionHandle(),
    "AWS::CloudFormation::WaitCondition": WaitCondition(),
}
