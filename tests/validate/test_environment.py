"""--env without a path: every dataset an environment imports, one report each, the worst exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import EnvironmentConfig, load_file
from config import model as config_model
from personalize_tools.sample_data import write_environment_samples
from personalize_tools.validate import UsageError, validate_environment
from personalize_tools.validate.__main__ import EXIT_INVALID, EXIT_USAGE, EXIT_VALID, main

USE_CASES = ["aws-vod-because-you-watched-x", "aws-vod-top-picks"]


def environment_fields(directory: Path, **changes: Any) -> dict[str, Any]:
    """A VIDEO_ON_DEMAND environment with all three datasets as absolute local paths in DIRECTORY."""
    fields: dict[str, Any] = {
        "name_prefix": "pz",
        "domain": "VIDEO_ON_DEMAND",
        "data_source": {"local_path": str(directory / "interactions.csv")},
        "users": {"data_source": {"local_path": str(directory / "users.csv")}},
        "items": {"data_source": {"local_path": str(directory / "items.csv")}},
        "recommenders": [{"use_case": use_case} for use_case in USE_CASES],
    }
    return {**fields, **changes}


def environment(directory: Path, **changes: Any) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate({**environment_fields(directory, **changes), "name": "tmp"})


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("environment")
    write_environment_samples(environment(directory), rows=2500)
    return directory


def test_every_dataset_is_validated_with_the_configured_use_cases(sample_dir: Path) -> None:
    report = validate_environment(environment(sample_dir))
    assert report.valid, report.render()
    assert [dataset.dataset_type for dataset in report.datasets] == ["INTERACTIONS", "USERS", "ITEMS"]
    assert [dataset.source for dataset in report.datasets] == [
        str(sample_dir / name) for name in ("interactions.csv", "users.csv", "items.csv")
    ]
    interactions = report.dataset("INTERACTIONS")
    assert [result.rule for result in interactions.rules if result.rule.startswith("use_case:")] == [
        f"use_case:{use_case}" for use_case in USE_CASES
    ]
    assert not [result for result in report.dataset("ITEMS").rules if result.rule.startswith("use_case:")]


def test_explicit_use_cases_replace_the_configured_ones(sample_dir: Path) -> None:
    report = validate_environment(environment(sample_dir), use_cases=["aws-vod-trending-now"])
    rules = [result.rule for result in report.dataset("INTERACTIONS").rules]
    assert [rule for rule in rules if rule.startswith("use_case:")] == ["use_case:aws-vod-trending-now"]
    with pytest.raises(UsageError, match="'aws-ecomm-recommended-for-you' belongs to ECOMMERCE"):
        validate_environment(environment(sample_dir), use_cases=["aws-ecomm-recommended-for-you"])


def test_one_bad_dataset_makes_the_environment_invalid(tmp_path: Path, sample_dir: Path) -> None:
    items = (sample_dir / "items.csv").read_text().splitlines()
    (tmp_path / "items.csv").write_text("\n".join([*items, items[1]]) + "\n")  # i1 twice
    config = environment(sample_dir, items={"data_source": {"local_path": str(tmp_path / "items.csv")}})
    report = validate_environment(config)
    assert not report.valid
    assert [dataset.valid for dataset in report.datasets] == [True, True, False]
    assert report.dataset("ITEMS").rule("duplicate_ids").count == 1
    assert report.render().endswith("Environment tmp: INVALID (Items), 3 datasets checked")


def test_a_bucket_key_is_listed_as_unchecked(sample_dir: Path) -> None:
    config = environment(sample_dir, users={"data_source": {"bucket_key": "imports/users/"}})
    report = validate_environment(config)
    assert [dataset.dataset_type for dataset in report.datasets] == ["INTERACTIONS", "ITEMS"]
    assert [(item.dataset_type, item.source, item.error) for item in report.unchecked] == [
        ("USERS", "bucket_key imports/users/", False)
    ]
    assert report.valid
    only_buckets = environment(
        sample_dir, data_source={"bucket_key": "i/"}, users=None, items=None, recommenders=[]
    )
    with pytest.raises(UsageError, match="imports only from the stack's bucket"):
        validate_environment(only_buckets)


def test_dataset_types_select_and_must_exist(sample_dir: Path) -> None:
    report = validate_environment(environment(sample_dir), dataset_types=["items"])
    assert [dataset.dataset_type for dataset in report.datasets] == ["ITEMS"]
    with pytest.raises(UsageError, match="environment tmp has no users dataset"):
        validate_environment(environment(sample_dir, users=None), dataset_types=["users"])


def _cli(directory: Path, monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    """Make `--env tmp` load an environment file written to DIRECTORY."""
    path = directory / "tmp.yaml"
    path.write_text(yaml.safe_dump(environment_fields(directory, **changes)))
    monkeypatch.setattr(config_model, "load_environment", lambda name: load_file(path, name))


def test_the_cli_prints_one_section_per_dataset_and_exits_with_the_worst(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("interactions.csv", "users.csv", "items.csv"):
        (tmp_path / name).write_bytes((sample_dir / name).read_bytes())
    _cli(tmp_path, monkeypatch)
    assert main(["--env", "tmp"]) == EXIT_VALID
    text = capsys.readouterr().out
    assert text.count("validate-data ") == 3
    assert "(VIDEO_ON_DEMAND Users)" in text and text.endswith("Environment tmp: VALID, 3 datasets checked\n")

    (tmp_path / "users.csv").write_text("USER_ID,SUBSCRIPTION_MODEL\n")  # no records
    assert main(["--env", "tmp", "--json"]) == EXIT_INVALID
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"version", "environment", "domain", "valid", "datasets", "unchecked"}
    assert (document["environment"], document["domain"], document["valid"]) == (
        "tmp",
        "VIDEO_ON_DEMAND",
        False,
    )
    assert [(dataset["dataset_type"], dataset["valid"]) for dataset in document["datasets"]] == [
        ("INTERACTIONS", True),
        ("USERS", False),
        ("ITEMS", True),
    ]
    users_rules = {rule["rule"]: rule["status"] for rule in document["datasets"][1]["rules"]}
    assert users_rules["min_records"] == "fail"

    assert main(["--env", "tmp", "--dataset-type", "items", "--json"]) == EXIT_VALID
    assert [dataset["dataset_type"] for dataset in json.loads(capsys.readouterr().out)["datasets"]] == [
        "ITEMS"
    ]


def test_the_cli_exits_2_when_a_dataset_cannot_be_read(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = environment(sample_dir, items={"data_source": {"local_path": str(tmp_path / "gone.csv")}})
    monkeypatch.setattr(config_model, "load_environment", lambda name: config)
    assert main(["--env", "tmp", "--json"]) == EXIT_USAGE
    captured = capsys.readouterr()
    unchecked = json.loads(captured.out)["unchecked"]
    assert [(item["dataset_type"], item["error"]) for item in unchecked] == [("ITEMS", True)]
    assert f"{tmp_path / 'gone.csv'} does not exist" in captured.err


def test_the_cli_with_a_path_uses_the_schema_of_the_dataset_type(
    sample_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _cli(sample_dir, monkeypatch)
    users = str(sample_dir / "users.csv")
    assert main([users, "--env", "tmp", "--dataset-type", "users", "--json"]) == EXIT_VALID
    assert json.loads(capsys.readouterr().out)["dataset_type"] == "USERS"
    # The same file read as Items lacks ITEM_ID, GENRES and CREATION_TIMESTAMP.
    assert main([users, "--env", "tmp", "--dataset-type", "items"]) == EXIT_INVALID
    assert "FAIL  header_missing_columns" in capsys.readouterr().out
    interactions = str(sample_dir / "interactions.csv")
    assert main([interactions, "--env", "tmp", "--json"]) == EXIT_VALID  # the configured use cases apply
    rules = [rule["rule"] for rule in json.loads(capsys.readouterr().out)["rules"]]
    assert [rule for rule in rules if rule.startswith("use_case:")] == [
        f"use_case:{name}" for name in USE_CASES
    ]


def test_the_cli_refuses_a_dataset_type_the_environment_lacks(
    sample_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _cli(sample_dir, monkeypatch, users=None, recommenders=[])
    assert main([str(sample_dir / "users.csv"), "--env", "tmp", "--dataset-type", "users"]) == EXIT_USAGE
    assert "environment tmp has no users dataset (it imports interactions, items)" in capsys.readouterr().err
