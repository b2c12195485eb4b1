"""What a local stack holds, as the describe-* commands show it: ARNs and statuses read from the services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lambda_handlers.personalize import kinds
from lambda_handlers.personalize.kinds import ResourceKind
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.catalog import is_personalize
from personalize_tools.localdeploy.graph import topological_order
from personalize_tools.localdeploy.provider import describe_personalize
from personalize_tools.localdeploy.state import StackState


@dataclass(frozen=True)
class Row:
    kind: str
    name: str
    status: str
    arn: str
    detail: str


def _detail(kind: ResourceKind | None, described: dict[str, Any]) -> str:
    if kind in (kinds.DATASET_GROUP, kinds.SCHEMA):
        return str(described.get("domain", ""))
    if kind == kinds.DATASET:
        update = described.get("latestDatasetUpdate") or {}
        schema = str(described.get("schemaArn", "")).rpartition("/")[2]
        pending = f", update {update['status']}" if update.get("status") not in (None, "ACTIVE") else ""
        return f"{described.get('datasetType', '')}, schema {schema}{pending}"
    if kind == kinds.IMPORT_JOB:
        location = described.get("dataSource", {}).get("dataLocation", "")
        failure = f"; {described['failureReason']}" if described.get("failureReason") else ""
        return f"{described.get('importMode', 'FULL')} from {location}{failure}"
    if kind == kinds.EVENT_TRACKER:
        return f"trackingId {described.get('trackingId', '')}"
    if kind == kinds.RECOMMENDER:
        return str(described.get("recipeArn", "")).rpartition("/")[2]
    return ""


def personalize_rows(state: StackState, endpoints: Endpoints) -> list[Row]:
    """One row per Personalize resource of the stack, described live, in dependency order."""
    records = {lid: record for lid, record in state.resources.items() if is_personalize(record.resource_type)}
    order = topological_order({lid: set(record.dependencies) for lid, record in records.items()})
    personalize = endpoints.client("personalize")
    rows = []
    for logical_id in order:
        arn = records[logical_id].physical_id or ""
        kind = kinds.of_arn(arn)
        label = kind.label if kind else ""
        described = describe_personalize(personalize, arn)
        if described is None or kind is None:
            rows.append(Row(label, logical_id, "NOT FOUND", arn, ""))
            continue
        rows.append(
            Row(
                label,
                str(described.get(kind.name_member) or ""),
                str(described.get("status", "(no status)")),
                arn,
                _detail(kind, described),
            )
        )
    return rows


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(header), *(len(row[index]) for row in rows)]) for index, header in enumerate(headers)]
    lines = ["  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def render(state: StackState, endpoints: Endpoints) -> str:
    """The stack's status, its Personalize resources, the other resources it created, and its outputs."""
    parts = [
        f"Stack {state.stack_name}: {state.status} (local, {endpoints.region}, account {endpoints.account})"
    ]
    rows = personalize_rows(state, endpoints)
    if rows:
        parts += ["", "Personalize resources (live from the emulator):"]
        parts.append(
            format_table(
                ("resource", "name", "status", "arn", "detail"),
                [(row.kind, row.name, row.status, row.arn, row.detail) for row in rows],
            )
        )
    others = [
        (record.logical_id, record.resource_type, record.physical_id or "")
        for record in state.resources.values()
        if not record.skipped and not is_personalize(record.resource_type)
    ]
    if others:
        parts += [
            "",
            "Other resources (in moto):",
            format_table(("logical id", "type", "physical id"), others),
        ]
    if state.retired:
        parts += [
            "",
            "Replaced, awaiting deletion: " + ", ".join(r.physical_id or "?" for r in state.retired),
        ]
    if state.outputs:
        parts += ["", "Outputs:"]
        parts += [f"  {state.stack_name}.{name} = {value}" for name, value in state.outputs.items()]
    return "\n".join(parts)
