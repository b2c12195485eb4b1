"""Every console script in pyproject.toml is installed by `make install` and answers --help and --version."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from personalize_tools.cli_common import version
from personalize_tools.localdeploy.cli import build_parser
from tests import PROJECT_ROOT

SCRIPTS = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
BIN = Path(sys.executable).parent


def test_the_user_facing_tools_are_console_scripts() -> None:
    tools = {
        "validate-data",
        "personalize-emulator",
        "personalize-local",
        "personalize-record",
    }
    assert tools <= set(SCRIPTS)
    # The demo deploys this project's own app and data: a checkout runs it (make demo); no script.
    assert "personalize-demo" not in SCRIPTS


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_and_version(script: str, tmp_path: Path) -> None:
    """Run from another folder: the scripts must not depend on the current folder being the checkout."""
    executable = BIN / script
    assert executable.is_file(), f"{executable} is missing: make install installs the project editable"
    help_text = subprocess.run(
        [str(executable), "--help"], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120
    )
    assert help_text.returncode == 0, help_text.stderr
    assert help_text.stdout.startswith(f"usage: {script} ")
    shown = subprocess.run(
        [str(executable), "--version"], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"{script} {version()} (personalize-domain-cdk)"


def test_version_is_the_one_in_pyproject() -> None:
    assert version() == tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_local_deployer_paths_are_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler workers run in the project folder: paths are made absolute where the user typed them."""
    monkeypatch.chdir(tmp_path)
    defaults = build_parser().parse_args(["deploy"])
    assert defaults.state_dir == tmp_path.resolve() / ".personalize-local"
    assert defaults.cdk_out is None  # deploy decides: cdk.out here, or cdk.json's output (test_cdkapp.py)
    assert build_parser().parse_args(["deploy", "--cdk-out", "o"]).cdk_out == tmp_path.resolve() / "o"
    given = build_parser().parse_args(["status", "--state-dir", "state/here"])
    assert given.state_dir == tmp_path.resolve() / "state" / "here"
