"""The CSV header check an import job passes before it is created, through on_event against moto's S3."""

from __future__ import annotations

from typing import Any

import pytest

from lambda_handlers.personalize import clients
from lambda_handlers.personalize.errors import DataLocationError, PreflightError
from personalize_tools.emulator import EmulatorServer

from .support import INTERACTIONS_HEADER, drive, event, interactions_csv

SCHEMA_NAME = "pz-test-interactions-3f2a9c1b"


def import_from(location: str, **properties: Any) -> dict[str, Any]:
    return event("import_job_create", properties={"DataLocation": location, **properties})


def put(s3: Any, bucket: str, key: str, body: bytes) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def test_missing_required_column_fails_before_the_job_exists(
    handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str
) -> None:
    location = put(s3, s3_bucket, "in.csv", interactions_csv(header=("USER_ID", "ITEM_ID", "TIMESTAMP")))

    with pytest.raises(PreflightError) as failure:
        drive(import_from(location))

    message = str(failure.value)
    assert message.startswith(f"dataset import job pz-test-import-0a1b2c3d: the CSV header of {location} ")
    assert f"does not match schema {SCHEMA_NAME} (arn:aws:personalize:" in message
    assert "missing required column(s) EVENT_TYPE" in message
    assert "often an hour later" in message
    assert "CreateDatasetImportJob" not in handlers.calls()["calls"]


def test_unknown_column_fails(handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str) -> None:
    location = put(s3, s3_bucket, "in.csv", interactions_csv(header=(*INTERACTIONS_HEADER, "COLOR")))

    with pytest.raises(PreflightError, match=r"unknown column\(s\) COLOR") as failure:
        drive(import_from(location))
    assert "missing" not in str(failure.value)


def test_optional_schema_fields_may_be_left_out(
    handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str
) -> None:
    # This schema adds the nullable EVENT_VALUE; a header without it still fits.
    with_event_value = drive(event("schema_update", physical_id="unused")).physical_id
    location = put(s3, s3_bucket, "in.csv", interactions_csv())

    outcome = drive(import_from(location, SchemaArn=with_event_value))

    assert outcome.data["Status"] == "ACTIVE"


def test_crlf_is_accepted(handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str) -> None:
    location = put(s3, s3_bucket, "windows.csv", interactions_csv(newline="\r\n"))

    outcome = drive(import_from(location))

    assert outcome.data["Status"] == "ACTIVE"


def test_a_byte_order_mark_is_refused_before_the_job_is_created(
    handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str
) -> None:
    location = put(s3, s3_bucket, "windows.csv", interactions_csv(bom=True, newline="\r\n"))

    with pytest.raises(PreflightError, match=f"{location}: the file starts with a UTF-8 byte-order mark"):
        drive(import_from(location))


def test_folder_reads_its_first_file_skipping_folder_markers(
    handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str
) -> None:
    put(s3, s3_bucket, "daily/", b"")
    put(s3, s3_bucket, "daily/2024-01-02.csv", interactions_csv())
    first = put(s3, s3_bucket, "daily/2024-01-01.csv", interactions_csv(header=("USER_ID", "ITEM_ID")))

    with pytest.raises(PreflightError) as failure:
        drive(import_from(f"s3://{s3_bucket}/daily/"))

    assert f"the CSV header of {first} " in str(failure.value)
    assert "missing required column(s) TIMESTAMP, EVENT_TYPE" in str(failure.value)


def test_folder_with_good_files_imports(
    handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str
) -> None:
    put(s3, s3_bucket, "daily/", b"")
    put(s3, s3_bucket, "daily/2024-01-01.csv", interactions_csv(seed=1))
    put(s3, s3_bucket, "daily/2024-01-02.csv", interactions_csv(seed=2))

    outcome = drive(import_from(f"s3://{s3_bucket}/daily/"))

    assert outcome.data["Status"] == "ACTIVE"


def test_empty_folder_fails_with_the_uri(
    handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str
) -> None:
    put(s3, s3_bucket, "nothing-yet/", b"")

    with pytest.raises(DataLocationError, match=f"s3://{s3_bucket}/nothing-yet/ holds no data files"):
        drive(import_from(f"s3://{s3_bucket}/nothing-yet/"))


def test_unreadable_object_fails_with_the_s3_error_and_uri(
    handlers: EmulatorServer, s3_bucket: str, dataset_arn: str
) -> None:
    location = f"s3://{s3_bucket}/missing.csv"

    with pytest.raises(DataLocationError, match=f"cannot read {location} to check its CSV header: NoSuchKey"):
        drive(import_from(location))
    assert "CreateDatasetImportJob" not in handlers.calls()["calls"]


def test_header_is_read_with_one_ranged_get(
    handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str
) -> None:
    location = put(s3, s3_bucket, "big.csv", interactions_csv(rows=5000))
    requests: list[dict[str, Any]] = []
    clients.s3().meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: requests.append(dict(params))
    )

    drive(import_from(location))

    assert [(request["Key"], request["Range"]) for request in requests] == [("big.csv", "bytes=0-65535")]


def test_a_file_without_a_line_break_in_its_first_range_is_rejected(
    handlers: EmulatorServer, s3: Any, s3_bucket: str, dataset_arn: str
) -> None:
    location = put(s3, s3_bucket, "one-line.csv", b"USER_ID," * 20_000)

    with pytest.raises(PreflightError, match="no line break in its first 65536 bytes"):
        drive(import_from(location))
