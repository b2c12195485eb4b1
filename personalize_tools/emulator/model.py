"""Request validation and response shaping from botocore's Personalize model, loaded at run time.

botocore checks only required members and minimum lengths before sending; the service checks the
rest (maximum lengths, patterns, enums, ranges). Reading the installed model instead of copying
its constraints keeps the emulator in step with whatever boto3 the project pins.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import unicodedata
from collections.abc import Mapping
from typing import Any

import botocore.loaders
import botocore.model

from personalize_tools.emulator.errors import InvalidInputError, SerializationError

SERVICE_NAME = "personalize"


@functools.cache
def service_model(service: str = SERVICE_NAME) -> botocore.model.ServiceModel:
    """The control plane's model, or another Personalize service's (personalize-events, -runtime)."""
    raw = botocore.loaders.Loader().load_service_model(service, "service-2")
    return botocore.model.ServiceModel(raw, service_name=service)


def target_prefix() -> str:
    return str(service_model().metadata["targetPrefix"])


def operation_names() -> frozenset[str]:
    return frozenset(service_model().operation_names)


def list_member(operation: str) -> str:
    """The member a List operation's response carries its items in (`datasetGroups`, `Filters`, ...)."""
    members = service_model().operation_model(operation).output_shape.members
    return str(next(name for name, shape in members.items() if shape.type_name == "list"))


# --- patterns -----------------------------------------------------------------------------------
# The model's patterns are Java regexes matched against the whole value. Python's `re` lacks
# `\p{...}` classes, so they are expanded into explicit code-point ranges (computed once, lazily).

_PROPERTY = re.compile(r"\\p\{(\w+)\}")


@functools.cache
def _category_runs() -> dict[str, list[tuple[int, int]]]:
    """Runs of consecutive code points per Unicode general category, from one pass over Unicode."""
    runs: dict[str, list[tuple[int, int]]] = {}
    previous, start = unicodedata.category("\0"), 0
    for code in range(1, sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if category != previous:
            runs.setdefault(previous, []).append((start, code - 1))
            previous, start = category, code
    runs.setdefault(previous, []).append((start, sys.maxunicode))
    return runs


@functools.cache
def _property_class(name: str) -> str:
    """Character-class body for Java's `\\p{name}`: a general category (`L`, `Nd`, ...) or `ASCII`."""
    if name == "ASCII":
        return r"\x00-\x7f"
    runs = sorted(
        run for category, spans in _category_runs().items() if category.startswith(name) for run in spans
    )
    return "".join(f"\\U{start:08x}-\\U{end:08x}" for start, end in runs)


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a model pattern for full matching, translating Java's `\\p{...}` classes."""
    parts: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        match = _PROPERTY.match(pattern, index)
        if match:
            body = _property_class(match.group(1))
            parts.append(body if in_class else f"[{body}]")
            index = match.end()
            continue
        char = pattern[index]
        if char == "\\":
            parts.append(pattern[index : index + 2])
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        parts.append(char)
        index += 1
    return re.compile("".join(parts))


# --- validation ---------------------------------------------------------------------------------


class _Problems:
    """Collects AWS-style constraint messages and JSON type mismatches for one request."""

    def __init__(self) -> None:
        self.constraints: list[str] = []
        self.types: list[str] = []

    def constraint(self, value: Any, path: str, shape: botocore.model.Shape, rule: str) -> None:
        shown = "***" if shape.metadata.get("sensitive") else _render(value)
        self.constraints.append(f"Value {shown} at '{path}' failed to satisfy constraint: {rule}")


def _render(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value)
    return f"'{text[:200]}'"


def _check(shape: botocore.model.Shape, value: Any, path: str, problems: _Problems) -> None:
    kind = shape.type_name
    if kind == "structure":
        _check_structure(shape, value, path, problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.types.append(f"'{path}' must be a JSON array")
            return
        _check_size(shape, value, path, problems)
        member = shape.member
        for position, item in enumerate(value, start=1):
            _check(member, item, f"{path}.{position}.member", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.types.append(f"'{path}' must be a JSON object")
            return
        _check_size(shape, value, path, problems)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", problems)
            _check(shape.value, item, f"{path}.{key}", problems)
    elif kind == "string":
        _check_string(shape, value, path, problems)
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.types.append(f"'{path}' must be an integer")
            return
        _check_range(shape, value, path, problems)
    elif kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.types.append(f"'{path}' must be a number")
            return
        _check_range(shape, value, path, problems)
    elif kind == "boolean" and not isinstance(value, bool):
        problems.types.append(f"'{path}' must be true or false")
    elif kind == "timestamp" and (not isinstance(value, int | float | str) or isinstance(value, bool)):
        problems.types.append(f"'{path}' must be a timestamp")


def _check_structure(shape: botocore.model.Shape, value: Any, path: str, problems: _Problems) -> None:
    if not isinstance(value, dict):
        problems.types.append(f"'{path or 'body'}' must be a JSON object")
        return
    members = shape.members
    prefix = f"{path}." if path else ""
    for required in shape.required_members:
        if value.get(required) is None:
            problems.constraint(None, prefix + required, members[required], "Member must not be null")
    for name, member_shape in members.items():
        if value.get(name) is not None:
            _check(member_shape, value[name], prefix + name, problems)


def _check_size(shape: botocore.model.Shape, value: Any, path: str, problems: _Problems) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        problems.constraint(value, path, shape, f"Member must have length greater than or equal to {low}")
    if high is not None and len(value) > high:
        problems.constraint(value, path, shape, f"Member must have length less than or equal to {high}")


def _check_range(shape: botocore.model.Shape, value: float, path: str, problems: _Problems) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        problems.constraint(value, path, shape, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        problems.constraint(value, path, shape, f"Member must have value less than or equal to {high}")


def _check_string(shape: botocore.model.Shape, value: Any, path: str, problems: _Problems) -> None:
    if not isinstance(value, str):
        problems.types.append(f"'{path}' must be a string")
        return
    _check_size(shape, value, path, problems)
    enum = shape.enum
    if enum and value not in enum:
        problems.constraint(value, path, shape, f"Member must satisfy enum value set: [{', '.join(enum)}]")
    pattern = shape.metadata.get("pattern")
    if pattern and not compile_pattern(pattern).fullmatch(value):
        problems.constraint(value, path, shape, f"Member must satisfy regular expression pattern: {pattern}")


def validate_request(operation: str, params: Mapping[str, Any], service: str = SERVICE_NAME) -> None:
    """Raise the error the service would give for a request that breaks the model's constraints."""
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        return
    problems = _Problems()
    _check(shape, dict(params), "", problems)
    if problems.types:
        raise SerializationError("; ".join(problems.types))
    if problems.constraints:
        count = len(problems.constraints)
        raise InvalidInputError(
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems.constraints)
        )


# --- responses ----------------------------------------------------------------------------------


def _project(shape: botocore.model.Shape, value: Any) -> Any:
    if shape.type_name == "structure" and isinstance(value, Mapping):
        members = shape.members
        return {
            name: _project(members[name], item)
            for name, item in value.items()
            if name in members and item is not None
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_project(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, Mapping):
        return {key: _project(shape.value, item) for key, item in value.items()}
    return value


def shape_output(operation: str, result: Mapping[str, Any], service: str = SERVICE_NAME) -> dict[str, Any]:
    """Keep only what the output shape declares (dropping None), so List summaries fall out of full views."""
    shape = service_model(service).operation_model(operation).output_shape
    if shape is None:
        return {}
    projected: dict[str, Any] = _project(shape, result)
    return projected
