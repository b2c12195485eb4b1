"""The local Step Functions interpreter against hand-written ASL: paths, Choice, Retry, Catch, intrinsics."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from personalize_tools.localdeploy.stepfunctions import (
    Clock,
    DefinitionError,
    Execution,
    Interpreter,
    StateMachine,
    StatesError,
)

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:test"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:work"


class RecordingTasks:
    """Plays the task resources: answers from a script, records what each call received."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, resource: str, parameters: Any, *, state: str) -> Any:
        self.calls.append((resource, parameters))
        answer = self.answers.pop(0) if self.answers else parameters
        if isinstance(answer, StatesError):
            raise answer
        return answer


def run(
    definition: dict[str, Any], data: Any, tasks: RecordingTasks | None = None, scale: float = 0.001
) -> Execution:
    interpreter = Interpreter(StateMachine(definition, arn=ARN), tasks or RecordingTasks(), Clock(scale))
    return interpreter.run(interpreter.new_execution(data))


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": FUNCTION, "End": True, **fields}


def test_input_parameters_result_selector_result_path_output_path() -> None:
    tasks = RecordingTasks({"Payload": {"status": "ACTIVE", "noise": 1}})
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                InputPath="$.job",
                Parameters={
                    "name.$": "$.name",
                    "fixed": "x",
                    "exec.$": "$$.Execution.Name",
                    "list": [{"a.$": "$.n"}],
                },
                ResultSelector={"status.$": "$.Payload.status"},
                ResultPath="$.result",
                OutputPath="$.result",
            )
        },
    }
    interpreter = Interpreter(StateMachine(definition, arn=ARN), tasks, Clock(0.001))
    done = interpreter.run(interpreter.new_execution({"job": {"name": "j1", "n": 3}}, name="exec-1"))
    assert tasks.calls == [(FUNCTION, {"name": "j1", "fixed": "x", "exec": "exec-1", "list": [{"a": 3}]})]
    assert (done.status, done.output) == ("SUCCEEDED", {"status": "ACTIVE"})


def test_result_path_null_keeps_the_input_and_nested_result_path_creates_objects() -> None:
    definition = {
        "StartAt": "Keep",
        "States": {
            "Keep": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": None, "Next": "Nest"},
            "Nest": {"Type": "Pass", "Result": "r", "ResultPath": "$.a.b", "End": True},
        },
    }
    assert run(definition, {"in": 1}).output == {"in": 1, "a": {"b": "r"}}


def test_missing_input_path_fails_the_execution_with_states_runtime() -> None:
    execution = run(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.nope", "End": True}}}, {}
    )
    assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
    assert "$.nope" in (execution.cause or "")


CHOICE_CASES = [
    ({"Variable": "$.s", "StringEquals": "a"}, {"s": "a"}, True),
    ({"Variable": "$.s", "StringEquals": "a"}, {"s": 1}, False),  # another type does not match, no error
    ({"Variable": "$.s", "StringMatches": "incoming/*.csv"}, {"s": "incoming/x/y.csv"}, True),
    ({"Variable": "$.s", "StringMatches": "a\\*"}, {"s": "ab"}, False),
    ({"Variable": "$.n", "NumericGreaterThanEquals": 5}, {"n": 5}, True),
    ({"Variable": "$.n", "NumericLessThanPath": "$.m"}, {"n": 1, "m": 2}, True),
    ({"Variable": "$.b", "BooleanEquals": False}, {"b": False}, True),
    ({"Variable": "$.t", "TimestampLessThan": "2026-12-02T00:00:00Z"}, {"t": "2026-12-01T23:59:59Z"}, True),
    ({"Variable": "$.x", "IsPresent": False}, {}, True),
    ({"Variable": "$.x", "IsNull": True}, {"x": None}, True),
    ({"Variable": "$.x", "IsNumeric": True}, {"x": True}, False),
    (
        {"And": [{"Variable": "$.n", "NumericEquals": 1}, {"Not": {"Variable": "$.s", "StringEquals": "b"}}]},
        {"n": 1, "s": "a"},
        True,
    ),
    (
        {"Or": [{"Variable": "$.n", "NumericEquals": 2}, {"Variable": "$.s", "StringEquals": "b"}]},
        {"n": 1, "s": "a"},
        False,
    ),
]


@pytest.mark.parametrize(("rule", "data", "matches"), CHOICE_CASES)
def test_choice_operators(rule: dict[str, Any], data: dict[str, Any], matches: bool) -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": "yes", "End": True},
            "No": {"Type": "Pass", "Result": "no", "End": True},
        },
    }
    assert run(definition, data).output == ("yes" if matches else "no")


def test_no_choice_matched_without_default() -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x", "Next": "E"}]},
            "E": {"Type": "Succeed"},
        },
    }
    assert run(definition, {"a": "y"}).error == "States.NoChoiceMatched"


def test_retry_backoff_delays_and_success_after_retries() -> None:
    tasks = RecordingTasks(StatesError("Busy"), StatesError("Busy"), StatesError("Busy"), {"ok": True})
    definition = {
        "StartAt": "T",
        "States": {
            "T": task(
                Retry=[
                    {"ErrorEquals": ["Other"], "MaxAttempts": 9},
                    {
                        "ErrorEquals": ["Busy"],
                        "IntervalSeconds": 2,
                        "BackoffRate": 3,
                        "MaxAttempts": 3,
                        "MaxDelaySeconds": 10,
                    },
                ]
            )
        },
    }
    execution = run(definition, {}, tasks)
    assert execution.status == "SUCCEEDED" and execution.output == {"ok": True}
    assert [event.detail["delay"] for event in execution.history if event.type == "Retry"] == [2.0, 6.0, 10.0]


def test_retries_exhausted_then_caught_with_error_output() -> None:
    tasks = RecordingTasks(*[StatesError("Lambda.ServiceException", "boom")] * 3)
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                **task(),
                "End": False,
                "Next": "Done",
                "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}],
            },
            "Done": {"Type": "Succeed"},
            "Handled": {"Type": "Pass", "End": True},
        },
    }
    execution = run(definition, {"in": 1}, tasks)
    assert len(tasks.calls) == 3
    assert execution.output == {"in": 1, "error": {"Error": "Lambda.ServiceException", "Cause": "boom"}}


def test_states_all_does_not_catch_runtime_errors() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {**task(OutputPath="$.missing"), "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]},
            "H": {"Type": "Succeed"},
        },
    }
    assert run(definition, {}, RecordingTasks({"a": 1})).error == "States.Runtime"


def test_fail_state_with_paths() -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}}}
    execution = run(definition, {"e": "ImportFailed", "c": "Input data has 200 records"})
    assert (execution.status, execution.error, execution.cause) == (
        "FAILED",
        "ImportFailed",
        "Input data has 200 records",
    )


def test_intrinsics() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Pass",
                "Parameters": {
                    "text.$": "States.Format('s3://{}/{} \\{x\\}', $.bucket, $.key)",
                    "parsed.$": "States.StringToJson($.json)",
                    "back.$": "States.JsonToString($.obj)",
                    "second.$": "States.ArrayGetItem(States.Array('a', 'b', 3), 1)",
                    "length.$": "States.ArrayLength($.list)",
                    "sum.$": "States.MathAdd($.n, -1)",
                    "split.$": "States.StringSplit('a/b//c', '/')",
                    "contains.$": "States.ArrayContains($.list, 2)",
                    "unique.$": "States.ArrayUnique(States.Array(1, 1, 2))",
                    "encoded.$": "States.Base64Encode('hi')",
                    "decoded.$": "States.Base64Decode('aGk=')",
                    "hash.$": "States.Hash('abc', 'SHA-256')",
                    "uuid.$": "States.UUID()",
                },
                "End": True,
            }
        },
    }
    data = {
        "bucket": "b",
        "key": "incoming/x.csv",
        "json": '{"a": [1]}',
        "obj": {"k": "v"},
        "list": [1, 2],
        "n": 5,
    }
    output = run(definition, data).output
    assert len(output.pop("uuid")) == 36
    assert output == {
        "contains": True,
        "unique": [1, 2],
        "encoded": "aGk=",
        "decoded": "hi",
        "hash": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "text": "s3://b/incoming/x.csv {x}",
        "parsed": {"a": [1]},
        "back": '{"k":"v"}',
        "second": "b",
        "length": 2,
        "sum": 4,
        "split": ["a", "b", "c"],
    }


def test_intrinsic_failure_is_catchable() -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "States.StringToJson($.s)"}, "End": True}},
    }
    assert run(definition, {"s": "{not json"}).error == "States.IntrinsicFailure"


def test_wait_seconds_path_and_timestamp_follow_the_time_scale() -> None:
    """12 h by SecondsPath, then until a timestamp 24 h away: 24 virtual hours, a second of real time."""
    later = (datetime.now(UTC) + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    definition = {
        "StartAt": "W1",
        "States": {
            "W1": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "W2"},
            "W2": {"Type": "Wait", "TimestampPath": "$.until", "End": True},
        },
    }
    execution = run(definition, {"seconds": 43200, "until": later}, scale=1 / 86400)
    assert execution.status == "SUCCEEDED" and execution.output == {"seconds": 43200, "until": later}
    assert execution.stop_time is not None
    virtual_seconds = (execution.stop_time - execution.start_time).total_seconds()
    assert 86400 - 60 <= virtual_seconds < 86400 * 1.5


def test_execution_timeout_ends_a_long_wait_timed_out() -> None:
    definition = {
        "TimeoutSeconds": 60,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }
    execution = run(definition, {}, scale=0.001)
    assert (execution.status, execution.error) == ("TIMED_OUT", "States.Timeout")


class BlockedTasks(RecordingTasks):
    """A task that answers only once released (or after a minute): longer than any TimeoutSeconds below."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def __call__(self, resource: str, parameters: Any, *, state: str) -> Any:
        if state == "Slow":
            self.release.wait(60)
        return super().__call__(resource, parameters, state=state)


def test_a_task_past_its_timeout_seconds_fails_with_states_timeout_which_task_failed_does_not_match() -> None:
    """Spec, "Task State": a Task that runs longer than TimeoutSeconds fails with States.Timeout; errors:
    States.TaskFailed matches every known error but States.Timeout. A quick task under its limit passes."""
    tasks = BlockedTasks()
    definition = {
        "StartAt": "Quick",
        "States": {
            "Quick": task(TimeoutSeconds=30, End=False, Next="Slow", ResultPath="$.quick"),
            "Slow": task(
                TimeoutSeconds=1,
                End=False,
                Next="Done",
                Retry=[{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 3}],
                Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Done"}],
            ),
            "Done": {"Type": "Succeed"},
        },
    }
    started = time.monotonic()
    try:
        execution = run(definition, {"n": 1}, tasks)
        elapsed = time.monotonic() - started
    finally:
        tasks.release.set()
    assert execution.status == "SUCCEEDED"
    assert execution.output["quick"] == {"n": 1}
    assert execution.output["error"]["Error"] == "States.Timeout"
    assert "TimeoutSeconds (1)" in execution.output["error"]["Cause"]
    assert [event.type for event in execution.history if event.state == "Slow"].count("TaskTimedOut") == 1
    assert not any(event.type == "Retry" for event in execution.history)  # TaskFailed does not match it
    assert 1 <= elapsed < 30  # the state stopped waiting at its timeout, not when the work ended


def test_an_uncaught_task_timeout_fails_the_execution() -> None:
    tasks = BlockedTasks()
    try:
        execution = run({"StartAt": "Slow", "States": {"Slow": task(TimeoutSeconds=1)}}, {}, tasks)
    finally:
        tasks.release.set()
    assert (execution.status, execution.error) == ("FAILED", "States.Timeout")


@pytest.mark.parametrize("timeout", [0, -5, 1.5, "60", True])
def test_a_task_timeout_must_be_a_positive_integer(timeout: Any) -> None:
    with pytest.raises(DefinitionError, match=r"TimeoutSeconds is .* a positive integer"):
        StateMachine({"StartAt": "T", "States": {"T": task(TimeoutSeconds=timeout)}}, arn=ARN)


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"StartAt": "M", "States": {"M": {"Type": "Map", "End": True}}}, "Type Map"),
        ({"StartAt": "T", "States": {"T": task(Resource="arn:aws:states:::glue:startJobRun.sync")}}, "glue"),
        (
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$..a", "End": True}}},
            "reference paths",
        ),
        (
            {
                "StartAt": "P",
                "States": {"P": {"Type": "Pass", "Parameters": {"a.$": "States.Nope(1)"}, "End": True}},
            },
            "States.Nope",
        ),
        (
            {
                "StartAt": "C",
                "States": {
                    "C": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.a", "StringContains": "x", "Next": "C"}],
                    }
                },
            },
            "StringContains",
        ),
        ({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Q"}}}, "'Q' that does not exist"),
        ({"StartAt": "T", "States": {"T": task(HeartbeatSeconds=60)}}, "HeartbeatSeconds"),
        (
            {
                "StartAt": "T",
                "States": {"T": task(Resource="arn:aws:states:::sqs:sendMessage.waitForTaskToken")},
            },
            "sqs",
        ),
        (
            {"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            "JSONata",
        ),
    ],
)
def test_unsupported_definitions_are_refused_before_running(definition: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        StateMachine(definition, arn=ARN)


def test_time_scale_must_be_positive() -> None:
    with pytest.raises(DefinitionError, match="time scale"):
        Clock(0)
