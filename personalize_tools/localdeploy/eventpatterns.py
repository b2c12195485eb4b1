"""EventBridge event patterns, matched as the EventBridge user guide describes them.

"Amazon EventBridge event patterns" and "Content filtering in Amazon EventBridge event patterns"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html): every field
of the pattern must match (AND), a list of values matches when any does (OR), a field that names an
array in the event matches when any element does, and the operators below filter a value. An operator
outside this list is refused when the rule is created, naming it, rather than matched loosely.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from personalize_tools.localdeploy.errors import TemplateError

OPERATORS = frozenset(
    {"prefix", "suffix", "anything-but", "exists", "numeric", "equals-ignore-case", "wildcard"}
)
_MISSING = object()


def check_pattern(pattern: Any, where: str) -> None:
    """Refuse what the matcher does not implement, before any event is matched against it."""
    if not isinstance(pattern, Mapping):
        raise TemplateError(f"{where}: an event pattern must be a JSON object, got {pattern!r}")
    for key, value in pattern.items():
        if key in ("$or",):
            raise TemplateError(f"{where}: $or in event patterns is not supported locally")
        if isinstance(value, Mapping):
            check_pattern(value, f"{where}.{key}")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    unknown = set(item) - OPERATORS
                    if len(item) != 1 or unknown:
                        raise TemplateError(
                            f"{where}.{key}: event pattern filter {item!r} is not supported locally; "
                            f"supported: {', '.join(sorted(OPERATORS))}"
                        )
        else:
            raise TemplateError(f"{where}.{key}: a pattern value must be a list or an object, got {value!r}")


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    for key, expected in pattern.items():
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if not isinstance(value, Mapping) or not matches(expected, value):
                return False
        elif not _field_matches(expected, value):
            return False
    return True


def _field_matches(filters: list[Any], value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for item in filters:
        if isinstance(item, Mapping) and "exists" in item:
            if (value is not _MISSING) == bool(item["exists"]):
                return True
            continue
        if value is _MISSING:
            continue
        if any(_matches_one(item, candidate) for candidate in values):
            return True
    return False


def _matches_one(item: Any, value: Any) -> bool:
    if not isinstance(item, Mapping):
        return bool(item == value and type(item) is type(value)) or (
            _is_number(item) and _is_number(value) and float(item) == float(value)
        )
    ((operator, argument),) = item.items()
    if operator == "prefix":
        if isinstance(argument, Mapping):
            return isinstance(value, str) and value.lower().startswith(
                str(argument["equals-ignore-case"]).lower()
            )
        return isinstance(value, str) and value.startswith(argument)
    if operator == "suffix":
        if isinstance(argument, Mapping):
            return isinstance(value, str) and value.lower().endswith(
                str(argument["equals-ignore-case"]).lower()
            )
        return isinstance(value, str) and value.endswith(argument)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(argument).lower()
    if operator == "wildcard":
        regex = "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", str(argument)))
        return isinstance(value, str) and re.fullmatch(regex, value, flags=re.DOTALL) is not None
    if operator == "numeric":
        return _is_number(value) and _numeric(argument, float(value))
    if operator == "anything-but":
        if isinstance(argument, Mapping):
            return not _matches_one(argument, value)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_matches_one(candidate, value) for candidate in excluded)
    raise TemplateError(f"event pattern operator {operator} is not supported locally")


def _numeric(conditions: list[Any], value: float) -> bool:
    comparisons = {
        "<": float.__lt__,
        "<=": float.__le__,
        "=": float.__eq__,
        ">": float.__gt__,
        ">=": float.__ge__,
    }
    for operator, bound in zip(conditions[::2], conditions[1::2], strict=True):
        if not comparisons[operator](value, float(bound)):
            return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
