"""The handler's preflight, the emulator's import and validate-data judge a CSV header alike.

All three parse the first line with lambda_handlers.personalize.csv_header.parse_header; these
tests put one object in (moto's) S3 and ask each of them, through its real entry point, about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from lambda_handlers.personalize import domain, domain_rules, preflight
from lambda_handlers.personalize.errors import PreflightError
from personalize_tools.emulator.imports import read_import
from personalize_tools.validate import validate_path

SCHEMA = domain_rules.default_schema_json("ECOMMERCE")
ROWS = "".join(f"u{n},i{n},1700000000,View\n" for n in range(3))
HEADER_RULES = ("header_missing_columns", "header_unknown_columns", "csv_syntax")


@dataclass(frozen=True)
class Verdicts:
    preflight: str | None  # the PreflightError's message, or None when the header passed
    emulator: str | None  # the import's failureReason, or None when it imported
    validator: list[str]  # the header/syntax rules that failed

    @property
    def accepted(self) -> tuple[bool, bool, bool]:
        return self.preflight is None, self.emulator is None, not self.validator


def judge(s3: Any, bucket: str, body: bytes) -> Verdicts:
    s3.put_object(Bucket=bucket, Key="data.csv", Body=body)
    uri = f"s3://{bucket}/data.csv"
    try:
        preflight.check_header(s3, uri, SCHEMA, schema_label="test", subject="import job test")
        preflight_verdict = None
    except PreflightError as error:
        preflight_verdict = str(error)
    imported = read_import(uri, domain.required_columns(SCHEMA), domain_rules.EVENT_TYPE_FIELD, lambda: s3)
    report = validate_path(uri, domain="ECOMMERCE", schema_json=SCHEMA, s3_client=s3)
    failed = [rule for rule in HEADER_RULES if report.rule(rule).status == "fail"]
    return Verdicts(preflight_verdict, imported.failure_reason, failed)


def test_a_space_after_a_comma_is_refused_by_all_three(s3: Any, s3_bucket: str) -> None:
    verdicts = judge(s3, s3_bucket, ("USER_ID, ITEM_ID,TIMESTAMP,EVENT_TYPE\n" + ROWS).encode())

    assert verdicts.accepted == (False, False, False)
    assert verdicts.preflight is not None
    assert "missing required column(s) ITEM_ID" in verdicts.preflight
    assert "unknown column(s)  ITEM_ID" in verdicts.preflight
    assert verdicts.emulator == domain_rules.reason_missing_columns(["ITEM_ID"])
    assert verdicts.validator == ["header_missing_columns", "header_unknown_columns"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n", id="plain"),
        pytest.param(b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\r\n", id="crlf"),
        pytest.param(b"ITEM_ID,EVENT_TYPE,USER_ID,TIMESTAMP\n", id="reordered"),
    ],
)
def test_good_headers_are_accepted_by_all_three(s3: Any, s3_bucket: str, body: bytes) -> None:
    line_break = b"\r\n" if body.endswith(b"\r\n") else b"\n"
    names = body.strip().decode().split(",")
    rows = [
        dict(zip(("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"), row.split(","), strict=True))
        for row in ROWS.splitlines()
    ]
    data = line_break.join(",".join(row[name] for name in names).encode() for row in rows)

    assert judge(s3, s3_bucket, body + data + line_break).accepted == (True, True, True)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"USER_ID,ITEM_ID,TIMESTAMP\n", id="missing-column"),
        pytest.param(b"USER_ID ,ITEM_ID,TIMESTAMP,EVENT_TYPE\n", id="space-before-comma"),
        pytest.param(b"user_id,ITEM_ID,TIMESTAMP,EVENT_TYPE\n", id="lower-case"),
        pytest.param(
            b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\r" + ROWS.replace("\n", "\r").encode(), id="cr-only"
        ),
    ],
)
def test_bad_headers_are_refused_by_all_three(s3: Any, s3_bucket: str, body: bytes) -> None:
    assert judge(s3, s3_bucket, body).accepted == (False, False, False)
