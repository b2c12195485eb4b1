"""Each rule on a crafted file that breaks it, and on the realistic file that passes everything.

Line numbers are 1-based physical lines; the header is line 1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lambda_handlers.personalize import domain_rules
from personalize_tools.sample_data import generate_interactions
from personalize_tools.validate import engine, spill, validate_path
from personalize_tools.validate.rules import USE_CASE_PREFIX, rule_by_id, rules_for
from tests.validate.support import GOOD_ROW, HEADER, check, rows_csv, write

ENRICHED_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "EVENT_VALUE", "type": ["null", "float"]},
            {"name": "QUANTITY", "type": "int"},
            {"name": "GIFT", "type": ["null", "boolean"]},
        ],
        "version": "1.0",
    }
)
ENRICHED_HEADER = HEADER + ",EVENT_VALUE,QUANTITY,GIFT"


def test_realistic_data_passes_every_rule(valid_csv: Path) -> None:
    report = check(valid_csv)
    assert report.valid
    expected = {rule.id: "pass" for rule in rules_for("INTERACTIONS")}
    expected["categorical_length"] = "skip"  # the default Interactions schema has no categorical field
    assert {result.rule: result.status for result in report.rules} == expected
    assert report.rule("categorical_length").message == "not checked: the schema has no categorical field"
    assert report.rows == 5000
    assert set(report.event_types) == set(domain_rules.EVENT_TYPES["ECOMMERCE"])
    assert sum(report.event_types.values()) == 5000


@pytest.mark.parametrize(
    ("content", "rule", "status", "lines"),
    [
        (b"\xef\xbb\xbf" + rows_csv(GOOD_ROW).encode(), "header_bom", "fail", [1]),
        (
            rows_csv(GOOD_ROW, header='"USER_ID","ITEM_ID","TIMESTAMP","EVENT_TYPE"'),
            "header_quoted",
            "warn",
            [1],
        ),
        (
            rows_csv("u1,i1,1700000000", header="USER_ID,ITEM_ID,TIMESTAMP"),
            "header_missing_columns",
            "fail",
            [1],
        ),
        (rows_csv(GOOD_ROW + ",red", header=HEADER + ",COLOR"), "header_unknown_columns", "fail", [1]),
        (rows_csv(GOOD_ROW + ",u2", header=HEADER + ",USER_ID"), "header_duplicate_columns", "fail", [1]),
        (rows_csv(GOOD_ROW, GOOD_ROW.replace("u1", "u2"), "u3,i3,1700000000"), "row_width", "fail", [4]),
        (rows_csv(GOOD_ROW, "u2,i2,1700000000,View,extra", "u3,i3,1,View"), "row_width", "fail", [3]),
        (rows_csv(GOOD_ROW, "", "u2,i2,1700000001,View"), "blank_lines", "warn", [3]),
        (rows_csv(GOOD_ROW, "u2,,1700000001,View", ",i3,1700000002,View"), "null_values", "fail", [3, 4]),
        (rows_csv(GOOD_ROW, "u2,i2,,View"), "null_values", "fail", [3]),
        (
            rows_csv(GOOD_ROW, "u2,i2,17e8,View", "u3,i3,0x10,View", "u4,i4,+5,View"),
            "value_types",
            "fail",
            [3, 4, 5],
        ),
        (rows_csv(GOOD_ROW, "u2,i2,1700000000.5,View"), "value_types", "fail", [3]),
        (rows_csv(GOOD_ROW, "u2,i2,99999999999999999999,View"), "value_types", "fail", [3]),
        (rows_csv(GOOD_ROW, f"{'u' * 257},i2,1700000001,View"), "id_length", "fail", [3]),
        (rows_csv(GOOD_ROW, f"{'u' * 256},{'é' * 256},1700000001,View"), "id_length", "pass", []),
        (rows_csv(GOOD_ROW, "u2,i2,1700000000000,View"), "timestamp_milliseconds", "fail", [3]),
        (rows_csv(GOOD_ROW, "u2,i2,1700000000000000,View"), "timestamp_microseconds", "fail", [3]),
        (rows_csv(GOOD_ROW, "u2,i2,1700000000000000000,View"), "timestamp_microseconds", "fail", [3]),
        (
            rows_csv(GOOD_ROW, "u2,i2,2023-11-14T22:13:20Z,View", "u3,i3,2023-11-14,View"),
            "timestamp_iso",
            "fail",
            [3, 4],
        ),
        (rows_csv(GOOD_ROW, "u2,i2,4102444800,View"), "timestamp_future", "warn", [3]),
        (
            rows_csv(GOOD_ROW, "u2,i2,946684799,View", "u3,i3,0,View", "u4,i4,-5,View"),
            "timestamp_before_2000",
            "warn",
            [3, 4],
        ),
        (rows_csv(GOOD_ROW, "u2,i2,1700000001,View", GOOD_ROW), "duplicate_rows", "warn", [4]),
    ],
)
def test_rule_on_a_crafted_file(
    tmp_path: Path, content: str | bytes, rule: str, status: str, lines: list[int]
) -> None:
    result = check(write(tmp_path, content)).rule(rule)
    assert result.status == status, result
    assert [example.line for example in result.examples] == lines
    assert result.count == len(lines)


def test_a_value_of_the_wrong_type_is_named_with_its_field(tmp_path: Path) -> None:
    result = check(write(tmp_path, rows_csv(GOOD_ROW, "u2,i2,abc,View"))).rule("value_types")
    assert result.examples[0].detail == "TIMESTAMP='abc' is not a long"
    assert "(TIMESTAMP 1)" in result.message


def test_an_iso_timestamp_is_not_also_a_type_error(tmp_path: Path) -> None:
    report = check(write(tmp_path, rows_csv(GOOD_ROW, "u2,i2,2024-01-01,View")))
    assert report.rule("timestamp_iso").count == 1
    assert report.rule("value_types").status == "pass"


def test_milliseconds_are_explained_as_a_date(tmp_path: Path) -> None:
    result = check(write(tmp_path, rows_csv(GOOD_ROW, "u2,i2,1700000000000,View"))).rule(
        "timestamp_milliseconds"
    )
    assert "2023-11-14T22:13:20Z if read as milliseconds" in result.examples[0].detail


def test_invalid_utf8_is_reported_by_line_and_field(tmp_path: Path) -> None:
    content = rows_csv(GOOD_ROW).encode() + b"u2,i\xff2,1700000001,View\nu3,i3,1700000002,\xc3\n"
    result = check(write(tmp_path, content)).rule("utf8")
    assert result.status == "fail"
    assert [(example.line, example.detail) for example in result.examples] == [
        (3, "invalid UTF-8 in ITEM_ID: 'i\\xff2'"),
        (4, "invalid UTF-8 in EVENT_TYPE: '\\xc3'"),
    ]


def test_multibyte_utf8_passes_and_ascii_beside_it_needs_no_validation(tmp_path: Path) -> None:
    """A column of ASCII bytes is UTF-8 without a validating cast; bytes from 0x80 up are validated."""
    rows = ["u1,i1,1700000000,View", "u\u00e9,\u65e5\u672c,1700000001,View", "u3,i3,1700000002,Vi\u00e9w"]
    assert check(write(tmp_path, rows_csv(*rows))).rule("utf8").status == "pass"
    bad = rows_csv(*rows).encode() + b"u4,i4,1700000003,\xe9\n"  # Latin-1, not UTF-8
    result = check(write(tmp_path, bad)).rule("utf8")
    assert [(example.line, example.detail) for example in result.examples] == [
        (5, "invalid UTF-8 in EVENT_TYPE: '\\xe9'")
    ]


def test_invalid_utf8_in_a_number_column_is_not_a_type_error(tmp_path: Path) -> None:
    report = check(write(tmp_path, rows_csv(GOOD_ROW).encode() + b"u2,i2,17\xff,View\n"))
    assert [example.line for example in report.rule("utf8").examples] == [3]
    assert report.rule("value_types").status == "pass"


def test_crlf_line_endings_are_accepted(tmp_path: Path, valid_csv: Path) -> None:
    crlf = write(tmp_path, valid_csv.read_bytes().replace(b"\n", b"\r\n"))
    report = check(crlf)
    assert report.valid
    assert report.files[0].line_ending == "CRLF"
    assert report.rule("value_types").status == "pass"  # no "\r" left on the last field


def test_line_numbers_count_quoted_line_breaks_and_skipped_rows(tmp_path: Path) -> None:
    content = rows_csv(
        GOOD_ROW,
        'u2,"i\n2",1700000001,View',  # lines 3-4
        "u3,i3",  # line 5: skipped by the parser
        "u4,i4,1700000002,View",
        "u5,i5,bad,View",  # line 7
    )
    report = check(write(tmp_path, content))
    assert [example.line for example in report.rule("row_width").examples] == [5]
    assert [example.line for example in report.rule("value_types").examples] == [7]


def test_line_numbers_hold_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "BLOCK_BYTES", 64)  # a few rows per batch
    rows = [f"u{index},i{index},{1700000000 + index},View" for index in range(40)]
    rows[10] = "u10,i10"
    rows[11] = 'u11,"i\n11",1700000011,View'
    rows[30] = "u30,i30,oops,View"
    report = check(write(tmp_path, rows_csv(*rows)))
    assert [example.line for example in report.rule("row_width").examples] == [12]
    assert [example.line for example in report.rule("value_types").examples] == [33]


def test_an_unparseable_file_reports_where_parsing_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "BLOCK_BYTES", 128)  # a row longer than a block cannot be parsed
    report = check(write(tmp_path, rows_csv(GOOD_ROW, f"u2,{'x' * 300},1700000000,View")))
    result = report.rule("csv_syntax")
    assert result.status == "fail"
    assert result.examples[0].line == 3


def test_an_empty_file_lacks_every_required_column(tmp_path: Path) -> None:
    report = check(write(tmp_path, b""))
    assert report.rule("header_missing_columns").count == 4
    assert report.rule("timestamp_milliseconds").status == "skip"
    assert not report.valid


def test_a_missing_column_skips_the_rules_that_need_it(tmp_path: Path) -> None:
    report = check(write(tmp_path, rows_csv("u1,i1,View", header="USER_ID,ITEM_ID,EVENT_TYPE")))
    missing = report.rule("header_missing_columns")
    assert missing.status == "fail"
    assert "lacks TIMESTAMP" in missing.examples[0].detail
    assert report.rule("timestamp_future").status == "skip"


def test_typed_fields_of_a_custom_schema(tmp_path: Path) -> None:
    content = rows_csv(
        GOOD_ROW + ",1.5,2,true",
        "u2,i2,1700000001,View,,3,",  # nullable fields may be empty
        "u3,i3,1700000002,View,abc,4,false",  # line 4: float
        "u4,i4,1700000003,View,2.0,2147483648,0",  # line 5: int out of range
        "u5,i5,1700000004,View,nan,5,yes",  # line 6: non-finite float and a bad boolean
        "u6,i6,1700000005,View,1e3,,1",  # line 7: QUANTITY is not nullable
        header=ENRICHED_HEADER,
    )
    report = check(write(tmp_path, content), schema_json=ENRICHED_SCHEMA)
    types = report.rule("value_types")
    assert [(example.line, example.detail.split("=")[0]) for example in types.examples] == [
        (4, "EVENT_VALUE"),
        (5, "QUANTITY"),
        (6, "EVENT_VALUE"),
        (6, "GIFT"),
    ]
    assert "EVENT_VALUE 2" in types.message
    assert [example.line for example in report.rule("null_values").examples] == [7]
    assert report.rule("header_unknown_columns").status == "pass"


def test_event_types_report_counts_and_warn_about_missing_ones(tmp_path: Path) -> None:
    rows = [
        f"u{index % 30},i{index},{1700000000 + index},{'Watch' if index % 2 else 'click'}"
        for index in range(1200)
    ]
    report = check(write(tmp_path, rows_csv(*rows)), domain_name="VIDEO_ON_DEMAND")
    result = report.rule("event_types")
    assert result.status == "warn"
    assert report.event_types == {"click": 600, "Watch": 600}
    assert "Click absent" in result.message
    assert "found 'click': event types are case-sensitive" in result.message
    assert "only 600 Watch" in result.message
    assert "aws-vod-because-you-watched-x" in result.message


def test_event_type_counts_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_EVENT_TYPES", 3)
    rows = [f"u{index},i{index},{1700000000 + index},Type{index % 5}" for index in range(50)]
    report = check(write(tmp_path, rows_csv(*rows)))
    assert len(report.event_types) == 3
    assert sum(report.event_types.values()) + report.event_types_other == 50


@pytest.mark.parametrize(("rows", "status"), [(999, "fail"), (1000, "pass")])
def test_min_interactions(tmp_path: Path, rows: int, status: str) -> None:
    path = generate_interactions(tmp_path / "interactions.csv", domain="ECOMMERCE", rows=rows, seed=3)
    result = check(path).rule("min_interactions")
    assert result.status == status
    assert result.count == (1 if status == "fail" else 0)


def _users_csv(repeat_users: int) -> str:
    """1000 interactions: REPEAT_USERS users with two each, everyone else with one."""
    rows = []
    for index in range(1000):
        user = index // 2 if index < 2 * repeat_users else index
        rows.append(f"u{user},i{index},{1700000000 + index},View")
    return rows_csv(*rows)


@pytest.mark.parametrize(("repeat_users", "status"), [(24, "fail"), (25, "pass")])
def test_training_users(tmp_path: Path, repeat_users: int, status: str) -> None:
    result = check(write(tmp_path, _users_csv(repeat_users))).rule("training_users")
    assert result.status == status


def test_training_users_counts_repeats_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each user's two interactions lie in different batches, so only the spill can find them."""
    monkeypatch.setattr(engine, "BLOCK_BYTES", 256)
    rows = [f"u{index % 25},i{index},{1700000000 + index},View" for index in range(50)]
    report = check(write(tmp_path, rows_csv(*rows)))
    assert report.rule("training_users").status == "pass"
    assert report.rule("training_users").message.startswith("25 users")


def test_duplicates_are_exact_across_batches_and_spilled_partitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "BLOCK_BYTES", 512)
    monkeypatch.setattr(spill, "FLUSH_ITEMS", 7)  # spill to disk every few rows
    monkeypatch.setattr(spill, "TARGET_PARTITION_ITEMS", 16)  # and into many partitions
    rows = [f"u{index},i{index},{1700000000 + index},View" for index in range(300)]
    rows[150] = rows[3]  # line 152 repeats line 5
    rows[299] = rows[150]  # line 301 too
    rows[200] = rows[201].replace("View", "Purchase")  # near miss: not a duplicate
    report = check(write(tmp_path, rows_csv(*rows)))
    result = report.rule("duplicate_rows")
    assert result.count == 2
    assert [example.line for example in result.examples] == [152, 301]


def test_blank_lines_are_not_counted_as_rows_or_nulls(tmp_path: Path) -> None:
    report = check(write(tmp_path, rows_csv(GOOD_ROW, "", "", "u2,i2,1700000001,View")))
    assert report.rows == 2
    assert report.rule("blank_lines").count == 2
    assert report.rule("null_values").status == "pass"
    assert report.rule("duplicate_rows").status == "pass"


def test_examples_are_capped_but_counts_are_not(tmp_path: Path) -> None:
    rows = [f"u{index},i{index},{1700000000000 + index},View" for index in range(30)]
    path = write(tmp_path, rows_csv(*rows))
    report = validate_path(
        str(path),
        domain="ECOMMERCE",
        schema_json=domain_rules.default_schema_json("ECOMMERCE"),
        max_examples=3,
    )
    result = report.rule("timestamp_milliseconds")
    assert result.count == 30
    assert [example.line for example in result.examples] == [2, 3, 4]
    assert "... and 27 more" in report.render()


def test_a_folder_is_validated_file_by_file_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, rows_csv(GOOD_ROW, "u2,i2,1700000001,View"), name="b.csv")
    write(tmp_path, rows_csv("u9,i9,bad,View"), name="a.csv")
    report = check(tmp_path)
    assert [summary.name for summary in report.files] == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert report.rows == 3
    example = report.rule("value_types").examples[0]
    assert (example.file, example.line) == (str(tmp_path / "a.csv"), 2)
    # The same row in two files is a duplicate; its line is in the second file.
    write(tmp_path, rows_csv(GOOD_ROW), name="c.csv")
    duplicate = check(tmp_path).rule("duplicate_rows").examples[0]
    assert (duplicate.file, duplicate.line) == (str(tmp_path / "c.csv"), 2)


@pytest.mark.parametrize("rule_id", ["no_such_rule", "use_case:aws-no-such-use-case"])
def test_an_unknown_rule_id_is_refused_by_name(rule_id: str) -> None:
    with pytest.raises(KeyError, match=re.escape(f"no rule {rule_id!r}")):
        rule_by_id(rule_id)


def test_a_use_case_rule_is_found_by_its_id() -> None:
    rule_id = USE_CASE_PREFIX + "aws-ecomm-popular-items-by-views"
    assert rule_by_id(rule_id).id == rule_id
