"""Fault injection: throttling, server errors, latency, resources that fail by name, operations that fail.

Callers of Personalize must survive ThrottlingException, 5xx answers and CREATE FAILED; these
settings let tests and benchmarks provoke each on purpose. A seed makes the sequence repeatable.
"""

from __future__ import annotations

import dataclasses
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.endpoint import DEFAULT_TIMEOUT as BOTOCORE_READ_TIMEOUT

from personalize_tools.emulator import model
from personalize_tools.emulator.errors import (
    EmulatorConfigError,
    InternalFailureError,
    InvalidInputError,
    ServiceError,
    ServiceUnavailableError,
    ThrottlingError,
)

# Bounds on settings, so every accepted value works (docs/emulator.md, "Faults").
# Half botocore's default read timeout: a delay of the whole timeout (60 s) already timed every boto3 call
# out, since the answer comes after the sleep; half leaves the call the other half.
MAX_LATENCY_SECONDS = BOTOCORE_READ_TIMEOUT / 2
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Faults:
    throttle_rate: float = 0.0  # fraction of requests answered with ThrottlingException (HTTP 400)
    server_error_rate: float = 0.0  # fraction answered with HTTP 500 or 503
    fail_name_pattern: str | None = None  # re.search on a resource's name: it ends in CREATE FAILED
    latency_seconds: float = 0.0  # added before every Personalize request is handled
    seed: int | None = None
    # Personalize operations whose next request fails (an in-place update: UpdateDataset, TagResource, ...)
    fail_operations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        operations = self.fail_operations
        if not isinstance(operations, list | tuple) or not all(isinstance(item, str) for item in operations):
            raise EmulatorConfigError(
                f"fail_operations={operations!r}: must be a list of Personalize operation names"
            )
        unknown = sorted(set(operations) - model.operation_names())
        if unknown:
            raise EmulatorConfigError(
                f"fail_operations: {', '.join(map(repr, unknown))} is not a Personalize operation; use an "
                "operation of botocore's model, e.g. UpdateDataset, UpdateRecommender, TagResource"
            )
        object.__setattr__(self, "fail_operations", tuple(operations))
        for name in ("throttle_rate", "server_error_rate"):
            rate = getattr(self, name)
            if not _is_number(rate) or not 0.0 <= rate <= 1.0:
                raise EmulatorConfigError(f"{name}={rate!r}: a rate is a number from 0 to 1")
        if self.throttle_rate + self.server_error_rate > 1.0:
            raise EmulatorConfigError("throttle_rate + server_error_rate must not exceed 1")
        if not _is_number(self.latency_seconds) or not 0 <= self.latency_seconds <= MAX_LATENCY_SECONDS:
            raise EmulatorConfigError(
                f"latency_seconds={self.latency_seconds!r}: must be a number of seconds from 0 to "
                f"{MAX_LATENCY_SECONDS:g} (half botocore's default read timeout, {BOTOCORE_READ_TIMEOUT} s)"
            )
        if self.seed is not None and (
            not isinstance(self.seed, int) or isinstance(self.seed, bool) or not 0 <= self.seed <= MAX_SEED
        ):
            raise EmulatorConfigError(
                f"seed={self.seed!r}: must be null or a whole number from 0 to {MAX_SEED} (2^63 - 1)"
            )
        if self.fail_name_pattern is not None:
            if not isinstance(self.fail_name_pattern, str):
                raise EmulatorConfigError(
                    f"fail_name_pattern={self.fail_name_pattern!r}: must be null or a regular expression "
                    "string"
                )
            try:
                re.compile(self.fail_name_pattern)
            except re.error as error:
                raise EmulatorConfigError(
                    f"fail_name_pattern {self.fail_name_pattern!r} is not a regular expression: {error}"
                ) from error

    def changed(self, changes: Mapping[str, Any]) -> Faults:
        known = {item.name for item in dataclasses.fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise EmulatorConfigError(
                f"unknown fault setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        try:
            return dataclasses.replace(self, **changes)
        except TypeError as error:
            raise EmulatorConfigError(f"bad fault settings {dict(changes)}: {error}") from error

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["fail_operations"] = list(self.fail_operations)
        return data


def _is_number(value: Any) -> bool:
    """An int or float (JSON's true and false are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class FaultInjector:
    """Applies the current `Faults`; thread-safe, and changeable while the server runs."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._faults = faults
        self._random = random.Random(faults.seed)

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    def set(self, faults: Faults) -> None:
        """Replace the settings; the random sequence restarts from the (new) seed."""
        with self._lock:
            self._faults = faults
            self._random = random.Random(faults.seed)

    def draw(self) -> ServiceError | None:
        """The fault this request suffers, if any; one draw per request keeps seeded runs repeatable."""
        with self._lock:
            faults, roll = self._faults, self._random.random()
        if roll < faults.throttle_rate:
            return ThrottlingError("Rate exceeded")
        band = roll - faults.throttle_rate
        if band < faults.server_error_rate:
            if band < faults.server_error_rate / 2:
                return InternalFailureError("Injected server error: the emulator's server_error_rate is set")
            return ServiceUnavailableError("Injected outage: the emulator's server_error_rate is set")
        return None

    def failed_operation(self, operation: str) -> ServiceError | None:
        """InvalidInputException for the next request of an operation in `fail_operations`, which leaves
        the list: failing once lets a rollback's call of the same operation go through."""
        with self._lock:
            listed = self._faults.fail_operations
            if operation not in listed:
                return None
            remaining = tuple(item for item in listed if item != operation)
            self._faults = dataclasses.replace(self._faults, fail_operations=remaining)
        return InvalidInputError(f"Injected failure: {operation} is in the emulator's fail_operations.")

    def planned_failure(self, label: str, name: str) -> str | None:
        """The failureReason a resource created now will end with, or None when it should succeed."""
        pattern = self.faults.fail_name_pattern
        if pattern is not None and re.search(pattern, name):
            return (
                f"Injected failure: {label} name {name!r} matches the emulator's "
                f"fail_name_pattern {pattern!r}."
            )
        return None
