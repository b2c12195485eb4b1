"""cdk.json's `python3 run_app.py`: the project's .venv when it works, else the active interpreter.

A user who activated their own environment, a fresh `make install`, and a .venv left broken by a
wrong Python must each get a synthesis or a clear message, never `error 127`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import PROJECT_ROOT
from tests.cli.support import offline_environment

# The interpreter the project's .venv was made from: a Python without aws-cdk-lib installed.
BARE_PYTHON = Path(sys.base_prefix) / "bin" / "python3"


def _launch(script: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    environment = {
        **offline_environment(),
        "CDK_CONTEXT_JSON": json.dumps({"env": "dev"}),
        "CDK_OUTDIR": str(outdir),
    }
    return subprocess.run(
        [str(BARE_PYTHON), str(script)],
        cwd=script.parent,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module", autouse=True)
def bare_python_lacks_the_cdk() -> None:
    probe = subprocess.run([str(BARE_PYTHON), "-c", "import aws_cdk"], capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip(f"{BARE_PYTHON} has aws-cdk-lib installed: it cannot stand for an interpreter without it")


def test_an_interpreter_without_the_cdk_hands_over_to_the_project_venv(
    tmp_path: Path, sample_data: Path
) -> None:
    result = _launch(PROJECT_ROOT / "run_app.py", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pz-dev-personalize.template.json").is_file()


@pytest.mark.parametrize("venv", ["missing", "broken"])
def test_without_a_working_venv_or_the_cdk_the_message_says_what_to_do(tmp_path: Path, venv: str) -> None:
    shutil.copy(PROJECT_ROOT / "run_app.py", tmp_path / "run_app.py")
    if venv == "broken":  # a .venv whose interpreter is gone, as after removing the Python that made it
        (tmp_path / ".venv" / "bin").mkdir(parents=True)
        os.symlink(tmp_path / "no-such-python", tmp_path / ".venv" / "bin" / "python")
    result = _launch(tmp_path / "run_app.py", tmp_path / "out")
    assert result.returncode == 1
    assert "has no aws-cdk-lib" in result.stderr
    assert "make install" in result.stderr
    assert "Traceback" not in result.stderr
