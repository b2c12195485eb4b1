"""Check an import's CSV header against the dataset's schema before creating the import job.

A dataset import job with a wrong header fails only after Personalize has queued and read it,
often an hour later; reading the first 64 KiB of the data takes a second. Only the header is
checked (and, for a folder, only its first file): the data itself is the service's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from . import domain
from .csv_header import HEADER_BYTES, header_refusal, parse_header
from .data_objects import data_objects
from .errors import DataLocationError, NoDataYetError, PreflightError
from .framework import error_code, error_message
from .s3_location import S3Location


@dataclass(frozen=True)
class HeaderCheck:
    uri: str  # the object whose header was read
    columns: tuple[str, ...]


def check_header(
    s3: Any, data_location: str, schema: str | Mapping[str, Any], *, schema_label: str, subject: str
) -> HeaderCheck:
    """Raise PreflightError if the header lacks a required column or has one the schema does not know.

    Every message starts with `subject` ("dataset import job NAME"): the stack event names its resource.
    """
    try:
        return _check_header(s3, S3Location.parse(data_location, "DataLocation"), schema, schema_label)
    except (PreflightError, DataLocationError) as error:
        raise type(error)(f"{subject}: {error}") from error


def _check_header(
    s3: Any, location: S3Location, schema: str | Mapping[str, Any], schema_label: str
) -> HeaderCheck:
    key = first_data_key(s3, location) if location.is_folder else location.key
    uri = location.uri(key)
    columns = read_header(s3, location.bucket, key, uri)
    fields = domain.schema_field_names(schema)
    missing = [column for column in domain.required_columns(schema) if column not in columns]
    unknown = [column for column in columns if column not in fields]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing required column(s) {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        raise PreflightError(
            f"the CSV header of {uri} does not match schema {schema_label}: {'; '.join(problems)} "
            f"(header: {', '.join(columns) or 'empty'}; schema fields: {', '.join(fields)}). The import job "
            "was not created: Personalize would have failed it only after queueing and reading the data, "
            "often an hour later. Fix the file's header, or the schema."
        )
    return HeaderCheck(uri, tuple(columns))


def first_data_key(s3: Any, location: S3Location) -> str:
    """The first data file in S3's key order, by the rule every reader shares (data_objects)."""
    try:
        for key, _size in data_objects(s3, location.bucket, location.key):
            return key
    except ClientError as error:
        raise _unreadable(location.uri(), error, "s3:ListBucket") from error
    raise NoDataYetError(
        f"{location.uri()} holds no data files (nothing, or only folder markers, empty or hidden files); "
        "an import from it "
        f'would fail with "{domain.REASON_INVALID_LOCATION}" Upload the CSV under that prefix, or point '
        "DataLocation at a file."
    )


def read_header(s3: Any, bucket: str, key: str, uri: str) -> list[str]:
    """The header names of the object, from one ranged GET, parsed as every reader here parses them."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEADER_BYTES - 1}")
        head: bytes = response["Body"].read()
    except ClientError as error:
        if error_code(error) == "InvalidRange":  # what S3 answers for a ranged GET of an empty object
            raise PreflightError(f"{uri} is empty; its first row must be the CSV header") from error
        if error_code(error) == "NoSuchKey":  # no data there yet: an import would fail, nothing to check
            raise NoDataYetError(str(_unreadable(uri, error, "s3:GetObject"))) from error
        raise _unreadable(uri, error, "s3:GetObject") from error
    header = parse_header(head)
    refusal = header_refusal(header, _object_size(response, len(head)))
    if refusal:
        raise PreflightError(f"{uri}{refusal}")
    return list(header.names)


def _object_size(response: Mapping[str, Any], read: int) -> int:
    """The whole object's size from Content-Range ("bytes 0-65535/1234567"), else what was read."""
    content_range = str(response.get("ContentRange") or "")
    total = content_range.rpartition("/")[2]
    return int(total) if total.isdigit() else read


def _unreadable(uri: str, error: ClientError, permission: str) -> DataLocationError:
    reason = f"{error_code(error)}: {error_message(error).rstrip('.')}"
    return DataLocationError(
        f"cannot read {uri} to check its CSV header: {reason}. Check that the data exists and that the "
        f"custom resource's role may {permission} it."
    )
