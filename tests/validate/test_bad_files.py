"""Broken data files a new user tried (issue 14): each gets one clear finding, never a traceback.

Every file goes through the CLI (a subprocess, so stderr noise shows) and through the function
synth runs (app.preflight_local_data), and both must say the same thing.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import preflight_local_data
from config import ConfigError, EnvironmentConfig
from personalize_tools.validate.reading import CSV_ONLY

from .support import GOOD_ROW, HEADER, check, rows_csv

HEADER_BYTES = HEADER.encode()
ROWS = [f"u{n},i{n},1700000000,View" for n in range(5)]
GOOD = rows_csv(*ROWS).encode()
BINARY = bytes(range(256)) * 40
TRACEBACK_MARKS = ("Traceback", "Exception ignored", "Error:")


@dataclass(frozen=True)
class Case:
    write: Callable[[Path], Path]  # writes the input under a folder, returns its path
    rule: str
    status: str
    says: str  # in the rule's example detail (or its message, when it has no example)
    line: int | None = None


def file_of(content: bytes, name: str = "interactions.csv") -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(content)
        return path

    return write


def mixed_folder(directory: Path) -> Path:
    folder = directory / "mixed"
    folder.mkdir()
    (folder / "a.csv").write_bytes(GOOD)
    (folder / "b.bin").write_bytes(BINARY)
    (folder / "c.csv.gz").write_bytes(gzip.compress(GOOD))
    return folder


FIFTY_MB = 50 << 20
CASES = {
    "cr-only": Case(
        file_of(b"\r".join([HEADER_BYTES, *(row.encode() for row in ROWS)]) + b"\r"),
        "csv_syntax",
        "fail",
        "the lines end in a carriage return (CR) alone, not LF or CRLF",
        1,
    ),
    "binary": Case(
        file_of(BINARY),
        "csv_syntax",
        "fail",
        "binary data, not CSV text (its first line holds the control byte 0x00). "
        f"The developer guide: {CSV_ONLY}",
        1,
    ),
    "gzip": Case(
        file_of(gzip.compress(GOOD), "interactions.csv.gz"),
        "csv_syntax",
        "fail",
        f"gzip-compressed data, not CSV text. The developer guide: {CSV_ONLY}",
        1,
    ),
    "mixed-folder": Case(mixed_folder, "csv_syntax", "fail", "binary data, not CSV text", 1),
    "short-row-not-utf8": Case(
        file_of(rows_csv(GOOD_ROW, "u2,\xff\xfe").encode("latin-1")),
        "csv_syntax",
        "fail",
        "Expected 4 columns, got 2",
    ),
    "fifty-megabyte-field": Case(
        file_of(HEADER_BYTES + b"\n" + GOOD_ROW.encode() + b"\nu1,i1,1700000000," + b"V" * FIFTY_MB + b"\n"),
        "csv_syntax",
        "fail",
        f"the line is {len('u1,i1,1700000000,') + FIFTY_MB:,} bytes long, its EVENT_TYPE value alone "
        f"{FIFTY_MB:,} bytes; the validator reads lines of up to 2 MiB. Personalize documents no line "
        "length, but its quotas cap a value at 256 characters for an id and 1000",
        3,
    ),
    "header-only": Case(
        file_of(HEADER_BYTES + b"\n"), "min_interactions", "fail", "no rows after the header; an import needs"
    ),
    "negative-timestamp": Case(
        file_of(rows_csv(GOOD_ROW, "u2,i2,-5,View").encode()),
        "value_types",
        "fail",
        "TIMESTAMP=-5 is negative; Unix epoch seconds count from 1970-01-01",
        3,
    ),
    "nul-in-event-type": Case(
        file_of(rows_csv(GOOD_ROW, "u2,i2,1700000000,Vi\x00ew").encode()),
        "value_types",
        "fail",
        "EVENT_TYPE='Vi\\x00ew' holds a NUL byte (0x00)",
        3,
    ),
    "esc-in-a-value": Case(
        file_of(rows_csv(GOOD_ROW, "u2,i2,17000\x1b[31m,View").encode()),
        "value_types",
        "fail",
        "TIMESTAMP='17000\\x1b[31m' is not a long",
        3,
    ),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: case.write(tmp_path_factory.mktemp(name)) for name, case in CASES.items()}


@pytest.mark.parametrize("name", CASES)
def test_the_function_reports_the_finding(name: str, inputs: dict[str, Path]) -> None:
    case = CASES[name]
    result = check(inputs[name]).rule(case.rule)

    assert result.status == case.status
    details = [example.detail for example in result.examples] or [result.message]
    assert any(case.says in detail for detail in details), details
    if case.line is not None:
        assert result.examples[0].line == case.line


@pytest.mark.parametrize("name", CASES)
def test_the_cli_reports_it_without_traceback_or_raw_control_bytes(
    name: str, inputs: dict[str, Path]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "personalize_tools.validate", str(inputs[name]), "--domain", "ECOMMERCE"],
        capture_output=True,
        check=False,
    )
    stdout, stderr = result.stdout.decode(), result.stderr.decode()

    assert result.returncode == 1, stderr
    assert stderr == ""
    assert CASES[name].says in stdout
    assert not any(mark in stdout for mark in TRACEBACK_MARKS)
    assert not any(chr(code) in stdout for code in range(32) if chr(code) != "\n")


@pytest.mark.parametrize("name", CASES)
def test_synth_refuses_it_with_the_same_words(name: str, inputs: dict[str, Path]) -> None:
    config = EnvironmentConfig.model_validate(
        {
            "name": "tmp",
            "name_prefix": "pz",
            "domain": "ECOMMERCE",
            "data_source": {"local_path": str(inputs[name])},
            "recommenders": [],
        }
    )

    with pytest.raises(ConfigError) as refused:
        preflight_local_data(config)

    assert CASES[name].says in str(refused.value)


def test_a_mixed_folder_names_each_file_that_is_not_csv(inputs: dict[str, Path]) -> None:
    result = check(inputs["mixed-folder"]).rule("csv_syntax")

    assert [(Path(example.file).name, example.line) for example in result.examples] == [
        ("b.bin", 1),
        ("c.csv.gz", 1),
    ]
    assert "gzip-compressed data, not CSV text" in result.examples[1].detail


def test_a_header_only_file_is_no_syntax_error(inputs: dict[str, Path]) -> None:
    report = check(inputs["header-only"])

    assert report.rule("csv_syntax").status == "pass"
    assert report.rows == 0


def test_a_file_wider_than_any_schema_reads_only_the_schema_columns(tmp_path: Path) -> None:
    """10,000 columns: refused for its unknown columns, in memory set by the schema, not the width."""
    names = [*HEADER.split(","), *(f"C{index}" for index in range(4, 10_000))]
    filler = ",".join("x" for _ in range(len(names) - 4))
    lines = [",".join(names), *(f"u{n},i{n},1700000000,View,{filler}" for n in range(750))]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n")  # 15 MB
    measure = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    command = [sys.executable, "-m", "personalize_tools.validate", str(path), "--domain", "ECOMMERCE"]

    peak_kib = int(
        subprocess.run(
            [sys.executable, "-c", measure, *command], capture_output=True, text=True, check=True
        ).stdout
    )
    result = check(path).rule("header_unknown_columns")

    assert result.count == 9_996
    assert "with 10,000 columns, more than any schema has, only the schema's columns are read" in (
        result.examples[0].detail
    )
    assert "'C13' and 9,986 more not in the schema" in result.examples[0].detail
    assert "... and 9,995 more" not in check(path).render()
    assert peak_kib < 300 * 1024, (
        f"peak RSS {peak_kib / 1024:.0f} MB (it was 364 MB when every column was read)"
    )


@pytest.mark.parametrize(
    ("start", "kind"),
    [
        (b"PK\x03\x04", "a ZIP archive"),
        (b"BZh91AY&SY", "bzip2-compressed"),
        (b"\xfd7zXZ\x00\x00", "xz-compressed"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
        (b"PAR1", "a Parquet file"),
    ],
)
def test_other_compressed_or_columnar_files_are_named(tmp_path: Path, start: bytes, kind: str) -> None:
    path = tmp_path / "interactions.csv"
    path.write_bytes(start + b"USER_ID,ITEM_ID\n" + bytes(range(256)))

    detail = check(path).rule("csv_syntax").examples[0].detail

    assert detail.startswith(f"{kind} data, not CSV text. The developer guide: {CSV_ONLY}")
