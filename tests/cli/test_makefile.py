"""The Makefile's install step: Python 3.11+ or a clear refusal; a .venv made by a wrong Python is rebuilt.

Run in a scratch copy of the Makefile and its prerequisites; `make -n` shows the plan without
installing anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import PROJECT_ROOT

STAMP = ".venv/.installed"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt", "pyproject.toml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    return tmp_path


def _make(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _venv(project: Path, python: Path) -> None:
    """A .venv whose interpreter is `python`, stamped as installed after every prerequisite."""
    (project / ".venv" / "bin").mkdir(parents=True)
    os.symlink(python, project / ".venv" / "bin" / "python")
    time.sleep(0.01)
    (project / STAMP).touch()


def test_a_python_older_than_3_11_is_refused_by_name_and_version(project: Path) -> None:
    old = project / "python3.9"
    old.write_text('#!/bin/sh\ncase "$1" in --version) echo "Python 3.9.18";; *) exit 1;; esac\n')
    old.chmod(0o755)
    result = _make(project, STAMP, f"PYTHON={old}")
    assert result.returncode != 0
    assert "needs Python 3.11 or newer" in result.stderr
    assert f"{old} is Python 3.9.18" in result.stderr
    assert not (project / ".venv").exists()


def test_a_working_venv_is_left_alone(project: Path) -> None:
    _venv(project, Path(sys.executable))
    result = _make(project, "-n", STAMP)
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout


def test_a_venv_whose_python_is_gone_is_rebuilt(project: Path) -> None:
    _venv(project, project / "removed-python")
    result = _make(project, "-n", STAMP)
    assert result.returncode == 0, result.stderr
    assert "rm -rf .venv" in result.stdout
    assert "-m venv .venv" in result.stdout
    assert "--require-hashes -r requirements-dev.txt" in result.stdout
    assert "--no-build-isolation -e ." in result.stdout  # the lock's setuptools builds it, nothing unhashed


def test_distclean_removes_the_venv_and_node_modules(project: Path) -> None:
    result = _make(project, "-n", "distclean")
    assert "rm -rf .venv node_modules" in result.stdout
