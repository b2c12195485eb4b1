"""Use-case minimums: each recommender needs MIN_INTERACTIONS events of the types its recipe reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambda_handlers.personalize import domain_rules
from personalize_tools.validate import UsageError, engine
from personalize_tools.validate.__main__ import EXIT_INVALID, EXIT_USAGE, EXIT_VALID, main
from tests.validate.support import check, rows_csv, write

VIEWS = "aws-ecomm-popular-items-by-views"
PURCHASES = "aws-ecomm-popular-items-by-purchases"
ANY_EVENT = "aws-ecomm-recommended-for-you"


def events(views: int, purchases: int) -> str:
    rows = [
        f"u{index % 50},i{index},{1700000000 + index},{'View' if index < views else 'Purchase'}"
        for index in range(views + purchases)
    ]
    return rows_csv(*rows)


@pytest.fixture(scope="module")
def short_of_purchases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1000 View and 999 Purchase events."""
    return write(tmp_path_factory.mktemp("use_cases"), events(1000, 999))


def test_each_use_case_is_a_rule_with_the_counts_seen(short_of_purchases: Path) -> None:
    report = check(short_of_purchases, use_cases=[VIEWS, PURCHASES, ANY_EVENT])
    assert [result.rule for result in report.rules][-3:] == [
        f"use_case:{VIEWS}",
        f"use_case:{PURCHASES}",
        f"use_case:{ANY_EVENT}",
    ]
    views = report.rule(f"use_case:{VIEWS}")
    assert (views.status, views.count) == ("pass", 0)
    assert views.message == "1,000 View (at least 1000 View needed)"
    anything = report.rule(f"use_case:{ANY_EVENT}")
    assert (anything.status, anything.message) == (
        "pass",
        "1,999 interactions of any event type (at least 1000 interactions needed)",
    )
    purchases = report.rule(f"use_case:{PURCHASES}")
    assert (purchases.status, purchases.level, purchases.count) == ("fail", "error", 1)
    assert purchases.message.startswith(
        f"{PURCHASES} needs at least 1000 Purchase; the data has 999 Purchase."
    )
    assert f'"{domain_rules.reason_too_few_interactions("Purchase")}"' in purchases.message
    assert not report.valid


def test_without_use_cases_there_are_no_use_case_rules(short_of_purchases: Path) -> None:
    report = check(short_of_purchases)
    assert report.valid
    assert not [result for result in report.rules if result.rule.startswith("use_case:")]


def test_any_event_counts_for_a_use_case_without_event_types(tmp_path: Path) -> None:
    result = check(write(tmp_path, events(500, 499)), use_cases=[ANY_EVENT]).rule(f"use_case:{ANY_EVENT}")
    assert (result.status, result.count) == ("fail", 1)
    assert f'"{domain_rules.reason_too_few_records(999)}"' in result.message


def test_a_use_case_counts_its_event_type_even_past_the_tracked_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Event types a use case reads are counted by name even after MAX_EVENT_TYPES others."""
    monkeypatch.setattr(engine, "MAX_EVENT_TYPES", 2)
    rows = [f"u{index % 50},i{index},{1700000000 + index},Other{index % 3}" for index in range(30)]
    rows += [f"u{index % 50},i{index},{1700000100 + index},View" for index in range(1000)]
    result = check(write(tmp_path, rows_csv(*rows)), use_cases=[VIEWS]).rule(f"use_case:{VIEWS}")
    assert result.status == "pass", result.message


def test_a_use_case_of_the_other_domain_is_refused_naming_the_allowed_ones(short_of_purchases: Path) -> None:
    with pytest.raises(UsageError) as raised:
        check(short_of_purchases, use_cases=["aws-vod-top-picks"])
    message = str(raised.value)
    assert "'aws-vod-top-picks' belongs to VIDEO_ON_DEMAND" in message
    assert all(recipe.use_case in message for recipe in domain_rules.recipes_for("ECOMMERCE"))
    with pytest.raises(UsageError, match="'aws-ecomm-nope' is not a domain use case"):
        check(short_of_purchases, use_cases=["aws-ecomm-nope"])


def test_use_cases_apply_to_interactions_only(tmp_path: Path) -> None:
    path = write(tmp_path, "USER_ID,MEMBERSHIP_STATUS\nu1,Gold\n")
    with pytest.raises(UsageError, match="a Users dataset has none"):
        check(path, dataset_type="USERS", use_cases=[VIEWS])


def test_a_use_case_given_twice_is_one_rule(short_of_purchases: Path) -> None:
    report = check(short_of_purchases, use_cases=[VIEWS, VIEWS])
    assert [result.rule for result in report.rules].count(f"use_case:{VIEWS}") == 1


def test_the_cli_takes_repeated_use_cases(
    short_of_purchases: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = [str(short_of_purchases), "--domain", "ECOMMERCE", "--json", "--use-case", VIEWS]
    assert main(arguments) == EXIT_VALID
    capsys.readouterr()
    assert main([*arguments, "--use-case", PURCHASES]) == EXIT_INVALID
    rules = {rule["rule"]: rule for rule in json.loads(capsys.readouterr().out)["rules"]}
    assert rules[f"use_case:{PURCHASES}"]["status"] == "fail"
    assert rules[f"use_case:{PURCHASES}"]["level"] == "error"
    assert main([*arguments, "--use-case", "aws-vod-most-popular"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert "'aws-vod-most-popular' belongs to VIDEO_ON_DEMAND; allowed for ECOMMERCE: " in error
