"""What the local deployer knows about each deployed stack, kept in the project's dot-folder.

`.personalize-local/stacks/STACK.json` plays CloudFormation's part: every resource's resolved
properties, physical id, attributes and dependencies, so the next deploy can tell an update from a
create, destroy can delete in the right order, and a deploy that fails can be rolled back.
It is rewritten (atomically) after every resource operation, so an interrupted run leaves a true record.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from personalize_tools.localdeploy.errors import StateError

DEFAULT_STATE_DIR = Path(".personalize-local")
STATE_VERSION = 1


@dataclass
class ResourceRecord:
    logical_id: str
    resource_type: str
    physical_id: str | None
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    skipped: bool = False
    failed: bool = False  # its Create failed: CloudFormation holds the id for the rollback's Delete only
    deletion_policy: str = "Delete"
    update_replace_policy: str = "Delete"
    provider: dict[str, Any] = field(
        default_factory=dict
    )  # custom resources: the handler setup that serves it


@dataclass
class StackState:
    stack_name: str
    stack_id: str
    account: str
    region: str
    status: str
    session: str  # the local services session the resources live in (see services.py)
    environment: str | None = None
    cdk_out: str | None = None
    resources: dict[str, ResourceRecord] = field(default_factory=dict)
    retired: list[ResourceRecord] = field(
        default_factory=list
    )  # replaced physical resources awaiting deletion
    outputs: dict[str, Any] = field(default_factory=dict)
    updated: str = ""
    # logical id -> {"resource_type", "physical_id"}: a generated name saved before its create call, so a
    # run killed between the create and its record leaves a name the next run adopts or deletes.
    intents: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["version"] = STATE_VERSION
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackState:
        data = dict(data)
        data.pop("version", None)
        resources = {key: ResourceRecord(**value) for key, value in data.pop("resources", {}).items()}
        retired = [ResourceRecord(**value) for value in data.pop("retired", [])]
        return cls(**data, resources=resources, retired=retired)


class StateStore:
    """One JSON file per stack under `root/stacks/`; writes are serialized and atomic."""

    def __init__(self, root: Path = DEFAULT_STATE_DIR) -> None:
        self.root = root
        self._lock = threading.Lock()

    @property
    def stacks_dir(self) -> Path:
        return self.root / "stacks"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def path(self, stack_name: str) -> Path:
        return self.stacks_dir / f"{stack_name}.json"

    def load(self, stack_name: str) -> StackState | None:
        path = self.path(stack_name)
        if not path.is_file():
            return None
        try:
            return StackState.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as error:
            raise StateError(f"{path} is unreadable ({error}); delete it if its stack is gone") from error

    def save(self, state: StackState) -> None:
        state.updated = datetime.now(UTC).isoformat(timespec="seconds")
        text = json.dumps(state.to_json(), indent=1, sort_keys=True, default=str)
        with self._lock:
            self.stacks_dir.mkdir(parents=True, exist_ok=True)
            path = self.path(state.stack_name)
            temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(path)

    def delete(self, stack_name: str) -> None:
        with self._lock:
            self.path(stack_name).unlink(missing_ok=True)

    def all(self) -> list[StackState]:
        if not self.stacks_dir.is_dir():
            return []
        states = (self.load(path.stem) for path in sorted(self.stacks_dir.glob("*.json")))
        return [state for state in states if state is not None]

    def find(self, *, stack_name: str | None = None, environment: str | None = None) -> StackState | None:
        """The stack by name, or the one deployed for an environment name."""
        if stack_name is not None:
            return self.load(stack_name)
        matches = [state for state in self.all() if state.environment == environment]
        if len(matches) > 1:
            names = ", ".join(state.stack_name for state in matches)
            owner = f"environment {environment}" if environment else "your CDK app"
            raise StateError(f"{owner} has several local stacks ({names}); pass --stack NAME")
        return matches[0] if matches else None
