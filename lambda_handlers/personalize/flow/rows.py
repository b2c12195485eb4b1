"""validate-data's rules on one uploaded CSV, streamed by ranged GETs, in plain Python (no pyarrow in Lambda).

The rule ids and levels are validate-data's (personalize_tools/validate/rules.py; a test keeps them
equal), the facts behind them domain.py's: required and known columns, value patterns per Avro type,
ID and categorical lengths, timestamp magnitudes, and the quotas page's minimum of records per import
job (min_interactions: one file is one job, FULL or INCREMENTAL). Rules that need the whole dataset
(training users, event types, duplicates across files) are not checked here: Personalize counts
INCREMENTAL data together with what the dataset holds, which one file cannot show.

An object larger than MAX_CHECKED_BYTES is checked on its first MAX_CHECKED_BYTES (whole lines) and
the report says so: a Lambda invocation has at most 15 minutes, and this one five.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import domain
from ..csv_header import parse_header

CHUNK_BYTES = 8 * 1024 * 1024
# Our choice: about 80 s at the slowest rate measured (benchmarks/bench_import_checks.py).
MAX_CHECKED_BYTES = 64 * 1024 * 1024
MAX_EXAMPLES = 5

# validate-data's rules this check applies, with their levels (tests compare them with rules.py).
RULE_LEVELS: dict[str, str] = {
    "header_bom": "error",
    "header_quoted": "warning",
    "header_missing_columns": "error",
    "header_unknown_columns": "error",
    "header_duplicate_columns": "error",
    "csv_syntax": "error",
    "utf8": "error",
    "row_width": "error",
    "blank_lines": "warning",
    "null_values": "error",
    "value_types": "error",
    "id_length": "error",
    "categorical_length": "error",
    "timestamp_milliseconds": "error",
    "timestamp_microseconds": "error",
    "timestamp_iso": "error",
    "timestamp_future": "warning",
    "timestamp_before_2000": "warning",
    "min_interactions": "error",
}
# Rules about the whole file, not a line: the rejection names their finding, not a count.
FILE_RULES = frozenset({"min_interactions"})
_PATTERNS = {avro_type: re.compile(pattern) for avro_type, pattern in domain.VALUE_PATTERNS.items()}
_ISO_DATE = re.compile(domain.ISO_DATE_PATTERN)


@dataclass
class Finding:
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example)


@dataclass
class RowReport:
    """What the checks found: per rule, a count and the first examples (line numbers and values)."""

    columns: list[str] = field(default_factory=list)
    rows: int = 0
    checked_bytes: int = 0
    object_bytes: int = 0
    findings: dict[str, Finding] = field(default_factory=dict)
    # "The future" for timestamp_future: when the check ran, in epoch seconds (validate-data's rule).
    checked_at: int = field(default_factory=lambda: int(time.time()))

    @property
    def sampled(self) -> bool:
        return self.checked_bytes < self.object_bytes

    def offend(self, rule_id: str, example: str) -> None:
        self.findings.setdefault(rule_id, Finding()).add(example)

    def errors(self) -> dict[str, Finding]:
        return {rule: found for rule, found in self.findings.items() if RULE_LEVELS[rule] == "error"}

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rowsChecked": self.rows,
            "checkedBytes": self.checked_bytes,
            "objectBytes": self.object_bytes,
            "sampled": self.sampled,
            "findings": [
                {"rule": rule, "level": RULE_LEVELS[rule], "count": found.count, "examples": found.examples}
                for rule, found in self.findings.items()
            ],
        }


@dataclass(frozen=True)
class _Column:
    name: str
    avro_type: str | None
    nullable: bool
    is_id: bool
    categorical: bool
    epoch_seconds: bool


def check_rows(
    s3: Any,
    *,
    bucket: str,
    key: str,
    version_id: str | None,
    size: int,
    schema: str | Mapping[str, Any],
    dataset_type: str,
    max_bytes: int = MAX_CHECKED_BYTES,
) -> RowReport:
    """Check the object's header, then its rows up to `max_bytes`; nothing is raised for bad data."""
    report = RowReport(object_bytes=size)
    chunks = _chunks(s3, bucket, key, version_id=version_id, end=min(size, max_bytes))
    first = next(chunks, b"")
    header = parse_header(first)
    report.columns = list(header.names)
    if not _header_ok(report, header, schema):
        report.checked_bytes = min(size, len(first))
        return report
    columns = _columns(list(header.names), schema, dataset_type)
    lines = _lines(
        report, first[header.end :], chunks, start_offset=header.end, max_bytes=min(size, max_bytes)
    )
    reader = csv.reader(lines, strict=True)
    try:
        for row in reader:
            line = reader.line_num + 1  # the header is line 1
            if not row or (row == [""] and len(columns) > 1):
                report.offend("blank_lines", f"line {line}")
                continue
            report.rows += 1
            if len(row) != len(columns):
                report.offend("row_width", f"line {line}: {len(row)} fields, the header has {len(columns)}")
                continue
            for column, value in zip(columns, row, strict=True):
                _check_value(report, column, value, line)
    except csv.Error as error:
        report.offend("csv_syntax", f"line {reader.line_num + 1}: {error}")
    _check_minimum(report, dataset_type)
    return report


def _check_minimum(report: RowReport, dataset_type: str) -> None:
    """An Interactions import job needs domain.MIN_INTERACTIONS records (quotas page), FULL or INCREMENTAL;
    a sample is cut from an object far larger than that, so only a whole file is counted."""
    if dataset_type == "INTERACTIONS" and not report.sampled and report.rows < domain.MIN_INTERACTIONS:
        report.offend(
            "min_interactions",
            f"{report.rows} interaction records; Personalize needs at least {domain.MIN_INTERACTIONS} "
            "per import job (quotas page, FULL or INCREMENTAL)",
        )


def _header_ok(report: RowReport, header: Any, schema: str | Mapping[str, Any]) -> bool:
    names = list(header.names)
    fields = domain.schema_field_names(schema)
    if header.bom:
        report.offend("header_bom", "the first bytes are EF BB BF")
    if header.quoted:
        report.offend("header_quoted", ", ".join(names))
    for column in domain.required_columns(schema):
        if column not in names:
            report.offend("header_missing_columns", column)
    for column in names:
        if column not in fields:
            report.offend("header_unknown_columns", column)
    seen: set[str] = set()
    for column in names:
        if column in seen:
            report.offend("header_duplicate_columns", column)
        seen.add(column)
    if header.utf8_error:
        report.offend("utf8", f"line 1: {header.utf8_error}")
    return not report.errors()


def _columns(names: list[str], schema: str | Mapping[str, Any], dataset_type: str) -> list[_Column]:
    types = {name: (avro_type, nullable) for name, avro_type, nullable in domain.schema_field_types(schema)}
    categorical = set(domain.categorical_fields(schema))
    ids = {
        *domain.ID_FIELDS,
        *([domain.RECORD_ID_FIELDS[dataset_type]] if dataset_type in domain.RECORD_ID_FIELDS else []),
    }
    epoch = domain.EPOCH_SECONDS_FIELDS.get(dataset_type)
    return [
        _Column(
            name,
            types[name][0],
            types[name][1],
            name in ids,
            name in categorical,
            name == epoch,
        )
        for name in names
    ]


def _check_value(report: RowReport, column: _Column, value: str, line: int) -> None:
    where = f"line {line}, {column.name}"
    if value == "":
        if not column.nullable:
            report.offend("null_values", where)
        return
    pattern = _PATTERNS.get(column.avro_type or "")
    if pattern is not None and column.avro_type != "null" and not pattern.match(value):
        if column.epoch_seconds and _ISO_DATE.match(value):
            report.offend("timestamp_iso", f"{where}: {value[:80]!r} is a date, not epoch seconds")
        else:
            report.offend("value_types", f"{where}: {value[:80]!r} is not {column.avro_type}")
        return
    bounds = domain.INTEGER_BOUNDS.get(column.avro_type or "")
    if bounds is not None and not bounds[0] <= int(value) <= bounds[1]:
        report.offend("value_types", f"{where}: {value[:80]!r} is out of {column.avro_type}'s range")
        return
    if column.is_id and len(value) > domain.ID_MAX_LENGTH:
        report.offend("id_length", f"{where}: {len(value)} characters")
    if column.categorical and any(
        len(part) > domain.CATEGORICAL_VALUE_MAX_LENGTH for part in value.split(domain.CATEGORICAL_SEPARATOR)
    ):
        report.offend("categorical_length", where)
    if column.epoch_seconds and column.avro_type in domain.INTEGER_BOUNDS:
        seconds = int(value)
        if seconds < 0:
            report.offend("value_types", f"{where}: {value} is negative; epoch seconds count from 1970-01-01")
        elif seconds >= domain.EPOCH_MICROSECONDS_FROM:
            report.offend("timestamp_microseconds", f"{where}: {value}")
        elif seconds >= domain.EPOCH_MILLISECONDS_FROM:
            report.offend("timestamp_milliseconds", f"{where}: {value}")
        elif seconds > report.checked_at:
            report.offend("timestamp_future", f"{where}: {value}")
        elif seconds < domain.EPOCH_2000:
            report.offend("timestamp_before_2000", f"{where}: {value}")


def _chunks(s3: Any, bucket: str, key: str, *, version_id: str | None, end: int) -> Iterator[bytes]:
    """The object's first `end` bytes, CHUNK_BYTES per ranged GET of this very version."""
    offset = 0
    version = {"VersionId": version_id} if version_id else {}
    while offset < end:
        last = min(offset + CHUNK_BYTES, end) - 1
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-{last}", **version)
        data: bytes = response["Body"].read()
        if not data:
            return
        offset += len(data)
        yield data


def _lines(
    report: RowReport, head: bytes, chunks: Iterator[bytes], *, start_offset: int, max_bytes: int
) -> Iterator[str]:
    """Decoded lines (with their LF) for the csv reader; a line cut by max_bytes is not checked.

    A position moves through the buffer: slicing the rest off after each line would copy the chunk once
    per line.
    """
    buffer, position = head, 0
    consumed = start_offset
    line_number = 1
    while True:
        newline = buffer.find(b"\n", position)
        if newline < 0:
            chunk = next(chunks, None)
            if chunk is not None:
                buffer, position = buffer[position:] + chunk, 0
                continue
            rest = buffer[position:]
            # No LF left: the object's last line, unless the read stopped at max_bytes.
            if rest and consumed + len(rest) >= report.object_bytes:
                consumed += len(rest)
                line_number += 1
                yield _decode(report, rest, line_number)
            report.checked_bytes = consumed
            return
        raw = buffer[position : newline + 1]
        position = newline + 1
        consumed += len(raw)
        line_number += 1
        yield _decode(report, raw, line_number)
        report.checked_bytes = consumed
        if consumed >= max_bytes:
            return


def _decode(report: RowReport, raw: bytes, line_number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        report.offend("utf8", f"line {line_number}: invalid UTF-8 at byte {error.start}: {error.reason}")
        return raw.decode("utf-8", errors="replace")
