"""A temporary directory that cannot be used: a clear exit 2 naming it, from either pipeline stage.

The exact counts spill to files under tempfile.gettempdir(). Pointing tempfile.tempdir at a regular
file makes every spill fail (as root, permissions cannot be used to make a directory unwritable).
The row hashes are spilled on the duplicate finder's worker thread, the per-user counts on the
checking thread; an error on the worker surfaces either at the next batch handed to it or at the end.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from personalize_tools.validate import engine, spill
from personalize_tools.validate.__main__ import EXIT_USAGE, main
from tests.validate.support import rows_csv, write

USERS_HEADER = "USER_ID,MEMBERSHIP_STATUS"


def broken_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    not_a_directory = tmp_path / "not-a-directory"
    not_a_directory.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_directory))
    monkeypatch.setattr(spill, "FLUSH_ITEMS", 7)  # spill to disk every few rows
    return not_a_directory


def expected_message(directory: Path) -> str:
    return (
        f"validate-data: cannot use the temporary directory {directory} for the exact duplicate counts: "
        "Not a directory; free space there, or set TMPDIR to a writable directory\n"
    )


@pytest.mark.parametrize("block_bytes", [128, engine.BLOCK_BYTES], ids=["during the scan", "at the end"])
def test_a_hashing_stage_failure_exits_2_naming_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], block_bytes: int
) -> None:
    """Users records: only the worker thread spills. Small blocks: it fails while batches still come;
    one block: the only batch is handed over before it fails, so the error is raised at the end."""
    directory = broken_tempdir(tmp_path, monkeypatch)
    monkeypatch.setattr(engine, "BLOCK_BYTES", block_bytes)
    rows = [f"u{index},Gold" for index in range(400)]
    path = write(tmp_path, rows_csv(*rows, header=USERS_HEADER), name="users.csv")
    assert main([str(path), "--domain", "ECOMMERCE", "--dataset-type", "users"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", expected_message(directory))


def test_a_checking_stage_spill_failure_exits_2_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Interactions: the per-user counts spill on the checking thread, before the batch's hashes."""
    directory = broken_tempdir(tmp_path, monkeypatch)
    rows = [f"u{index},i{index},{1700000000 + index},View" for index in range(50)]
    path = write(tmp_path, rows_csv(*rows))
    assert main([str(path), "--domain", "ECOMMERCE"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", expected_message(directory))
