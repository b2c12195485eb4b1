"""Environment config: good files load; a bad one fails naming its file, field, value and what is allowed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from app import create_app
from config import ConfigError, load_environment
from config.model import CONFIG_DIR, json_schema
from config.pipeline import load_rollout
from personalize_tools.sample_data import main as sample_data_main
from personalize_tools.validate.__main__ import EXIT_USAGE
from personalize_tools.validate.__main__ import main as validate_main

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
            {**VALID, "tags": {"aws:owner": "me"}},
            ["tags", "tag key 'aws:owner' starts with 'aws:', a prefix reserved for AWS"],
            id="tag-prefix",
        ),
        pytest.param(
            {**VALID, "tags": {"owner": "AWS:me"}},
            ["tags", "tag value 'AWS:me' starts with 'aws:'"],
            id="tag-value-prefix",
        ),
        pytest.param(
            {**VALID, "tags": {"team!": "x"}}, ["tags", "characters outside letters"], id="tag-characters"
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


# --- files that are not UTF-8 YAML, and rules across fields (issue 14) ----------------------------


def _error_bytes(tmp_path: Path, data: bytes) -> str:
    (tmp_path / "bad.yaml").write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        load_environment("bad", config_dir=tmp_path)
    return str(caught.value).replace(f"{tmp_path}/", "")


def _relative_error(tmp_path: Path, content: dict | str) -> str:
    """The message with tmp_path cut from the file names it shows, to compare it whole."""
    return _error(tmp_path, content).replace(f"{tmp_path}/", "")


MINIMAL_TEXT = "name_prefix: pz\ndomain: ECOMMERCE\ndata_source: {bucket_key: a.csv}\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "bad.yaml: is not a text file (a NUL byte at offset 8); config files are UTF-8 YAML text",
            id="binary",
        ),
        pytest.param(
            MINIMAL_TEXT.encode("utf-16"),
            "bad.yaml: is UTF-16 text; config files are UTF-8 YAML text: save it as UTF-8",
            id="utf-16-bom",
        ),
        pytest.param(
            MINIMAL_TEXT.encode("utf-16-le"),
            "bad.yaml: is UTF-16 text; config files are UTF-8 YAML text: save it as UTF-8",
            id="utf-16-no-bom",
        ),
        pytest.param(
            MINIMAL_TEXT.encode("utf-32"),
            "bad.yaml: is UTF-32 text; config files are UTF-8 YAML text: save it as UTF-8",
            id="utf-32-bom",
        ),
        pytest.param(
            MINIMAL_TEXT.encode("utf-32-le"),
            "bad.yaml: is UTF-32 text; config files are UTF-8 YAML text: save it as UTF-8",
            id="utf-32-no-bom",
        ),
        pytest.param(
            MINIMAL_TEXT.encode("utf-32-be"),
            "bad.yaml: is UTF-32 text; config files are UTF-8 YAML text: save it as UTF-8",
            id="utf-32-be-no-bom",
        ),
        pytest.param(
            MINIMAL_TEXT.encode() + "tags: {owner: Jos\u00e9}\n".encode("latin-1"),
            "bad.yaml: line 4: byte 0xe9 is not UTF-8; config files are UTF-8 YAML text",
            id="latin-1",
        ),
    ],
)
def test_a_file_that_is_not_utf8_text_is_named_with_what_is_expected(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    assert _error_bytes(tmp_path, data) == expected


def test_a_deeply_nested_file_is_refused_without_a_traceback(tmp_path: Path) -> None:
    message = _relative_error(tmp_path, MINIMAL_TEXT + "tags: " + "[" * 5000 + "]" * 5000 + "\n")
    assert message == "bad.yaml: nests too deeply to read; config files nest a few levels"


def test_an_empty_file_says_so(tmp_path: Path) -> None:
    assert (
        _relative_error(tmp_path, "# nothing yet\n") == "bad.yaml: is empty; it must be a mapping of fields"
    )


def test_a_utf8_bom_is_fine(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_bytes(b"\xef\xbb\xbf" + MINIMAL_TEXT.encode())
    assert load_environment("ok", config_dir=tmp_path).domain == "ECOMMERCE"


def test_duplicate_keys_are_refused_with_line_and_key(tmp_path: Path) -> None:
    message = _relative_error(tmp_path, MINIMAL_TEXT + "kms: create\nremoval_policy: destroy\nkms: none\n")
    assert message == (
        "bad.yaml: line 6: duplicate key 'kms' (first set on line 4); "
        "YAML would keep only the last value: write each key once"
    )


def test_duplicate_keys_in_a_nested_mapping_are_refused(tmp_path: Path) -> None:
    message = _relative_error(tmp_path, MINIMAL_TEXT + "tags:\n  owner: a\n  team: b\n  owner: c\n")
    assert message.startswith("bad.yaml: line 7: duplicate key 'owner' (first set on line 5)")


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    text = MINIMAL_TEXT + "tags:\n  <<: {owner: a, team: b}\n  team: c\n"
    _write(tmp_path, "ok", text)
    assert dict(load_environment("ok", config_dir=tmp_path).tags) == {"owner": "a", "team": "c"}


def test_two_recommenders_with_one_name_are_refused(tmp_path: Path) -> None:
    recommenders = [
        {"use_case": "aws-ecomm-customers-who-viewed-x-also-viewed", "name": "shop-recs"},
        {"use_case": "aws-ecomm-popular-items-by-views", "name": "shop-recs"},
    ]
    message = _relative_error(tmp_path, {**VALID, "recommenders": recommenders})
    assert message == (
        "bad.yaml is not a valid environment config:\n"
        "  recommenders.1.name: 'shop-recs' is also the name of recommenders.0; recommender names are "
        "unique in a dataset group (or leave name out to derive one)"
    )


KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def test_a_kms_key_of_another_region_is_refused(tmp_path: Path) -> None:
    key = f"arn:aws:kms:eu-west-1:111111111111:key/{KEY_ID}"
    message = _relative_error(tmp_path, {**VALID, "region": "us-east-1", "kms": key})
    assert message == (
        "bad.yaml is not a valid environment config:\n"
        "  kms: the key is in eu-west-1, this environment deploys to region us-east-1; use a KMS key ARN "
        "of us-east-1 (arn:aws:kms:us-east-1:ACCOUNT:key/ID)"
    )
    _write(tmp_path, "ok", {**VALID, "region": "eu-west-1", "kms": key})
    assert load_environment("ok", config_dir=tmp_path).kms_mode == "existing"
    _write(tmp_path, "anywhere", {**VALID, "kms": key})  # no region: the deploy's region is not known yet
    assert "region" not in VALID
    assert load_environment("anywhere", config_dir=tmp_path).kms == key


def test_errors_show_the_offending_value_never_the_whole_config(tmp_path: Path) -> None:
    recommenders = [{"use_case": "aws-ecomm-popular-items-by-views"}] * 2
    message = _relative_error(tmp_path, {**VALID, "tags": {"owner": "me"}, "recommenders": recommenders})
    assert message == (
        "bad.yaml is not a valid environment config:\n"
        "  recommenders.1.use_case: 'aws-ecomm-popular-items-by-views' is listed twice"
    )
    message = _relative_error(
        tmp_path, {**VALID, "data_source": {"bucket_key": "a", "s3_uri": "s3://bucket/a"}}
    )
    assert "{" not in message, message
    message = _relative_error(tmp_path, {**VALID, "data_version": "v" * 500})
    assert message.endswith(f"(got '{'v' * 79}... (502 characters))"), message


def test_an_empty_local_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "empty-data"
    (folder / "sub").mkdir(parents=True)
    (folder / ".DS_Store").write_text("not data")
    (folder / "sub" / "_SUCCESS").write_bytes(b"")  # an empty file is not data either (data_objects)
    message = _relative_error(tmp_path, {**VALID, "data_source": {"local_path": str(folder)}})
    assert message == (
        "bad.yaml: data_source.local_path: empty-data is a folder with no data files (empty files and files "
        "whose names start with '.' do not count); put the CSV files to import in it, or name one CSV file"
    )
    (folder / "sub" / "part-1.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n")
    _write(tmp_path, "ok", {**VALID, "data_source": {"local_path": str(folder)}})
    assert load_environment("ok", config_dir=tmp_path).local_data_path == folder


@pytest.fixture
def broken_environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder the tools read instead of config/: `empty` uploads an empty folder."""
    monkeypatch.setattr("config.model.CONFIG_DIR", tmp_path)
    (tmp_path / "empty-data").mkdir()
    _write(tmp_path, "empty", {**VALID, "data_source": {"local_path": str(tmp_path / "empty-data")}})
    _write(tmp_path, "twice", MINIMAL_TEXT + "domain: VIDEO_ON_DEMAND\n")
    return tmp_path


def test_validate_env_refuses_an_empty_folder_without_a_verdict(
    broken_environments: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert validate_main(["--env", "empty"]) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""  # no VALID above an exit status that says the data was not judged
    assert err.startswith(f"validate-data: {broken_environments}/empty.yaml: data_source.local_path: ")
    assert "is a folder with no data files" in err


def test_synth_refuses_an_empty_folder_before_any_resource(broken_environments: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder with no data files"):
        create_app({"env": "empty"})


def test_sample_data_shows_a_config_error_without_its_usage_text(
    broken_environments: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make synth` runs sample-data first: a config error must read the same as synth's own."""
    assert sample_data_main(["--env", "twice"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"config error: {broken_environments}/twice.yaml: "
        "line 4: duplicate key 'domain' (first set on line 2); "
        "YAML would keep only the last value: write each key once\n"
    )


def test_pipeline_files_refuse_duplicate_keys_too(tmp_path: Path) -> None:
    pipeline = (CONFIG_DIR / "pipelines" / "rollout.example.yaml").read_text()
    (tmp_path / "twice.yaml").write_text(pipeline + "region: us-east-1\n")
    with pytest.raises(ConfigError) as caught:
        load_rollout("twice", directory=tmp_path)
    line = pipeline.count("\n") + 1
    first = pipeline.splitlines().index("region: eu-west-1") + 1
    assert str(caught.value) == (
        f"{tmp_path}/twice.yaml: line {line}: duplicate key 'region' (first set on line {first}); "
        "YAML would keep only the last value: write each key once"
    )


# --- more broken files a new user writes (issue 14 review) ----------------------------------------


def test_a_number_too_long_to_read_is_a_yaml_error_with_its_line(tmp_path: Path) -> None:
    """PyYAML hands Python's int() the digits; over its limit that was a ValueError traceback."""
    digits = sys.get_int_max_str_digits() + 1
    message = _relative_error(tmp_path, MINIMAL_TEXT + f"data_version: {'9' * digits}\n")
    assert message == (
        f"bad.yaml: line 4, column 15: not valid YAML: a number of {digits} digits; "
        f"at most {digits - 1} can be read (quote it if it is text)"
    )


def test_a_folder_named_like_a_config_file_is_not_called_missing(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").mkdir()
    with pytest.raises(ConfigError) as caught:
        load_environment("bad", config_dir=tmp_path)
    assert (
        str(caught.value)
        == f"{tmp_path}/bad.yaml: is a folder, not a file: the environment 'bad' is a YAML file"
    )


def test_a_config_file_that_is_a_symlink_loop_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").symlink_to(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError) as caught:
        load_environment("bad", config_dir=tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}/bad.yaml: is a symbolic link to nothing (its target is missing, or a loop)"
    )


def test_an_alias_bomb_is_answered_at_once_without_expanding_it(tmp_path: Path) -> None:
    """Billion laughs: nine aliases nine deep are 9^9 strings if anything walks or prints them."""
    levels = [f"l0: &l0 [{', '.join(['lol'] * 9)}]"]
    levels += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
    text = MINIMAL_TEXT.replace("name_prefix: pz\n", "") + "\n".join(levels)
    text += "\nname_prefix: *l8\ntags: {owner: *l8}\n"
    lines = _relative_error(tmp_path, text).splitlines()
    assert lines[:3] == [
        "bad.yaml is not a valid environment config:",
        "  name_prefix: Input should be a valid string",
        "  tags.owner: Input should be a valid string",
    ]
    assert [line.split(":")[0] for line in lines[3:]] == [f"  l{n}" for n in range(9)]  # unknown fields


def test_control_characters_from_the_file_are_escaped_in_messages(tmp_path: Path) -> None:
    """A key or path holding ESC must not clear or recolour the user's terminal when echoed."""
    text = 'name_prefix: pz\ndomain: ECOMMERCE\ndata_source: {local_path: "/nowhere/\\e[31mred"}\n'
    message = _relative_error(tmp_path, text + '"\\e[2Jx": 1\n')
    assert message.splitlines()[1].startswith("  \\x1b[2Jx: unknown field; allowed fields here: ")
    message = _relative_error(tmp_path, text)
    assert message.startswith("bad.yaml: data_source.local_path: /nowhere/\\x1b[31mred does not exist")
    key = f"arn:aws:kms:\x1b[2J:111111111111:key/{KEY_ID}"
    message = _relative_error(tmp_path, {**VALID, "region": "us-east-1", "kms": key})
    assert "  kms: the key is in \\x1b[2J, this environment deploys to region us-east-1" in message
    assert "\x1b" not in message


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


def test_tags_leave_room_for_the_apps_four(tmp_path: Path) -> None:
    tags = {f"k{index}": "v" for index in range(47)}
    assert "at most 46 allowed" in _error(tmp_path, {**VALID, "tags": tags})
    owner = {"personalize-cdk:owner": "x"}
    assert "reserved" in _error(tmp_path, {**VALID, "tags": owner})
    # the stack's own tags would silently overwrite these
    assert "reserved: it is set by the app (the stack" in _error(
        tmp_path, {**VALID, "tags": {"environment": "x"}}
    )
    scope = {"personalize-domain-cdk:scope": "x"}
    assert "set by the app" in _error(tmp_path, {**VALID, "tags": scope})
