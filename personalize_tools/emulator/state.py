"""The emulator's resources, how they look through the API, and how they survive a restart."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_handlers.personalize import domain
from lambda_handlers.personalize.kinds import MANAGED, ResourceKind
from personalize_tools.emulator.errors import EmulatorConfigError
from personalize_tools.emulator.lifecycle import Track

STATE_VERSION = 1


# The emulator's kinds are the resource-kind table's rows (lambda_handlers/personalize/kinds.py).
KINDS = {kind.key: kind for kind in MANAGED}


# The columns ImportedData.rows keep, per dataset type.
ROW_COLUMNS: dict[str, tuple[str, ...]] = {
    "INTERACTIONS": (
        domain.USER_ID_FIELD,
        domain.ITEM_ID_FIELD,
        domain.EVENT_TYPE_FIELD,
        domain.TIMESTAMP_FIELD,
    ),
    "USERS": (domain.USER_ID_FIELD,),
    "ITEMS": (domain.ITEM_ID_FIELD,),
}
ROW_LIMIT = 100_000  # rows kept per dataset for the recommendation stand-in; counts are always complete


@dataclass
class ImportedData:
    """Records an import read, or a dataset holds; event-type counts feed recommender checks.

    `rows` keep what the recommendation stand-in reads (Interactions: [USER_ID, ITEM_ID, EVENT_TYPE,
    TIMESTAMP]; Users and Items: [id]), the latest ROW_LIMIT of them, so state stays bounded.
    """

    records: int = 0
    event_types: dict[str, int] = field(default_factory=dict)
    rows: list[list[Any]] = field(default_factory=list)

    def plus(self, other: ImportedData) -> ImportedData:
        merged = dict(self.event_types)
        for event_type, count in other.event_types.items():
            merged[event_type] = merged.get(event_type, 0) + count
        return ImportedData(self.records + other.records, merged, [*self.rows, *other.rows][-ROW_LIMIT:])


@dataclass
class Resource:
    kind: ResourceKind
    arn: str
    name: str
    created: float
    fields: dict[str, Any]  # API members Describe echoes (domain, schemaArn, dataSource, ...)
    track: Track | None = None  # None for schemas, which have no status
    update: Track | None = None  # latestDatasetUpdate / latestRecommenderUpdate
    update_fields: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    planned_failure: str | None = None  # injected by fail_name_pattern
    data: ImportedData | None = None  # datasets: what they hold; import jobs: what they read
    recorded: ImportedData | None = None  # datasets: records added one by one (PutEvents/PutUsers/PutItems)
    event_ids: set[str] = field(default_factory=set)  # Interactions: PutEvents eventIds already recorded

    @property
    def status(self) -> str | None:
        return self.track.status if self.track else None

    def held(self) -> ImportedData:
        """Bulk and individually recorded records together: what training and recommendations read."""
        return (self.data or ImportedData()).plus(self.recorded or ImportedData())

    @property
    def busy(self) -> bool:
        return bool((self.track and self.track.busy) or (self.update and self.update.busy))

    def view(self) -> dict[str, Any]:
        """The full Describe view; List summaries are projections of it onto the model."""
        view: dict[str, Any] = {
            self.kind.name_member: self.name,
            self.kind.arn_member: self.arn,
            **self.fields,
            "creationDateTime": self.created,
            "lastUpdatedDateTime": self.track.since if self.track else self.created,
        }
        if self.track:
            view["status"] = self.track.status
            if self.track.failure_reason:
                view["failureReason"] = self.track.failure_reason
        if self.update and self.kind.update_member:
            latest = {
                **self.update_fields,
                "status": self.update.status,
                "creationDateTime": self.update.started,
                "lastUpdatedDateTime": self.update.since,
            }
            if self.update.failure_reason:
                latest["failureReason"] = self.update.failure_reason
            view[self.kind.update_member] = latest
        return view

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.key,
            "arn": self.arn,
            "name": self.name,
            "created": self.created,
            "fields": self.fields,
            "track": self.track.to_json() if self.track else None,
            "update": self.update.to_json() if self.update else None,
            "update_fields": self.update_fields,
            "tags": self.tags,
            "planned_failure": self.planned_failure,
            "data": dataclasses.asdict(self.data) if self.data else None,
            "recorded": dataclasses.asdict(self.recorded) if self.recorded else None,
            "event_ids": sorted(self.event_ids),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Resource:
        return cls(
            kind=KINDS[data["kind"]],
            arn=data["arn"],
            name=data["name"],
            created=data["created"],
            fields=data["fields"],
            track=Track.from_json(data["track"]) if data.get("track") else None,
            update=Track.from_json(data["update"]) if data.get("update") else None,
            update_fields=data.get("update_fields", {}),
            tags=data.get("tags", {}),
            planned_failure=data.get("planned_failure"),
            data=ImportedData(**data["data"]) if data.get("data") else None,
            recorded=ImportedData(**data["recorded"]) if data.get("recorded") else None,
            event_ids=set(data.get("event_ids", [])),
        )


TEMPORARY_SUFFIX = ".tmp"


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def save_state(path: Path, resources: Iterable[Resource]) -> None:
    """Write atomically, so a crash mid-write never leaves a half file for the next start."""
    document = {"version": STATE_VERSION, "resources": [resource.to_json() for resource in resources]}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=_temporary_prefix(path), suffix=TEMPORARY_SUFFIX
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=1)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_orphan_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files of writes a crash interrupted (`.NAME.*.tmp` beside PATH)."""
    if not path.parent.is_dir():
        return []
    prefix = _temporary_prefix(path)
    orphans = [
        candidate
        for candidate in path.parent.iterdir()
        if candidate.name.startswith(prefix)
        and candidate.name.endswith(TEMPORARY_SUFFIX)
        and candidate.is_file()
    ]
    for orphan in orphans:
        orphan.unlink(missing_ok=True)
    return orphans


def load_state(path: Path) -> list[Resource]:
    """The saved resources; first clears what interrupted writes left, which no one else will read."""
    if path.parent.exists() and not path.parent.is_dir():
        raise EmulatorConfigError(f"state file {path}: {path.parent} is a file, not a folder to write it in")
    remove_orphan_temporaries(path)
    if not path.exists():
        return []
    try:
        text = path.read_bytes()
    except OSError as error:  # a folder, or unreadable: found at start, not at the first write
        raise EmulatorConfigError(f"state file {path} cannot be read: {error.strerror}") from None
    not_ours = f"state file {path} is not an emulator state file"
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:  # ValueError: not UTF-8, or not JSON
        raise EmulatorConfigError(f"{not_ours} ({error}); delete it to start empty") from None
    if not isinstance(document, dict):
        raise EmulatorConfigError(
            f"{not_ours} (a JSON {type(document).__name__}, not an object); delete it to start empty"
        )
    if document.get("version") != STATE_VERSION:
        raise EmulatorConfigError(
            f"state file {path} has version {document.get('version')!r}; this emulator reads "
            f"version {STATE_VERSION}; delete it to start empty."
        )
    try:
        return [Resource.from_json(item) for item in document["resources"]]
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise EmulatorConfigError(f"{not_ours} ({error}); delete it to start empty") from error
