"""Environment config: good files load; a bad one fails naming its file, field, value and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from config import ConfigError, load_environment
from config.model import CONFIG_DIR, json_schema

VALID = {
    "name_prefix": "pz",
    "domain": "ECOMMERCE",
    "data_source": {"bucket_key": "imports/"},
}


def _write(directory: Path, name: str, content: dict | str) -> None:
    text = content if isinstance(content, str) else yaml.safe_dump(content)
    (directory / f"{name}.yaml").write_text(text)


def _error(tmp_path: Path, content: dict | str) -> str:
    _write(tmp_path, "bad", content)
    with pytest.raises(ConfigError) as caught:
        load_environment("bad", config_dir=tmp_path)
    message = str(caught.value)
    assert "Traceback" not in message
    return message


def test_valid_minimal_file_gets_defaults(tmp_path: Path) -> None:
    _write(tmp_path, "ok", VALID)
    config = load_environment("ok", config_dir=tmp_path)
    assert config.name == "ok"
    assert config.import_mode == "FULL"
    assert config.removal_policy == "retain"
    assert config.kms_mode == "none"
    assert config.stack_name == "pz-ok-personalize"
    assert json.loads(config.interactions_schema())["name"] == "Interactions"


def test_yaml_off_means_no_kms(tmp_path: Path) -> None:
    _write(tmp_path, "ok", "name_prefix: pz\ndomain: ECOMMERCE\ndata_source: {bucket_key: a.csv}\nkms: off\n")
    assert load_environment("ok", config_dir=tmp_path).kms_mode == "none"


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        pytest.param(
            {**VALID, "domain": "RETAIL"},
            ["bad.yaml", "domain", "'RETAIL'", "ECOMMERCE", "VIDEO_ON_DEMAND"],
            id="domain",
        ),
        pytest.param(
            {**VALID, "import_mode": "APPEND"},
            ["import_mode", "'APPEND'", "FULL", "INCREMENTAL"],
            id="import-mode",
        ),
        pytest.param(
            {**VALID, "removal_policy": "delete"},
            ["removal_policy", "'delete'", "retain", "destroy"],
            id="removal",
        ),
        pytest.param(
            {**VALID, "kms": "yes-please"},
            ["kms", "'yes-please'", "'none', 'create' or a KMS key ARN"],
            id="kms",
        ),
        pytest.param({**VALID, "account": "12345"}, ["account", "'12345'", "pattern"], id="account"),
        pytest.param({**VALID, "name_prefix": "Has Space"}, ["name_prefix", "'Has Space'"], id="prefix"),
        pytest.param(
            {**VALID, "data_source": {"bucket_key": "a", "s3_uri": "s3://bucket/a"}},
            ["data_source", "exactly one", "bucket_key, s3_uri"],
            id="two-sources",
        ),
        pytest.param(
            {**VALID, "data_source": {"s3_uri": "https://x/y"}},
            ["data_source.s3_uri", "'https://x/y'"],
            id="s3-uri",
        ),
        pytest.param(
            {**VALID, "domian": "ECOMMERCE"},
            ["domian", "unknown field", "allowed fields here", "domain"],
            id="typo",
        ),
        pytest.param(
            {k: v for k, v in VALID.items() if k != "domain"},
            ["domain", "required field is missing"],
            id="missing",
        ),
        pytest.param(
            {**VALID, "provider": {"query_interval_seconds": 7}},
            ["provider", "multiple of query_interval_seconds (7)"],
            id="interval",
        ),
        pytest.param(
            {**VALID, "tags": {"aws:owner": "me"}}, ["tags", "reserved prefix 'aws:'"], id="tag-prefix"
        ),
        pytest.param(
            {**VALID, "data_source": {"local_path": "no/such/file.csv"}},
            ["data_source.local_path", "no/such/file.csv", "does not exist"],
            id="local-missing",
        ),
        pytest.param({**VALID, "name": "x"}, ["name", "do not set it"], id="name"),
        pytest.param("domain: [unclosed\n", ["bad.yaml", "line", "not valid YAML"], id="yaml-syntax"),
        pytest.param("- a list\n", ["must be a mapping"], id="not-a-mapping"),
    ],
)
def test_bad_config_reports_file_field_value_and_allowed(
    tmp_path: Path, content: dict | str, fragments: list[str]
) -> None:
    message = _error(tmp_path, content)
    for fragment in fragments:
        assert fragment in message, message


def test_custom_schema_is_checked_against_the_domain(tmp_path: Path) -> None:
    schema = tmp_path / "interactions.avsc"
    schema.write_text(
        json.dumps(
            {"type": "record", "name": "Interactions", "fields": [{"name": "USER_ID", "type": "string"}]}
        )
    )
    message = _error(tmp_path, {**VALID, "schema": str(schema)})
    assert "schema" in message and "lacks required field(s) ITEM_ID, TIMESTAMP, EVENT_TYPE" in message


def test_unreadable_schema_file_is_named(tmp_path: Path) -> None:
    message = _error(tmp_path, {**VALID, "schema": str(tmp_path / "missing.avsc")})
    assert "missing.avsc" in message and "cannot read" in message


def test_unknown_environment_lists_the_available_ones(tmp_path: Path) -> None:
    _write(tmp_path, "dev", VALID)
    with pytest.raises(ConfigError, match=r"unknown environment 'stg'.*available: dev"):
        load_environment("stg", config_dir=tmp_path)


def test_published_json_schema_is_current() -> None:
    published = json.loads((CONFIG_DIR / "schema.json").read_text())
    assert published == json_schema(), "run `make config-schema` and commit config/schema.json"


def test_every_shipped_file_validates_against_the_json_schema() -> None:
    schema = json.loads((CONFIG_DIR / "schema.json").read_text())
    for path in CONFIG_DIR.glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_fixed_names_are_checked_with_personalize_rules(tmp_path: Path) -> None:
    message = _error(tmp_path, {**VALID, "names": {"dataset_group": "-starts-with-dash"}})
    assert "names.dataset_group" in message and "must match" in message
    _write(
        tmp_path,
        "ok",
        {**VALID, "names": {"dataset_group": "legacy-group", "event_tracker": "legacy-tracker"}},
    )
    config = load_environment("ok", config_dir=tmp_path)
    assert config.names.dataset_group == "legacy-group"


def test_pinned_name_in_another_environments_namespace_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, {**VALID, "names": {"dataset_group": "pz-prod-us_shop"}})
    assert "bad.yaml" in message
    assert "names.dataset_group" in message and "'pz-prod-us_shop'" in message
    assert "prefix is 'pz-prod-us'" in message and "starting with 'pz-bad_'" in message
    message = _error(
        tmp_path,
        {**VALID, "recommenders": [{"use_case": "aws-ecomm-popular-items-by-views", "name": "other_rec"}]},
    )
    assert "recommenders.0.name" in message and "'other_rec'" in message


def test_pinned_names_of_its_own_or_without_the_delimiter_load(tmp_path: Path) -> None:
    for name in ("legacy-shop", "pz-ok_shop"):
        _write(tmp_path, "ok", {**VALID, "names": {"dataset_group": name}})
        assert load_environment("ok", config_dir=tmp_path).names.dataset_group == name


def test_tags_leave_room_for_the_apps_three(tmp_path: Path) -> None:
    tags = {f"k{index}": "v" for index in range(48)}
    assert "at most 47 allowed" in _error(tmp_path, {**VALID, "tags": tags})
    scope = {"personalize-domain-cdk:scope": "x"}
    assert "set by the app" in _error(tmp_path, {**VALID, "tags": scope})
