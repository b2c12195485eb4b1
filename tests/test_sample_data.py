"""The sample-data generator: deterministic bytes, realistic shape, injectable defects."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from lambda_handlers.personalize import domain
from personalize_tools.sample_data import SampleDataError, generate_interactions
from personalize_tools.validate import validate_path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def read(path: Path) -> pa.Table:
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types={"USER_ID": pa.string()}))


@pytest.fixture(scope="module")
def ecommerce(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_interactions(
        tmp_path_factory.mktemp("sample") / "e.csv", domain="ECOMMERCE", rows=20_000, seed=7
    )


def test_same_seed_same_bytes_and_another_seed_other_bytes(tmp_path: Path) -> None:
    first = generate_interactions(tmp_path / "a.csv", domain="ECOMMERCE", rows=3000, seed=11)
    again = generate_interactions(tmp_path / "b.csv", domain="ECOMMERCE", rows=3000, seed=11)
    other = generate_interactions(tmp_path / "c.csv", domain="ECOMMERCE", rows=3000, seed=12)
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_header_is_the_domain_default_schema(ecommerce: Path) -> None:
    header = ecommerce.read_text().splitlines()[0]
    assert header.split(",") == domain.schema_field_names(domain.default_schema_json("ECOMMERCE"))


def test_rows_and_timestamps(ecommerce: Path) -> None:
    table = read(ecommerce)
    assert table.num_rows == 20_000
    timestamps = table["TIMESTAMP"].to_numpy()
    assert table["TIMESTAMP"].type == pa.int64()
    assert np.all(np.diff(timestamps) >= 0)
    assert timestamps[0] >= 946_684_800 and timestamps[-1] < time.time()  # epoch seconds, in the past


def test_event_mix_follows_the_domain(ecommerce: Path, tmp_path: Path) -> None:
    counts = read(ecommerce)["EVENT_TYPE"].value_counts().to_pylist()
    shares = {entry["values"]: entry["counts"] / 20_000 for entry in counts}
    assert set(shares) == set(domain.EVENT_TYPES["ECOMMERCE"])
    assert 0.6 < shares["View"] < 0.9  # mostly browsing, a fair share of purchases
    video = generate_interactions(tmp_path / "v.csv", domain="VIDEO_ON_DEMAND", rows=5000, seed=7)
    assert set(read(video)["EVENT_TYPE"].unique().to_pylist()) == set(domain.EVENT_TYPES["VIDEO_ON_DEMAND"])


def test_item_popularity_is_skewed(ecommerce: Path) -> None:
    per_item = np.sort(
        np.array([entry["counts"] for entry in read(ecommerce)["ITEM_ID"].value_counts().to_pylist()])
    )
    top_tenth = per_item[::-1][: max(1, len(per_item) // 10)]
    assert top_tenth.sum() / per_item.sum() > 0.4


def test_enough_users_repeat_for_training(ecommerce: Path) -> None:
    per_user = np.array([entry["counts"] for entry in read(ecommerce)["USER_ID"].value_counts().to_pylist()])
    assert (
        np.count_nonzero(per_user >= domain.MIN_INTERACTIONS_PER_TRAINING_USER) >= domain.MIN_TRAINING_USERS
    )


def test_a_conversion_repeats_the_item_before_it(ecommerce: Path) -> None:
    """A Purchase follows a View of the same item by the same user (sessions, not noise)."""
    table = read(ecommerce).to_pylist()
    last_item: dict[str, str] = {}
    matched = purchases = 0
    for row in table:
        if row["EVENT_TYPE"] == "Purchase":
            purchases += 1
            matched += last_item.get(row["USER_ID"]) == row["ITEM_ID"]
        last_item[row["USER_ID"]] = row["ITEM_ID"]
    assert purchases and matched / purchases > 0.9


def test_the_sample_validates_clean(ecommerce: Path) -> None:
    report = validate_path(
        str(ecommerce), domain="ECOMMERCE", schema_json=domain.default_schema_json("ECOMMERCE")
    )
    assert report.valid and not report.warnings, report.render()


@pytest.mark.parametrize(
    ("defect", "rule"),
    [
        ("milliseconds", "timestamp_milliseconds"),
        ("microseconds", "timestamp_microseconds"),
        ("iso-timestamps", "timestamp_iso"),
        ("duplicates", "duplicate_rows"),
        ("bom", "header_bom"),
    ],
)
def test_each_defect_breaks_its_rule(tmp_path: Path, defect: str, rule: str) -> None:
    path = generate_interactions(tmp_path / "d.csv", domain="ECOMMERCE", rows=1000, seed=7, defects=[defect])
    report = validate_path(str(path), domain="ECOMMERCE", schema_json=domain.default_schema_json("ECOMMERCE"))
    assert report.rule(rule).status in {"fail", "warn"}
    others = [result.rule for result in report.rules if result.status != "pass" and result.rule != rule]
    assert others in ([], ["event_types"])  # 1000 rows hold fewer than 1000 Purchase events


def test_crlf_option(tmp_path: Path) -> None:
    path = generate_interactions(tmp_path / "c.csv", domain="ECOMMERCE", rows=10, line_ending="\r\n")
    assert path.read_bytes().count(b"\r\n") == 11


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"domain": "RETAIL", "rows": 10}, "domain 'RETAIL'"),
        ({"domain": "ECOMMERCE", "rows": 0}, "rows must be at least 1"),
        ({"domain": "ECOMMERCE", "rows": 10, "start": int(time.time())}, "in the future"),
        ({"domain": "ECOMMERCE", "rows": 10, "defects": ["gremlins"]}, "unknown defect"),
        ({"domain": "ECOMMERCE", "rows": 10, "defects": ["milliseconds", "microseconds"]}, "at most one"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, arguments: dict, message: str) -> None:
    with pytest.raises(SampleDataError, match=message):
        generate_interactions(tmp_path / "x.csv", **arguments)


def test_cli_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "interactions.csv"
    command = [sys.executable, "-m", "personalize_tools.sample_data", "--domain", "VIDEO_ON_DEMAND"]
    result = subprocess.run(
        [*command, "--rows", "1200", "--seed", "7", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (
        out.read_bytes()
        == generate_interactions(tmp_path / "same.csv", domain="VIDEO_ON_DEMAND", rows=1200).read_bytes()
    )
    refused = subprocess.run(
        [*command, "--rows", "0", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert refused.returncode == 2
    assert "rows must be at least 1" in refused.stderr
