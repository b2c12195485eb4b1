"""What a dataset import job reads from S3: header check and record counts, streamed line by line.

An import may name one object (`s3://bucket/key.csv`) or a folder (`s3://bucket/prefix/`), in
which case every object under it is read, each with its own header. Nothing is held in memory but
the current line, so a benchmark can import gigabytes.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from lambda_handlers.personalize import domain
from personalize_tools.emulator.state import ROW_LIMIT, ImportedData

S3ClientFactory = Callable[[], Any]
CHUNK_BYTES = 64 * 1024


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
    row_columns: Sequence[str] = (),
) -> ImportResult:
    """Read every object at `location`; count rows (and `event_column` values when given).

    The values of `row_columns` are kept for the latest ROW_LIMIT rows (the recommendation stand-in's input).
    """
    parts = urlsplit(location)
    if parts.scheme != "s3" or not parts.netloc:
        return ImportResult(None, domain.REASON_INVALID_LOCATION)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    counts: Counter[str] = Counter()
    kept: deque[list[str]] = deque(maxlen=ROW_LIMIT)
    records = 0
    try:
        client = s3_client()
        keys = list(_folder_keys(client, bucket, key)) if key == "" or key.endswith("/") else [key]
        if not keys:
            return ImportResult(None, domain.REASON_INVALID_LOCATION)
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
        return ImportResult(None, domain.REASON_S3_ACCESS)
    return ImportResult(ImportedData(records, dict(counts), list(kept)))


def _folder_keys(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                yield item["Key"]


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
        lines = codecs.iterdecode(body.iter_lines(chunk_size=CHUNK_BYTES, keepends=True), "utf-8", "replace")
        rows = csv.reader(lines)
        header = [column.strip().lstrip("\ufeff") for column in next(rows, [])]
        missing = [column for column in required_columns if column not in header]
        if missing:
            raise _ImportFailedError(domain.reason_missing_columns(missing))
        event_index = header.index(event_column) if event_column in header else None
        keep = [header.index(column) for column in row_columns if column in header]
        if len(keep) != len(row_columns):
            keep = []
        records = 0
        try:
            for row in rows:
                if not row:
                    continue
                records += 1
                if event_index is not None and event_index < len(row):
                    counts[row[event_index]] += 1
                if keep and len(row) == len(header):
                    kept.append([row[index] for index in keep])
        except csv.Error as error:
            where = f"s3://{bucket}/{key}"
            raise _ImportFailedError(
                f"Input CSV {where} is malformed near row {records + 2}: {error}"
            ) from error
        return records
    finally:
        body.close()
