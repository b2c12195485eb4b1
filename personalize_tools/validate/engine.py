"""The streaming validator: pyarrow's CSV reader feeding vectorized checks, in bounded memory.

One engine for every dataset type: the schema decides the columns and their types, and the
dataset type decides the rest (rules.rules_for): Interactions are counted per event type and user
and checked for repeated rows; Users and Items are checked for repeated ids.

- Every column is read as raw binary, so the parser never stops at a bad value; it is also the
  cheapest parse. Rules run vectorized on each record batch (BLOCK_BYTES of CSV at a time).
- Parsing is single-threaded on purpose: only then does pyarrow give the record number of a row
  it skips, which (see lines.py) gives every finding its physical line number. It runs on its
  own thread, overlapping the checks on the caller's thread.
- Row hashes (repeated rows; for Users and Items, id hashes) and per-user counts go to HashSpill:
  exact, with bounded memory.
docs/validate-data.md explains every rule and has the measurements behind these choices.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lambda_handlers.personalize import contract, domain, domain_rules
from lambda_handlers.personalize.csv_header import CsvHeader, bom_refusal
from personalize_tools.validate import spill
from personalize_tools.validate.columns import (
    Column,
    FieldSpec,
    arrow_mask,
    as_numpy,
    invalid_utf8,
    offsets,
    string_column,
    typed_column,
)
from personalize_tools.validate.duplicates import DuplicateFinder
from personalize_tools.validate.errors import SchemaError, SourceError, UsageError
from personalize_tools.validate.hashing import preload_polars, value_hashes
from personalize_tools.validate.lines import LineTracker, SkippedRow
from personalize_tools.validate.reading import (
    CSV_ONLY,
    Progress,
    Replay,
    UndecodableRows,
    longest_line,
    parsed_batches,
    read_header,
)
from personalize_tools.validate.report import (
    Example,
    FileSummary,
    RuleResult,
    Status,
    ValidationReport,
    printable,
)
from personalize_tools.validate.rules import (
    DATASET_TYPES,
    RULES,
    RULES_BY_ID,
    Rule,
    rules_for,
)
from personalize_tools.validate.sources import InputFile, resolve

BLOCK_BYTES = 2 << 20
# Wider than any schema can be (Items: 100 metadata fields plus the reserved ones); see _parsed_columns.
MAX_PARSED_COLUMNS = 128
MAX_NAMES_SHOWN = 10
MAX_EVENT_TYPES = 1000  # distinct event types counted by name; the rest are counted together
DEFAULT_MAX_EXAMPLES = 10
MIN_ROW_BYTES = 8  # "u,i,1,V\n": sizes the spills' partitions for the most rows a file can hold

_FILE_SHIFT = np.uint64(44)  # spill payload: file index << 44 | line number


def validate(
    location: str,
    *,
    domain_name: str,
    schema_json: str,
    dataset_type: str = "INTERACTIONS",
    use_cases: Sequence[str] = (),
    s3_client: Any = None,
    s3_endpoint_url: str | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    progress: bool = False,
) -> ValidationReport:
    """Check every file at LOCATION against the schema; raises UsageError only for unusable input."""
    preload_polars()
    dataset_type = dataset_type.upper()
    fields = dataset_fields(domain_name, schema_json, dataset_type)
    recipes = use_case_recipes(domain_name, dataset_type, use_cases)
    files = resolve(location, s3_client=s3_client, s3_endpoint_url=s3_endpoint_url)
    run = _Run(
        domain_name=domain_name,
        dataset_type=dataset_type,
        recipes=recipes,
        fields=fields,
        required=domain.required_columns(schema_json),
        files=files,
        max_examples=max(0, max_examples),
        progress=Progress(sum(item.size for item in files)) if progress else None,
    )
    try:
        for index, item in enumerate(files):
            run.scan(index, item)
        return run.report(location)
    finally:
        run.close()


def dataset_fields(domain_name: str, schema_json: str, dataset_type: str) -> dict[str, FieldSpec]:
    """The schema's fields by name; SchemaError lists every problem the service would reject."""
    if domain_name not in contract.DOMAINS:
        raise UsageError(f"domain {domain_name!r} is not one of {', '.join(contract.DOMAINS)}")
    if dataset_type not in DATASET_TYPES:
        raise UsageError(
            f"dataset type {dataset_type!r} is not one of {', '.join(t.lower() for t in DATASET_TYPES)}"
        )
    problems = domain_rules.schema_problems(schema_json, domain_name, dataset_type)
    if problems:
        raise SchemaError(
            f"the {domain_name} {domain_rules.RECORD_NAMES[dataset_type]} schema is invalid: "
            + "; ".join(problems)
        )
    categorical = set(domain.categorical_fields(schema_json))
    return {
        name: FieldSpec(name, avro_type or "string", nullable, categorical=name in categorical)
        for name, avro_type, nullable in domain.schema_field_types(schema_json)
    }


def use_case_recipes(
    domain_name: str, dataset_type: str, use_cases: Sequence[str]
) -> list[domain.DomainRecipe]:
    """The recipes whose minimums to check, once each; UsageError for one the domain does not have."""
    if use_cases and dataset_type != "INTERACTIONS":
        raise UsageError(
            "use cases set minimums on Interactions; "
            f"a {domain_rules.RECORD_NAMES[dataset_type]} dataset has none"
        )
    recipes: list[domain.DomainRecipe] = []
    for use_case in use_cases:
        try:
            recipe = domain_rules.recipe_for(domain_name, use_case)
        except ValueError as problem:
            raise UsageError(f"use case {problem}") from None
        if recipe not in recipes:
            recipes.append(recipe)
    return recipes


@dataclass
class _Tally:
    """Offences against one rule: how many, the first few, and how many per column."""

    limit: int
    count: int = 0
    examples: list[tuple[int, int, str]] = field(default_factory=list)  # (file index, line, detail)
    by_column: dict[str, int] = field(default_factory=dict)

    def add(self, count: int, examples: list[tuple[int, int, str]], column: str | None = None) -> None:
        if count == 0:
            return
        self.count += count
        if column is not None:
            self.by_column[column] = self.by_column.get(column, 0) + count
        if examples and (len(self.examples) < self.limit or min(examples)[:2] < self.examples[-1][:2]):
            self.examples = sorted(self.examples + examples)[: self.limit]


def open_rows(
    stream: Any, columns: int, parsed: Sequence[int], on_invalid_row: Callable[[Any], str] | None
) -> pacsv.CSVStreamingReader:
    """pyarrow's streaming reader of the rows after the header, as the validator parses them.

    Columns PARSED (indices) as raw binary, one thread (exact record numbers for skipped rows,
    see lines.py), BLOCK_BYTES blocks. The benchmark times this parse alone to split the
    validator's cost into parsing and checking.
    """
    positional = [f"c{index}" for index in range(columns)]  # header names may repeat
    return pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES, column_names=positional),
        parse_options=pacsv.ParseOptions(ignore_empty_lines=False, invalid_row_handler=on_invalid_row),
        convert_options=pacsv.ConvertOptions(
            column_types={positional[index]: pa.binary() for index in parsed},
            include_columns=[positional[index] for index in parsed],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


class _Run:
    """State across the files of one validation: tallies, counters and the two hash spills."""

    def __init__(
        self,
        *,
        domain_name: str,
        dataset_type: str,
        recipes: list[domain.DomainRecipe],
        fields: dict[str, FieldSpec],
        required: list[str],
        files: list[InputFile],
        max_examples: int,
        progress: Progress | None,
    ) -> None:
        self.domain_name = domain_name
        self.dataset_type = dataset_type
        self.interactions = dataset_type == "INTERACTIONS"
        self.recipes = recipes
        self.rules = rules_for(dataset_type, recipes)
        self.fields = fields
        self.required = required
        # Interactions name a user and an item; a Users or Items record is named by its one id.
        self.id_fields = domain.ID_FIELDS if self.interactions else (domain.RECORD_ID_FIELDS[dataset_type],)
        self.timestamp_field = domain.EPOCH_SECONDS_FIELDS.get(dataset_type)
        self.file_names = [item.name for item in files]
        self.max_examples = max_examples
        self.progress = progress
        self.tallies = {rule.id: _Tally(max_examples) for rule in RULES}
        self.summaries: list[FileSummary] = []
        self.rows = 0
        self.columns_seen: set[str] = set()
        self.event_counts: dict[str, int] = {}
        self.event_other = 0
        # Counted by name even past MAX_EVENT_TYPES distinct types: the event and use-case rules read them.
        self.needed_event_types = {*domain_rules.EVENT_TYPES[domain_name]}.union(
            *(recipe.event_types for recipe in recipes)
        )
        self.now = int(time.time())
        most_rows = max(1, sum(item.size for item in files) // MIN_ROW_BYTES)
        self.threads = max(1, min(2, os.cpu_count() or 1))
        self.duplicates = DuplicateFinder(most_rows, threads=self.threads)
        # Users are tracked only until MIN_TRAINING_USERS of them repeat within one batch.
        self.users: spill.HashSpill | None = spill.HashSpill(most_rows) if self.interactions else None
        self.repeat_users: set[int] = set()

    def close(self) -> None:
        self.duplicates.close()
        if self.users is not None:
            self.users.close()
        if self.progress is not None:
            self.progress.clear()

    # -- one file ---------------------------------------------------------------------------------

    def scan(self, file_index: int, item: InputFile) -> None:
        stream = item.open()
        try:
            try:
                header, rest, not_csv = read_header(stream, item.name)
            except OSError as error:
                raise SourceError(f"cannot read {item.name}: {error}") from error
            rows_before = self.rows
            unreadable = self._unreadable(header, not_csv)
            if unreadable is not None:
                self.tallies["csv_syntax"].add(1, self._example(file_index, 1, unreadable))
            names = self._check_header(file_index, header) if not_csv is None else []
            if names and unreadable is None:
                if not rest:
                    rest = stream.read(64 * 1024)  # a file of its header alone has no rows to parse
                if rest:
                    self._scan_rows(file_index, item, names, Replay(rest, stream, self.progress))
            self.summaries.append(
                FileSummary(
                    item.name, item.size, self.rows - rows_before, "n/a" if not_csv else header.line_ending
                )
            )
        finally:
            stream.close()

    @staticmethod
    def _unreadable(header: CsvHeader, not_csv: str | None) -> str | None:
        """Why the rows cannot be read as CSV at all (compressed, binary, CR line endings), or None."""
        if not_csv is not None:
            return f"{not_csv}. The developer guide: {CSV_ONLY} Export or decompress it as CSV text"
        if header.cr_only:
            return (
                "the lines end in a carriage return (CR) alone, not LF or CRLF, so a CSV reader sees one "
                "line; save the file with LF or CRLF line endings"
            )
        return None

    def _example(self, file_index: int, line: int, detail: str) -> list[tuple[int, int, str]]:
        return [(file_index, line, detail)] if self.max_examples else []

    def _check_header(self, file_index: int, header: CsvHeader) -> list[str]:
        """Header rules; returns the column names, or [] when there is nothing to read."""
        names = list(header.names)
        if header.utf8_error:
            self.tallies["utf8"].add(1, self._example(file_index, 1, header.utf8_error))
        refusal = bom_refusal(header)
        if refusal:
            self.tallies["header_bom"].add(1, self._example(file_index, 1, refusal))
        if header.quoted:
            self.tallies["header_quoted"].add(
                1, self._example(file_index, 1, "column names are in double quotes")
            )
        if not names:
            detail = "the file is empty: no header line"
            self.tallies["header_missing_columns"].add(
                len(self.required), self._example(file_index, 1, detail)
            )
            return []
        missing = [name for name in self.required if name not in names]
        if missing:
            detail = f"lacks {', '.join(missing)}; the header is {','.join(names)}"
            self.tallies["header_missing_columns"].add(len(missing), self._example(file_index, 1, detail))
        unknown = [name for name in names if name not in self.fields]
        if unknown:
            shown = ", ".join(map(repr, unknown[:MAX_NAMES_SHOWN]))
            if len(unknown) > MAX_NAMES_SHOWN:
                shown += f" and {len(unknown) - MAX_NAMES_SHOWN:,} more"
            detail = f"{shown} not in the schema ({', '.join(self.fields)})"
            if len(names) > MAX_PARSED_COLUMNS:
                detail += (
                    f"; with {len(names):,} columns, more than any schema has, only the schema's columns "
                    "are read (the values of the others are not checked)"
                )
            self.tallies["header_unknown_columns"].add(len(unknown), self._example(file_index, 1, detail))
        seen = Counter(names)
        repeated = sorted(name for name, count in seen.items() if count > 1)
        if repeated:
            detail = f"{', '.join(repeated)} appear(s) more than once"
            self.tallies["header_duplicate_columns"].add(len(repeated), self._example(file_index, 1, detail))
        self.columns_seen.update(names)
        return names

    def _scan_rows(self, file_index: int, item: InputFile, names: list[str], stream: Replay) -> None:
        lines = LineTracker()
        parsed = self._parsed_columns(names)
        parsed_names = [names[index] for index in parsed]
        # Rows hash over columns in name order, so files with different column orders compare.
        hash_order = sorted(range(len(parsed)), key=lambda index: (parsed_names[index], index))
        with UndecodableRows() as undecodable:
            try:
                reader = open_rows(stream, len(names), parsed, lines.on_invalid_row)
                for batch in parsed_batches(reader):
                    if batch.num_rows:
                        self._check_batch(file_index, parsed_names, hash_order, batch, lines)
            except pa.ArrowInvalid as error:
                message = str(error).splitlines()[0]
                line, detail = lines.next_line, f"parsing stopped here: {message}"
                if undecodable.seen:
                    detail += " (a row with another number of fields than the header, not valid UTF-8)"
                if "straddl" in message:  # a row longer than a block; pyarrow's words name a setting
                    line, detail = self._overlong_line(item, names)
                self.tallies["csv_syntax"].add(1, self._example(file_index, line, detail))
            except (OSError, pa.ArrowException) as error:
                raise SourceError(f"cannot read {item.name}: {error}") from error
            except Exception as error:
                if type(error).__module__.startswith("botocore"):
                    raise SourceError(f"cannot read {item.name}: {error}") from error
                raise
        self._tally_skipped(file_index, lines.finish())

    def _parsed_columns(self, names: list[str]) -> list[int]:
        """Every column, or for a file wider than any schema only the first of each schema field's.

        pyarrow's parser holds every converted column of a block; 10,000 columns took 360 MB for a
        15 MB file. Past MAX_PARSED_COLUMNS the file is refused for its unknown columns anyway, so
        memory stays bounded by the schema's width and the rows in flight instead.
        """
        if len(names) <= MAX_PARSED_COLUMNS:
            return list(range(len(names)))
        first = {name: index for index, name in reversed(list(enumerate(names))) if name in self.fields}
        return sorted(first.values())

    def _overlong_line(self, item: InputFile, names: list[str]) -> tuple[int, str]:
        """The first line longer than BLOCK_BYTES, found by reading the file again, and what it breaks."""
        long_line = longest_line(item.open, BLOCK_BYTES)
        if long_line is None:
            return 1, f"a row is longer than the validator's {BLOCK_BYTES / (1 << 20):g} MiB block"
        field = names[long_line.field] if long_line.field < len(names) else f"field {long_line.field + 1}"
        return long_line.line, (
            f"the line is {long_line.line_bytes:,} bytes long, its {field} value alone "
            f"{long_line.field_bytes:,} bytes; the validator reads lines of up to "
            f"{BLOCK_BYTES / (1 << 20):g} MiB. Personalize documents no line length, but its quotas cap a "
            f"value at {domain.ID_MAX_LENGTH} characters for an id and "
            f"{domain.CATEGORICAL_VALUE_MAX_LENGTH} "
            "for a categorical or other string value: no valid row comes near this"
        )

    def _tally_skipped(self, file_index: int, skipped: list[tuple[int, SkippedRow]]) -> None:
        if skipped:
            examples = [
                (file_index, line, f"{row.fields} field(s): {row.text[:80]!r}")
                for line, row in skipped[: self.max_examples]
            ]
            self.tallies["row_width"].add(len(skipped), examples)

    # -- one batch --------------------------------------------------------------------------------

    def _check_batch(
        self,
        file_index: int,
        names: list[str],
        hash_order: list[int],
        batch: pa.RecordBatch,
        lines: LineTracker,
    ) -> None:
        columns = []
        for index, name in enumerate(names):
            spec = self.fields.get(name)
            raw = batch.column(index)
            columns.append(
                string_column(name, spec, raw)
                if spec is None or spec.is_string
                else typed_column(name, spec, raw)
            )
        breaks = [column.extra_lines for column in columns if column.extra_lines is not None]
        row_lines, skipped = lines.batch(batch.num_rows, np.sum(breaks, axis=0) if breaks else None)
        self._tally_skipped(file_index, skipped)
        offend = _Offender(self, file_index, row_lines)

        keep = None
        empties = [column.empty for column in columns if column.empty is not None]
        if len(empties) == len(columns):
            blank = np.logical_and.reduce(empties)
            if blank.any():
                offend("blank_lines", blank, lambda _: "blank line")
                keep = ~blank
        self.rows += batch.num_rows if keep is None else int(keep.sum())

        self._check_utf8(offend, columns, keep)
        first_by_name: dict[str, Column] = {}
        for column in columns:
            first_by_name.setdefault(column.name, column)
            self._check_values(offend, column, keep)
            if column.spec is not None and column.spec.categorical:
                self._check_categorical(offend, column, keep)
        self._check_ids(offend, first_by_name, keep)

        # Line numbers are positive int64: for the first file they are their own payloads (no copy).
        payloads = (
            row_lines.view(np.uint64)
            if file_index == 0
            else (np.uint64(file_index) << _FILE_SHIFT) | row_lines.astype(np.uint64)
        )
        if self.interactions:
            self._count_event_types(first_by_name.get(domain.EVENT_TYPE_FIELD), keep)
            self._count_users(first_by_name.get(domain.USER_ID_FIELD), keep)
            self.duplicates.submit([columns[index].raw for index in hash_order], payloads, keep)
            return
        id_column = first_by_name.get(self.id_fields[0])
        if id_column is not None:  # an empty id is a null_values finding, not a repeat
            named = keep if id_column.empty is None else _kept(~id_column.empty, keep)
            self.duplicates.submit([id_column.raw], payloads, named)

    def _check_utf8(self, offend: _Offender, columns: list[Column], keep: np.ndarray | None) -> None:
        bad_columns = [column for column in columns if column.bad_utf8 is not None]
        if not bad_columns:
            return
        mask = np.logical_or.reduce(
            [column.bad_utf8 for column in bad_columns if column.bad_utf8 is not None]
        )
        if keep is not None:
            mask &= keep

        def detail(row: int) -> str:
            offenders = [
                column for column in bad_columns if column.bad_utf8 is not None and column.bad_utf8[row]
            ]
            names = ", ".join(column.name for column in offenders)
            return f"invalid UTF-8 in {names}: {_shown(offenders[0].raw[row].as_py())}"

        offend("utf8", mask, detail)

    def _check_values(self, offend: _Offender, column: Column, keep: np.ndarray | None) -> None:
        spec = column.spec
        if spec is None:
            return
        if column.empty is not None and not spec.nullable:
            offend("null_values", _kept(column.empty, keep), lambda _: f"{spec.name} is empty", spec.name)
        if column.nul is not None:
            offend(
                "value_types",
                _kept(column.nul, keep),
                lambda row: (
                    f"{spec.name}={_shown(column.raw[row].as_py())} holds a NUL byte (0x00), which no "
                    "text value should; readers written in C end the value there"
                ),
                spec.name,
            )
        if column.unparsed is not None:
            unparsed = _kept(column.unparsed, keep)
            if spec.name == self.timestamp_field and column.text is not None:
                iso = unparsed & as_numpy(pc.match_substring_regex(column.text, domain.ISO_DATE_PATTERN))
                offend(
                    "timestamp_iso",
                    iso,
                    lambda row: f"{spec.name}={_shown(column.raw[row].as_py())} is a date, not epoch seconds",
                )
                unparsed = unparsed & ~iso  # a new array: column.unparsed stays whole
            offend(
                "value_types",
                unparsed,
                lambda row: (
                    f"{spec.name}={_shown(column.raw[row].as_py())} is not {_article(spec.avro_type)}"
                ),
                spec.name,
            )
        if spec.name == self.timestamp_field and column.values is not None:
            self._check_timestamps(offend, column, keep)

    def _check_categorical(self, offend: _Offender, column: Column, keep: np.ndarray | None) -> None:
        limit = domain.CATEGORICAL_VALUE_MAX_LENGTH
        suspects = np.flatnonzero(column.byte_lengths > limit)  # no part is longer than the whole
        if not len(suspects):
            return
        longest = np.zeros(len(column.raw), dtype=np.int64)
        for row in suspects:
            parts = _text(column.raw[int(row)].as_py()).split(domain.CATEGORICAL_SEPARATOR)
            longest[row] = max(len(part) for part in parts)

        def detail(row: int) -> str:
            return (
                f"{column.name} has a value of {int(longest[row]):,} characters "
                f"(at most {limit} per '{domain.CATEGORICAL_SEPARATOR}'-separated value)"
            )

        offend("categorical_length", _kept(longest > limit, keep), detail, column.name)

    def _check_timestamps(self, offend: _Offender, column: Column, keep: np.ndarray | None) -> None:
        values = column.values
        assert values is not None
        fast_path = column.empty is None and column.unparsed is None and column.bad_utf8 is None
        if fast_path and values.min() >= domain.EPOCH_2000 and values.max() <= self.now:
            return  # the common case: every timestamp is plausible epoch seconds
        parsed = _kept(column.parsed(), keep)
        name = column.name

        def as_unit(divisor: int, unit: str) -> Callable[[int], str]:
            return lambda row: (
                f"{name}={int(values[row])} ({_utc(int(values[row]) // divisor)} if read as {unit})"
            )

        def as_seconds(row: int) -> str:
            return f"{name}={int(values[row])} is {_utc(int(values[row]))}"

        milliseconds = (values >= domain.EPOCH_MILLISECONDS_FROM) & (values < domain.EPOCH_MICROSECONDS_FROM)
        offend("timestamp_milliseconds", parsed & milliseconds, as_unit(1000, "milliseconds"))
        offend(
            "timestamp_microseconds",
            parsed & (values >= domain.EPOCH_MICROSECONDS_FROM),
            as_unit(1_000_000, "microseconds"),
        )
        offend(
            "timestamp_future",
            parsed & (values > self.now) & (values < domain.EPOCH_MILLISECONDS_FROM),
            as_seconds,
        )
        negative = parsed & (values < 0)
        offend(
            "value_types",
            negative,
            lambda row: f"{name}={int(values[row])} is negative; Unix epoch seconds count from 1970-01-01",
            name,
        )
        offend("timestamp_before_2000", parsed & (values >= 0) & (values < domain.EPOCH_2000), as_seconds)

    def _check_ids(self, offend: _Offender, by_name: dict[str, Column], keep: np.ndarray | None) -> None:
        for name in self.id_fields:
            column = by_name.get(name)
            if column is not None:
                self._check_id(offend, column, keep)

    def _check_id(self, offend: _Offender, column: Column, keep: np.ndarray | None) -> None:
        suspects = np.flatnonzero(column.byte_lengths > domain.ID_MAX_LENGTH)  # characters <= bytes
        if not len(suspects):
            return
        too_long = np.zeros(len(column.raw), dtype=bool)
        for row in suspects:
            too_long[row] = len(_text(column.raw[int(row)].as_py())) > domain.ID_MAX_LENGTH

        def detail(row: int) -> str:
            return f"{column.name} is {len(_text(column.raw[row].as_py()))} characters"

        offend("id_length", _kept(too_long, keep), detail, column.name)

    def _count_event_types(self, column: Column | None, keep: np.ndarray | None) -> None:
        if column is None:
            return
        values = column.raw if keep is None else column.raw.filter(arrow_mask(keep))
        counted = pc.value_counts(values)
        values_and_counts = zip(
            counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
        )
        for value, count in values_and_counts:
            try:
                name = value.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if not name:
                continue
            tracked = name in self.event_counts or name in self.needed_event_types
            if tracked or len(self.event_counts) < MAX_EVENT_TYPES:
                self.event_counts[name] = self.event_counts.get(name, 0) + count
            else:
                self.event_other += count

    def _count_users(self, column: Column | None, keep: np.ndarray | None) -> None:
        if self.users is None or column is None:
            return
        encoded = pc.dictionary_encode(column.raw if keep is None else column.raw.filter(arrow_mask(keep)))
        dictionary = encoded.dictionary
        counts = np.bincount(as_numpy(encoded.indices), minlength=len(dictionary))
        unusable = np.diff(offsets(dictionary)) == 0
        bad_utf8 = invalid_utf8(dictionary)
        if bad_utf8 is not None:
            unusable |= bad_utf8
        counts[unusable] = 0
        present = np.flatnonzero(counts)
        hashes = value_hashes(dictionary)
        repeat = present[counts[present] >= domain_rules.MIN_INTERACTIONS_PER_TRAINING_USER]
        self.repeat_users.update(int(value) for value in hashes[repeat[: domain_rules.MIN_TRAINING_USERS]])
        if len(self.repeat_users) >= domain_rules.MIN_TRAINING_USERS:
            self.users.close()
            self.users = None
        else:
            self.users.add(hashes[present], counts[present].astype(np.uint64))

    # -- the report -------------------------------------------------------------------------------

    def report(self, location: str) -> ValidationReport:
        return ValidationReport(
            source=location,
            domain=self.domain_name,
            rows=self.rows,
            files=tuple(self.summaries),
            rules=tuple(self._result(rule) for rule in self.rules),
            event_types=dict(sorted(self.event_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            event_types_other=self.event_other,
            dataset_type=self.dataset_type,
        )

    def _text(self, template: str, **values: str) -> str:
        """A rule's title or failure template, filled in for this dataset type."""
        return template.format(
            ids=" or ".join(self.id_fields),
            timestamp=self.timestamp_field or "",
            now=_utc(self.now),
            **values,
        )

    def _result(self, rule: Rule) -> RuleResult:
        skipped = self._skip_reason(rule)
        if skipped:
            return RuleResult(rule.id, "skip", 0, skipped)
        if rule.recipe is not None:
            return self._use_case_result(rule.id, rule.recipe)
        aggregate = {
            "event_types": self._event_types_result,
            "min_interactions": self._min_interactions_result,
            "training_users": self._training_users_result,
            "min_records": self._min_records_result,
            "duplicate_rows": lambda: self._repeats_result("duplicate_rows"),
            "duplicate_ids": lambda: self._repeats_result("duplicate_ids"),
        }.get(rule.id)
        if aggregate is not None:
            return aggregate()
        tally = self.tallies[rule.id]
        if not tally.count:
            return RuleResult(rule.id, "pass", 0, self._text(rule.title))
        examples = tuple(
            Example(self.file_names[index], line, detail) for index, line, detail in tally.examples
        )
        return RuleResult(rule.id, _failing(rule), tally.count, self._message(rule, tally), examples)

    def _skip_reason(self, rule: Rule) -> str | None:
        """Why a rule cannot be judged: the column it reads is not in the header, or not in the schema."""
        if rule.reads is None:
            return None
        columns = {
            "ids": self.id_fields,
            "timestamp": (self.timestamp_field,) if self.timestamp_field else (),
            "categorical": tuple(name for name, spec in self.fields.items() if spec.categorical),
            "event_type": (domain.EVENT_TYPE_FIELD,),
            "user": (domain.USER_ID_FIELD,),
        }[rule.reads]
        if not columns:
            return f"not checked: the schema has no {rule.reads} field"
        if not self.columns_seen & set(columns):
            return f"not checked: no {' or '.join(columns)} column"
        return None

    def _message(self, rule: Rule, tally: _Tally) -> str:
        columns = ", ".join(f"{name} {count:,}" for name, count in tally.by_column.items())
        return self._text(rule.failure, count=f"{tally.count:,}", columns=f" ({columns})" if columns else "")

    def _event_types_result(self) -> RuleResult:
        counts = self.event_counts
        problems = []
        for event_type in domain_rules.EVENT_TYPES[self.domain_name]:
            seen = counts.get(event_type, 0)
            recipes = [
                r.use_case for r in domain_rules.recipes_for(self.domain_name) if event_type in r.event_types
            ]
            needed_by = f" ({', '.join(recipes)} need {domain.MIN_INTERACTIONS})" if recipes else ""
            if seen == 0:
                near = [name for name in counts if name.lower() == event_type.lower()]
                hint = f"; found {', '.join(map(repr, near))}: event types are case-sensitive" if near else ""
                problems.append(f"{event_type} absent{needed_by}{hint}")
            elif seen < domain.MIN_INTERACTIONS:
                problems.append(f"only {seen:,} {event_type}{needed_by}")
        if problems:
            return RuleResult("event_types", "warn", len(problems), "; ".join(problems))
        seen_text = ", ".join(
            f"{name} {count:,}" for name, count in sorted(counts.items(), key=lambda kv: -kv[1])
        )
        return RuleResult("event_types", "pass", 0, seen_text)

    def _min_interactions_result(self) -> RuleResult:
        minimum = domain.MIN_INTERACTIONS
        if self.rows >= minimum:
            return RuleResult(
                "min_interactions", "pass", 0, f"{self.rows:,} interactions (at least {minimum} needed)"
            )
        seen = f"{self.rows:,} interactions" if self.rows else self._no_rows()
        message = f"{seen}; an import needs at least {minimum} interactions"
        return RuleResult("min_interactions", "fail", minimum - self.rows, message)

    def _use_case_result(self, rule_id: str, recipe: domain.DomainRecipe) -> RuleResult:
        """Personalize trains a recommender only on MIN_INTERACTIONS events of each type its recipe reads."""
        minimum = domain.MIN_INTERACTIONS
        # (event type, events); a recipe that reads every event type counts all rows.
        counted: list[tuple[str | None, int]] = [
            (event_type, self.event_counts.get(event_type, 0)) for event_type in recipe.event_types
        ] or [(None, self.rows)]
        seen = ", ".join(
            f"{count:,} {event_type or 'interactions of any event type'}" for event_type, count in counted
        )
        needed = f"{minimum} {' and '.join(recipe.event_types) or 'interactions'}"
        reason = domain_rules.training_shortfall(recipe, self.rows, self.event_counts)
        if reason is None:
            return RuleResult(rule_id, "pass", 0, f"{seen} (at least {needed} needed)")
        message = (
            f"{recipe.use_case} needs at least {needed}; the data has {seen}. "
            f'Personalize would fail the recommender: "{reason}"'
        )
        missing = sum(max(minimum - count, 0) for _, count in counted)
        return RuleResult(rule_id, "fail", missing, message)

    def _training_users_result(self) -> RuleResult:
        minimum, repeats = domain_rules.MIN_TRAINING_USERS, domain_rules.MIN_INTERACTIONS_PER_TRAINING_USER
        if self.users is None:
            return RuleResult(
                "training_users", "pass", 0, f"at least {minimum} users have {repeats}+ interactions"
            )
        per_partition = self.users.map_partitions(
            lambda hashes, counts: spill.qualified_count(hashes, counts, repeats), self.threads
        )
        qualified = sum(per_partition)
        if qualified >= minimum:
            return RuleResult(
                "training_users", "pass", 0, f"{qualified:,} users have {repeats}+ interactions"
            )
        message = f"{qualified:,} users have {repeats}+ interactions; training a recommender needs {minimum}"
        return RuleResult("training_users", "fail", minimum - qualified, message)

    def _no_rows(self) -> str:
        """Why there are no rows: none after the header, or none the parser could read."""
        return "no rows could be read" if self.tallies["csv_syntax"].count else "no rows after the header"

    def _min_records_result(self) -> RuleResult:
        kind = domain_rules.RECORD_NAMES[self.dataset_type]
        if self.rows:
            return RuleResult("min_records", "pass", 0, f"{self.rows:,} {kind} records")
        return RuleResult(
            "min_records",
            "fail",
            1,
            f"{self._no_rows()}: an import would add no {kind} records",
        )

    def _repeats_result(self, rule_id: str) -> RuleResult:
        """duplicate_rows or duplicate_ids, each repeat shown with the line it repeats."""
        rule = RULES_BY_ID[rule_id]
        count, later, earlier = self.duplicates.result(self.max_examples)
        if not count:
            return RuleResult(rule_id, "pass", 0, self._text(rule.title))
        what = "" if self.interactions else f"the {self.id_fields[0]} of "
        examples = []
        for repeat, original in zip(later.tolist(), earlier.tolist(), strict=True):
            file_index, line = _located(repeat)
            original_file, original_line = _located(original)
            where = f"line {original_line}"
            if original_file != file_index:
                where = f"{self.file_names[original_file]} {where}"
            examples.append(Example(self.file_names[file_index], line, f"repeats {what}{where}"))
        return RuleResult(
            rule_id, _failing(rule), count, self._text(rule.failure, count=f"{count:,}"), tuple(examples)
        )


class _Offender:
    """Tallies the rows of a mask against a rule, describing the first few with their lines."""

    def __init__(self, run: _Run, file_index: int, row_lines: np.ndarray) -> None:
        self.run = run
        self.file_index = file_index
        self.row_lines = row_lines

    def __call__(
        self, rule: str, mask: np.ndarray, detail: Callable[[int], str], column: str | None = None
    ) -> None:
        count = int(np.count_nonzero(mask))
        if not count:
            return
        first_rows = np.flatnonzero(mask)[: self.run.max_examples]
        examples = [(self.file_index, int(self.row_lines[row]), detail(int(row))) for row in first_rows]
        self.run.tallies[rule].add(count, examples, column)


def _kept(mask: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    return mask if keep is None else mask & keep


def _failing(rule: Rule) -> Status:
    return "fail" if rule.level == "error" else "warn"


def _located(payload: int) -> tuple[int, int]:
    """(file index, line) from a spill payload."""
    return payload >> int(_FILE_SHIFT), payload & ((1 << int(_FILE_SHIFT)) - 1)


def _text(value: bytes | None) -> str:
    return (value or b"").decode("utf-8", errors="replace")


def _shown(value: bytes | None) -> str:
    """A value for a message: quoted, shortened, undecodable bytes as \\xNN."""
    text = printable((value or b"").decode("utf-8", errors="backslashreplace"))
    return "'" + (text if len(text) <= 60 else text[:57] + "...") + "'"


def _article(avro_type: str) -> str:
    return f"an {avro_type}" if avro_type[0] in "aeiou" else f"a {avro_type}"


def _utc(seconds: int) -> str:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "out of range"
