"""The CDK Provider framework, played locally for Custom::Personalize* resources.

What the framework's onEvent Lambda, waiter state machine and isComplete Lambda do in AWS happens here:
the user's `on_event` gets the CloudFormation event as the framework passes it on (ResponseURL included),
its PhysicalResourceId defaults as the framework's does, `is_complete` is polled at the waiter's
interval (shortened locally) until the waiter's total timeout, and the Data of both answers is merged.

The handler code that runs is the code the template deploys: the on_event/is_complete functions behind
the ServiceToken, their asset from cdk.out (copied into the state folder, as Lambda keeps deployed code)
and their environment variables. A template whose ServiceToken cannot be traced to such functions (a
hand-written one) runs the project's `lambda_handlers.personalize.entry` instead.
"""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from lambda_handlers.personalize import kinds
from personalize_tools.cli_common import PROJECT_ROOT
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.assets import AssetStore
from personalize_tools.localdeploy.cdk_internals import (
    CREATE_FAILED_MARKER,
    DEFAULT_WAITER,
    WaiterRetry,
    provider_wiring,
    waiter_retry,
)
from personalize_tools.localdeploy.errors import (
    FailedResponseError,
    HandlerError,
    ResourceFailedError,
    TemplateError,
    describe_error,
)
from personalize_tools.localdeploy.intrinsics import StackContext
from personalize_tools.localdeploy.resources import DeployContext, Operation, Outcome, ResourceType
from personalize_tools.localdeploy.state import ResourceRecord

DEFAULT_HANDLER_MODULE = "lambda_handlers.personalize.entry"
DEFAULT_QUERY_INTERVAL = DEFAULT_WAITER.interval_seconds
DEFAULT_TOTAL_TIMEOUT = DEFAULT_WAITER.total_timeout_seconds
DEFAULT_FUNCTION_TIMEOUT = 3.0
RESPONSE_LIMIT_BYTES = 4096  # CloudFormation rejects larger custom-resource responses
# AWS::CloudFormation::CustomResource ServiceTimeout (template reference): how long CloudFormation waits
# for an operation's response, an integer from 1 to 3600 seconds, 3600 when absent. The user guide says a
# request without a response in time is unsuccessful and the stack operation fails; it does not give the
# reason's wording: this is the one CloudFormation's stack events show (e.g. aws/aws-cdk#2126).
SERVICE_TIMEOUT_PROPERTY = "ServiceTimeout"
SERVICE_TIMEOUT_RANGE = (1, 3600)
SERVICE_TIMEOUT_REASON = "Custom Resource failed to stabilize in expected time"
PERSONALIZE_TYPE_PREFIX = "Custom::Personalize"
# Our choice: CloudFormation's generated physical id for a custom resource that never answered is not
# documented; locally it has the shape of its generated names (STACK-LOGICALID-SUFFIX).
NO_RESPONSE_ID_LENGTH = 128
# What a worker keeps from the deployer's environment: enough to start Python, never AWS settings.
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")

Resolve = Callable[[Any, str], Any]


def response_url(stack: StackContext, logical_id: str, request_id: str) -> str:
    """Where CloudFormation would take the answer: a presigned S3 URL, which the framework passes to the
    user's functions as it is. Locally it has CloudFormation's shape, unsigned, and nothing listens."""
    bucket = f"cloudformation-custom-resource-response-{stack.region.replace('-', '')}"
    return f"https://{bucket}.s3.amazonaws.com/{quote(stack.stack_id, safe='')}%7C{logical_id}%7C{request_id}"


def service_timeout(properties: Mapping[str, Any], logical_id: str) -> float:
    """The seconds CloudFormation gives one operation of this custom resource."""
    low, high = SERVICE_TIMEOUT_RANGE
    value = properties.get(SERVICE_TIMEOUT_PROPERTY)
    if value is None:
        return float(high)
    text = str(value)
    if not text.isdigit() or not low <= int(text) <= high:
        raise ResourceFailedError(
            f"{logical_id}: {SERVICE_TIMEOUT_PROPERTY} {value!r} is not an integer from {low} to {high} "
            "(seconds; AWS::CloudFormation::CustomResource)"
        )
    return float(text)


class InvocationTimeoutError(Exception):
    """A handler invocation outlived its deadline; its worker process was stopped."""


class NoResponseError(ResourceFailedError):
    """CloudFormation got no answer it could read for the request (ServiceTimeout, a response too long):
    it fails the resource without any PhysicalResourceId from the provider."""


def cloudformation_strings(value: Any) -> Any:
    """Custom-resource properties as CloudFormation delivers them: every scalar becomes a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {key: cloudformation_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cloudformation_strings(item) for item in value]
    return value


@dataclass(frozen=True)
class HandlerFunction:
    """A function the local runtime plays: its `module.function`, code folder and environment."""

    handler: str
    function_arn: str
    code_dir: str | None = None  # None: the project's own modules
    environment: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_FUNCTION_TIMEOUT
    role_arn: str | None = None  # the execution role the handler's credentials come from (AssumeRole)

    @property
    def pool_key(self) -> str:
        """Workers are shared by functions with one code, environment and role (on_event, is_complete)."""
        return json.dumps([self.code_dir, sorted(self.environment.items()), self.role_arn])


@dataclass(frozen=True)
class ProviderSetup:
    """How one custom resource is served: the handler functions and the waiter's timing."""

    on_event: HandlerFunction
    is_complete: HandlerFunction | None
    query_interval: float = DEFAULT_QUERY_INTERVAL
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProviderSetup:
        is_complete = data.get("is_complete")
        return cls(
            on_event=HandlerFunction(**data["on_event"]),
            is_complete=HandlerFunction(**is_complete) if is_complete else None,
            query_interval=float(data["query_interval"]),
            total_timeout=float(data["total_timeout"]),
        )


def default_setup(account: str, region: str, module: str = DEFAULT_HANDLER_MODULE) -> ProviderSetup:
    """The project's entry points with the framework's default timing."""
    arn = f"arn:aws:lambda:{region}:{account}:function:local-personalize-handler"
    return ProviderSetup(
        on_event=HandlerFunction(f"{module}.on_event", arn),
        is_complete=HandlerFunction(f"{module}.is_complete", arn),
    )


def discover_setup(
    logical_id: str,
    *,
    template: Mapping[str, Any],
    artifact: StackArtifact,
    resolve: Resolve,
    assets: AssetStore,
    fallback: ProviderSetup,
) -> ProviderSetup:
    """Trace a custom resource's ServiceToken to the Provider framework and the user's handler functions."""
    wiring = provider_wiring(template, logical_id)
    if wiring is None:
        return fallback
    resources = template["Resources"]

    def function(function_id: str) -> HandlerFunction:
        where = f"resource {logical_id} (handler function {function_id})"
        return handler_function(
            resources, function_id, where, artifact=artifact, resolve=resolve, assets=assets
        )

    interval, total = fallback.query_interval, fallback.total_timeout
    if wiring.waiter_state_machine is not None:
        retry = _waiter(wiring.waiter_state_machine, resources, resolve)
        interval, total = retry.interval_seconds, retry.total_timeout_seconds
    return ProviderSetup(
        on_event=function(wiring.on_event_function),
        is_complete=function(wiring.is_complete_function) if wiring.is_complete_function else None,
        query_interval=interval,
        total_timeout=total,
    )


def _waiter(state_machine_id: str, resources: Mapping[str, Any], resolve: Resolve) -> WaiterRetry:
    definition = resolve(
        resources[state_machine_id].get("Properties", {}).get("DefinitionString", "{}"), state_machine_id
    )
    return waiter_retry(str(definition), f"waiter state machine {state_machine_id}")


def handler_function(
    resources: Mapping[str, Any],
    function_id: str,
    where: str,
    *,
    artifact: StackArtifact | None,
    resolve: Resolve,
    assets: AssetStore,
) -> HandlerFunction:
    """A function of the template as the local runtime plays it: its published code and resolved
    environment, timeout and execution role (a Provider's handler, or a step of a state machine)."""
    properties = resources[function_id].get("Properties", {})
    runtime = str(properties.get("Runtime", ""))
    if not runtime.startswith("python"):
        raise TemplateError(
            f"{where}: runtime {runtime or 'unknown'} cannot run locally; only Python handlers can"
        )
    code = properties.get("Code", {})
    if "ZipFile" in code:
        code_dir: Path | None = assets.inline(function_id, str(resolve(code["ZipFile"], where)))
    else:
        code_dir = assets.get(artifact, str(resolve(code.get("S3Key", ""), where)))
        if code_dir is not None and code_dir.is_file():
            code_dir = assets.unpacked(code_dir)
    if code_dir is None:
        raise TemplateError(f"{where}: its code asset is not in cdk.out; synthesize again")
    environment = resolve(properties.get("Environment", {}).get("Variables", {}), where)
    role = properties.get("Role")
    return HandlerFunction(
        handler=str(properties["Handler"]),
        function_arn=str(resolve({"Fn::GetAtt": [function_id, "Arn"]}, where)),
        code_dir=str(code_dir),
        environment={key: str(value) for key, value in environment.items()},
        timeout_seconds=float(properties.get("Timeout", DEFAULT_FUNCTION_TIMEOUT)),
        role_arn=str(resolve(role, where)) if role is not None else None,
    )


class _Worker:
    """One worker process (see lambda_worker): one invocation at a time, JSON lines over pipes."""

    def __init__(
        self,
        function: HandlerFunction,
        environment: Mapping[str, str],
        log_path: Path,
        credentials: Mapping[str, str],
    ) -> None:
        self.log = log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "personalize_tools.localdeploy.lambda_worker",
                function.code_dir or "",
                str(PROJECT_ROOT),
                str(log_path),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env={**environment, **function.environment, **credentials},
            cwd=PROJECT_ROOT,
            text=True,
        )

    def call(self, request: Mapping[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """One invocation; InvocationTimeoutError when no answer came within `timeout` seconds."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            # The worker writes one whole line per request, so a readable pipe holds the answer.
            if timeout is not None and not select.select([self.process.stdout], [], [], max(0.0, timeout))[0]:
                raise InvocationTimeoutError(f"no answer within {timeout:g} s")
            line = self.process.stdout.readline()
        except OSError:
            line = ""
        if not line:
            code = self.process.wait()
            raise HandlerError(
                f"the handler process exited with code {code} (see {self.log.name})", "Runtime.ExitError"
            )
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self, *, wait: float = 10) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.log):
            if stream is not None:
                stream.close()


class LambdaRuntime:
    """Worker processes that play Lambda: per code folder and environment, up to `max_workers` each,
    started on first use and reused (warm) for the rest of the deploy."""

    def __init__(
        self,
        environment: Mapping[str, str],
        log_path: Path,
        max_workers: int,
        assume_role: Callable[[str, str], dict[str, str]] | None = None,
    ) -> None:
        self.environment = {
            **{key: value for key, value in os.environ.items() if key in INHERITED_VARIABLES},
            **environment,
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        self.log_path = log_path
        self.max_workers = max(1, max_workers)
        # As Lambda does, a handler with an execution role runs with that role's temporary credentials.
        self.assume_role = assume_role
        self._idle: dict[str, queue.Queue[_Worker]] = {}
        self._started: dict[str, list[_Worker]] = {}
        self._lock = threading.Lock()

    def _acquire(self, function: HandlerFunction) -> _Worker:
        with self._lock:
            idle = self._idle.setdefault(function.pool_key, queue.Queue())
            started = self._started.setdefault(function.pool_key, [])
            if idle.empty() and len(started) < self.max_workers:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                credentials = (
                    self.assume_role(function.role_arn, function.function_arn.rpartition(":")[2][:64])
                    if function.role_arn and self.assume_role is not None
                    else {}
                )
                worker = _Worker(function, self.environment, self.log_path, credentials)
                started.append(worker)
                return worker
        return idle.get()

    def invoke(
        self, function: HandlerFunction, event: Mapping[str, Any], *, deadline: float | None = None
    ) -> Any:
        """The handler's return value; its exception becomes HandlerError carrying the message. Past the
        `deadline` (time.monotonic()) the invocation is abandoned and its worker stopped."""
        worker = self._acquire(function)
        request = {
            "handler": function.handler,
            "event": event,
            "function_arn": function.function_arn,
            "timeout_seconds": function.timeout_seconds,
        }
        try:
            answer = worker.call(request, None if deadline is None else deadline - time.monotonic())
        except (HandlerError, InvocationTimeoutError) as error:
            with self._lock:
                self._started[function.pool_key].remove(worker)
            worker.close(wait=0 if isinstance(error, InvocationTimeoutError) else 10)
            raise
        self._idle[function.pool_key].put(worker)
        if "errorMessage" in answer:
            raise HandlerError(answer["errorMessage"], answer.get("errorType", "Exception"))
        return answer["result"]

    def close(self) -> None:
        with self._lock:
            workers = [worker for started in self._started.values() for worker in started]
            self._started, self._idle = {}, {}
        for worker in workers:
            worker.close()


def describe_personalize(personalize: Any, arn: str) -> dict[str, Any] | None:
    """Describe* for a Personalize ARN of any kind; None when it is not one or no longer exists."""
    kind = kinds.of_arn(arn)
    if kind is None:
        return None
    try:
        answer: dict[str, Any] = getattr(personalize, kind.describe_method)(**{kind.arn_member: arn})
    except ClientError:
        return None
    return dict(answer[kind.describe_key])


def _keep_id_on_delete(request_type: str, physical_id: str | None, new_physical_id: str) -> None:
    """The framework refuses a Delete that answers with another physical id."""
    if request_type == "Delete" and new_physical_id != physical_id:
        raise HandlerError(
            f'DELETE: cannot change the physical resource ID from "{physical_id}" to '
            f'"{new_physical_id}" during deletion'
        )


class CustomResourceProvider(ResourceType):
    """Custom::Personalize* (and any Provider-framework resource): the on_event/is_complete lifecycle."""

    def __init__(self, setups: Mapping[str, ProviderSetup], runtime: LambdaRuntime) -> None:
        self.setups = setups
        self.runtime = runtime

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        return self._run(
            context, "Create", operation.logical_id, operation.resource_type, operation.properties
        )

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        return self._run(
            context,
            "Update",
            operation.logical_id,
            operation.resource_type,
            operation.properties,
            old_properties=operation.old_properties,
            physical_id=operation.old.physical_id,
        )

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        if record.physical_id in (None, CREATE_FAILED_MARKER):
            return  # the framework ignores the Delete for its CREATE_FAILED marker (cfn-response.js)
        self._run(
            context,
            "Delete",
            record.logical_id,
            record.resource_type,
            record.properties,
            physical_id=record.physical_id,
        )

    def _run(
        self,
        context: DeployContext,
        request_type: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        *,
        old_properties: dict[str, Any] | None = None,
        physical_id: str | None = None,
    ) -> Outcome:
        setup = self.setups[logical_id]
        deadline = time.monotonic() + service_timeout(properties, logical_id)
        event = self._request(
            context,
            request_type,
            logical_id,
            resource_type,
            properties,
            old_properties=old_properties,
            physical_id=physical_id,
        )
        # The id a FAILED response carries (the framework's cfn-response.js safeHandler and framework.js
        # onTimeout): until on_event has answered, the request's own, or the CREATE_FAILED marker for a
        # Create; from then on, the event is_complete polls with, which holds on_event's id.
        failed_id = physical_id if physical_id is not None else CREATE_FAILED_MARKER
        try:
            answer = self._start(setup, event, deadline)
            new_physical_id = str(answer.get("PhysicalResourceId") or (physical_id or event["RequestId"]))
            _keep_id_on_delete(request_type, physical_id, new_physical_id)
            failed_id = new_physical_id
            data = dict(answer.get("Data") or {})
            if setup.is_complete is not None:
                waiting = {**event, **answer, "PhysicalResourceId": new_physical_id}
                watch = (
                    StatusWatch(context, new_physical_id, logical_id, resource_type, request_type)
                    if context.watch_service_status
                    else None
                )
                finished = self._wait(context, setup, waiting, watch, deadline)
                data.update(finished.get("Data") or {})
                # As in the framework, whose answer is {**event, **is_complete's answer}: its id prevails.
                new_physical_id = str(finished.get("PhysicalResourceId") or new_physical_id)
                _keep_id_on_delete(request_type, physical_id, new_physical_id)
            return self._respond(context, event, new_physical_id, data)
        except NoResponseError as error:
            # Without a response CloudFormation generates a physical id for a failed Create and sends its
            # rollback Delete with it (docs/local-deploy.md, Failures); other requests keep their id.
            generated = (
                context.physical_name(logical_id, max_length=NO_RESPONSE_ID_LENGTH)
                if request_type == "Create"
                else None
            )
            raise FailedResponseError(str(error), generated) from error
        except Exception as error:
            raise FailedResponseError(describe_error(error), failed_id) from error

    @staticmethod
    def _request(
        context: DeployContext,
        request_type: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        *,
        old_properties: dict[str, Any] | None,
        physical_id: str | None,
    ) -> dict[str, Any]:
        """The event CloudFormation sends, as the framework passes it on to the user's functions."""
        request_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": properties.get("ServiceToken", ""),
            "ResponseURL": response_url(context.stack, logical_id, request_id),
            "StackId": context.stack.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": properties,
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = old_properties
        return event

    def _invoke(self, function: HandlerFunction, event: Mapping[str, Any], deadline: float) -> Any:
        """One handler call within the resource's ServiceTimeout. When it elapses CloudFormation fails
        the resource whatever the handler is doing; locally the invocation in flight is stopped."""
        try:
            return self.runtime.invoke(function, event, deadline=deadline)
        except InvocationTimeoutError:
            raise NoResponseError(SERVICE_TIMEOUT_REASON) from None

    def _start(self, setup: ProviderSetup, event: Mapping[str, Any], deadline: float) -> dict[str, Any]:
        """on_event's answer: an object, or nothing (an empty one)."""
        answer = self._invoke(setup.on_event, event, deadline) or {}
        if not isinstance(answer, dict):
            raise HandlerError(f"on_event must return an object or nothing, got {answer!r}")
        return answer

    @staticmethod
    def _respond(
        context: DeployContext, event: Mapping[str, Any], physical_id: str, data: dict[str, Any]
    ) -> Outcome:
        """The SUCCESS response CloudFormation would get, refused as it refuses one that is too long."""
        response = {
            "Status": "SUCCESS",
            "PhysicalResourceId": physical_id,
            "StackId": context.stack.stack_id,
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
        if len(json.dumps(response)) > RESPONSE_LIMIT_BYTES:
            raise NoResponseError("Response object is too long.")
        return Outcome(physical_id, data)

    def _wait(
        self,
        context: DeployContext,
        setup: ProviderSetup,
        event: dict[str, Any],
        watch: StatusWatch | None,
        service_deadline: float,
    ) -> dict[str, Any]:
        """Poll is_complete like the waiter: at once, then every interval, until the waiter's total
        timeout (which starts once on_event answered) or CloudFormation's ServiceTimeout (which started
        with the request), whichever comes first; returns its final answer."""
        assert setup.is_complete is not None
        interval = min(context.query_interval, setup.query_interval)
        deadline = time.monotonic() + setup.total_timeout
        while True:
            if watch is not None:
                watch.check()
            answer = self._invoke(setup.is_complete, event, service_deadline)
            if not isinstance(answer, dict) or not isinstance(answer.get("IsComplete"), bool):
                raise HandlerError(f"is_complete must return {{IsComplete: bool, ...}}, got {answer!r}")
            if answer["IsComplete"]:
                if watch is not None:
                    watch.check()
                return answer
            if answer.get("Data"):
                raise HandlerError('"Data" is not allowed if "IsComplete" is "False"')
            if time.monotonic() + interval > deadline:
                raise ResourceFailedError(
                    f"Operation timed out: is_complete did not answer true within the provider's total "
                    f"timeout of {setup.total_timeout:g} s"
                )
            if context.cancel.wait(max(0.0, min(interval, service_deadline - time.monotonic()))):
                # A second Ctrl-C (CloudFormation never gets one): failed like is_complete, so the FAILED
                # response carries on_event's id and the rollback's Delete reaches it (our choice).
                raise ResourceFailedError("Resource operation cancelled")
            if time.monotonic() >= service_deadline:
                raise NoResponseError(SERVICE_TIMEOUT_REASON)


class StatusWatch:
    """Shows a Personalize resource's own status as progress events while the waiter polls (optional:
    its Describe calls add to the service's call counts)."""

    def __init__(
        self, context: DeployContext, arn: str, logical_id: str, resource_type: str, request_type: str
    ):
        self.context = context
        self.arn = arn
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.in_progress = f"{request_type.upper()}_IN_PROGRESS"
        self.last: str | None = None

    def check(self) -> None:
        described = describe_personalize(self.context.client("personalize"), self.arn)
        status = described.get("status") if described else None
        if self.in_progress == "DELETE_IN_PROGRESS" and status and "DELETE" not in status:
            return  # an import job stays ACTIVE (it cannot be deleted); show only deletion progress
        if status and status != self.last:
            self.context.progress(
                self.logical_id, self.resource_type, self.in_progress, f"Personalize status: {status}"
            )
            self.last = status
