"""Users and Items files: the generic rules, one record per id, categorical values, CREATION_TIMESTAMP.

Line numbers are 1-based physical lines; the header is line 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambda_handlers.personalize import contract, domain, domain_rules
from personalize_tools.sample_data import generate_items, generate_users
from personalize_tools.validate import UsageError, engine, spill
from personalize_tools.validate.rules import rules_for
from tests.validate.support import check, rows_csv, write

ECOMMERCE_USERS = "USER_ID,MEMBERSHIP_STATUS"
VOD_ITEMS = "ITEM_ID,GENRES,CREATION_TIMESTAMP"
ECOMMERCE_ITEMS = "ITEM_ID,PRICE,CATEGORY_L1"
LONG = "x" * (domain.CATEGORICAL_VALUE_MAX_LENGTH + 1)
INTERACTIONS_ONLY = {"event_types", "min_interactions", "training_users", "duplicate_rows"}


def users_csv(*rows: str) -> str:
    return rows_csv(*rows, header=ECOMMERCE_USERS)


def items_csv(*rows: str) -> str:
    return rows_csv(*rows, header=VOD_ITEMS)


def users(tmp_path: Path, *rows: str, header: str = ECOMMERCE_USERS) -> Path:
    return write(tmp_path, rows_csv(*rows, header=header), name="users.csv")


def items(tmp_path: Path, *rows: str, header: str = VOD_ITEMS) -> Path:
    return write(tmp_path, rows_csv(*rows, header=header), name="items.csv")


@pytest.mark.parametrize("domain_name", contract.DOMAINS)
@pytest.mark.parametrize("dataset_type", ["USERS", "ITEMS"])
def test_generated_records_pass_and_no_interactions_rule_applies(
    tmp_path: Path, domain_name: str, dataset_type: str
) -> None:
    generate = generate_users if dataset_type == "USERS" else generate_items
    path = generate(tmp_path / "records.csv", domain=domain_name, **{dataset_type.lower(): 40}, seed=3)
    report = check(path, domain_name=domain_name, dataset_type=dataset_type)
    assert report.valid and not report.warnings, report.render()
    assert report.dataset_type == dataset_type
    assert [result.rule for result in report.rules] == [rule.id for rule in rules_for(dataset_type)]
    assert not INTERACTIONS_ONLY & {result.rule for result in report.rules}
    assert report.rule("min_records").message == f"40 {domain_rules.RECORD_NAMES[dataset_type]} records"
    assert report.event_types == {}
    timestamped = dataset_type == "ITEMS" and domain_name == "VIDEO_ON_DEMAND"
    assert {result.status for result in report.rules if result.rule.startswith("timestamp_")} == (
        {"pass"} if timestamped else ({"skip"} if dataset_type == "ITEMS" else set())
    )


def test_one_user_is_enough(tmp_path: Path) -> None:
    """No 1000-record, 25-user or event-type rule: those are Interactions rules."""
    report = check(users(tmp_path, "u1,Gold"), dataset_type="USERS")
    assert report.valid and not report.warnings, report.render()


@pytest.mark.parametrize(
    ("dataset_type", "content", "rule", "status", "lines"),
    [
        (
            "USERS",
            b"\xef\xbb\xbf" + rows_csv("u1,Gold", header=ECOMMERCE_USERS).encode(),
            "header_bom",
            "fail",
            [1],
        ),
        ("USERS", rows_csv("u1,Gold", header='"USER_ID","MEMBERSHIP_STATUS"'), "header_quoted", "warn", [1]),
        ("USERS", rows_csv("u1", header="USER_ID"), "header_missing_columns", "fail", [1]),
        (
            "USERS",
            rows_csv("u1,Gold,42", header=ECOMMERCE_USERS + ",AGE"),
            "header_unknown_columns",
            "fail",
            [1],
        ),
        ("USERS", users_csv("u1,Gold", ",Free", "u3,"), "null_values", "fail", [3, 4]),
        ("USERS", users_csv("u1,Gold", f"{'u' * 257},Free"), "id_length", "fail", [3]),
        ("USERS", users_csv("u1,Gold", f"{'é' * 256},Free"), "id_length", "pass", []),
        ("USERS", users_csv("u1,Gold", "u2,Free", "u1,Silver", "u2,Free"), "duplicate_ids", "fail", [4, 5]),
        ("USERS", users_csv("u1,Gold", f"u2,{LONG}", f"u3,ok|{LONG}"), "categorical_length", "fail", [3, 4]),
        ("USERS", users_csv("u1,Gold", f"u2,{LONG[1:]}|{LONG[1:]}"), "categorical_length", "pass", []),
        ("USERS", rows_csv(header=ECOMMERCE_USERS), "min_records", "fail", []),
        ("ITEMS", items_csv("i1,Drama,1600000000", "i2,,1600000000"), "null_values", "fail", [3]),
        (
            "ITEMS",
            items_csv("i1,Drama,1600000000", "i2,Comedy,1600000000000"),
            "timestamp_milliseconds",
            "fail",
            [3],
        ),
        ("ITEMS", items_csv("i1,Drama,1600000000", "i2,Comedy,2020-09-13"), "timestamp_iso", "fail", [3]),
        ("ITEMS", items_csv("i1,Drama,1600000000", "i2,Comedy,4102444800"), "timestamp_future", "warn", [3]),
        ("ITEMS", items_csv("i1,Drama,1600000000", "i2,Comedy,abc"), "value_types", "fail", [3]),
        ("ITEMS", items_csv("i1,Drama,1600000000", "i1,Comedy,1600000001"), "duplicate_ids", "fail", [3]),
        (
            "ITEMS",
            items_csv("i1,Drama|Comedy,1600000000", "i2,Drama,1600000000"),
            "duplicate_ids",
            "pass",
            [],
        ),
    ],
)
def test_rule_on_a_crafted_file(
    tmp_path: Path, dataset_type: str, content: str | bytes, rule: str, status: str, lines: list[int]
) -> None:
    domain_name = "ECOMMERCE" if dataset_type == "USERS" else "VIDEO_ON_DEMAND"
    report = check(write(tmp_path, content), domain_name=domain_name, dataset_type=dataset_type)
    result = report.rule(rule)
    assert result.status == status, result
    assert [example.line for example in result.examples] == lines
    assert result.count == (1 if rule == "min_records" else len(lines))


def test_a_repeated_id_names_the_line_it_repeats(tmp_path: Path) -> None:
    report = check(users(tmp_path, "u1,Gold", "u2,Free", "u1,Silver"), dataset_type="USERS")
    result = report.rule("duplicate_ids")
    assert result.count == 1 and result.level == "error"
    assert result.examples[0].detail == "repeats the USER_ID of line 2"
    assert "Personalize keeps only one record per id" in result.message


def test_empty_ids_are_null_values_not_repeats(tmp_path: Path) -> None:
    report = check(users(tmp_path, ",Gold", ",Free", "u1,Free"), dataset_type="USERS")
    assert report.rule("null_values").count == 2
    assert report.rule("duplicate_ids").status == "pass"


def test_repeated_ids_are_exact_across_batches_spills_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "BLOCK_BYTES", 256)  # a few records per batch
    monkeypatch.setattr(spill, "FLUSH_ITEMS", 7)  # spill to disk every few records
    monkeypatch.setattr(spill, "TARGET_PARTITION_ITEMS", 16)  # and into many partitions
    first = [f"i{index},Drama,{1600000000 + index}" for index in range(200)]
    first[150] = "i3,Comedy,1600000150"  # line 152 repeats the id of line 5, not the row
    write(tmp_path, rows_csv(*first, header=VOD_ITEMS), name="a.csv")
    write(tmp_path, rows_csv("i500,Drama,1600000000", "i7,Drama,1600000007", header=VOD_ITEMS), name="b.csv")
    result = check(tmp_path, domain_name="VIDEO_ON_DEMAND", dataset_type="ITEMS").rule("duplicate_ids")
    assert result.count == 2
    assert [(Path(example.file).name, example.line, example.detail) for example in result.examples] == [
        ("a.csv", 152, "repeats the ITEM_ID of line 5"),
        ("b.csv", 3, f"repeats the ITEM_ID of {tmp_path / 'a.csv'} line 9"),
    ]


def test_a_long_categorical_value_is_named_with_its_length(tmp_path: Path) -> None:
    result = check(users(tmp_path, f"u1,short|{LONG}"), dataset_type="USERS").rule("categorical_length")
    assert result.examples[0].detail == (
        f"MEMBERSHIP_STATUS has a value of {len(LONG):,} characters (at most 1000 per '|'-separated value)"
    )
    assert "(MEMBERSHIP_STATUS 1)" in result.message


def test_categorical_fields_come_from_the_schema_flag(tmp_path: Path) -> None:
    """The same long value passes in a field the schema does not flag categorical."""
    schema = domain_rules.default_schema("ECOMMERCE", "USERS")
    schema["fields"][1].pop("categorical")
    path = users(tmp_path, f"u1,{LONG}")
    report = check(path, dataset_type="USERS", schema_json=json.dumps(schema))
    assert report.rule("categorical_length").message == "not checked: the schema has no categorical field"
    assert check(path, dataset_type="USERS").rule("categorical_length").status == "fail"


def test_creation_timestamp_is_checked_only_when_present(tmp_path: Path) -> None:
    schema = domain_rules.default_schema("ECOMMERCE", "ITEMS")
    schema["fields"].append({"name": "CREATION_TIMESTAMP", "type": "long"})
    with_column = items(
        tmp_path,
        "i1,9.99,books,1600000000",
        "i2,19.99,toys,1600000000000",
        header=ECOMMERCE_ITEMS + ",CREATION_TIMESTAMP",
    )
    report = check(with_column, dataset_type="ITEMS", schema_json=json.dumps(schema))
    assert report.rule("timestamp_milliseconds").status == "fail"
    assert (
        report.rule("timestamp_milliseconds")
        .examples[0]
        .detail.startswith("CREATION_TIMESTAMP=1600000000000")
    )
    assert (
        "CREATION_TIMESTAMP(s) look like epoch milliseconds" in report.rule("timestamp_milliseconds").message
    )
    without = check(items(tmp_path, "i1,9.99,books", header=ECOMMERCE_ITEMS), dataset_type="ITEMS")
    assert without.rule("timestamp_milliseconds").message == "not checked: no CREATION_TIMESTAMP column"
    assert without.valid


def test_a_users_file_gets_no_timestamp_rules_for_a_timestamp_like_column(tmp_path: Path) -> None:
    schema = domain_rules.default_schema("VIDEO_ON_DEMAND", "USERS")
    schema["fields"].append({"name": "TIMESTAMP", "type": "long"})
    path = users(tmp_path, "u1,Basic,1600000000000", header="USER_ID,SUBSCRIPTION_MODEL,TIMESTAMP")
    report = check(path, domain_name="VIDEO_ON_DEMAND", dataset_type="USERS", schema_json=json.dumps(schema))
    assert report.valid
    assert not any(result.rule.startswith("timestamp_") for result in report.rules)


def test_the_schema_is_checked_for_its_dataset_type(tmp_path: Path) -> None:
    path = users(tmp_path, "u1,Gold")
    with pytest.raises(UsageError, match="schema needs at least 1 metadata field"):
        check(
            path,
            dataset_type="USERS",
            schema_json=json.dumps(
                {"type": "record", "name": "Users", "fields": [{"name": "USER_ID", "type": "string"}]}
            ),
        )
    with pytest.raises(UsageError, match="a USERS schema must be named 'Users'"):
        check(path, dataset_type="USERS", schema_json=domain_rules.default_schema_json("ECOMMERCE", "ITEMS"))
    with pytest.raises(UsageError, match="dataset type 'ACTIONS' is not one of interactions, users, items"):
        check(path, dataset_type="actions", schema_json=domain_rules.default_schema_json("ECOMMERCE"))


def test_the_report_names_the_dataset_type(tmp_path: Path) -> None:
    report = check(
        items(tmp_path, "i1,Drama,1600000000"), domain_name="VIDEO_ON_DEMAND", dataset_type="items"
    )
    assert report.render().splitlines()[0].endswith("(VIDEO_ON_DEMAND Items)")
    assert report.to_json()["dataset_type"] == "ITEMS"
    assert "Event types" not in report.render()
