"""The real CLI in a subprocess: exit codes, the JSON shape, the human report."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from personalize_tools.validate.__main__ import EXIT_INVALID, EXIT_USAGE, main
from personalize_tools.validate.rules import rules_for
from tests import PROJECT_ROOT
from tests.validate.support import GOOD_ROW, rows_csv, write


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "personalize_tools.validate", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )


def test_valid_data_exits_0_with_a_readable_report(valid_csv: Path) -> None:
    result = run(str(valid_csv), "--domain", "ECOMMERCE")
    assert result.returncode == 0, result.stderr
    assert "PASS  timestamp_milliseconds" in result.stdout
    assert "Result: VALID (0 errors, 0 warnings)" in result.stdout
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_data_errors_exit_1(tmp_path: Path) -> None:
    path = write(tmp_path, rows_csv(GOOD_ROW, "u2,i2,1700000000000,View"))
    result = run(str(path), "--domain", "ECOMMERCE")
    assert result.returncode == 1
    assert "FAIL  timestamp_milliseconds" in result.stdout
    assert "line 3: TIMESTAMP=1700000000000" in result.stdout


def test_json_has_the_documented_shape(tmp_path: Path) -> None:
    path = write(tmp_path, rows_csv(GOOD_ROW, "u2,i2,1700000000000,View", GOOD_ROW))
    result = run(str(path), "--domain", "ECOMMERCE", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert set(report) == {
        "version", "source", "domain", "dataset_type", "valid", "rows", "errors", "warnings", "files",
        "rules", "event_types", "event_types_other",
    }  # fmt: skip
    assert (report["version"], report["source"], report["domain"]) == (1, str(path), "ECOMMERCE")
    assert report["dataset_type"] == "INTERACTIONS"
    assert (report["valid"], report["rows"]) == (False, 3)
    assert report["files"] == [
        {"name": str(path), "bytes": path.stat().st_size, "rows": 3, "line_ending": "LF"}
    ]
    assert [rule["rule"] for rule in report["rules"]] == [rule.id for rule in rules_for("INTERACTIONS")]
    for rule in report["rules"]:
        assert set(rule) == {"rule", "level", "status", "count", "lines", "examples", "message"}
        assert rule["status"] in {"pass", "fail", "warn", "skip"}
        assert rule["level"] in {"error", "warning"}
    by_id = {rule["rule"]: rule for rule in report["rules"]}
    assert by_id["timestamp_milliseconds"]["lines"] == [3]
    assert by_id["timestamp_milliseconds"]["examples"][0]["file"] == str(path)
    assert by_id["duplicate_rows"] | {"message": ""} == {
        "rule": "duplicate_rows", "level": "warning", "status": "warn", "count": 1, "lines": [4],
        "examples": [{"file": str(path), "line": 4, "detail": "repeats line 2"}], "message": "",
    }  # fmt: skip
    assert report["event_types"] == {"View": 3}
    assert report["errors"] == sum(rule["status"] == "fail" for rule in report["rules"])


def test_env_takes_domain_and_schema_from_the_config(valid_csv: Path, sample_data: Path) -> None:
    result = run(str(valid_csv), "--env", "dev", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["domain"] == "ECOMMERCE"


def test_usage_errors_exit_2_and_name_the_problem(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "nope.csv"), "--domain", "ECOMMERCE")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert f"{tmp_path / 'nope.csv'} does not exist" in missing.stderr

    unknown_env = run(str(tmp_path), "--env", "nosuchenv")
    assert unknown_env.returncode == 2
    assert "unknown environment 'nosuchenv'" in unknown_env.stderr

    bad_schema = write(
        tmp_path, '{"type": "record", "name": "Interactions", "fields": []}', name="schema.json"
    )
    schema = run(str(tmp_path), "--domain", "ECOMMERCE", "--schema", str(bad_schema))
    assert schema.returncode == 2
    assert f"schema {bad_schema}" in schema.stderr

    wrong_type = write(
        tmp_path,
        json.dumps(
            {
                "type": "record",
                "name": "Interactions",
                "fields": [
                    {"name": "USER_ID", "type": "string"},
                    {"name": "ITEM_ID", "type": "string"},
                    {"name": "TIMESTAMP", "type": "string"},
                    {"name": "EVENT_TYPE", "type": "string"},
                ],
            }
        ),
        name="wrong.json",
    )
    field = run(str(tmp_path), "--domain", "ECOMMERCE", "--schema", str(wrong_type))
    assert field.returncode == 2
    assert "'TIMESTAMP' has type 'string'" in field.stderr

    assert run(str(tmp_path), "--domain", "RETAIL").returncode == 2  # argparse: not a choice
    assert run(str(tmp_path)).returncode == 2  # neither --env nor --domain


def test_a_progress_bar_is_drawn_only_on_a_terminal(valid_csv: Path) -> None:
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "personalize_tools.validate",
                str(valid_csv),
                "--domain",
                "ECOMMERCE",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=follower,
            cwd=PROJECT_ROOT,
            timeout=120,
            check=False,
        )
        os.close(follower)
        drawn = os.read(leader, 4096).decode()
    finally:
        os.close(leader)
    assert result.returncode == 0
    assert "[" in drawn and "MB" in drawn
    json.loads(result.stdout)  # stdout stays clean JSON


def test_importing_the_api_loads_no_heavy_modules() -> None:
    heavy = ("numpy", "pyarrow", "polars", "boto3", "pydantic")
    probe = f"import sys, personalize_tools.validate; print(sorted(set({heavy!r}) & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True
    )
    assert result.stdout.strip() == "[]"


def test_dataset_type_selects_the_rules_and_the_default_schema(tmp_path: Path) -> None:
    items = write(
        tmp_path, "ITEM_ID,GENRES,CREATION_TIMESTAMP\ni1,Drama|Comedy,1600000000\ni1,Drama,1600000001\n"
    )
    result = run(str(items), "--domain", "VIDEO_ON_DEMAND", "--dataset-type", "items", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert (report["dataset_type"], report["rows"]) == ("ITEMS", 2)
    by_id = {rule["rule"]: rule for rule in report["rules"]}
    assert by_id["duplicate_ids"]["lines"] == [3]
    assert "min_interactions" not in by_id

    users_schema = write(
        tmp_path, json.dumps({"type": "record", "name": "Users", "fields": []}), "users.json"
    )
    schema = run(
        str(items), "--domain", "ECOMMERCE", "--dataset-type", "users", "--schema", str(users_schema)
    )
    assert schema.returncode == 2
    assert f"schema {users_schema} is not a valid ECOMMERCE Users schema" in schema.stderr


def test_the_command_ends_without_finalizing_yet_flushes_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m` and the console script end with os._exit (run()): a report larger than a pipe's
    buffer still arrives whole, with main()'s exit code, and a usage error still reaches stderr."""
    bad_rows = [f"u{index},i{index},1700000000000,View" for index in range(3_000)]
    path = write(tmp_path, rows_csv(GOOD_ROW, *bad_rows))
    args = (str(path), "--domain", "ECOMMERCE", "--json", "--max-examples", "3000")
    assert main(list(args)) == EXIT_INVALID
    expected = capsys.readouterr().out
    assert len(expected) > 1 << 16
    script = Path(sys.executable).parent / "validate-data"
    for command in ([sys.executable, "-m", "personalize_tools.validate"], [str(script)]):
        result = subprocess.run(
            [*command, *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120, check=False
        )
        assert (result.returncode, result.stdout, result.stderr) == (EXIT_INVALID, expected, "")
        usage = subprocess.run(
            [*command, str(tmp_path / "absent.csv"), "--domain", "ECOMMERCE"],
            capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120, check=False,
        )  # fmt: skip
        assert usage.returncode == EXIT_USAGE
        assert usage.stdout == "" and "absent.csv" in usage.stderr


@pytest.mark.parametrize("closed", ["1", "2", "1 2"], ids=["stdout", "stderr", "both"])
def test_closed_output_streams_change_no_verdict(valid_csv: Path, tmp_path: Path, closed: str) -> None:
    """`validate-data FILE >&-` (or `2>&-`): Python starts with that stream as None; the verdict is the
    exit code all the same (0 valid, 1 invalid), with no AttributeError from the progress bar or the exit."""
    invalid = write(tmp_path, rows_csv(GOOD_ROW, *[f"u{n},i{n},1700000000000,View" for n in range(30)]))
    for path, expected in ((valid_csv, 0), (invalid, EXIT_INVALID)):
        redirections = " ".join(f"{fd}>&-" for fd in closed.split())
        result = subprocess.run(
            ["bash", "-c", f'"$0" -m personalize_tools.validate "$1" --domain ECOMMERCE {redirections}',
             sys.executable, str(path)],
            capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == expected, (path.name, result.stdout, result.stderr)
