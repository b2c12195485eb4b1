"""Event delivery and state-machine executions for the local deployer: the stack's event-driven flows run.

In AWS, S3 sends an "Object Created" event to EventBridge, a rule matches it and starts a Step Functions
execution, whose Task states invoke Lambda, SNS and EventBridge. Locally:

1. moto's S3 sends the event itself, to moto's EventBridge, for buckets whose notification
   configuration enables EventBridge (the stack's `Custom::S3BucketNotifications` sets it). A rule the
   local deployer owns (`personalize-local-s3-events`, pattern `{"source": ["aws.s3"]}`) puts every such
   event into an SQS queue in moto (`personalize-local-s3-events`): moto cannot start state machines.
2. The runner reads that queue, brings the event to the shape the S3 user guide documents (moto names
   the ETag field `eTag` and gives `time` as a number), matches it against the stack's
   `AWS::Events::Rule` patterns (`eventpatterns.py`) and starts an execution of each state-machine target.
   Executions a handler starts with `states:StartExecution` (moto records them) are picked up too.
3. Each execution runs in the interpreter (`stepfunctions.py`) in a thread: Lambda tasks run the
   function's real code in worker processes with its role's credentials and environment (as the
   custom-resource handlers run, see provider.py), SNS and EventBridge tasks call moto.

Executions are recorded in `.personalize-local/flows/executions/` (status, input, output, error, the
state history). Each is claimed by creating its record exclusively, so a deploy waiting on a wait
condition and a `run-events` process never run the same execution twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.errors import HandlerError, LocalDeployError
from personalize_tools.localdeploy.eventpatterns import matches
from personalize_tools.localdeploy.provider import HandlerFunction, LambdaRuntime
from personalize_tools.localdeploy.state import StateStore
from personalize_tools.localdeploy.stepfunctions import (
    EVENTS_PUT_EVENTS,
    LAMBDA_INVOKE,
    SNS_PUBLISH,
    TIME_SCALE_VARIABLE,
    Clock,
    Execution,
    Interpreter,
    StateMachine,
    StatesError,
    read_path,
)

DELIVERY_NAME = "personalize-local-s3-events"
EVENT_RULE_TYPE = "AWS::Events::Rule"
RECEIVE_WAIT_SECONDS = 1
MAX_EXECUTIONS = 16  # executions running at once in one runner (threads; each mostly waits)
# Warm worker processes per Lambda function: Lambda would run each invocation in its own environment;
# locally a few warm workers take turns, as a cold worker costs seconds on a busy machine.
HANDLER_PROCESSES = 2


def time_scale() -> float:
    """Real seconds per virtual second for waits (PERSONALIZE_LOCAL_TIME_SCALE; 1 = real time)."""
    text = os.environ.get(TIME_SCALE_VARIABLE, "1")
    try:
        scale = float(text)
    except ValueError:
        scale = float("nan")
    if not scale > 0:
        raise LocalDeployError(
            f"{TIME_SCALE_VARIABLE}={text!r} is not allowed; use a number > 0 (1 is real time)"
        )
    return scale


class FlowStore:
    """What the runner needs from the deploys, in `STATE_DIR/flows/`: each state machine's definition and
    the functions its Task states invoke (written when the deploy creates it), and the executions."""

    def __init__(self, root: Path) -> None:
        self.root = root / "flows"

    def machine_path(self, arn: str) -> Path:
        return self.root / "machines" / f"{arn.rpartition(':')[2]}.json"

    def save_machine(
        self, arn: str, stack: str, definition: str, functions: Mapping[str, HandlerFunction]
    ) -> None:
        path = self.machine_path(arn)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "arn": arn,
            "stack": stack,
            "definition": definition,
            "functions": {name: asdict(function) for name, function in functions.items()},
        }
        temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        temporary.write_text(json.dumps(record, indent=1), encoding="utf-8")
        temporary.replace(path)

    def forget_machine(self, arn: str) -> None:
        self.machine_path(arn).unlink(missing_ok=True)

    def machine(self, arn: str) -> tuple[StateMachine, dict[str, HandlerFunction]] | None:
        path = self.machine_path(arn)
        if not path.is_file():
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
        functions = {name: HandlerFunction(**value) for name, value in record["functions"].items()}
        return StateMachine(record["definition"], arn=arn), functions

    @property
    def executions_dir(self) -> Path:
        return self.root / "executions"

    def execution_path(self, execution_arn: str) -> Path:
        """`MACHINE.EXECUTION.json`: execution names are unique per state machine only."""
        machine, _, name = execution_arn.split(":execution:", 1)[1].partition(":")
        return self.executions_dir / f"{machine}.{name}.json"

    def claim(self, execution_arn: str) -> bool:
        """True for the one runner that may run this execution (its record is created exclusively)."""
        self.executions_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(self.execution_path(execution_arn), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.close(descriptor)
        return True

    def record(self, execution: Execution) -> None:
        data = {
            "executionArn": execution.execution_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": execution.status,
            "startDate": execution.start_time.isoformat(),
            "stopDate": execution.stop_time.isoformat() if execution.stop_time else None,
            "input": execution.input,
            "output": execution.output,
            "error": execution.error,
            "cause": execution.cause,
            "history": [asdict(event) for event in execution.history],
        }
        path = self.execution_path(execution.execution_arn)
        temporary = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        temporary.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
        temporary.replace(path)

    def executions(self) -> list[dict[str, Any]]:
        """Every recorded execution (running ones included), oldest first."""
        if not self.executions_dir.is_dir():
            return []
        found = []
        for path in self.executions_dir.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                text = path.read_text(encoding="utf-8")
                found.append(json.loads(text) if text else {"name": path.stem, "status": "RUNNING"})
        return sorted(found, key=lambda item: str(item.get("startDate") or ""))


def ensure_delivery(endpoints: Endpoints) -> str:
    """The moto queue and catch-all rule that collect S3's EventBridge events; returns the queue URL."""
    sqs, events = endpoints.client("sqs"), endpoints.client("events")
    queue_url: str = sqs.create_queue(QueueName=DELIVERY_NAME)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name=DELIVERY_NAME, EventPattern=json.dumps({"source": ["aws.s3"]}), State="ENABLED")
    events.put_targets(Rule=DELIVERY_NAME, Targets=[{"Id": "local-runner", "Arn": queue_arn}])
    return queue_url


def s3_event(moto_event: Mapping[str, Any]) -> dict[str, Any]:
    """moto's S3 event in the documented shape (S3 user guide, "EventBridge message structure")."""
    event: dict[str, Any] = json.loads(json.dumps(moto_event))
    event["id"] = str(uuid.uuid4())  # moto gives every event the same id
    if isinstance(event.get("time"), int | float):
        event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    detail_object = event.get("detail", {}).get("object", {})
    if "eTag" in detail_object:
        detail_object["etag"] = detail_object.pop("eTag")
    if detail_object.get("version-id") in (None, "null"):
        detail_object.pop("version-id", None)  # an unversioned bucket's events carry no version-id
    if (
        event.get("detail-type") == "Object Created"
        and event.get("detail", {}).get("reason") == "ObjectCreated"
    ):
        event["detail"]["reason"] = "PutObject"  # moto keeps only the event's category
    return event


class FlowRunner:
    """Delivers events to the deployed stacks' rules and runs the executions they start."""

    def __init__(self, endpoints: Endpoints, store: StateStore, *, scale: float | None = None) -> None:
        self.endpoints = endpoints
        self.store = store
        self.flows = FlowStore(store.root)
        self.scale = time_scale() if scale is None else scale
        self.cancel = threading.Event()
        self.runtime = LambdaRuntime(
            endpoints.handler_environment(),
            store.logs_dir / "flows.handlers.log",
            HANDLER_PROCESSES,
            assume_role=endpoints.assume_role,
        )
        self._pool = ThreadPoolExecutor(max_workers=MAX_EXECUTIONS, thread_name_prefix="execution")
        self._running: dict[str, Future[Execution]] = {}
        self._lock = threading.Lock()
        self._queue_url: str | None = None
        self._thread: threading.Thread | None = None

    # --- delivery ------------------------------------------------------------------------------

    def _rules(self) -> list[tuple[str, dict[str, Any]]]:
        rules = []
        for state in self.store.all():
            for record in state.resources.values():
                if record.resource_type == EVENT_RULE_TYPE and record.physical_id and not record.skipped:
                    rules.append((f"{state.stack_name}/{record.logical_id}", record.properties))
        return rules

    def deliver(self, event: Mapping[str, Any]) -> list[str]:
        """Match one event against every enabled rule; start each matching rule's state-machine targets."""
        started = []
        for where, properties in self._rules():
            if properties.get("State", "ENABLED") != "ENABLED":
                continue
            pattern = properties.get("EventPattern", {})
            if isinstance(pattern, str):
                pattern = json.loads(pattern)
            if not matches(pattern, event):
                continue
            for target in properties.get("Targets", []):
                execution_input: Any = event
                if "Input" in target:
                    execution_input = json.loads(target["Input"])
                elif "InputPath" in target:
                    execution_input = read_path(event, target["InputPath"], f"rule {where}")
                started.append(self.start(str(target["Arn"]), execution_input))
        return started

    def poll_events(self) -> int:
        """Receive the queued S3 events once; returns how many arrived."""
        if self._queue_url is None:
            self._queue_url = ensure_delivery(self.endpoints)
        sqs = self.endpoints.client("sqs")
        answer = sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=RECEIVE_WAIT_SECONDS
        )
        messages = answer.get("Messages", [])
        for message in messages:
            self.deliver(s3_event(json.loads(message["Body"])))
            sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def poll_started(self) -> int:
        """Executions a handler started through moto's StartExecution, not run by anyone yet."""
        client = self.endpoints.client("stepfunctions")
        count = 0
        machines = self.flows.root / "machines"
        for path in sorted(machines.glob("*.json")) if machines.is_dir() else []:
            arn = json.loads(path.read_text(encoding="utf-8"))["arn"]
            try:
                listed = client.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
            except ClientError:
                continue
            for item in listed:
                if self.flows.execution_path(item["executionArn"]).exists():
                    continue  # moto lists every execution RUNNING; the record says it has been run
                described = client.describe_execution(executionArn=item["executionArn"])
                if self._start_claimed(arn, json.loads(described.get("input") or "{}"), item["name"]):
                    count += 1
        return count

    # --- executions -----------------------------------------------------------------------------

    def start(self, state_machine_arn: str, execution_input: Any, name: str | None = None) -> str:
        """Start an execution, registered in moto too (so `list-executions` shows it); returns its name."""
        name = name or str(uuid.uuid4())
        self.endpoints.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
        )
        self._start_claimed(state_machine_arn, execution_input, name)  # or another runner claimed it first
        return name

    def _start_claimed(self, arn: str, execution_input: Any, name: str) -> bool:
        loaded = self.flows.machine(arn)
        if loaded is None:
            raise LocalDeployError(
                f"state machine {arn} is not deployed locally (no {self.flows.machine_path(arn)})"
            )
        machine, functions = loaded
        interpreter = Interpreter(machine, self._task_runner(functions), Clock(self.scale, self.cancel))
        execution = interpreter.new_execution(execution_input, name)
        if not self.flows.claim(execution.execution_arn):
            return False
        self.flows.record(execution)
        with self._lock:
            self._running[name] = self._pool.submit(self._run, interpreter, execution)
        return True

    def _run(self, interpreter: Interpreter, execution: Execution) -> Execution:
        done = interpreter.run(execution)
        self.flows.record(done)
        return done

    def _task_runner(self, functions: Mapping[str, HandlerFunction]) -> Any:
        def run_task(resource: str, parameters: Any, *, state: str) -> Any:
            if resource == SNS_PUBLISH:
                return self._service_call("sns", "publish", _sns_parameters(parameters))
            if resource == EVENTS_PUT_EVENTS:
                answer = self._service_call("events", "put_events", _event_entries(parameters))
                if answer.get("FailedEntryCount"):
                    raise StatesError("EventBridge.FailedEntry", json.dumps(answer["Entries"]))
                return answer
            if resource == LAMBDA_INVOKE:
                target, payload = str(parameters.get("FunctionName", "")), parameters.get("Payload", {})
                result = self._invoke(functions, target, payload)
                return {"ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200}
            return self._invoke(functions, resource, parameters)

        return run_task

    def _invoke(self, functions: Mapping[str, HandlerFunction], target: str, payload: Any) -> Any:
        function = functions.get(target) or next(
            (f for f in functions.values() if f.function_arn.rpartition(":")[2] == target), None
        )
        if function is None:
            raise StatesError("Lambda.ResourceNotFoundException", f"Function not found: {target}")
        try:
            return self.runtime.invoke(function, payload)
        except HandlerError as error:
            cause = {"errorMessage": str(error), "errorType": error.error_type, "stackTrace": []}
            raise StatesError(error.error_type, json.dumps(cause)) from error

    def _service_call(self, service: str, operation: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self.endpoints.client(service), operation)(**parameters)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "Exception"))
            prefix = "SNS" if service == "sns" else "EventBridge"
            raise StatesError(f"{prefix}.{code}", str(error)) from error
        answer.pop("ResponseMetadata", None)
        return answer

    # --- running --------------------------------------------------------------------------------

    def busy(self) -> bool:
        with self._lock:
            return any(not future.done() for future in self._running.values())

    def poll_once(self) -> int:
        return self.poll_events() + self.poll_started()

    def run_until_idle(self, timeout: float) -> None:
        """Poll and run until no event arrives and no execution runs (tests, `run-events --until-idle`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.cancel.is_set():
            arrived = self.poll_once()
            if not arrived and not self.busy():
                return
            if not arrived:
                time.sleep(0.2)
        raise LocalDeployError(f"the local flows did not become idle within {timeout:g} s")

    def serve(self) -> None:
        while not self.cancel.is_set():
            if not self.poll_once():
                self.cancel.wait(0.2)

    @contextlib.contextmanager
    def in_background(self) -> Iterator[FlowRunner]:
        """Serve in a thread for the duration of a block (a deploy that waits on a wait condition)."""
        self._thread = threading.Thread(target=self.serve, name="flow-runner", daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self.close()

    def close(self) -> None:
        self.cancel.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.runtime.close()


def _sns_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """sns:publish Parameters are the Publish API's; a JSON Message is sent as its text."""
    values = dict(parameters)
    if not isinstance(values.get("Message"), str):
        values["Message"] = json.dumps(values.get("Message"))
    return values


def _event_entries(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """events:putEvents takes Detail as a JSON object; the PutEvents API takes it as text."""
    entries = []
    for entry in parameters.get("Entries", []):
        values = dict(entry)
        if "Detail" in values and not isinstance(values["Detail"], str):
            values["Detail"] = json.dumps(values["Detail"])
        entries.append(values)
    return {"Entries": entries}
