"""Records sent one by one (PutEvents, PutUsers, PutItems) checked against the dataset's Avro schema.

The developer guide says how a record maps onto the schema: an event's members fill USER_ID, ITEM_ID,
TIMESTAMP, EVENT_TYPE, EVENT_VALUE, IMPRESSION, RECOMMENDATION_ID and EVENT_ATTRIBUTION_SOURCE, and
`properties` carries every other field, its keys "camel case names that match the fields in the schema"
(`numberOfRatings` for NUMBER_OF_RATINGS). Values may be JSON values or strings that parse as the field's
type (the guide's examples send `{"numberOfRatings": "12"}`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from lambda_handlers.personalize import domain, domain_rules

# Schema fields an event fills from its own members, and which member.
EVENT_MEMBERS: dict[str, str] = {
    domain.USER_ID_FIELD: "userId",
    domain.ITEM_ID_FIELD: "itemId",
    domain.TIMESTAMP_FIELD: "sentAt",
    domain.EVENT_TYPE_FIELD: "eventType",
    "EVENT_VALUE": "eventValue",
    "IMPRESSION": "impression",
    "RECOMMENDATION_ID": "recommendationId",
    "EVENT_ATTRIBUTION_SOURCE": "metricAttribution",
}


def _value_problem(name: str, avro_type: str | None, value: Any, categorical: bool) -> str | None:
    """Why VALUE cannot fill a field of AVRO_TYPE, or None when it can."""
    if avro_type in ("int", "long"):
        if isinstance(value, bool):
            return f"{name} must be an integer (got {value!r})"
        if isinstance(value, int):
            return None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return None
        return f"{name} must be an integer (got {value!r})"
    if avro_type in ("float", "double"):
        if isinstance(value, bool):
            return f"{name} must be a number (got {value!r})"
        if isinstance(value, int | float):
            return None if math.isfinite(value) else f"{name} must be a finite number (got {value!r})"
        try:
            number = float(value) if isinstance(value, str) else None
        except ValueError:
            number = None
        return (
            None
            if number is not None and math.isfinite(number)
            else f"{name} must be a number (got {value!r})"
        )
    if avro_type == "boolean":
        if isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false")):
            return None
        return f"{name} must be true or false (got {value!r})"
    if avro_type == "string":
        if not isinstance(value, str):
            return f"{name} must be a string (got {value!r})"
        if categorical:
            too_long = [
                part
                for part in value.split(domain.CATEGORICAL_SEPARATOR)
                if len(part) > domain.CATEGORICAL_VALUE_MAX_LENGTH
            ]
            if too_long:
                return (
                    f"{name} has a categorical value of {len(too_long[0])} characters; at most "
                    f"{domain.CATEGORICAL_VALUE_MAX_LENGTH} are allowed per value"
                )
        return None
    return f"{name} has the unsupported schema type {avro_type!r}"


def property_problems(
    where: str,
    properties: str | None,
    schema: str,
    *,
    filled: Mapping[str, Any],
) -> list[str]:
    """Problems of one record: its properties JSON against SCHEMA, with FILLED fields set by members.

    FILLED maps a schema field to the value a record member gave it (None when the member is absent).
    """
    problems: list[str] = []
    parsed: dict[str, Any] = {}
    if properties is not None:
        try:
            loaded = json.loads(properties)
        except ValueError as error:
            return [f"{where}.properties is not valid JSON: {error}"]
        if not isinstance(loaded, dict):
            return [f"{where}.properties must be a JSON object of field values"]
        parsed = loaded
    fields = domain.schema_field_types(schema)
    categorical = set(domain.categorical_fields(schema))
    by_key = {
        domain_rules.property_key(name): (name, base, nullable)
        for name, base, nullable in fields
        if name not in filled
    }
    for key, value in parsed.items():
        known = by_key.get(key)
        if known is None:
            member = next(
                (
                    member
                    for field, member in EVENT_MEMBERS.items()
                    if domain_rules.property_key(field) == key
                ),
                None,
            )
            hint = f"; give it as the record's {member} member" if member else ""
            allowed = ", ".join(sorted(by_key)) or "none"
            problems.append(
                f"{where}.properties has {key!r}, which names no field of the dataset's schema{hint} "
                f"(property keys are schema fields in camel case; allowed: {allowed})"
            )
            continue
        name, base, nullable = known
        if value is None:
            if not nullable:
                problems.append(f"{where}.properties.{key} is null, but {name} is not nullable")
            continue
        problem = _value_problem(f"{where}.properties.{key} ({name})", base, value, name in categorical)
        if problem:
            problems.append(problem)
    for name, _, nullable in fields:
        if nullable:
            continue
        if name in filled:
            if filled[name] is None:
                problems.append(
                    f"{where} lacks {EVENT_MEMBERS.get(name, name)}: the schema's {name} is required"
                )
        elif domain_rules.property_key(name) not in parsed:
            problems.append(
                f"{where}.properties lacks {domain_rules.property_key(name)!r}: "
                f"the schema's {name} field is not nullable"
            )
    return problems


def schema_has(schema: str, field: str) -> bool:
    return field in domain.schema_field_names(schema)
