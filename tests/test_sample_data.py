"""The sample-data generator: deterministic bytes, realistic shape, injectable defects, consistent ids."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from config import EnvironmentConfig
from config import model as config_model
from lambda_handlers.personalize import contract, domain, domain_rules
from personalize_tools import sample_data
from personalize_tools.sample_data import (
    DEFAULT_ENV_ROWS,
    SampleDataError,
    default_items,
    default_users,
    generate_interactions,
    generate_items,
    generate_users,
    write_environment_samples,
)
from personalize_tools.validate import validate_environment, validate_path
from tests import PROJECT_ROOT


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
    assert header.split(",") == domain.schema_field_names(domain_rules.default_schema_json("ECOMMERCE"))


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
    assert set(shares) == set(domain_rules.EVENT_TYPES["ECOMMERCE"])
    assert 0.6 < shares["View"] < 0.9  # mostly browsing, a fair share of purchases
    video = generate_interactions(tmp_path / "v.csv", domain="VIDEO_ON_DEMAND", rows=5000, seed=7)
    assert set(read(video)["EVENT_TYPE"].unique().to_pylist()) == set(
        domain_rules.EVENT_TYPES["VIDEO_ON_DEMAND"]
    )


def test_item_popularity_is_skewed(ecommerce: Path) -> None:
    per_item = np.sort(
        np.array([entry["counts"] for entry in read(ecommerce)["ITEM_ID"].value_counts().to_pylist()])
    )
    top_tenth = per_item[::-1][: max(1, len(per_item) // 10)]
    assert top_tenth.sum() / per_item.sum() > 0.4


def test_enough_users_repeat_for_training(ecommerce: Path) -> None:
    per_user = np.array([entry["counts"] for entry in read(ecommerce)["USER_ID"].value_counts().to_pylist()])
    assert (
        np.count_nonzero(per_user >= domain_rules.MIN_INTERACTIONS_PER_TRAINING_USER)
        >= domain_rules.MIN_TRAINING_USERS
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
        str(ecommerce), domain="ECOMMERCE", schema_json=domain_rules.default_schema_json("ECOMMERCE")
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
    report = validate_path(
        str(path), domain="ECOMMERCE", schema_json=domain_rules.default_schema_json("ECOMMERCE")
    )
    assert report.rule(rule).status in {"fail", "warn"}
    others = [result.rule for result in report.errors + report.warnings if result.rule != rule]
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


# --- Users and Items ---------------------------------------------------------------------------


def read_strings(path: Path) -> pa.Table:
    """Every column as text, empty values as empty strings: what the CSV holds, not a guess at types."""
    names = path.read_text().splitlines()[0].split(",")
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
        ),
    )


@pytest.mark.parametrize("domain_name", contract.DOMAINS)
@pytest.mark.parametrize("dataset_type", ["USERS", "ITEMS"])
def test_records_are_deterministic_and_have_the_default_schema_columns(
    tmp_path: Path, domain_name: str, dataset_type: str
) -> None:
    generate = generate_users if dataset_type == "USERS" else generate_items
    count = {dataset_type.lower(): 300}
    first = generate(tmp_path / "a.csv", domain=domain_name, seed=5, **count)
    again = generate(tmp_path / "b.csv", domain=domain_name, seed=5, **count)
    other = generate(tmp_path / "c.csv", domain=domain_name, seed=6, **count)
    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    header = first.read_text().splitlines()[0].split(",")
    assert header == domain.schema_field_names(domain_rules.default_schema(domain_name, dataset_type))
    table = read_strings(first)
    prefix = "u" if dataset_type == "USERS" else "i"
    assert table.column(0).to_pylist() == [f"{prefix}{number}" for number in range(1, 301)]


def test_records_stream_in_chunks_with_consecutive_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sample_data, "RECORD_CHUNK_ROWS", 7)
    path = generate_items(tmp_path / "items.csv", domain="VIDEO_ON_DEMAND", items=100, seed=1)
    table = read_strings(path)
    assert table["ITEM_ID"].to_pylist() == [f"i{number}" for number in range(1, 101)]
    assert len(set(table["GENRES"].to_pylist())) > 20  # every chunk draws afresh


def test_ecommerce_records_look_like_a_shop(tmp_path: Path) -> None:
    items = read_strings(generate_items(tmp_path / "items.csv", domain="ECOMMERCE", items=500, seed=7))
    prices = np.array(items["PRICE"].to_pylist(), dtype=float)
    assert prices.min() >= 0.99 and 10 < np.median(prices) < 60
    assert np.allclose(np.round(prices * 100) % 100, 99)  # 24.99, not 24.9731
    categories = set(items["CATEGORY_L1"].to_pylist())
    assert categories <= set(sample_data.ECOMMERCE_CATEGORIES) and len(categories) > 5
    users = read_strings(generate_users(tmp_path / "users.csv", domain="ECOMMERCE", users=2000, seed=7))
    statuses = users["MEMBERSHIP_STATUS"].to_pylist()
    assert set(statuses) == set(sample_data.MEMBERSHIP_STATUSES)
    assert statuses.count("Free") > statuses.count("Platinum")


def test_video_records_look_like_a_streaming_service(tmp_path: Path) -> None:
    items = read_strings(generate_items(tmp_path / "items.csv", domain="VIDEO_ON_DEMAND", items=500, seed=7))
    genres = [value.split(domain.CATEGORICAL_SEPARATOR) for value in items["GENRES"].to_pylist()]
    assert {len(names) for names in genres} == {1, 2, 3}
    assert all(len(set(names)) == len(names) for names in genres)  # no genre twice in one title
    assert {name for names in genres for name in names} <= set(sample_data.VOD_GENRES)
    created = np.array(items["CREATION_TIMESTAMP"].to_pylist(), dtype=np.int64)
    assert created.min() >= 946_684_800 and created.max() < sample_data.DEFAULT_START
    users = read_strings(generate_users(tmp_path / "users.csv", domain="VIDEO_ON_DEMAND", users=2000, seed=7))
    models = users["SUBSCRIPTION_MODEL"].to_pylist()
    assert set(models) == {*sample_data.SUBSCRIPTION_MODELS, ""}  # nullable: some users never said
    assert 0 < models.count("") < 0.1 * len(models)


@pytest.mark.parametrize("domain_name", contract.DOMAINS)
def test_every_interaction_names_a_generated_user_and_item(tmp_path: Path, domain_name: str) -> None:
    rows = 3000
    interactions = read(generate_interactions(tmp_path / "i.csv", domain=domain_name, rows=rows, seed=9))
    users = generate_users(tmp_path / "u.csv", domain=domain_name, users=default_users(rows), seed=9)
    items = generate_items(tmp_path / "t.csv", domain=domain_name, items=default_items(rows), seed=9)
    user_ids = set(read_strings(users)["USER_ID"].to_pylist())
    item_ids = set(read_strings(items)["ITEM_ID"].to_pylist())
    assert set(interactions["USER_ID"].to_pylist()) <= user_ids
    assert set(interactions["ITEM_ID"].cast(pa.string()).to_pylist()) <= item_ids
    for path, dataset_type in ((users, "USERS"), (items, "ITEMS")):
        schema = domain_rules.default_schema_json(domain_name, dataset_type)
        report = validate_path(str(path), domain=domain_name, schema_json=schema, dataset_type=dataset_type)
        assert report.valid and not report.warnings, report.render()


def test_records_refuse_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(SampleDataError, match="users must be at least 1"):
        generate_users(tmp_path / "u.csv", domain="ECOMMERCE", users=0)
    with pytest.raises(SampleDataError, match="domain 'RETAIL'"):
        generate_items(tmp_path / "i.csv", domain="RETAIL", items=5)


# --- an environment's files ----------------------------------------------------------------------


def environment_fields(directory: Path, domain_name: str, use_cases: list[str]) -> dict[str, Any]:
    return {
        "name_prefix": "pz",
        "domain": domain_name,
        "data_source": {"local_path": str(directory / "interactions.csv")},
        "users": {"data_source": {"local_path": str(directory / "users.csv")}},
        "items": {"data_source": {"local_path": str(directory / "items.csv")}},
        "recommenders": [{"use_case": use_case} for use_case in use_cases],
    }


def environment(
    directory: Path, domain_name: str = "ECOMMERCE", use_cases: list[str] | None = None
) -> EnvironmentConfig:
    fields = environment_fields(directory, domain_name, use_cases or [])
    return EnvironmentConfig.model_validate({**fields, "name": "tmp"})


@pytest.mark.parametrize("domain_name", contract.DOMAINS)
def test_the_default_environment_sample_passes_every_use_case_of_its_domain(
    tmp_path: Path, domain_name: str
) -> None:
    """The demo's recommenders train on it: 1000 View and Purchase, or 1000 Watch, at the default rows."""
    use_cases = [recipe.use_case for recipe in domain_rules.recipes_for(domain_name)]
    config = environment(tmp_path, domain_name, use_cases)
    assert [result.action for result in write_environment_samples(config)] == ["wrote"] * 3
    assert read(tmp_path / "interactions.csv").num_rows == DEFAULT_ENV_ROWS
    report = validate_environment(config)
    assert report.valid and not any(dataset.warnings for dataset in report.datasets), report.render()
    interactions = report.dataset("INTERACTIONS")
    assert [result.status for result in interactions.rules if result.rule.startswith("use_case:")] == [
        "pass"
    ] * len(use_cases)


def test_only_missing_environment_files_are_written(tmp_path: Path) -> None:
    config = environment(tmp_path)
    first = write_environment_samples(config, rows=1500, seed=3)
    assert [(result.dataset_type, result.action) for result in first] == [
        ("INTERACTIONS", "wrote"),
        ("USERS", "wrote"),
        ("ITEMS", "wrote"),
    ]
    (tmp_path / "interactions.csv").write_text("kept\n")
    (tmp_path / "users.csv").unlink()
    second = write_environment_samples(config, rows=1500, seed=3)
    assert [result.action for result in second] == ["exists", "wrote", "exists"]
    assert (tmp_path / "interactions.csv").read_text() == "kept\n"
    assert second[0].detail.endswith("exists; left as it is")
    expected = generate_users(tmp_path / "same.csv", domain="ECOMMERCE", users=default_users(1500), seed=3)
    assert (tmp_path / "users.csv").read_bytes() == expected.read_bytes()


def test_sources_that_are_not_local_or_do_not_fit_the_schema_are_skipped(tmp_path: Path) -> None:
    schema = domain_rules.default_schema("ECOMMERCE", "ITEMS")
    schema["fields"].append({"name": "COLOR", "type": "string"})  # required, and not generated
    (tmp_path / "items.json").write_text(json.dumps(schema))
    fields = environment_fields(tmp_path, "ECOMMERCE", [])
    fields["users"] = {"data_source": {"bucket_key": "imports/users/"}}
    fields["items"]["schema"] = str(tmp_path / "items.json")
    config = EnvironmentConfig.model_validate({**fields, "name": "tmp"})
    results = write_environment_samples(config, rows=1000)
    assert [result.action for result in results] == ["wrote", "skipped", "skipped"]
    assert results[1].detail == "Users: imports/users/ is not a local file"
    assert "requires COLOR" in results[2].detail
    assert not (tmp_path / "items.csv").exists()


def test_cli_env_writes_the_missing_files_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tmp.yaml").write_text(json.dumps(environment_fields(tmp_path, "VIDEO_ON_DEMAND", [])))
    monkeypatch.setattr(config_model, "CONFIG_DIR", tmp_path)
    assert sample_data.main(["--env", "tmp", "--rows", "1200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"Interactions: wrote 1,200 VIDEO_ON_DEMAND records to {tmp_path / 'interactions.csv'}",
        f"Users: wrote {default_users(1200)} VIDEO_ON_DEMAND records to {tmp_path / 'users.csv'}",
        f"Items: wrote {default_items(1200)} VIDEO_ON_DEMAND records to {tmp_path / 'items.csv'}",
    ]
    assert sample_data.main(["--env", "tmp"]) == 0
    assert all(line.endswith("exists; left as it is") for line in capsys.readouterr().out.splitlines())

    with pytest.raises(SystemExit) as refused:
        sample_data.main(["--env", "tmp", "--out", "x.csv"])
    assert refused.value.code == 2
    assert "drop --out" in capsys.readouterr().err
    assert sample_data.main(["--env", "nosuch"]) == 2  # a config error: no usage text
    assert capsys.readouterr().err.startswith("config error: unknown environment 'nosuch'")


def test_cli_kinds_share_ids_through_rows(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "personalize_tools.sample_data",
        "--domain",
        "ECOMMERCE",
        "--rows",
        "2500",
    ]
    for kind in ("users", "items"):
        result = subprocess.run(
            [*command, "--kind", kind, "--out", str(tmp_path / f"{kind}.csv")],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "users.csv").read_bytes() == generate_users(
        tmp_path / "u.csv", domain="ECOMMERCE", users=default_users(2500)
    ).read_bytes()
    assert (tmp_path / "items.csv").read_bytes() == generate_items(
        tmp_path / "i.csv", domain="ECOMMERCE", items=default_items(2500)
    ).read_bytes()
    refused = subprocess.run(
        [sys.executable, "-m", "personalize_tools.sample_data", "--kind", "users", "--domain", "ECOMMERCE",
         "--out", str(tmp_path / "x.csv")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "give --users N, or --rows N" in refused.stderr
