"""Where the CSV bytes come from: a local file or folder, one S3 object, or every object under a prefix.

Folders and prefixes are read in key order, the way an import job of a folder sees them. Anything
that cannot be listed or opened is a SourceError naming the path or URI (exit code 2).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

# Not config.model.is_data_file (the same function): importing the config package costs 0.2 CPU-seconds.
from lambda_handlers.personalize.data_objects import data_objects, is_data_path
from lambda_handlers.personalize.s3_location import S3Location
from personalize_tools.validate.errors import SourceError


@dataclass(frozen=True)
class InputFile:
    name: str  # the path or s3:// URI shown in the report
    size: int
    open: Callable[[], BinaryIO]


def is_s3_uri(location: str) -> bool:
    return location.startswith("s3://")


def resolve(location: str, *, s3_client: Any = None, s3_endpoint_url: str | None = None) -> list[InputFile]:
    """The files to read for LOCATION, in order; raises SourceError when there are none."""
    if is_s3_uri(location):
        client = s3_client if s3_client is not None else _s3_client(s3_endpoint_url)
        return _resolve_s3(location, client)
    return _resolve_local(Path(location))


def _resolve_local(path: Path) -> list[InputFile]:
    if path.is_file():
        return [_local_file(path, str(path))]
    if path.is_dir():
        found = sorted(
            (candidate for candidate in path.rglob("*") if is_data_path(candidate, path)),
            key=lambda candidate: candidate.relative_to(path).as_posix(),
        )
        if not found:
            raise SourceError(f"{path} is a folder with no files to validate")
        return [_local_file(candidate, str(candidate)) for candidate in found]
    if not path.exists():
        raise SourceError(f"{path} does not exist")
    raise SourceError(f"{path} is neither a file nor a folder")


def _local_file(path: Path, name: str) -> InputFile:
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as error:
        raise SourceError(f"cannot read {name}: {error.strerror}") from error

    def opener() -> BinaryIO:
        try:
            return path.open("rb")
        except OSError as error:
            raise SourceError(f"cannot read {name}: {error.strerror}") from error

    return InputFile(name=name, size=size, open=opener)


def _s3_client(endpoint_url: str | None) -> Any:
    import boto3  # noqa: PLC0415 - only S3 input pays for importing boto3

    return boto3.client("s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or None)


def split_s3_uri(uri: str) -> tuple[str, str]:
    try:
        location = S3Location.parse(uri)
    except ValueError as error:
        raise SourceError(str(error)) from None
    return location.bucket, location.key


def _resolve_s3(uri: str, client: Any) -> list[InputFile]:
    bucket, key = split_s3_uri(uri)
    if key and not key.endswith("/"):
        head = _call(uri, lambda: client.head_object(Bucket=bucket, Key=key))
        return [_s3_object(client, bucket, key, int(head["ContentLength"]))]
    objects: list[InputFile] = []

    def list_all() -> (
        None
    ):  # the rule the preflight and the emulator share: no markers, empty or hidden files
        for found, size in data_objects(client, bucket, key):
            objects.append(_s3_object(client, bucket, found, size))

    _call(uri, list_all)
    if not objects:
        raise SourceError(f"no data files under {uri} (folder markers, empty and hidden files are not data)")
    return sorted(objects, key=lambda found: found.name)


def _s3_object(client: Any, bucket: str, key: str, size: int) -> InputFile:
    name = f"s3://{bucket}/{key}"

    def opener() -> BinaryIO:
        response = _call(name, lambda: client.get_object(Bucket=bucket, Key=key))
        body: BinaryIO = response["Body"]
        return body

    return InputFile(name=name, size=size, open=opener)


def _call(uri: str, request: Callable[[], Any]) -> Any:
    """Run an S3 request; turn every botocore failure into a SourceError that names URI."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - as above

    try:
        return request()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        hint = {
            "404": "no such object",
            "NoSuchKey": "no such object",
            "NoSuchBucket": "no such bucket",
            "403": "access denied",
            "AccessDenied": "access denied",
        }.get(str(code), str(error))
        raise SourceError(f"cannot read {uri}: {hint} ({code})") from error
    except BotoCoreError as error:
        raise SourceError(f"cannot read {uri}: {error}") from error
