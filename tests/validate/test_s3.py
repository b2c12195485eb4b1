"""s3:// input through moto's S3 server over loopback: one object, a folder prefix, failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambda_handlers.personalize import domain_rules
from personalize_tools.validate import SourceError, validate_path
from tests.validate.support import GOOD_ROW, rows_csv

SCHEMA = domain_rules.default_schema_json("ECOMMERCE")


def test_one_object(s3: Any, s3_bucket: str, valid_csv: Path) -> None:
    s3.put_object(Bucket=s3_bucket, Key="data/interactions.csv", Body=valid_csv.read_bytes())
    report = validate_path(
        f"s3://{s3_bucket}/data/interactions.csv", domain="ECOMMERCE", schema_json=SCHEMA, s3_client=s3
    )
    assert report.valid
    assert report.rows == 5000
    assert [summary.name for summary in report.files] == [f"s3://{s3_bucket}/data/interactions.csv"]


def test_a_prefix_reads_every_object_under_it_in_key_order(s3: Any, s3_bucket: str) -> None:
    s3.put_object(Bucket=s3_bucket, Key="in/", Body=b"")  # a console folder marker
    s3.put_object(
        Bucket=s3_bucket, Key="in/part-2.csv", Body=rows_csv("u2,i2,1700000001,View", GOOD_ROW).encode()
    )
    s3.put_object(Bucket=s3_bucket, Key="in/part-1.csv", Body=rows_csv(GOOD_ROW, "u1,i1,bad,View").encode())
    s3.put_object(Bucket=s3_bucket, Key="other.csv", Body=b"not, under, the, prefix\n")
    report = validate_path(f"s3://{s3_bucket}/in/", domain="ECOMMERCE", schema_json=SCHEMA, s3_client=s3)
    assert [summary.name for summary in report.files] == [
        f"s3://{s3_bucket}/in/part-1.csv",
        f"s3://{s3_bucket}/in/part-2.csv",
    ]
    assert report.rows == 4
    bad_type = report.rule("value_types").examples[0]
    assert (bad_type.file, bad_type.line) == (f"s3://{s3_bucket}/in/part-1.csv", 3)
    duplicate = report.rule("duplicate_rows").examples[0]
    assert (duplicate.file, duplicate.line) == (f"s3://{s3_bucket}/in/part-2.csv", 3)


def test_unreadable_locations_raise_source_errors(s3: Any, s3_bucket: str) -> None:
    with pytest.raises(SourceError, match=f"cannot read s3://{s3_bucket}/missing.csv: no such object"):
        validate_path(f"s3://{s3_bucket}/missing.csv", domain="ECOMMERCE", schema_json=SCHEMA, s3_client=s3)
    with pytest.raises(SourceError, match=f"no data files under s3://{s3_bucket}/empty/"):
        validate_path(f"s3://{s3_bucket}/empty/", domain="ECOMMERCE", schema_json=SCHEMA, s3_client=s3)
    with pytest.raises(SourceError, match="no such bucket"):
        validate_path("s3://no-such-bucket-here/x/", domain="ECOMMERCE", schema_json=SCHEMA, s3_client=s3)


def test_the_cli_reads_s3_through_an_endpoint(
    moto_server: str, s3: Any, s3_bucket: str, valid_csv: Path
) -> None:
    s3.put_object(Bucket=s3_bucket, Key="interactions.csv", Body=valid_csv.read_bytes())
    command = [
        sys.executable,
        "-m",
        "personalize_tools.validate",
        "--domain",
        "ECOMMERCE",
        "--s3-endpoint-url",
        moto_server,
    ]
    found = subprocess.run(
        [*command, f"s3://{s3_bucket}/interactions.csv"], capture_output=True, text=True, check=False
    )
    assert found.returncode == 0, found.stderr
    missing = subprocess.run(
        [*command, f"s3://{s3_bucket}/nope.csv"], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2
    assert f"s3://{s3_bucket}/nope.csv" in missing.stderr
