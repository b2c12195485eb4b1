"""The contract every resource implementation follows, and what they share: names, clients, AWS errors."""

from __future__ import annotations

import secrets
import string
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.assets import AssetStore
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.errors import ResourceFailedError
from personalize_tools.localdeploy.events import EventSink, StackEvent
from personalize_tools.localdeploy.intrinsics import StackContext
from personalize_tools.localdeploy.state import ResourceRecord


@dataclass(frozen=True)
class Outcome:
    """What an operation left behind. A physical id other than the old one on update means replacement."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Operation:
    """One create or update: the resolved properties, and for an update the record it starts from."""

    logical_id: str
    resource_type: str
    properties: dict[str, Any]
    old: ResourceRecord | None = None

    @property
    def old_properties(self) -> dict[str, Any]:
        return self.old.properties if self.old else {}


@dataclass
class Deferred:
    """Work that waits until every resource exists (bucket logging whose target's policy comes later)."""

    logical_id: str
    description: str
    action: Callable[[], None]


class DeployContext:
    """Shared by every operation of one deploy or destroy: clients, the stack, events and cancellation."""

    def __init__(
        self,
        *,
        endpoints: Endpoints,
        stack: StackContext,
        artifact: StackArtifact | None,
        events: EventSink,
        query_interval: float,
        watch_service_status: bool,
        cancel: threading.Event,
        assets: AssetStore,
    ) -> None:
        self.endpoints = endpoints
        self.stack = stack
        self.artifact = artifact
        self.events = events
        self.query_interval = query_interval
        self.watch_service_status = watch_service_status
        self.cancel = cancel
        self.assets = assets
        self.deferred: list[Deferred] = []
        # Set by a deploy: resolves template values (resources that read other parts of the template).
        self.resolve: Callable[[Any, str], Any] | None = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        # Generated names by logical id: those an earlier, killed run saved (`inherited`) and this run's.
        self.intents: dict[str, str] = {}
        self.inherited: dict[str, str] = {}
        # Set by a deploy: saves a generated name in the state before the resource is created.
        self.remember: Callable[[str, str], None] | None = None

    def client(self, service: str) -> Any:
        """One boto3 client per service, shared by the worker threads (boto3 clients are thread-safe)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.endpoints.client(service)
            return self._clients[service]

    def defer(self, logical_id: str, description: str, action: Callable[[], None]) -> None:
        with self._lock:
            self.deferred.append(Deferred(logical_id, description, action))

    def progress(self, logical_id: str, resource_type: str, status: str, reason: str) -> None:
        self.events(StackEvent(logical_id, resource_type, status, reason))

    def physical_name(self, logical_id: str, *, max_length: int, lowercase: bool = False) -> str:
        """A generated name like CloudFormation's: STACK-LOGICALID-SUFFIX, cut to fit, random suffix.

        Saved in the state (`remember`) before the caller creates anything under it, and the same name
        again for this logical id while it is not recorded: a run killed between a create and its record
        leaves a name the next run finds (CloudFormation keeps that record server-side)."""
        with self._lock:
            known = self.intents.get(logical_id)
        if known is not None:
            return known
        name = self._generated_name(logical_id, max_length=max_length, lowercase=lowercase)
        with self._lock:
            self.intents[logical_id] = name
        if self.remember is not None:
            self.remember(logical_id, name)
        return name

    def adopting(self, logical_id: str, name: str) -> bool:
        """True when `name` is one an earlier run generated for this logical id and may have created before
        it was killed: if it exists, it is this resource (exists: record it; absent: create it)."""
        with self._lock:
            return self.inherited.get(logical_id) == name

    def _generated_name(self, logical_id: str, *, max_length: int, lowercase: bool) -> str:
        alphabet = (
            string.ascii_lowercase + string.digits if lowercase else string.ascii_uppercase + string.digits
        )
        suffix = "".join(secrets.choice(alphabet) for _ in range(12))
        base = f"{self.stack.stack_name}-{logical_id}"
        if lowercase:
            base = "".join(char for char in base.lower() if char.isalnum() or char in "-.")
        return f"{base[: max_length - len(suffix) - 1]}-{suffix}"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.stack.partition}:{service}:{self.stack.region if region else ''}:"
            f"{self.stack.account if account else ''}:{resource}"
        )


class ResourceType(ABC):
    """Creates, updates and deletes one CloudFormation resource type in the local services."""

    @abstractmethod
    def create(self, context: DeployContext, operation: Operation) -> Outcome: ...

    @abstractmethod
    def update(self, context: DeployContext, operation: Operation) -> Outcome: ...

    @abstractmethod
    def delete(self, context: DeployContext, record: ResourceRecord) -> None: ...


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def aws_call(description: str, call: Callable[..., Any], /, *arguments: Any, **parameters: Any) -> Any:
    """Call an AWS API; failures become ResourceFailedError with the service's own code and message."""
    try:
        return call(*arguments, **parameters)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise ResourceFailedError(f"{description} failed: {error_code(error)}: {message}") from error
    except BotoCoreError as error:
        raise ResourceFailedError(f"{description} failed: {error}") from error


def exists(description: str, call: Callable[..., Any], missing: frozenset[str], /, **parameters: Any) -> bool:
    """Whether a read finds the resource: MISSING codes mean absent, any other failure is aws_call's.

    Used for a name an earlier, killed run may have created before its record (DeployContext.adopting)."""
    try:
        call(**parameters)
    except ClientError as error:
        if error_code(error) in missing:
            return False
        message = error.response.get("Error", {}).get("Message", str(error))
        raise ResourceFailedError(f"{description} failed: {error_code(error)}: {message}") from error
    return True


def ignore_missing(call: Callable[..., Any], codes: frozenset[str], /, **parameters: Any) -> None:
    """A delete that finds nothing to delete has succeeded (as CloudFormation treats it)."""
    try:
        call(**parameters)
    except ClientError as error:
        if error_code(error) not in codes:
            message = error.response.get("Error", {}).get("Message", str(error))
            raise ResourceFailedError(f"{error_code(error)}: {message}") from error
