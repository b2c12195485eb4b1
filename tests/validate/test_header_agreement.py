"""The handler's preflight, the emulator's import and validate-data judge a CSV header and a folder alike.

All three parse the first line with lambda_handlers.personalize.csv_header.parse_header and pick a
folder's data files with lambda_handlers.personalize.data_objects; these tests put objects in (moto's)
S3 and ask each of them, through its real entry point, about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from config.model import is_data_file
from constructs_lib.preflight import DataPreflightError, LocalDataset, check_local_data
from lambda_handlers.personalize import domain, domain_rules, preflight
from lambda_handlers.personalize.data_objects import is_data_object
from lambda_handlers.personalize.errors import DataLocationError, PreflightError
from personalize_tools.emulator.imports import read_import
from personalize_tools.validate import SourceError, validate_path

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
    imported = read_import(uri, domain.required_columns(SCHEMA), domain.EVENT_TYPE_FIELD, lambda: s3)
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


def test_a_byte_order_mark_is_refused_by_all_three(s3: Any, s3_bucket: str) -> None:
    """The developer guide does not say a BOM is read; all three refuse it (csv_header.bom_refusal)."""
    body = b"\xef\xbb\xbfUSER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n" + ROWS.encode()

    verdicts = judge(s3, s3_bucket, body)
    report = validate_path(f"s3://{s3_bucket}/data.csv", domain="ECOMMERCE", schema_json=SCHEMA, s3_client=s3)

    assert verdicts.accepted[:2] == (False, False)
    refusal = "the file starts with a UTF-8 byte-order mark (bytes EF BB BF)"
    assert verdicts.preflight is not None and refusal in verdicts.preflight
    assert verdicts.emulator is not None and refusal in verdicts.emulator
    assert report.rule("header_bom").status == "fail"
    assert refusal in report.rule("header_bom").examples[0].detail
    assert not report.valid


# --- which objects of a folder are data ----------------------------------------------------------


def test_the_three_read_the_same_objects_of_a_folder(s3: Any, s3_bucket: str) -> None:
    """Folder markers (empty or not), empty files and hidden files are skipped by all three alike.

    Each skipped object would make its reader refuse the folder if it were read: an empty object has
    no header, a non-empty marker and the hidden files hold a header that lacks every column.
    """
    good = f"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n{ROWS}".encode()
    bad = b"NOT,A,HEADER\n1,2,3\n"
    objects = {
        "in/": b"",  # the S3 console's "Create folder"
        "in/.a-hidden-file.csv": bad,  # sorts before every data file: the preflight would read it first
        "in/.hidden-folder/x.csv": bad,
        "in/a-empty.csv": b"",  # a zero-byte file, e.g. Spark's _SUCCESS
        "in/b/": bad,  # a folder marker with content
        "in/b/part-1.csv": good,
        "in/c/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "in/part-2.csv": good.replace(b"u0,", b"u9,"),
    }
    for key, body in objects.items():
        s3.put_object(Bucket=s3_bucket, Key=key, Body=body)
    uri = f"s3://{s3_bucket}/in/"

    checked = preflight.check_header(s3, uri, SCHEMA, schema_label="test", subject="import job test")
    imported = read_import(uri, domain.required_columns(SCHEMA), domain.EVENT_TYPE_FIELD, lambda: s3)
    report = validate_path(uri, domain="ECOMMERCE", schema_json=SCHEMA, s3_client=s3)

    data = [f"s3://{s3_bucket}/in/b/part-1.csv", f"s3://{s3_bucket}/in/part-2.csv"]
    assert checked.uri == data[0]
    assert imported.failure_reason is None and imported.data is not None
    assert imported.data.records == 6
    assert [summary.name for summary in report.files] == data
    assert report.rows == 6
    assert [
        rule.rule for rule in report.rules if rule.status == "fail" and rule.rule.startswith("header")
    ] == []


def test_a_folder_of_markers_empty_and_hidden_files_holds_no_data_for_all_three(
    s3: Any, s3_bucket: str
) -> None:
    for key, body in {"none/": b"", "none/empty.csv": b"", "none/.hidden.csv": b"USER_ID\n"}.items():
        s3.put_object(Bucket=s3_bucket, Key=key, Body=body)
    uri = f"s3://{s3_bucket}/none/"

    with pytest.raises(DataLocationError, match="holds no data files"):
        preflight.check_header(s3, uri, SCHEMA, schema_label="test", subject="import job test")
    imported = read_import(uri, domain.required_columns(SCHEMA), domain.EVENT_TYPE_FIELD, lambda: s3)
    assert imported.failure_reason == domain.REASON_INVALID_LOCATION
    with pytest.raises(SourceError, match="no data files under"):
        validate_path(uri, domain="ECOMMERCE", schema_json=SCHEMA, s3_client=s3)


def test_a_local_folder_follows_the_same_rule(tmp_path: Path) -> None:
    """config.model.is_data_file (what a local folder uploads and validates) is the same rule."""
    for name, body in {
        ".hidden.csv": b"x",
        ".git/config": b"x",
        "empty.csv": b"",
        "sub/data.csv": b"x",
        "data.csv": b"x",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(body)

    local = sorted(
        path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if is_data_file(path, tmp_path)
    )
    by_key = sorted(
        path.relative_to(tmp_path).as_posix()
        for path in tmp_path.rglob("*")
        if path.is_file() and is_data_object(path.relative_to(tmp_path).as_posix(), path.stat().st_size)
    )
    assert local == by_key == ["data.csv", "sub/data.csv"]


# --- the synth-time header check (constructs_lib.preflight, data_check=header) ---------------------


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        pytest.param(b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n" + ROWS.encode(), True, id="plain"),
        pytest.param(b'"USER_ID","ITEM_ID","TIMESTAMP","EVENT_TYPE"\n' + ROWS.encode(), True, id="quoted"),
        pytest.param(b"USER_ID,ITEM_ID,TIMESTAMP\n", False, id="missing-column"),
        pytest.param(b"USER_ID, ITEM_ID,TIMESTAMP,EVENT_TYPE\n", False, id="space-after-comma"),
        pytest.param(
            b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\r" + ROWS.replace("\n", "\r").encode(), False, id="cr-only"
        ),
        pytest.param(b"\xef\xbb\xbfUSER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n" + ROWS.encode(), False, id="bom"),
    ],
)
def test_the_synth_header_check_agrees_with_the_deploy_preflight(
    s3: Any, s3_bucket: str, tmp_path: Path, body: bytes, accepted: bool
) -> None:
    """A file passes the synth header check exactly when the deploy-time preflight takes it."""
    local = tmp_path / "data.csv"
    local.write_bytes(body)
    try:
        check_local_data(
            [LocalDataset(local, "INTERACTIONS")], domain_name="ECOMMERCE", full=False, stamp_dir=None
        )
        synth_accepts = True
    except DataPreflightError:
        synth_accepts = False

    assert (synth_accepts, judge(s3, s3_bucket, body).accepted[0]) == (accepted, accepted)
