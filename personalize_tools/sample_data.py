"""Realistic, deterministic Interactions CSVs for demos, tests and benchmarks.

The same arguments always give the same bytes: every random draw comes from one seeded numpy
generator consumed in a fixed order, and the default time window is a fixed date rather than "now".
Rows are produced in fixed-size chunks, each covering its own slice of the time window, so any size
streams to disk with bounded memory while timestamps stay non-decreasing across the whole file.

Realism, so that recommenders and the validator see data shaped like a shop's or a streaming
service's: item popularity follows a Zipf law, user activity is skewed, users act in sessions of a
few events seconds to minutes apart, and a "conversion" event (a Purchase, a Watch) repeats the item
of the event before it in the session.

    python -m personalize_tools.sample_data --domain ECOMMERCE --rows 5000 --seed 7 \\
        --out data/sample/interactions.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lambda_handlers.personalize import domain as domain_facts

DEFAULT_SEED = 7
DEFAULT_START = 1_704_067_200  # 2024-01-01T00:00:00Z: fixed, so output does not depend on the clock
DEFAULT_DAYS = 90
CHUNK_ROWS = 500_000  # part of the output format: changing it changes the bytes for a given seed

ITEM_ZIPF_EXPONENT = 1.05
USER_ACTIVITY_EXPONENT = 0.8
MEAN_SESSION_EVENTS = 4.0
MEAN_SECONDS_BETWEEN_EVENTS = 45.0


@dataclass(frozen=True)
class _EventMix:
    """Which event of a domain is the conversion and how often an event after the first converts."""

    conversion: str
    conversion_share: float


# The browse events are the domain's other event types (domain_facts.EVENT_TYPES).
EVENT_MIX: dict[str, _EventMix] = {
    "ECOMMERCE": _EventMix(conversion="Purchase", conversion_share=0.3),
    "VIDEO_ON_DEMAND": _EventMix(conversion="Watch", conversion_share=0.6),
}

# Defects a test or demo can ask for; each breaks exactly one validate-data rule.
DEFECTS = {
    "milliseconds": "TIMESTAMP in epoch milliseconds",
    "microseconds": "TIMESTAMP in epoch microseconds",
    "iso-timestamps": "TIMESTAMP as ISO-8601 strings",
    "duplicates": "every 50th row repeats the row before it",
    "bom": "a UTF-8 byte-order mark before the header",
}


class SampleDataError(ValueError):
    """Arguments that cannot produce a sample file; the message names the argument."""


def default_users(rows: int) -> int:
    return max(30, rows // 25)


def default_items(rows: int) -> int:
    return max(20, rows // 100)


def generate_interactions(
    path: str | Path,
    *,
    domain: str,
    rows: int,
    seed: int = DEFAULT_SEED,
    users: int | None = None,
    items: int | None = None,
    start: int = DEFAULT_START,
    days: float = DEFAULT_DAYS,
    line_ending: str = "\n",
    defects: Collection[str] = (),
) -> Path:
    """Write ROWS interactions for DOMAIN to PATH as CSV with the domain's default header."""
    _check_arguments(
        domain,
        rows=rows,
        users=users,
        items=items,
        start=start,
        days=days,
        line_ending=line_ending,
        defects=defects,
    )
    users = users or default_users(rows)
    items = items or default_items(rows)
    event_types = domain_event_types(domain)
    mix = EVENT_MIX[domain]
    conversion_code = event_types.index(mix.conversion)
    browse_codes = np.array([code for code, name in enumerate(event_types) if name != mix.conversion])
    columns = _header(domain)

    rng = np.random.default_rng(seed)
    item_cdf = _zipf_cdf(items, ITEM_ZIPF_EXPONENT)
    user_cdf = _zipf_cdf(users, USER_ACTIVITY_EXPONENT)
    # Popularity rank is not id order: a fixed shuffle makes i1 no more popular than i97.
    item_ids = rng.permutation(items) + 1
    user_ids = rng.permutation(users) + 1
    type_names = pa.array(event_types)

    span = int(days * 86_400)
    chunks = max(1, -(-rows // CHUNK_ROWS))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_options = pacsv.WriteOptions(include_header=False, eol=line_ending, quoting_style="none")
    with target.open("wb") as out:
        if "bom" in defects:
            out.write(b"\xef\xbb\xbf")
        out.write((",".join(columns) + line_ending).encode())
        for chunk in range(chunks):
            chunk_rows = min(CHUNK_ROWS, rows - chunk * CHUNK_ROWS)
            window = (start + span * chunk // chunks, start + span * (chunk + 1) // chunks)
            user, item, timestamp, event_code = _chunk(
                rng,
                chunk_rows,
                window=window,
                user_cdf=user_cdf,
                item_cdf=item_cdf,
                conversion_code=conversion_code,
                browse_codes=browse_codes,
                mix=mix,
            )
            if "duplicates" in defects:
                _repeat_every(50, user, item, timestamp, event_code)
            table = pa.table(
                {
                    domain_facts.USER_ID_FIELD: _prefixed("u", user_ids[user]),
                    domain_facts.ITEM_ID_FIELD: _prefixed("i", item_ids[item]),
                    domain_facts.TIMESTAMP_FIELD: _timestamps(timestamp, defects),
                    domain_facts.EVENT_TYPE_FIELD: type_names.take(pa.array(event_code)),
                }
            ).select(columns)
            pacsv.write_csv(table, out, write_options)
    return target


def domain_event_types(domain_name: str) -> list[str]:
    """The domain's event types with the generator's conversion event checked against them."""
    event_types = list(domain_facts.EVENT_TYPES[domain_name])
    if EVENT_MIX[domain_name].conversion not in event_types:
        raise SampleDataError(
            f"EVENT_MIX names {EVENT_MIX[domain_name].conversion!r} for {domain_name}, "
            f"which is not one of its event types {event_types}"
        )
    return event_types


def _header(domain_name: str) -> list[str]:
    columns = domain_facts.schema_field_names(domain_facts.default_schema_json(domain_name))
    known = {*domain_facts.ID_FIELDS, domain_facts.TIMESTAMP_FIELD, domain_facts.EVENT_TYPE_FIELD}
    if set(columns) != known:
        raise SampleDataError(
            f"the {domain_name} default Interactions schema has fields {columns}; expected {known}"
        )
    return columns


def _check_arguments(
    domain_name: str,
    *,
    rows: int,
    users: int | None,
    items: int | None,
    start: int,
    days: float,
    line_ending: str,
    defects: Collection[str],
) -> None:
    if domain_name not in domain_facts.DOMAINS:
        raise SampleDataError(f"domain {domain_name!r} is not one of {', '.join(domain_facts.DOMAINS)}")
    if rows < 1:
        raise SampleDataError(f"rows must be at least 1, got {rows}")
    for name, value in (("users", users), ("items", items)):
        if value is not None and value < 1:
            raise SampleDataError(f"{name} must be at least 1, got {value}")
    if days <= 0:
        raise SampleDataError(f"days must be positive, got {days}")
    end = start + int(days * 86_400)
    if end > time.time():
        raise SampleDataError(
            f"start {start} plus {days} days ends at {end}, in the future; choose an earlier start"
        )
    if line_ending not in ("\n", "\r\n"):
        raise SampleDataError(f"line_ending must be '\\n' or '\\r\\n', got {line_ending!r}")
    unknown = sorted(set(defects) - DEFECTS.keys())
    if unknown:
        raise SampleDataError(f"unknown defect(s) {', '.join(unknown)}; known: {', '.join(DEFECTS)}")
    if len({"milliseconds", "microseconds", "iso-timestamps"} & set(defects)) > 1:
        raise SampleDataError(
            "choose at most one of the timestamp defects milliseconds, microseconds, iso-timestamps"
        )


def _zipf_cdf(count: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1, dtype=np.float64) ** exponent
    cdf = np.cumsum(weights)
    result: np.ndarray = cdf / cdf[-1]
    return result


def _chunk(
    rng: np.random.Generator,
    rows: int,
    *,
    window: tuple[int, int],
    user_cdf: np.ndarray,
    item_cdf: np.ndarray,
    conversion_code: int,
    browse_codes: np.ndarray,
    mix: _EventMix,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One chunk of sessions inside WINDOW, sorted by time: (user, item, timestamp, event code)."""
    # Enough sessions to cover the rows, then cut the last one short.
    draws = int(rows / MEAN_SESSION_EVENTS * 1.3) + 16
    lengths = rng.geometric(1.0 / MEAN_SESSION_EVENTS, size=draws)
    while lengths.sum() < rows:
        lengths = np.concatenate([lengths, rng.geometric(1.0 / MEAN_SESSION_EVENTS, size=draws)])
    ends = np.cumsum(lengths)
    sessions = int(np.searchsorted(ends, rows)) + 1
    lengths = lengths[:sessions]
    lengths[-1] -= ends[sessions - 1] - rows
    session_of_event = np.repeat(np.arange(sessions), lengths)
    session_first = np.zeros(rows, dtype=bool)
    session_first[np.concatenate([[0], ends[: sessions - 1]])] = True

    # At least a second apart, so one session never repeats a row exactly.
    gaps = 1 + rng.exponential(MEAN_SECONDS_BETWEEN_EVENTS - 1, size=rows).astype(np.int64)
    gaps[session_first] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[session_first], lengths)
    duration = np.maximum.reduceat(elapsed, np.flatnonzero(session_first))
    window_start, window_end = window
    latest_start = np.maximum(window_end - 1 - duration, window_start)
    session_start = window_start + (rng.random(sessions) * (latest_start - window_start + 1)).astype(np.int64)
    timestamp = np.minimum(session_start[session_of_event] + elapsed, window_end - 1)

    user = np.searchsorted(user_cdf, rng.random(sessions), side="right")[session_of_event]
    item = np.searchsorted(item_cdf, rng.random(rows), side="right")
    converts = (rng.random(rows) < mix.conversion_share) & ~session_first
    event_code = browse_codes[rng.integers(0, len(browse_codes), size=rows)]
    event_code[converts] = conversion_code
    # A conversion acts on what the user just looked at; repeat runs resolve left to right.
    source = np.where(converts, 0, np.arange(rows))
    np.maximum.accumulate(source, out=source)
    item = item[source]

    order = np.argsort(timestamp, kind="stable")
    return user[order], item[order], timestamp[order], event_code[order]


def _repeat_every(step: int, *columns: np.ndarray) -> None:
    copies = np.arange(step, len(columns[0]), step)
    for column in columns:
        column[copies] = column[copies - 1]


def _prefixed(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _timestamps(seconds: np.ndarray, defects: Collection[str]) -> pa.Array:
    if "milliseconds" in defects:
        return pa.array(seconds * 1_000)
    if "microseconds" in defects:
        return pa.array(seconds * 1_000_000)
    if "iso-timestamps" in defects:
        return pc.strftime(pa.array(seconds).cast(pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    return pa.array(seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m personalize_tools.sample_data",
        description="Write a realistic, deterministic Interactions CSV for a Personalize domain.",
    )
    parser.add_argument("--domain", required=True, choices=domain_facts.DOMAINS)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True, help="CSV file to write (parent folders are created)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--users", type=int, help="distinct users (default: rows/25, at least 30)")
    parser.add_argument("--items", type=int, help="distinct items (default: rows/100, at least 20)")
    parser.add_argument(
        "--start", type=int, default=DEFAULT_START, help="first possible timestamp, epoch seconds"
    )
    parser.add_argument("--days", type=float, default=DEFAULT_DAYS, help="length of the time window")
    parser.add_argument("--crlf", action="store_true", help="end lines with CRLF instead of LF")
    parser.add_argument(
        "--defect",
        action="append",
        default=[],
        choices=sorted(DEFECTS),
        help="inject a defect (repeatable): " + "; ".join(f"{k}: {v}" for k, v in DEFECTS.items()),
    )
    args = parser.parse_args(argv)
    try:
        path = generate_interactions(
            args.out,
            domain=args.domain,
            rows=args.rows,
            seed=args.seed,
            users=args.users,
            items=args.items,
            start=args.start,
            days=args.days,
            line_ending="\r\n" if args.crlf else "\n",
            defects=args.defect,
        )
    except SampleDataError as error:
        parser.error(str(error))
    print(f"wrote {args.rows} {args.domain} interactions to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
