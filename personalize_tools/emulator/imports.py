"""What a dataset import job reads from S3: header check and record counts, streamed line by line.

An import may name one object (`s3://bucket/key.csv`) or a folder (`s3://bucket/prefix/`), in
which case every object under it is read, each with its own header. Nothing is held in memory but
the current line, so a benchmark can import gigabytes.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_handlers.personalize import domain, domain_rules
from lambda_handlers.personalize.csv_header import bom_refusal, parse_header
from lambda_handlers.personalize.data_objects import data_objects
from lambda_handlers.personalize.s3_location import S3Location
from personalize_tools.emulator.state import ROW_LIMIT, ImportedData

S3ClientFactory = Callable[[], Any]
CHUNK_BYTES = 64 * 1024
HEADER_MAX_BYTES = 1 << 20  # a first line longer than this is read as far as here


@dataclass(frozen=True)
class ImportResult:
    data: ImportedData | None
    failure_reason: str | None = None


class _ImportFailedError(Exception):
    """Stops reading at the first problem; carries the failureReason the job reports."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_import(
    location: str,
    required_columns: Sequence[str],
    event_column: str | None,
    s3_client: S3ClientFactory,
    *,
    may_read: Callable[[str, list[str]], bool] | None = None,
    row_columns: Sequence[str] = (),
) -> ImportResult:
    """Read every object at `location`; count rows (and `event_column` values when given).

    `may_read(bucket, keys)` is Personalize's own authorization (the passed role and the bucket policy);
    when it refuses, the job fails with the service's S3 access reason before any object is read.
    The values of `row_columns` are kept for the latest ROW_LIMIT rows (the recommendation stand-in's input).
    """
    try:
        parsed = S3Location.parse(location)
    except ValueError:
        return ImportResult(None, domain.REASON_INVALID_LOCATION)
    bucket, key = parsed.bucket, parsed.key
    counts: Counter[str] = Counter()
    kept: deque[list[str]] = deque(maxlen=ROW_LIMIT)
    records = 0
    try:
        client = s3_client()
        keys = list(_folder_keys(client, bucket, key)) if parsed.is_folder else [key]
        if not keys:
            return ImportResult(None, domain.REASON_INVALID_LOCATION)
        if may_read is not None and not may_read(bucket, keys):
            return ImportResult(None, domain_rules.REASON_S3_ACCESS)
        for object_key in keys:
            records += _read_object(
                client,
                bucket,
                object_key,
                required_columns,
                event_column,
                counts=counts,
                row_columns=row_columns,
                kept=kept,
            )
    except _ImportFailedError as failure:
        return ImportResult(None, failure.reason)
    except (ClientError, BotoCoreError):
        return ImportResult(None, domain_rules.REASON_S3_ACCESS)
    return ImportResult(ImportedData(records, dict(counts), list(kept)))


def _folder_keys(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    """The folder's data files, by the rule the preflight and validate-data share (data_objects)."""
    for key, _size in data_objects(client, bucket, prefix):
        yield key


def _read_object(
    client: Any,
    bucket: str,
    key: str,
    required_columns: Sequence[str],
    event_column: str | None,
    *,
    counts: Counter[str],
    row_columns: Sequence[str],
    kept: deque[list[str]],
) -> int:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        chunks = body.iter_chunks(chunk_size=CHUNK_BYTES)
        head = b""
        for chunk in chunks:
            head += chunk
            if b"\n" in head or len(head) >= HEADER_MAX_BYTES:
                break
        header = parse_header(head)
        if header.cr_only:
            raise _ImportFailedError(
                f"Input CSV s3://{bucket}/{key} has carriage-return (CR) line endings without LF; "
                "its header row runs to the end of the file"
            )
        refusal = bom_refusal(header)
        if refusal:
            raise _ImportFailedError(f"Input CSV s3://{bucket}/{key}: {refusal}")
        missing = [column for column in required_columns if column not in header.names]
        if missing:
            raise _ImportFailedError(domain_rules.reason_missing_columns(missing))
        names = list(header.names)
        event_index = names.index(event_column) if event_column in names else None
        keep = [names.index(column) for column in row_columns if column in names]
        if len(keep) != len(row_columns):
            keep = []
        rest = itertools.chain([head[header.end :]], chunks)
        lines = codecs.iterdecode(_lines(rest), "utf-8", "replace")
        records = 0
        try:
            for row in csv.reader(lines):
                if not row:
                    continue
                records += 1
                if event_index is not None and event_index < len(row):
                    counts[row[event_index]] += 1
                if keep and len(row) == len(names):
                    kept.append([row[index] for index in keep])
        except csv.Error as error:
            where = f"s3://{bucket}/{key}"
            raise _ImportFailedError(
                f"Input CSV {where} is malformed near row {records + 2}: {error}"
            ) from error
        return records
    finally:
        body.close()


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """CHUNKS split after each LF (a CR stays with its line, for the csv module to read as CRLF)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line + b"\n"
    if pending:
        yield pending
