"""Status lifecycles and the pace that drives them.

A resource's status walks a chain such as CREATE PENDING → CREATE IN_PROGRESS → (settle). A
`Track` holds where it is and the steps left. In paced mode a step is taken once its dwell time has
passed on the clock; in stepwise mode each Describe of the resource takes exactly one step, so tests
can watch every intermediate status without sleeping.
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambda_handlers.personalize import kinds
from personalize_tools.emulator.errors import EmulatorConfigError

Clock = Callable[[], float]
Outcome = tuple[str, str | None]  # (status, failureReason)

# Markers in a chain: the final status is decided when the step is taken / the resource goes away.
SETTLE = "(settle)"
GONE = "(gone)"

CREATE_CHAIN = (kinds.CREATE_PENDING, kinds.CREATE_IN_PROGRESS, SETTLE)
DELETE_CHAIN = (kinds.DELETE_PENDING, kinds.DELETE_IN_PROGRESS, GONE)
GROUP_DELETE_CHAIN = (kinds.DELETE_PENDING, GONE)
UPDATE_CHAIN = (kinds.UPDATE_PENDING, kinds.UPDATE_IN_PROGRESS, SETTLE)
STOP_CHAIN = (kinds.STOP_PENDING, kinds.STOP_IN_PROGRESS, kinds.INACTIVE)
START_CHAIN = (kinds.START_PENDING, kinds.START_IN_PROGRESS, kinds.ACTIVE)


@dataclass(frozen=True)
class Pace:
    """Seconds each kind of resource takes to walk its whole chain (split evenly across its steps).

    `stepwise=True` ignores the durations: every Describe moves the described resource one status.
    All durations 0 (see `instant()`) makes the first Describe after a create show the final status.
    Recommender stop, start and update use `recommender`; every delete uses `delete`.
    """

    dataset_group: float = 1.0
    dataset: float = 1.0
    import_job: float = 3.0
    event_tracker: float = 1.0
    recommender: float = 5.0
    delete: float = 1.0
    dataset_update: float = 2.0
    stepwise: bool = False

    def __post_init__(self) -> None:
        for name, seconds in self.durations().items():
            if seconds < 0:
                raise EmulatorConfigError(f"pace {name}={seconds}: durations must be 0 or more seconds")

    def durations(self) -> dict[str, float]:
        fields = dataclasses.fields(self)
        return {item.name: getattr(self, item.name) for item in fields if item.name != "stepwise"}

    @classmethod
    def instant(cls) -> Pace:
        zero: dict[str, Any] = dict.fromkeys(cls().durations(), 0.0)
        return dataclasses.replace(cls(), **zero)

    @classmethod
    def step(cls) -> Pace:
        return dataclasses.replace(cls.instant(), stepwise=True)

    @classmethod
    def fast(cls) -> Pace:
        return cls()

    @classmethod
    def realistic(cls) -> Pace:
        """Rough orders of magnitude seen in AWS; for exercising timeouts, not for the test suite."""
        return cls(
            dataset_group=60,
            dataset=30,
            import_job=600,
            event_tracker=30,
            recommender=1800,
            delete=60,
            dataset_update=300,
        )

    @classmethod
    def preset(cls, name: str) -> Pace:
        presets: dict[str, Callable[[], Pace]] = {
            "instant": cls.instant,
            "step": cls.step,
            "fast": cls.fast,
            "realistic": cls.realistic,
        }
        if name not in presets:
            raise EmulatorConfigError(f"unknown pace {name!r}; choose one of {', '.join(presets)}")
        return presets[name]()

    def with_durations(self, overrides: Mapping[str, float]) -> Pace:
        unknown = set(overrides) - set(self.durations())
        if unknown:
            raise EmulatorConfigError(
                f"unknown pace duration(s) {', '.join(sorted(unknown))}; known: {', '.join(self.durations())}"
            )
        changes: dict[str, Any] = dict(overrides)
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ManualClock:
    """A clock that moves only when told to, so paced lifecycles can be tested without sleeping."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@dataclass
class Step:
    status: str  # a status, SETTLE or GONE
    dwell: float  # seconds spent in the previous status before this step is due


@dataclass
class Track:
    """One status machine: a resource's own status, or its latest update's."""

    status: str
    started: float  # when the current chain began (an update's creationDateTime)
    since: float  # when the current status was entered (lastUpdatedDateTime)
    steps: list[Step] = field(default_factory=list)
    observed: bool = False  # stepwise mode: a Describe has shown the current status
    failure_reason: str | None = None

    @classmethod
    def begin(cls, chain: Sequence[str], duration: float, now: float) -> Track:
        track = cls(status=chain[0], started=now, since=now)
        track.restart(chain, duration, now)
        return track

    def restart(self, chain: Sequence[str], duration: float, now: float) -> None:
        dwell = duration / (len(chain) - 1)
        self.status, self.started, self.since = chain[0], now, now
        self.steps = [Step(status, dwell) for status in chain[1:]]
        self.observed = False
        self.failure_reason = None

    @property
    def busy(self) -> bool:
        return bool(self.steps)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Track:
        steps = [Step(**step) for step in data.get("steps", [])]
        return cls(**{**data, "steps": steps})


@dataclass
class Progress:
    entered: list[str] = field(default_factory=list)
    blocked: bool = False  # a SETTLE step was due but its outcome is not known yet


def advance(
    track: Track, now: float, *, stepwise: bool, describing: bool, settle: Callable[[], Outcome | None]
) -> Progress:
    """Take every step that is due; `settle` decides SETTLE steps (None: not decided yet)."""
    progress = Progress()
    while track.steps:
        step = track.steps[0]
        if stepwise:
            due = describing and track.observed and not progress.entered
        else:
            due = now >= track.since + step.dwell
        if not due:
            break
        status, reason = step.status, None
        if status == SETTLE:
            outcome = settle()
            if outcome is None:
                progress.blocked = True
                break
            status, reason = outcome
        track.steps.pop(0)
        track.since = now if stepwise else track.since + step.dwell
        track.status, track.failure_reason, track.observed = status, reason, False
        progress.entered.append(status)
    if describing:
        track.observed = True
    return progress


def parse_duration(text: str) -> tuple[str, float]:
    """A `--duration KIND=SECONDS` argument, as the emulator's and the local deployer's CLIs take it."""
    kind, _, seconds = text.partition("=")
    try:
        return kind.strip(), float(seconds)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KIND=SECONDS, e.g. import_job=8") from error
