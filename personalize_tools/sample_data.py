"""Realistic, deterministic Interactions, Users and Items CSVs for demos, tests and benchmarks.

The same arguments always give the same bytes: every random draw comes from one seeded numpy
generator consumed in a fixed order, and the default time window is a fixed date rather than "now".
Rows are produced in fixed-size chunks, each covering its own slice of the time window, so any size
streams to disk with bounded memory while timestamps stay non-decreasing across the whole file.

Realism, so that recommenders and the validator see data shaped like a shop's or a streaming
service's: item popularity follows a Zipf law, user activity is skewed, users act in sessions of a
few events seconds to minutes apart, and a "conversion" event (a Purchase, a Watch) repeats the item
of the event before it in the session. Users and Items files have the columns of the domain's
default schema, with ids u1..uN and i1..iN: the ids an Interactions file for N users and M items
draws from, so every interaction's user and item has a record.

    python -m personalize_tools.sample_data --domain ECOMMERCE --rows 5000 --seed 7 \\
        --out data/sample/interactions.csv
    python -m personalize_tools.sample_data --kind items --domain ECOMMERCE --rows 5000 --out items.csv
    python -m personalize_tools.sample_data --env dev     # every missing local file of config/dev.yaml
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lambda_handlers.personalize import contract, domain_rules
from lambda_handlers.personalize import domain as domain_facts
from personalize_tools.cli_common import add_version, program

if TYPE_CHECKING:
    from config.model import EnvironmentConfig

DEFAULT_SEED = 7
DEFAULT_START = 1_704_067_200  # 2024-01-01T00:00:00Z: fixed, so output does not depend on the clock
DEFAULT_DAYS = 90
CHUNK_ROWS = 500_000  # part of the output format: changing it changes the bytes for a given seed
# --env: 5000 interactions hold 1,141 Purchase and 3,859 View (ECOMMERCE), 2,233 Watch (VIDEO_ON_DEMAND)
# with the default seed, so every use case of either domain has its 1000 events.
DEFAULT_ENV_ROWS = 5000
USER_ID_PREFIX = "u"
ITEM_ID_PREFIX = "i"

ITEM_ZIPF_EXPONENT = 1.05
USER_ACTIVITY_EXPONENT = 0.8
MEAN_SESSION_EVENTS = 4.0
MEAN_SECONDS_BETWEEN_EVENTS = 45.0


@dataclass(frozen=True)
class _EventMix:
    """Which event of a domain is the conversion and how often an event after the first converts."""

    conversion: str
    conversion_share: float


# The browse events are the domain's other event types (domain_rules.EVENT_TYPES).
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


class SampleConfigError(SampleDataError):
    """The environment's config file is unusable: its own message says what to fix, no usage text."""


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

    def tables() -> Iterable[pa.Table]:
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
            yield pa.table(
                {
                    domain_facts.USER_ID_FIELD: _prefixed(USER_ID_PREFIX, user_ids[user]),
                    domain_facts.ITEM_ID_FIELD: _prefixed(ITEM_ID_PREFIX, item_ids[item]),
                    domain_facts.TIMESTAMP_FIELD: _timestamps(timestamp, defects),
                    domain_facts.EVENT_TYPE_FIELD: type_names.take(pa.array(event_code)),
                }
            ).select(columns)

    return _write_csv(path, columns, tables(), line_ending=line_ending, bom="bom" in defects)


def _write_csv(
    path: str | Path, columns: list[str], tables: Iterable[pa.Table], *, line_ending: str, bom: bool = False
) -> Path:
    """A header of bare names (pyarrow would quote them), then each table's rows, unquoted.

    Written beside the target and renamed into place, so a reader (or a concurrent writer of the
    same file, such as two test workers) never sees half a file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    write_options = pacsv.WriteOptions(include_header=False, eol=line_ending, quoting_style="none")
    try:
        with partial.open("wb") as out:
            if bom:
                out.write(b"\xef\xbb\xbf")
            out.write((",".join(columns) + line_ending).encode())
            for table in tables:
                pacsv.write_csv(table, out, write_options)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


# --- Users and Items ------------------------------------------------------------------------------

# Metadata values, with their shares where some are commoner than others.
MEMBERSHIP_STATUSES = {"Free": 0.55, "Silver": 0.25, "Gold": 0.15, "Platinum": 0.05}
SUBSCRIPTION_MODELS = {"Free": 0.3, "Basic": 0.3, "Standard": 0.25, "Premium": 0.15}
SUBSCRIPTION_UNKNOWN_SHARE = 0.05  # SUBSCRIPTION_MODEL is nullable: some users never said
ECOMMERCE_CATEGORIES = (
    "apparel", "beauty", "books", "electronics", "footwear", "furniture", "groceries", "home",
    "jewelry", "outdoors", "sports", "toys",
)  # fmt: skip
VOD_GENRES = {
    "Drama": 0.2, "Comedy": 0.16, "Action": 0.12, "Thriller": 0.1, "Documentary": 0.08, "Romance": 0.07,
    "Crime": 0.06, "Sci-Fi": 0.05, "Horror": 0.04, "Animation": 0.04, "Family": 0.03, "Fantasy": 0.03,
    "Mystery": 0.02,
}  # fmt: skip
GENRES_PER_TITLE = {1: 0.45, 2: 0.4, 3: 0.15}
MEDIAN_PRICE = 25.0
CATALOGUE_YEARS = 5  # items were created in the years before DEFAULT_START

RECORD_CHUNK_ROWS = 100_000  # part of the output format, as CHUNK_ROWS; bounds memory at any size

# Values for a chunk of records, given the seeded generator and the chunk's id numbers.
_ValueMaker = Callable[[np.random.Generator, np.ndarray], pa.Array]


def generate_users(path: str | Path, *, domain: str, users: int, seed: int = DEFAULT_SEED) -> Path:
    """Write USERS records u1..uN with the columns of DOMAIN's default Users schema."""
    return _write_records(path, domain=domain, dataset_type="USERS", count=users, seed=seed)


def generate_items(path: str | Path, *, domain: str, items: int, seed: int = DEFAULT_SEED) -> Path:
    """Write ITEMS records i1..iN with the columns of DOMAIN's default Items schema."""
    return _write_records(path, domain=domain, dataset_type="ITEMS", count=items, seed=seed)


def _write_records(path: str | Path, *, domain: str, dataset_type: str, count: int, seed: int) -> Path:
    if domain not in contract.DOMAINS:
        raise SampleDataError(f"domain {domain!r} is not one of {', '.join(contract.DOMAINS)}")
    if count < 1:
        raise SampleDataError(f"{dataset_type.lower()} must be at least 1, got {count}")
    columns = domain_facts.schema_field_names(domain_rules.default_schema(domain, dataset_type))
    unknown = [name for name in columns if name not in _VALUE_MAKERS]
    if unknown:
        raise SampleDataError(
            f"the {domain} default {domain_rules.RECORD_NAMES[dataset_type]} schema has field(s) "
            f"{', '.join(unknown)} the generator has no values for"
        )
    rng = np.random.default_rng(seed)
    tables = (
        pa.table({name: _VALUE_MAKERS[name](rng, numbers) for name in columns})
        for numbers in np.array_split(np.arange(1, count + 1), -(-count // RECORD_CHUNK_ROWS))
    )
    return _write_csv(path, columns, tables, line_ending="\n")


def _choice(rng: np.random.Generator, count: int, shares: dict[str, float]) -> pa.Array:
    """COUNT draws from SHARES' keys, each as often as its share."""
    weights = np.array(list(shares.values()))
    return pa.array(list(shares)).take(
        pa.array(rng.choice(len(shares), size=count, p=weights / weights.sum()))
    )


def _subscription_models(rng: np.random.Generator, numbers: np.ndarray) -> pa.Array:
    count = len(numbers)
    models = _choice(rng, count, SUBSCRIPTION_MODELS)
    unknown = pa.array(rng.random(count) < SUBSCRIPTION_UNKNOWN_SHARE)
    return pc.if_else(unknown, pa.scalar(None, pa.string()), models)


def _prices(rng: np.random.Generator, numbers: np.ndarray) -> pa.Array:
    """Log-normal around MEDIAN_PRICE, priced the way shops do: 24.99, 9.99."""
    raw = rng.lognormal(np.log(MEDIAN_PRICE), 0.9, size=len(numbers))
    return pa.array(np.round(np.maximum(np.round(raw), 1.0) - 0.01, 2))


def _categories(rng: np.random.Generator, numbers: np.ndarray) -> pa.Array:
    drawn = rng.integers(0, len(ECOMMERCE_CATEGORIES), len(numbers))
    return pa.array(ECOMMERCE_CATEGORIES).take(pa.array(drawn))


def _genres(rng: np.random.Generator, numbers: np.ndarray) -> pa.Array:
    """One to three distinct genres per title, commoner genres more often, joined with '|'."""
    count = len(numbers)
    names = pa.array(list(VOD_GENRES))
    weights = np.log(np.array(list(VOD_GENRES.values())))
    # Gumbel top-k: the k largest of log-weight plus Gumbel noise are a weighted draw without replacement.
    ranked = np.argsort(-(weights + rng.gumbel(size=(count, len(VOD_GENRES)))), axis=1)
    sizes = np.array(list(GENRES_PER_TITLE))
    shares = np.array(list(GENRES_PER_TITLE.values()))
    per_title = rng.choice(sizes, size=count, p=shares / shares.sum())
    chosen = ranked[:, : sizes.max()][np.arange(sizes.max()) < per_title[:, None]]
    offsets = np.concatenate([[0], np.cumsum(per_title)]).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), names.take(pa.array(chosen)))
    return pc.binary_join(lists, domain_facts.CATEGORICAL_SEPARATOR)


def _creation_timestamps(rng: np.random.Generator, numbers: np.ndarray) -> pa.Array:
    span = CATALOGUE_YEARS * 365 * 86_400
    return pa.array(DEFAULT_START - span + rng.integers(0, span, size=len(numbers)))


_VALUE_MAKERS: dict[str, _ValueMaker] = {
    # The ids generate_interactions draws from for N users or items: u1..uN, i1..iN.
    domain_facts.USER_ID_FIELD: lambda _, numbers: _prefixed(USER_ID_PREFIX, numbers),
    domain_facts.ITEM_ID_FIELD: lambda _, numbers: _prefixed(ITEM_ID_PREFIX, numbers),
    "MEMBERSHIP_STATUS": lambda rng, numbers: _choice(rng, len(numbers), MEMBERSHIP_STATUSES),
    "SUBSCRIPTION_MODEL": _subscription_models,
    "PRICE": _prices,
    "CATEGORY_L1": _categories,
    "GENRES": _genres,
    domain_facts.CREATION_TIMESTAMP_FIELD: _creation_timestamps,
}


def domain_event_types(domain_name: str) -> list[str]:
    """The domain's event types with the generator's conversion event checked against them."""
    event_types = list(domain_rules.EVENT_TYPES[domain_name])
    if EVENT_MIX[domain_name].conversion not in event_types:
        raise SampleDataError(
            f"EVENT_MIX names {EVENT_MIX[domain_name].conversion!r} for {domain_name}, "
            f"which is not one of its event types {event_types}"
        )
    return event_types


def _header(domain_name: str) -> list[str]:
    columns = domain_facts.schema_field_names(domain_rules.default_schema_json(domain_name))
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
    if domain_name not in contract.DOMAINS:
        raise SampleDataError(f"domain {domain_name!r} is not one of {', '.join(contract.DOMAINS)}")
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


# --- an environment's files -----------------------------------------------------------------------


@dataclass(frozen=True)
class SampleFile:
    """What write_environment_samples did for one dataset of an environment."""

    dataset_type: str
    path: Path | None  # None: the data source is not a local path
    action: Literal["wrote", "exists", "skipped"]
    detail: str  # a sentence for the person who ran it


def write_environment_samples(
    config: EnvironmentConfig, *, rows: int = DEFAULT_ENV_ROWS, seed: int = DEFAULT_SEED
) -> list[SampleFile]:
    """Write each local data file of CONFIG that does not exist yet, with consistent ids.

    Users and Items get default_users(ROWS) and default_items(ROWS) records, the counts the ROWS
    interactions draw from. A file that exists is left alone, so ids stay consistent only among files
    written by one call with the same ROWS. A dataset whose schema needs other columns than the
    domain's default schema has is skipped rather than written wrong.
    """
    from config.model import ConfigError  # noqa: PLC0415 - loaded with CONFIG already

    users, items = default_users(rows), default_items(rows)
    results = []
    for dataset_type, plan in config.datasets().items():
        kind = domain_rules.RECORD_NAMES[dataset_type]
        path = plan.local_path
        if plan.data_source is None:
            results.append(SampleFile(dataset_type, None, "skipped", f"{kind}: no data_source to write"))
            continue
        if path is None:
            source = plan.data_source.bucket_key or plan.data_source.s3_uri
            results.append(SampleFile(dataset_type, None, "skipped", f"{kind}: {source} is not a local file"))
            continue
        if path.exists():
            results.append(SampleFile(dataset_type, path, "exists", f"{kind}: {path} exists; left as it is"))
            continue
        try:
            schema_json = plan.schema_json()
        except ConfigError as error:
            raise SampleConfigError(str(error)) from error
        mismatch = _schema_mismatch(schema_json, config.domain, dataset_type)
        if mismatch:
            results.append(
                SampleFile(dataset_type, path, "skipped", f"{kind}: {mismatch}; {path} not written")
            )
            continue
        if dataset_type == "INTERACTIONS":
            generate_interactions(path, domain=config.domain, rows=rows, seed=seed, users=users, items=items)
            count = rows
        elif dataset_type == "USERS":
            generate_users(path, domain=config.domain, users=users, seed=seed)
            count = users
        else:
            generate_items(path, domain=config.domain, items=items, seed=seed)
            count = items
        detail = f"{kind}: wrote {count:,} {config.domain} records to {path}"
        results.append(SampleFile(dataset_type, path, "wrote", detail))
    return results


def _schema_mismatch(schema_json: str, domain_name: str, dataset_type: str) -> str | None:
    """Why a file with the default schema's columns would not fit SCHEMA_JSON, or None when it would."""
    written = domain_facts.schema_field_names(domain_rules.default_schema(domain_name, dataset_type))
    known = domain_facts.schema_field_names(schema_json)
    problems = []
    lacking = [name for name in domain_facts.required_columns(schema_json) if name not in written]
    if lacking:
        problems.append(f"requires {', '.join(lacking)}, which the default schema the generator writes lacks")
    extra = [name for name in written if name not in known]
    if extra:
        problems.append(f"has no {', '.join(extra)}, which the generator writes")
    return "the configured schema " + " and ".join(problems) if problems else None


def _load_environment(name: str) -> EnvironmentConfig:
    """config/NAME.yaml, without the check that its data files exist: they are what --env writes."""
    from config import ConfigError, load_environment  # noqa: PLC0415 - only --env needs the config stack

    try:
        return load_environment(name, check_data=False)
    except ConfigError as error:
        raise SampleConfigError(str(error)) from error


# --- command line ----------------------------------------------------------------------------------

KINDS = ("interactions", "users", "items")
_INTERACTIONS_ONLY = ("users", "items", "start", "days", "crlf", "defect")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=program("personalize-sample-data", "personalize_tools.sample_data"),
        description="Write realistic, deterministic Interactions, Users or Items CSVs for a domain.",
    )
    add_version(parser)
    parser.add_argument(
        "--env",
        metavar="NAME",
        help="write every local data file of config/NAME.yaml that does not exist yet "
        f"(with --rows, default {DEFAULT_ENV_ROWS}, and --seed only)",
    )
    parser.add_argument("--kind", choices=KINDS, help="what to write (default interactions)")
    parser.add_argument("--domain", choices=contract.DOMAINS)
    parser.add_argument(
        "--rows", type=int, help="interactions; for users and items, the interactions their ids serve"
    )
    parser.add_argument("--out", help="CSV file to write (parent folders are created)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--users", type=int, help="distinct users (default: rows/25, at least 30)")
    parser.add_argument("--items", type=int, help="distinct items (default: rows/100, at least 20)")
    parser.add_argument("--start", type=int, help="first possible timestamp, epoch seconds")
    parser.add_argument("--days", type=float, help=f"length of the time window (default {DEFAULT_DAYS})")
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
        if args.env:
            given = [name for name in ("kind", "domain", "out", *_INTERACTIONS_ONLY) if getattr(args, name)]
            if given:
                raise SampleDataError(
                    f"--env writes the environment's own files with its domain; drop --{given[0]}"
                )
            for result in write_environment_samples(
                _load_environment(args.env), rows=args.rows or DEFAULT_ENV_ROWS, seed=args.seed
            ):
                print(result.detail)
            return 0
        print(_write_kind(args))
    except SampleConfigError as error:
        print(f"config error: {error}", file=sys.stderr)  # as the CDK app says it: `make synth` runs both
        return 2
    except SampleDataError as error:
        parser.error(str(error))
    return 0


def _write_kind(args: argparse.Namespace) -> str:
    """Write the one file --kind, --domain and --out ask for; returns what was written."""
    kind = args.kind or "interactions"
    if not args.domain or not args.out:
        raise SampleDataError("give --domain and --out (or --env NAME)")
    if kind == "interactions":
        if args.rows is None:
            raise SampleDataError("give --rows: how many interactions to write")
        path = generate_interactions(
            args.out,
            domain=args.domain,
            rows=args.rows,
            seed=args.seed,
            users=args.users,
            items=args.items,
            start=DEFAULT_START if args.start is None else args.start,
            days=DEFAULT_DAYS if args.days is None else args.days,
            line_ending="\r\n" if args.crlf else "\n",
            defects=args.defect,
        )
        return f"wrote {args.rows:,} {args.domain} interactions to {path}"
    misplaced = [name for name in _INTERACTIONS_ONLY if name != kind and getattr(args, name)]
    if misplaced:
        raise SampleDataError(f"--{misplaced[0]} goes with --kind interactions")
    count = getattr(args, kind)
    if count is None:
        if args.rows is None:
            raise SampleDataError(f"give --{kind} N, or --rows N for the {kind} N interactions draw from")
        count = default_users(args.rows) if kind == "users" else default_items(args.rows)
    if kind == "users":
        path = generate_users(args.out, domain=args.domain, users=count, seed=args.seed)
    else:
        path = generate_items(args.out, domain=args.domain, items=count, seed=args.seed)
    return f"wrote {count:,} {args.domain} {kind} to {path}"


if __name__ == "__main__":
    sys.exit(main())
