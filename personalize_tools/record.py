"""Record a CSV into Amazon Personalize one call at a time: PutEvents, PutUsers or PutItems.

For a dataset group without historical data: stream interactions (or users, or items) from a CSV in
the bulk-import layout, batched at the API's limit (the botocore model's EventList/UserList/ItemList
maximum, 10), rate limited, retried with exponential backoff on throttling and server errors, with a
progress line and a summary of what was rejected and why. Plain boto3: it talks to AWS, or to the local
emulator when AWS_ENDPOINT_URL_PERSONALIZE_EVENTS (or --endpoint-url) points there.

Columns: USER_ID, ITEM_ID, TIMESTAMP (epoch seconds), EVENT_TYPE and optionally SESSION_ID, EVENT_ID,
EVENT_VALUE, IMPRESSION ('|'-separated), RECOMMENDATION_ID for events; USER_ID or ITEM_ID for users and
items. Every other column goes into `properties`, keyed by its name in camel case, as the service expects.
A PutEvents call carries one user's session, so events are grouped by session (SESSION_ID, else USER_ID)
into calls of 10 even when users interleave in the file, up to MAX_OPEN_GROUPS sessions waiting at once.
A run stops early, with its summary, when the first STOP_AFTER_REJECTED rows the service answered were all
rejected for one and the same reason (a wrong tracking id or dataset ARN, a column the schema lacks): every
further call would fail the same way. Ctrl-C stops it too; the summary says up to which line all was answered.
Exit status: 0 every row accepted, 1 some rejected (or stopped early for it), 2 usage errors or a file
that cannot be read as UTF-8 CSV, 130 interrupted.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from lambda_handlers.personalize import domain, domain_rules
from personalize_tools.cli_common import add_version, program

RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "ServiceUnavailableException", "InternalFailure"}
)
DEFAULT_RATE = 10.0  # calls per second; our conservative default, raise it within your account's quotas
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BACKOFF_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 20.0
EVENT_COLUMNS = {  # CSV column -> Event member
    "ITEM_ID": "itemId",
    "EVENT_TYPE": "eventType",
    "TIMESTAMP": "sentAt",
    "EVENT_ID": "eventId",
    "EVENT_VALUE": "eventValue",
    "IMPRESSION": "impression",
    "RECOMMENDATION_ID": "recommendationId",
}
SESSION_COLUMN = "SESSION_ID"
# Our choices, for memory bounded by the reasons rather than the rows, and for runs that cannot succeed:
SHOWN_LINES = 5  # line numbers kept per rejection reason
MAX_REASONS = 50  # distinct reasons kept; the rest are counted under OTHER_REASONS
OTHER_REASONS = f"other reasons (more than {MAX_REASONS} distinct ones)"
MAX_OPEN_GROUPS = 1000  # user sessions waiting for a full batch at once
STOP_AFTER_REJECTED = 30  # rows the service rejected for one reason, none accepted: stop
EXIT_INTERRUPTED = 130
HELP = (
    (__doc__ or "")
    .replace("STOP_AFTER_REJECTED", str(STOP_AFTER_REJECTED))
    .replace("MAX_OPEN_GROUPS", f"{MAX_OPEN_GROUPS:,}")
)


@dataclass(frozen=True)
class Kind:
    """What differs between the three targets."""

    name: str  # events, users, items
    operation: str  # the boto3 method
    list_member: str  # eventList, users, items
    list_shape: str  # the model's list shape, whose max is the batch size
    required: tuple[str, ...]  # CSV columns


KINDS = {
    "events": Kind(
        "events",
        "put_events",
        "eventList",
        "EventList",
        (
            domain.USER_ID_FIELD,
            domain.ITEM_ID_FIELD,
            domain.TIMESTAMP_FIELD,
            domain.EVENT_TYPE_FIELD,
        ),
    ),
    "users": Kind("users", "put_users", "users", "UserList", (domain.USER_ID_FIELD,)),
    "items": Kind("items", "put_items", "items", "ItemList", (domain.ITEM_ID_FIELD,)),
}


class UsageError(Exception):
    """Arguments or a file the tool cannot work with; the message says what to fix."""


@dataclass
class Row:
    line: int
    record: dict[str, Any]
    group: tuple[str, str] = ("", "")  # events: (userId, sessionId); one call carries one user's session


@dataclass
class Summary:
    rows: int = 0
    accepted: int = 0
    calls: int = 0
    retries: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_lines: dict[str, list[int]] = field(default_factory=dict)  # the first SHOWN_LINES per reason
    service_rejected: Counter[str] = field(default_factory=Counter)  # rejected by the service, not locally
    last_line: int = 0  # the last CSV line whose call was answered
    stopped: str | None = None  # why the run ended before the end of the file
    exit_code: int = 0
    seconds: float = 0.0

    def reject(self, reason: str, lines: Iterable[int], *, by_service: bool = False) -> None:
        lines = list(lines)
        if reason not in self.rejected and len(self.rejected) >= MAX_REASONS:
            reason = OTHER_REASONS
        self.rejected[reason] += len(lines)
        kept = self.rejected_lines.setdefault(reason, [])
        kept.extend(lines[: max(SHOWN_LINES - len(kept), 0)])
        if by_service:
            self.service_rejected[reason] += len(lines)

    def hopeless(self) -> str | None:
        """The one reason every row the service answered so far was rejected for, once that is enough."""
        if self.accepted or len(self.service_rejected) != 1:
            return None
        reason, count = next(iter(self.service_rejected.items()))
        return reason if count >= STOP_AFTER_REJECTED else None

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())

    def render(self) -> str:
        lines = [
            f"  rows read   {self.rows:>10,}",
            f"  accepted    {self.accepted:>10,}",
            f"  rejected    {self.rejected_count:>10,}",
            f"  calls       {self.calls:>10,}  ({self.retries:,} retried after throttling or server errors)",
            f"  time        {self.seconds:>10.1f} s",
        ]
        if self.rejected:
            lines.append("Rejected:")
            for reason, count in self.rejected.most_common():
                shown = self.rejected_lines[reason]
                more = f" and {count - len(shown):,} more" if count > len(shown) else ""
                where = ", ".join(str(line) for line in shown)
                lines.append(f"  {count:>6,}  {reason} (line{'s' if count > 1 else ''} {where}{more})")
        if self.stopped:
            lines.append(f"Stopped: {self.stopped}")
        return "\n".join(lines)


# --- reading ----------------------------------------------------------------------------------


def read_rows(path: Path, kind: Kind, summary: Summary) -> Iterator[Row]:
    """Rows of the CSV as request records; rows that cannot become one are rejected here, never sent."""
    try:
        stream = path.open("rb")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from error
    with stream:
        # Decoded line by line, so a byte that is not UTF-8 is found on its own line, not a buffer ahead.
        reader = csv.reader(raw.decode("utf-8") for raw in stream)
        try:
            header = [column.strip().lstrip("\ufeff") for column in next(reader, [])]
        except (csv.Error, UnicodeDecodeError) as error:
            raise UsageError(f"{path}: the header cannot be read as UTF-8 CSV ({error})") from None
        missing = [column for column in kind.required if column not in header]
        if missing:
            raise UsageError(
                f"{path}: the header lacks {', '.join(missing)}; {kind.name} need the columns "
                f"{', '.join(kind.required)} (found: {', '.join(header) or 'no header'})"
            )
        while True:
            try:
                values = next(reader, None)
            except (csv.Error, UnicodeDecodeError) as error:
                # The rows before it still go in (batches() sends what it holds); the rest cannot be trusted.
                summary.stopped = (
                    f"{path}: line {reader.line_num + 1} cannot be read as UTF-8 CSV ({error}); the rows "
                    "before it were sent, it and the rows after it were not"
                )
                summary.exit_code = 2
                return
            if values is None:
                return
            number = reader.line_num
            if not values:
                continue
            summary.rows += 1
            if len(values) != len(header):
                summary.reject(f"row has {len(values)} fields, the header {len(header)}", [number])
                continue
            try:
                yield _to_row(number, dict(zip(header, values, strict=True)), kind)
            except ValueError as error:
                summary.reject(str(error), [number])


def _properties(values: dict[str, str], skip: Iterable[str]) -> str | None:
    skipped = set(skip)
    properties = {
        domain_rules.property_key(column): value
        for column, value in values.items()
        if column not in skipped and value != ""
    }
    return json.dumps(properties, separators=(",", ":")) if properties else None


def _to_row(line: int, values: dict[str, str], kind: Kind) -> Row:
    if kind.name != "events":
        id_column = kind.required[0]
        if not values[id_column]:
            raise ValueError(f"empty {id_column}")
        record: dict[str, Any] = {
            "userId" if id_column == domain.USER_ID_FIELD else "itemId": values[id_column]
        }
        properties = _properties(values, [id_column])
        if properties:
            record["properties"] = properties
        return Row(line, record)
    for column in kind.required:
        if not values[column]:
            raise ValueError(f"empty {column}")
    try:
        sent_at = float(values[domain.TIMESTAMP_FIELD])
        datetime.fromtimestamp(sent_at, tz=UTC)  # nan, inf and years past 9999 cannot be sent
        if not math.isfinite(sent_at):
            raise ValueError
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"TIMESTAMP {values[domain.TIMESTAMP_FIELD]!r} is not epoch seconds") from None
    event: dict[str, Any] = {}
    for column, member in EVENT_COLUMNS.items():
        value = values.get(column, "")
        if value == "":
            continue
        if member == "sentAt":
            event[member] = sent_at
        elif member == "eventValue":
            try:
                event[member] = float(value)
            except ValueError:
                raise ValueError(f"EVENT_VALUE {value!r} is not a number") from None
        elif member == "impression":
            event[member] = value.split(domain.CATEGORICAL_SEPARATOR)
        else:
            event[member] = value
    properties = _properties(values, [*EVENT_COLUMNS, domain.USER_ID_FIELD, SESSION_COLUMN])
    if properties:
        event["properties"] = properties
    user = values[domain.USER_ID_FIELD]
    return Row(line, event, (user, values.get(SESSION_COLUMN) or user))


class Batcher:
    """Rows into batches of one group each (events: one user's session, which a PutEvents call carries),
    at most SIZE rows. A group's rows wait for more of the same group while at most MAX_OPEN groups are
    open (the oldest is sent first beyond that), so a file ordered by time, users interleaved, still fills
    batches; memory stays within MAX_OPEN * SIZE rows. A group's rows keep their order.
    """

    def __init__(self, rows: Iterable[Row], size: int, max_open: int = MAX_OPEN_GROUPS) -> None:
        self._rows = rows
        self._size = size
        self._max_open = max_open
        self._open: dict[tuple[str, str], list[Row]] = {}  # in the order the groups were opened
        self._in_flight: list[Row] = []

    def __iter__(self) -> Iterator[list[Row]]:
        for row in self._rows:
            batch = self._open.setdefault(row.group, [])
            batch.append(row)
            if len(batch) == self._size:
                yield self._take(row.group)
            elif len(self._open) > self._max_open:
                yield self._take(next(iter(self._open)))
        while self._open:
            yield self._take(next(iter(self._open)))

    def _take(self, group: tuple[str, str]) -> list[Row]:
        self._in_flight = self._open.pop(group)
        return self._in_flight

    def answered(self) -> None:
        """The batch last handed out has its answer."""
        self._in_flight = []

    def first_unanswered(self) -> int | None:
        """The first line read whose call has not been answered (waiting, or in flight); None: none."""
        firsts = [batch[0].line for batch in self._open.values()]
        if self._in_flight:
            firsts.append(self._in_flight[0].line)
        return min(firsts, default=None)


def batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """Batches of at most SIZE rows of one group each (see Batcher)."""
    return iter(Batcher(rows, size))


# --- sending ----------------------------------------------------------------------------------


class RateLimiter:
    """At most RATE calls a second (0: no limit), spaced evenly."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = clock()

    def wait(self) -> None:
        now = self._clock()
        if self._next > now:
            self._sleep(self._next - now)
        self._next = max(self._next, now) + self._interval


@dataclass
class Recorder:
    """Sends batches through one boto3 personalize-events client."""

    client: Any
    kind: Kind
    target: dict[str, str]  # trackingId, or datasetArn
    rate: RateLimiter
    summary: Summary
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS

    @property
    def batch_size(self) -> int:
        return int(self.client.meta.service_model.shape_for(self.kind.list_shape).metadata["max"])

    def send(self, batch: list[Row]) -> None:
        """One call; a rejected batch is split until each bad row is found, so good rows still go in."""
        outcome = self._call(batch)
        self.summary.last_line = max(self.summary.last_line, batch[-1].line)
        if outcome is None:
            self.summary.accepted += len(batch)
            return
        reason, about_the_records = outcome
        if len(batch) == 1 or not about_the_records:
            self.summary.reject(reason, [row.line for row in batch], by_service=True)
        else:
            middle = len(batch) // 2
            self.send(batch[:middle])
            self.send(batch[middle:])

    def _call(self, batch: list[Row]) -> tuple[str, bool] | None:
        """None when accepted, else (the reason, whether it is about the records); retries what it can."""
        params: dict[str, Any] = {**self.target, self.kind.list_member: [row.record for row in batch]}
        if self.kind.name == "events":
            user, session = batch[0].group
            params |= {"userId": user, "sessionId": session}
        for attempt in range(1, self.max_attempts + 1):
            self.rate.wait()
            self.summary.calls += 1
            try:
                getattr(self.client, self.kind.operation)(**params)
                return None
            except ParamValidationError as error:  # botocore refused it before sending: never retried
                self.summary.calls -= 1
                return f"refused by botocore: {error}".replace("\n", " "), True
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if code not in RETRYABLE_CODES and status < 500:
                    message = error.response.get("Error", {}).get("Message", "")
                    return f"{code}: {message}", code == "InvalidInputException"
                reason = f"{code or status} after {self.max_attempts} attempts"
            except BotoCoreError as error:
                reason = f"{type(error).__name__} after {self.max_attempts} attempts: {error}"
            if attempt < self.max_attempts:
                self.summary.retries += 1
                time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, self.backoff_seconds * 2**attempt)))
        return reason, False


class Progress:
    """One line on stderr, redrawn in place on a terminal, every 10% otherwise."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self._total = max(total, 1)
        self._stream = stream
        self._tty = bool(stream and stream.isatty())
        self._shown = -1
        self._started = time.monotonic()

    def update(self, summary: Summary, *, final: bool = False) -> None:
        if self._stream is None:
            return
        done = summary.accepted + summary.rejected_count
        percent = min(100, done * 100 // self._total)
        if not final and not self._tty and percent // 10 == self._shown // 10:
            return
        self._shown = percent
        rate = summary.calls / max(time.monotonic() - self._started, 1e-6)
        filled = percent // 5
        line = (
            f"[{'#' * filled}{'.' * (20 - filled)}] {percent:3d}%  {done:,}/{self._total:,} rows, "
            f"{summary.rejected_count:,} rejected, {rate:.1f} calls/s"
        )
        self._stream.write(
            ("\r" + line if self._tty else line + "\n") + ("\n" if final and self._tty else "")
        )
        self._stream.flush()


def count_rows(path: Path) -> int:
    """Data lines (for the progress line's total); a file it cannot read is a UsageError."""
    try:
        with path.open("rb") as stream:
            return max(sum(1 for line in stream if line.strip()) - 1, 0)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from error


def record_file(
    path: Path,
    kind_name: str,
    target: dict[str, str],
    client: Any,
    *,
    rate: float = DEFAULT_RATE,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
    progress: TextIO | None = None,
) -> Summary:
    """Stream PATH into the service; the summary of what went in and what was rejected."""
    kind = KINDS[kind_name]
    summary = Summary()
    started = time.monotonic()
    recorder = Recorder(client, kind, target, RateLimiter(rate), summary, max_attempts, backoff_seconds)
    bar = Progress(0, None)
    batcher = Batcher(read_rows(path, kind, summary), recorder.batch_size)
    try:
        bar = Progress(count_rows(path), progress)
        for batch in batcher:
            recorder.send(batch)
            batcher.answered()
            bar.update(summary)
            reason = summary.hopeless()
            if reason is not None:
                summary.stopped = (
                    f"the first {summary.service_rejected[reason]:,} rows sent were all rejected for the "
                    f"same reason, so the run stopped; {_where(batcher, summary)}. Fix it and run again"
                )
                summary.exit_code = 1
                break
    except KeyboardInterrupt:
        summary.stopped = f"interrupted; {_where(batcher, summary)} (a call in flight may have been recorded)"
        summary.exit_code = EXIT_INTERRUPTED
    summary.seconds = time.monotonic() - started
    bar.update(summary, final=True)
    return summary


def _where(batcher: Batcher, summary: Summary) -> str:
    """Where a stopped run got to, for a rerun: rows are grouped by session, so answers are not in order."""
    first = batcher.first_unanswered()
    if first is None:
        return f"every row read was answered, through line {summary.last_line}; later lines were not read"
    return f"every line before {first} was answered; from line {first} on, only some were"


def events_client(region: str | None = None, endpoint_url: str | None = None) -> Any:
    """boto3's own retries are off: the recorder retries, and counts what it retried."""
    return boto3.session.Session(region_name=region).client(
        "personalize-events",
        endpoint_url=endpoint_url,  # None: AWS_ENDPOINT_URL_PERSONALIZE_EVENTS, else AWS
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30
        ),
    )


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(
        prog=program("personalize-record", "personalize_tools.record"),
        description=HELP.split("\n\n")[0],
        epilog="\n\n".join(HELP.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version(parser)
    parser.add_argument("kind", choices=sorted(KINDS), help="what the CSV holds")
    parser.add_argument("csv", type=Path, help="the CSV file, in the bulk-import layout")
    parser.add_argument(
        "--tracking-id", help="events: the event tracker's tracking id (the stack's TrackingId)"
    )
    parser.add_argument("--dataset-arn", help="users / items: the Users or Items dataset's ARN")
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"calls per second, 0 unlimited (default {DEFAULT_RATE:g})",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=DEFAULT_MAX_ATTEMPTS,
        help="tries per call on throttling or server errors",
    )
    parser.add_argument(
        "--backoff", type=float, default=DEFAULT_BACKOFF_SECONDS, help="first backoff in seconds; it doubles"
    )
    parser.add_argument("--region", help="AWS region (default: the environment's)")
    parser.add_argument("--endpoint-url", help="a personalize-events endpoint, e.g. the local emulator")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    arguments = parser.parse_args(argv)
    try:
        if arguments.kind == "events" and not arguments.tracking_id:
            raise UsageError("events need --tracking-id (the event tracker's; the stack output TrackingId)")
        if arguments.kind != "events" and not arguments.dataset_arn:
            raise UsageError(
                f"{arguments.kind} need --dataset-arn (the {arguments.kind.title()} dataset's ARN)"
            )
        if arguments.rate < 0 or arguments.max_attempts < 1:
            raise UsageError("--rate must be 0 or more and --max-attempts at least 1")
        target = (
            {"trackingId": arguments.tracking_id}
            if arguments.kind == "events"
            else {"datasetArn": arguments.dataset_arn}
        )
        client = events_client(arguments.region, arguments.endpoint_url)
        out.write(
            f"record {arguments.kind}: {arguments.csv} -> {KINDS[arguments.kind].operation} "
            f"at {client.meta.endpoint_url}\n"
        )
        summary = record_file(
            arguments.csv,
            arguments.kind,
            target,
            client,
            rate=arguments.rate,
            max_attempts=arguments.max_attempts,
            backoff_seconds=arguments.backoff,
            progress=None if arguments.quiet else err,
        )
    except UsageError as error:
        err.write(f"error: {error}\n")
        return 2
    except BotoCoreError as error:  # no region, no credentials
        err.write(f"error: {error}\n")
        return 2
    except KeyboardInterrupt:  # before the run started
        err.write("interrupted; nothing was sent\n")
        return EXIT_INTERRUPTED
    out.write(summary.render() + "\n")
    return summary.exit_code or (1 if summary.rejected else 0)


if __name__ == "__main__":
    sys.exit(main())
