"""A Step Functions interpreter for the local deployer: the subset of the Amazon States Language the
event-driven import flow uses, executed state by state, with waits on a scalable clock.

Semantics follow the Amazon States Language specification (https://states-language.net/spec.html) and
the Step Functions developer guide (https://docs.aws.amazon.com/step-functions/latest/dg/): input and
output processing (InputPath → Parameters → task → ResultSelector → ResultPath → OutputPath), Choice
rules, Retry/Catch with backoff, the intrinsic functions. Anything outside the subset (Parallel, Map,
JSONata, `.sync` or `.waitForTaskToken` integrations, JSONPath filters) is refused with a message naming
the state and the field when the definition is loaded, before any execution starts: a lenient
interpreter would rehearse a flow that AWS runs differently.

Task resources are pluggable (`TaskRunner`): the local deployer runs Lambda functions in its worker
processes and sends SNS and EventBridge calls to moto (see `flows.py`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from personalize_tools.localdeploy.errors import LocalDeployError

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SNS_PUBLISH = "arn:aws:states:::sns:publish"
EVENTS_PUT_EVENTS = "arn:aws:states:::events:putEvents"
SUPPORTED_STATE_TYPES = frozenset({"Task", "Wait", "Choice", "Pass", "Succeed", "Fail"})
# Errors Step Functions itself raises (developer guide, "Error handling in Step Functions").
ALL_ERRORS = "States.ALL"
TASK_FAILED = "States.TaskFailed"
RUNTIME = "States.Runtime"
TIMEOUT = "States.Timeout"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
# Runtime errors end the execution: States.ALL does not match them (developer guide, error names).
UNCATCHABLE = frozenset({RUNTIME, "States.DataLimitExceeded"})
RETRY_DEFAULTS = {"IntervalSeconds": 1.0, "MaxAttempts": 3, "BackoffRate": 2.0}
TIME_SCALE_VARIABLE = "PERSONALIZE_LOCAL_TIME_SCALE"
TIMESTAMP_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class DefinitionError(LocalDeployError):
    """The state machine uses something this interpreter does not run; raised before any execution."""


class StatesError(Exception):
    """An error inside an execution, with Step Functions' error name and cause (Retry/Catch match it)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class ExecutionTimeoutError(StatesError):
    """The execution's own TimeoutSeconds passed: it ends TIMED_OUT and no Catch sees it."""


class TaskRunner(Protocol):
    """Runs one Task state's resource with its effective parameters; raises StatesError on failure."""

    def __call__(self, resource: str, parameters: Any, *, state: str) -> Any: ...


# --- time --------------------------------------------------------------------------------------


class Clock:
    """Virtual time: `scale` real seconds pass per virtual second, so a 12-hour wait can take a second.

    `now()` runs at the same scaled pace, so Wait states with a Timestamp and execution timeouts agree
    with waits given in seconds. Sleeping stops early when `cancel` is set.
    """

    def __init__(self, scale: float = 1.0, cancel: threading.Event | None = None) -> None:
        if not math.isfinite(scale) or scale <= 0:
            raise DefinitionError(f"time scale {scale} is not allowed; use a number > 0 (1 is real time)")
        self.scale = scale
        self.cancel = cancel or threading.Event()
        self._real_start = time.monotonic()
        self._wall_start = datetime.now(UTC)

    def now(self) -> datetime:
        return self._wall_start + timedelta(seconds=(time.monotonic() - self._real_start) / self.scale)

    def sleep(self, seconds: float) -> None:
        if seconds > 0 and self.cancel.wait(seconds * self.scale):
            raise StatesError("States.Cancelled", "the local runner is stopping")


# --- paths -------------------------------------------------------------------------------------

_PATH_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")


def parse_path(path: str, where: str) -> list[str | int]:
    """A Reference Path (spec: "Reference Paths"): `$`, `.field`, `['field']`, `[index]`; nothing else."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise DefinitionError(f"{where}: {path!r} is not a path; a path starts with $")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _PATH_STEP.match(path, position)
        if match is None:
            raise DefinitionError(
                f"{where}: path {path!r} uses {path[position:]!r}; the local interpreter supports "
                "reference paths only ($.field, $['field'], $.list[0])"
            )
        name, quoted, index = match.groups()
        steps.append(int(index) if index is not None else (name if name is not None else quoted))
        position = match.end()
    return steps


def read_path(data: Any, path: str, where: str) -> Any:
    """The value at `path`; a missing field is States.Runtime, as in Step Functions."""
    value = data
    for step in parse_path(path, where):
        in_list = isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value)
        in_object = isinstance(step, str) and isinstance(value, dict) and step in value
        if not (in_list or in_object):
            raise StatesError(RUNTIME, f"{where}: the path {path!r} could not be found in the input")
        value = value[step]
    return value


def path_exists(data: Any, path: str, where: str) -> bool:
    try:
        read_path(data, path, where)
    except StatesError:
        return False
    return True


def write_path(data: Any, path: str, value: Any, where: str) -> Any:
    """`data` with `value` placed at `path` (ResultPath): missing objects on the way are created."""
    steps = parse_path(path, where)
    if not steps:
        return value
    root = json.loads(json.dumps(data))
    if not isinstance(root, dict):
        raise StatesError(
            RESULT_PATH_MATCH_FAILURE, f"{where}: ResultPath {path!r} cannot be applied to a non-object input"
        )
    target = root
    for step in steps[:-1]:
        if not isinstance(step, str) or not isinstance(target, dict):
            raise StatesError(
                RESULT_PATH_MATCH_FAILURE, f"{where}: ResultPath {path!r} does not fit the input"
            )
        nested = target.setdefault(step, {})
        if not isinstance(nested, dict):
            raise StatesError(
                RESULT_PATH_MATCH_FAILURE, f"{where}: ResultPath {path!r} crosses a non-object value"
            )
        target = nested
    last = steps[-1]
    if not isinstance(last, str):
        raise StatesError(RESULT_PATH_MATCH_FAILURE, f"{where}: ResultPath {path!r} ends in a list index")
    target[last] = value
    return root


# --- intrinsic functions -----------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<function>States\.[A-Za-z0-9]+)\(|(?P<path>\$\$?(?:\.[\w$-]+|\['(?:[^'\\]|\\.)*'\]|\[\d+\])*)"
    r"|(?P<literal>null|true|false)|(?P<close>\))|(?P<comma>,))"
)
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class _Call:
    name: str
    arguments: list[Any]


@dataclass(frozen=True)
class _PathArgument:
    path: str


def parse_intrinsic(text: str, where: str) -> _Call:
    """`States.Name(arg, ...)` with string, number, null/boolean, path and nested-call arguments."""
    position = 0

    def token() -> re.Match[str]:
        nonlocal position
        match = _TOKEN.match(text, position)
        if match is None:
            raise DefinitionError(f"{where}: cannot parse intrinsic function {text!r} at {text[position:]!r}")
        position = match.end()
        return match

    def call(name: str) -> _Call:
        arguments: list[Any] = []
        while True:
            match = token()
            if match["close"] is not None and not arguments:
                return _Call(name, arguments)
            if match["string"] is not None:
                arguments.append(_ESCAPE.sub(r"\1", match["string"][1:-1]))
            elif match["number"] is not None:
                number = float(match["number"])
                arguments.append(
                    int(number) if number.is_integer() and "." not in match["number"] else number
                )
            elif match["literal"] is not None:
                arguments.append({"null": None, "true": True, "false": False}[match["literal"]])
            elif match["path"] is not None:
                arguments.append(_PathArgument(match["path"]))
            elif match["function"] is not None:
                arguments.append(call(match["function"]))
            else:
                raise DefinitionError(f"{where}: unexpected {match[0]!r} in intrinsic function {text!r}")
            separator = token()
            if separator["close"] is not None:
                return _Call(name, arguments)
            if separator["comma"] is None:
                raise DefinitionError(f"{where}: expected , or ) in intrinsic function {text!r}")

    first = token()
    if first["function"] is None:
        raise DefinitionError(f"{where}: {text!r} is not an intrinsic function call")
    parsed = call(first["function"])
    if text[position:].strip():
        raise DefinitionError(f"{where}: text after the intrinsic function call in {text!r}")
    unknown = _unknown_functions(parsed)
    if unknown:
        raise DefinitionError(
            f"{where}: intrinsic function {unknown} is not supported locally; supported: "
            + ", ".join(sorted(INTRINSICS))
        )
    return parsed


def _unknown_functions(call: _Call) -> str | None:
    if call.name not in INTRINSICS:
        return call.name
    for argument in call.arguments:
        if isinstance(argument, _Call) and (unknown := _unknown_functions(argument)):
            return unknown
    return None


def _format(template: str, *values: Any) -> str:
    pieces = re.split(r"(?<!\\)\{\}", template)
    if len(pieces) - 1 != len(values):
        raise StatesError(
            INTRINSIC_FAILURE, f"States.Format: {len(pieces) - 1} placeholders but {len(values)} values"
        )
    rendered = [
        piece.replace("\\{", "{").replace("\\}", "}") for piece in pieces
    ]  # spec: \{ \} are literal braces
    out = rendered[0]
    for value, piece in zip(values, rendered[1:], strict=True):
        if isinstance(value, dict | list):
            raise StatesError(INTRINSIC_FAILURE, "States.Format: arguments must be strings, numbers or null")
        out += ("null" if value is None else _scalar_text(value)) + piece
    return out


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _array_get_item(array: Any, index: Any) -> Any:
    if not isinstance(array, list) or not isinstance(index, int) or not 0 <= index < len(array):
        raise StatesError(INTRINSIC_FAILURE, f"States.ArrayGetItem: index {index!r} is out of bounds")
    return array[index]


def _string_to_json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as error:
        raise StatesError(
            INTRINSIC_FAILURE, f"States.StringToJson: {text!r} is not JSON ({error})"
        ) from error


def _hash(text: Any, algorithm: Any) -> str:
    algorithms = {
        "MD5": "md5",
        "SHA-1": "sha1",
        "SHA-256": "sha256",
        "SHA-384": "sha384",
        "SHA-512": "sha512",
    }
    if algorithm not in algorithms:
        raise StatesError(
            INTRINSIC_FAILURE, f"States.Hash: algorithm {algorithm!r} is not one of {list(algorithms)}"
        )
    return hashlib.new(algorithms[algorithm], str(text).encode()).hexdigest()


INTRINSICS: dict[str, Callable[..., Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": lambda value: json.dumps(value, separators=(",", ":")),
    "States.Array": lambda *values: list(values),
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": len,
    "States.ArrayContains": lambda array, value: value in array,
    "States.ArrayUnique": lambda array: [v for i, v in enumerate(array) if v not in array[:i]],
    "States.StringSplit": lambda text, separators: [
        p for p in re.split("|".join(map(re.escape, separators)), text) if p
    ],
    "States.MathAdd": lambda left, right: left + right,
    "States.Base64Encode": lambda text: base64.b64encode(str(text).encode()).decode(),
    "States.Base64Decode": lambda text: base64.b64decode(str(text)).decode(),
    "States.Hash": _hash,
    "States.UUID": lambda: str(uuid.uuid4()),
}


def evaluate_intrinsic(call: _Call, data: Any, context: Any, where: str) -> Any:
    arguments = []
    for argument in call.arguments:
        if isinstance(argument, _Call):
            arguments.append(evaluate_intrinsic(argument, data, context, where))
        elif isinstance(argument, _PathArgument):
            source, path = (
                (context, argument.path[1:]) if argument.path.startswith("$$") else (data, argument.path)
            )
            arguments.append(read_path(source, path, where))
        else:
            arguments.append(argument)
    try:
        return INTRINSICS[call.name](*arguments)
    except StatesError:
        raise
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise StatesError(INTRINSIC_FAILURE, f"{where}: {call.name}: {error}") from error


# --- payload templates (Parameters, ResultSelector) --------------------------------------------


def check_template(template: Any, where: str) -> None:
    """Every `key.$` value of a payload template is a path or a supported intrinsic call."""
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise DefinitionError(
                        f"{where}.{key}: a .$ field takes a path or intrinsic, got {value!r}"
                    )
                if value.startswith("States."):
                    parse_intrinsic(value, f"{where}.{key}")
                else:
                    parse_path(value[1:] if value.startswith("$$") else value, f"{where}.{key}")
            else:
                check_template(value, f"{where}.{key}")
    elif isinstance(template, list):
        for index, item in enumerate(template):
            check_template(item, f"{where}[{index}]")


def apply_template(template: Any, data: Any, context: Any, where: str) -> Any:
    """A payload template (spec: "Payload Template"): `key.$` fields take a path's value or an intrinsic."""
    if isinstance(template, dict):
        result: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                name = key[:-2]
                if value.startswith("States."):
                    result[name] = evaluate_intrinsic(parse_intrinsic(value, where), data, context, where)
                elif value.startswith("$$"):
                    result[name] = _parameter_path(context, value[1:], where)
                else:
                    result[name] = _parameter_path(data, value, where)
            else:
                result[key] = apply_template(value, data, context, where)
        return result
    if isinstance(template, list):
        return [apply_template(item, data, context, where) for item in template]
    return template


def _parameter_path(data: Any, path: str, where: str) -> Any:
    try:
        return read_path(data, path, where)
    except StatesError as error:
        raise StatesError(PARAMETER_PATH_FAILURE, error.cause) from error


# --- Choice rules ------------------------------------------------------------------------------


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not TIMESTAMP_PATTERN.match(value):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _string_matches(value: str, pattern: str) -> bool:
    """`*` matches any run of characters; `\\*` and `\\\\` are literal (spec: StringMatches)."""
    regex = "".join(
        ".*" if part == "*" else re.escape(part[1:] if part.startswith("\\") else part)
        for part in re.findall(r"\\.|\*|[^\\*]+", pattern)
    )
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


_COMPARISONS: dict[str, tuple[Callable[[Any], Any], Callable[[Any, Any], bool]]] = {}
for _prefix, _convert in (
    ("String", lambda v: v if isinstance(v, str) else None),
    ("Numeric", lambda v: v if _is_number(v) else None),
    ("Timestamp", _timestamp),
):
    for _suffix, _compare in (
        ("Equals", lambda a, b: a == b),
        ("LessThan", lambda a, b: a < b),
        ("GreaterThan", lambda a, b: a > b),
        ("LessThanEquals", lambda a, b: a <= b),
        ("GreaterThanEquals", lambda a, b: a >= b),
    ):
        _COMPARISONS[_prefix + _suffix] = (_convert, _compare)
_COMPARISONS["BooleanEquals"] = (lambda v: v if isinstance(v, bool) else None, lambda a, b: a == b)
_COMPARISONS["StringMatches"] = (lambda v: v if isinstance(v, str) else None, _string_matches)
_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: _timestamp(v) is not None,
}
CHOICE_OPERATORS = frozenset(
    {
        *_COMPARISONS,
        *(f"{name}Path" for name in _COMPARISONS if name != "StringMatches"),
        *_TYPE_TESTS,
        "IsPresent",
    }
)


def check_rule(rule: Any, where: str, *, top: bool) -> None:
    if not isinstance(rule, dict):
        raise DefinitionError(f"{where}: a choice rule must be an object")
    if top and "Next" not in rule:
        raise DefinitionError(f"{where}: a top-level choice rule needs Next")
    for combinator in ("And", "Or"):
        if combinator in rule:
            for index, inner in enumerate(rule[combinator]):
                check_rule(inner, f"{where}.{combinator}[{index}]", top=False)
            return
    if "Not" in rule:
        check_rule(rule["Not"], f"{where}.Not", top=False)
        return
    operators = set(rule) - {"Variable", "Next", "Comment"}
    if "Variable" not in rule or len(operators) != 1:
        raise DefinitionError(f"{where}: a choice rule needs Variable and exactly one comparison operator")
    (operator,) = operators
    if operator not in CHOICE_OPERATORS:
        raise DefinitionError(
            f"{where}: comparison operator {operator} is not supported locally; supported: "
            + ", ".join(sorted(CHOICE_OPERATORS))
        )
    parse_path(rule["Variable"][1:] if rule["Variable"].startswith("$$") else rule["Variable"], where)


def evaluate_rule(rule: Mapping[str, Any], data: Any, context: Any, where: str) -> bool:
    if "And" in rule:
        return all(evaluate_rule(inner, data, context, where) for inner in rule["And"])
    if "Or" in rule:
        return any(evaluate_rule(inner, data, context, where) for inner in rule["Or"])
    if "Not" in rule:
        return not evaluate_rule(rule["Not"], data, context, where)

    def lookup(path: str) -> Any:
        return read_path(context, path[1:], where) if path.startswith("$$") else read_path(data, path, where)

    (operator,) = set(rule) - {"Variable", "Next", "Comment"}
    variable = rule["Variable"]
    if operator == "IsPresent":
        present = (
            path_exists(context, variable[1:], where)
            if variable.startswith("$$")
            else path_exists(data, variable, where)
        )
        return present is bool(rule[operator])
    value = lookup(variable)
    if operator in _TYPE_TESTS:
        return _TYPE_TESTS[operator](value) is bool(rule[operator])
    name, expected = operator, rule[operator]
    if operator.endswith("Path"):
        name, expected = operator[: -len("Path")], lookup(expected)
    convert, compare = _COMPARISONS[name]
    left, right = convert(value), (expected if name == "StringMatches" else convert(expected))
    # A value of another type than the operator's is not an error: the rule does not match (spec).
    return left is not None and right is not None and compare(left, right)


# --- the state machine -------------------------------------------------------------------------


@dataclass
class HistoryEvent:
    """One step of an execution, like GetExecutionHistory's events (kept for tests and the log)."""

    type: str
    state: str
    detail: dict[str, Any] = field(default_factory=dict)
    timestamp: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))


@dataclass
class Execution:
    """One execution's identity, input, outcome and history."""

    execution_arn: str
    state_machine_arn: str
    name: str
    input: Any
    start_time: datetime
    status: str = "RUNNING"
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[HistoryEvent] = field(default_factory=list)
    stop_time: datetime | None = None


class StateMachine:
    """A parsed definition, checked once (DefinitionError names the state and field that is unsupported)."""

    def __init__(self, definition: Mapping[str, Any] | str, *, arn: str, name: str | None = None) -> None:
        self.definition: dict[str, Any] = (
            json.loads(definition) if isinstance(definition, str) else dict(definition)
        )
        self.arn = arn
        self.name = name or arn.rpartition(":")[2]
        self._check()

    def _check(self) -> None:
        if self.definition.get("QueryLanguage", "JSONPath") != "JSONPath":
            raise DefinitionError(
                f"{self.name}: QueryLanguage {self.definition['QueryLanguage']} is not supported"
            )
        states = self.definition.get("States")
        if not isinstance(states, dict) or self.definition.get("StartAt") not in states:
            raise DefinitionError(
                f"{self.name}: the definition needs States and a StartAt naming one of them"
            )
        for name, state in states.items():
            where = f"{self.name}: state {name!r}"
            kind = state.get("Type")
            if kind not in SUPPORTED_STATE_TYPES:
                raise DefinitionError(
                    f"{where} has Type {kind}, which the local interpreter does not run; supported: "
                    + ", ".join(sorted(SUPPORTED_STATE_TYPES))
                )
            if state.get("QueryLanguage", "JSONPath") != "JSONPath":
                raise DefinitionError(f"{where}: QueryLanguage {state['QueryLanguage']} is not supported")
            for target in self._targets(state):
                if target not in states:
                    raise DefinitionError(f"{where} names a state {target!r} that does not exist")
            for key in ("Parameters", "ResultSelector"):
                if key in state:
                    check_template(state[key], f"{where}.{key}")
            for key in ("InputPath", "OutputPath", "ResultPath", "SecondsPath", "TimestampPath"):
                if state.get(key) is not None:
                    parse_path(state[key], f"{where}.{key}")
            if kind == "Task":
                resource = str(state.get("Resource", ""))
                if not (
                    resource in (LAMBDA_INVOKE, SNS_PUBLISH, EVENTS_PUT_EVENTS)
                    or resource.startswith("arn:aws:lambda:")
                ):
                    raise DefinitionError(
                        f"{where}: Task resource {resource!r} is not supported locally; supported: Lambda "
                        f"function ARNs, {LAMBDA_INVOKE}, {SNS_PUBLISH}, {EVENTS_PUT_EVENTS}"
                    )
                timeout = state.get("TimeoutSeconds")
                if timeout is not None and (
                    isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0
                ):
                    raise DefinitionError(
                        f"{where}: TimeoutSeconds is {timeout!r}; a Task's timeout is a positive integer"
                    )
                for field_name in (
                    "TimeoutSecondsPath",
                    "HeartbeatSeconds",
                    "HeartbeatSecondsPath",
                    "Credentials",
                ):
                    if field_name in state:
                        raise DefinitionError(f"{where}: {field_name} is not supported locally")
            if kind == "Choice":
                for index, rule in enumerate(state.get("Choices", [])):
                    check_rule(rule, f"{where}.Choices[{index}]", top=True)
            if (
                kind == "Wait"
                and sum(k in state for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath")) != 1
            ):
                raise DefinitionError(
                    f"{where}: a Wait state needs exactly one of Seconds, SecondsPath, "
                    "Timestamp, TimestampPath"
                )
            for index, retrier in enumerate(state.get("Retry", [])):
                errors = retrier.get("ErrorEquals", [])
                if ALL_ERRORS in errors and (len(errors) != 1 or index != len(state["Retry"]) - 1):
                    raise DefinitionError(
                        f"{where}.Retry[{index}]: States.ALL must appear alone in the last retrier"
                    )
                if retrier.get("JitterStrategy", "NONE") not in ("NONE", "FULL"):
                    raise DefinitionError(f"{where}.Retry[{index}]: JitterStrategy must be NONE or FULL")

    @staticmethod
    def _targets(state: Mapping[str, Any]) -> list[str]:
        targets = [state["Next"]] if "Next" in state else []
        targets += [rule["Next"] for rule in state.get("Choices", []) if "Next" in rule]
        targets += [state["Default"]] if "Default" in state else []
        targets += [catcher["Next"] for catcher in state.get("Catch", [])]
        return targets

    def lambda_functions(self) -> set[str]:
        """The function ARNs (or names) the Task states invoke, as the definition names them."""
        functions: set[str] = set()
        for state in self.definition["States"].values():
            resource = str(state.get("Resource", ""))
            if resource.startswith("arn:aws:lambda:"):
                functions.add(resource)
            elif resource == LAMBDA_INVOKE:
                name = state.get("Parameters", {}).get("FunctionName")
                if isinstance(name, str):
                    functions.add(name)
        return functions


class _Visit(NamedTuple):
    """One state being run: its execution, name and definition, its raw input and its effective input."""

    execution: Execution
    name: str
    state: Mapping[str, Any]
    raw_input: Any
    effective: Any


class Interpreter:
    """Runs executions of one state machine: one state at a time, waits on the clock."""

    def __init__(self, machine: StateMachine, tasks: TaskRunner, clock: Clock) -> None:
        self.machine = machine
        self.tasks = tasks
        self.clock = clock
        self._deadline: datetime | None = None

    def new_execution(self, execution_input: Any, name: str | None = None) -> Execution:
        name = name or str(uuid.uuid4())
        prefix = self.machine.arn.replace(":stateMachine:", ":execution:")
        return Execution(
            execution_arn=f"{prefix}:{name}",
            state_machine_arn=self.machine.arn,
            name=name,
            input=execution_input,
            start_time=self.clock.now(),
        )

    def run(self, execution: Execution) -> Execution:
        """Runs to the end; the outcome is in `execution` (SUCCEEDED, FAILED or TIMED_OUT)."""
        definition = self.machine.definition
        timeout = definition.get("TimeoutSeconds")
        self._deadline = (
            execution.start_time + timedelta(seconds=float(timeout)) if timeout is not None else None
        )
        current: str | None = definition["StartAt"]
        data = execution.input
        try:
            while current is not None:
                if self._deadline is not None and self.clock.now() >= self._deadline:
                    raise ExecutionTimeoutError(
                        TIMEOUT, f"the execution ran longer than TimeoutSeconds {timeout}"
                    )
                current, data = self._step(execution, current, data)
            execution.status, execution.output = "SUCCEEDED", data
        except StatesError as error:
            execution.status = "TIMED_OUT" if isinstance(error, ExecutionTimeoutError) else "FAILED"
            execution.error, execution.cause = error.error, error.cause
            execution.history.append(
                HistoryEvent("ExecutionFailed", current or "", {"error": error.error, "cause": error.cause})
            )
        execution.stop_time = self.clock.now()
        return execution

    def _context(self, execution: Execution, state: str, retry_count: int) -> dict[str, Any]:
        """The context object (`$$`), developer guide "Accessing execution data from the Context object"."""
        return {
            "Execution": {
                "Id": execution.execution_arn,
                "Input": execution.input,
                "Name": execution.name,
                "StartTime": execution.start_time.isoformat().replace("+00:00", "Z"),
                "RoleArn": "",
            },
            "State": {
                "Name": state,
                "EnteredTime": self.clock.now().isoformat().replace("+00:00", "Z"),
                "RetryCount": retry_count,
            },
            "StateMachine": {"Id": self.machine.arn, "Name": self.machine.name},
        }

    def _step(self, execution: Execution, name: str, raw_input: Any) -> tuple[str | None, Any]:
        """One state: returns the next state's name (None at the end) and its input."""
        state = self.machine.definition["States"][name]
        kind = state["Type"]
        where = f"state {name!r}"
        execution.history.append(HistoryEvent(f"{kind}StateEntered", name, {"input": raw_input}))
        if kind == "Fail":
            error = (
                read_path(raw_input, state["ErrorPath"], where)
                if "ErrorPath" in state
                else state.get("Error", "")
            )
            cause = (
                read_path(raw_input, state["CausePath"], where)
                if "CausePath" in state
                else state.get("Cause", "")
            )
            raise StatesError(str(error), str(cause))
        if kind == "Succeed":
            output = self._select(raw_input, state, "InputPath", where)
            return None, self._select(output, state, "OutputPath", where)
        context = self._context(execution, name, 0)
        effective = self._select(raw_input, state, "InputPath", where)
        if kind == "Choice":
            for rule in state.get("Choices", []):
                if evaluate_rule(rule, effective, context, where):
                    return rule["Next"], self._select(effective, state, "OutputPath", where)
            if "Default" in state:
                return state["Default"], self._select(effective, state, "OutputPath", where)
            raise StatesError(NO_CHOICE_MATCHED, f"{where}: no choice rule matched and there is no Default")
        try:
            output = self._work(_Visit(execution, name, state, raw_input, effective), context)
        except StatesError as error:
            catcher = self._catcher(state, error)
            if catcher is None:
                raise
            error_output = {"Error": error.error, "Cause": error.cause}
            execution.history.append(
                HistoryEvent("CaughtError", name, error_output | {"next": catcher["Next"]})
            )
            result_path = catcher.get("ResultPath", "$")
            next_input = (
                raw_input if result_path is None else write_path(raw_input, result_path, error_output, where)
            )
            return catcher["Next"], next_input
        execution.history.append(HistoryEvent(f"{kind}StateExited", name, {"output": output}))
        return (None if state.get("End") else state["Next"]), output

    def _work(self, visit: _Visit, context: dict[str, Any]) -> Any:
        """Pass, Wait and Task: the result placed with ResultPath, then OutputPath; retried per Retry."""
        attempts: dict[int, int] = {}
        while True:
            try:
                return self._attempt(visit, context)
            except StatesError as error:
                delay = self._retry_delay(visit.state, error, attempts)
                if delay is None:
                    raise
                visit.execution.history.append(
                    HistoryEvent(
                        "Retry", visit.name, {"error": error.error, "cause": error.cause, "delay": delay}
                    )
                )
                self.clock.sleep(delay)
                context = self._context(visit.execution, visit.name, sum(attempts.values()))

    def _attempt(self, visit: _Visit, context: dict[str, Any]) -> Any:
        execution, name, state, raw_input, effective = visit
        where = f"state {name!r}"
        kind = state["Type"]
        if "Parameters" in state:
            effective = apply_template(state["Parameters"], effective, context, where)
        if kind == "Pass":
            result = state.get("Result", effective)
        elif kind == "Wait":
            seconds = self._wait_seconds(state, effective, where)
            remaining = (self._deadline - self.clock.now()).total_seconds() if self._deadline else None
            if remaining is not None and seconds > remaining:  # the execution's timeout ends a long wait
                self.clock.sleep(remaining)
                raise ExecutionTimeoutError(TIMEOUT, "the execution ran longer than its TimeoutSeconds")
            self.clock.sleep(seconds)
            result = effective
        else:
            resource = str(state["Resource"])
            execution.history.append(
                HistoryEvent("TaskScheduled", name, {"resource": resource, "parameters": effective})
            )
            result = self._run_task(execution, name, state, effective)
            execution.history.append(HistoryEvent("TaskSucceeded", name, {"output": result}))
            if "ResultSelector" in state:
                result = apply_template(state["ResultSelector"], result, context, where)
        if kind == "Wait":
            output = result  # a Wait state's output is its input (after InputPath)
        else:
            result_path = state.get("ResultPath", "$")
            output = raw_input if result_path is None else write_path(raw_input, result_path, result, where)
        return self._select(output, state, "OutputPath", where)

    def _run_task(self, execution: Execution, name: str, state: Mapping[str, Any], parameters: Any) -> Any:
        """The task's resource; past the Task's TimeoutSeconds the state fails with States.Timeout (spec:
        "Task State"), which States.TaskFailed does not match. The work runs on in the background, as a
        Lambda function does after Step Functions stops waiting for it. No TimeoutSeconds: no limit (the
        developer guide, "Using timeouts to avoid stuck executions"; the spec's default of 60 s is not
        Step Functions'). Counted in real seconds: the work runs at real speed whatever the time scale."""
        resource = str(state["Resource"])
        timeout = state.get("TimeoutSeconds")
        if timeout is None:
            return self.tasks(resource, parameters, state=name)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = self.tasks(resource, parameters, state=name)
            except BaseException as error:  # handed to the execution's thread below
                outcome["error"] = error

        worker = threading.Thread(target=run, name=f"task {name}", daemon=True)
        worker.start()
        worker.join(float(timeout))
        if worker.is_alive():
            cause = f"the task ran longer than its TimeoutSeconds ({timeout})"
            execution.history.append(HistoryEvent("TaskTimedOut", name, {"error": TIMEOUT, "cause": cause}))
            raise StatesError(TIMEOUT, cause)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def _wait_seconds(self, state: Mapping[str, Any], data: Any, where: str) -> float:
        if "Seconds" in state:
            return float(state["Seconds"])
        if "SecondsPath" in state:
            seconds = read_path(data, state["SecondsPath"], where)
            if not _is_number(seconds) or seconds < 0:
                raise StatesError(
                    RUNTIME, f"{where}: SecondsPath gave {seconds!r}; a non-negative number is required"
                )
            return float(seconds)
        text = state["Timestamp"] if "Timestamp" in state else read_path(data, state["TimestampPath"], where)
        timestamp = _timestamp(text)
        if timestamp is None:
            raise StatesError(
                RUNTIME, f"{where}: {text!r} is not an RFC3339 timestamp (2026-12-02T03:00:00Z)"
            )
        return (timestamp - self.clock.now()).total_seconds()

    @staticmethod
    def _select(data: Any, state: Mapping[str, Any], key: str, where: str) -> Any:
        """InputPath/OutputPath: the value at the path; null gives {} (spec: "InputPath & OutputPath")."""
        path = state.get(key, "$")
        return {} if path is None else read_path(data, path, where)

    @staticmethod
    def _matches(error_equals: list[str], error: StatesError) -> bool:
        if isinstance(error, ExecutionTimeoutError):
            return False
        if error.error in UNCATCHABLE:
            return error.error in error_equals
        if error.error in error_equals or ALL_ERRORS in error_equals:
            return True
        return TASK_FAILED in error_equals and error.error != TIMEOUT

    def _retry_delay(
        self, state: Mapping[str, Any], error: StatesError, attempts: dict[int, int]
    ) -> float | None:
        """Seconds before the next attempt per the first matching retrier, or None when exhausted."""
        for index, retrier in enumerate(state.get("Retry", [])):
            if not self._matches(retrier.get("ErrorEquals", []), error):
                continue
            settings = {**RETRY_DEFAULTS, **retrier}
            done = attempts.get(index, 0)
            if done >= int(settings["MaxAttempts"]):
                return None
            attempts[index] = done + 1
            delay = float(settings["IntervalSeconds"]) * float(settings["BackoffRate"]) ** done
            if "MaxDelaySeconds" in retrier:
                delay = min(delay, float(retrier["MaxDelaySeconds"]))
            if retrier.get("JitterStrategy") == "FULL":
                delay = random.uniform(0, delay)
            return delay
        return None

    def _catcher(self, state: Mapping[str, Any], error: StatesError) -> Mapping[str, Any] | None:
        for catcher in state.get("Catch", []):
            if self._matches(catcher.get("ErrorEquals", []), error):
                return dict(catcher)
        return None
