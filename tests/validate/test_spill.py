"""The exact repeat search behind duplicate_rows and duplicate_ids, against a brute-force reference."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from personalize_tools.validate import duplicates, spill
from tests import PROJECT_ROOT
from tests.validate.support import GOOD_ROW, rows_csv, write


def reference(hashes: list[int], payloads: list[int], limit: int) -> tuple[int, list[int], list[int]]:
    """Repeats of an earlier hash (payload order), the smallest LIMIT, each with its first payload."""
    first: dict[int, int] = {}
    repeats: list[tuple[int, int]] = []
    for value, payload in sorted(zip(hashes, payloads, strict=True), key=lambda pair: pair[1]):
        if value in first:
            repeats.append((payload, first[value]))
        else:
            first[value] = payload
    shown = sorted(repeats)[:limit]
    return len(repeats), [later for later, _ in shown], [earlier for _, earlier in shown]


@pytest.mark.parametrize("seed", range(40))
def test_repeats_match_a_brute_force_search_across_partitions_and_flushes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    distinct = int(rng.integers(1, 300))  # few distinct values: many repeats, some in every partition
    batches = [
        rng.integers(0, distinct, int(rng.integers(0, 200))).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        for _ in range(int(rng.integers(1, 10)))
    ]
    limit = int(rng.choice([0, 1, 10, 10_000]))
    # expected_items decides the partition count (1 to 16 here); a small flush_items forces files.
    with spill.HashSpill(int(rng.integers(1, 1 << 25)), flush_items=int(rng.integers(1, 300))) as pairs:
        hashes: list[int] = []
        for batch in batches:
            payloads = np.arange(len(hashes), len(hashes) + len(batch), dtype=np.uint64) * np.uint64(3)
            pairs.add(batch, payloads)
            hashes.extend(batch.tolist())
        parts = pairs.map_partitions(lambda h, p: spill.later_duplicates(h, p, limit), 2)
    count = sum(part[0] for part in parts)
    later = sorted(zip(*(np.concatenate([part[i] for part in parts]).tolist() for i in (1, 2)), strict=True))
    expected_count, expected_later, expected_earlier = reference(
        hashes, [index * 3 for index in range(len(hashes))], limit
    )
    assert count == expected_count
    assert later[:limit] == list(zip(expected_later, expected_earlier, strict=True))


@pytest.mark.parametrize("repeated_values", [1, spill._FEW_WANTED, spill._FEW_WANTED + 1, 200])
def test_repeats_found_by_comparison_and_by_binary_search_alike(repeated_values: int) -> None:
    """Up to _FEW_WANTED repeated hashes are found by comparing each, more by a binary search."""
    rng = np.random.default_rng(repeated_values)
    hashes = rng.permutation(np.concatenate([np.arange(1, 5_001), np.arange(1, repeated_values + 1)]))
    hashes = hashes.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    payloads = np.arange(len(hashes), dtype=np.uint64)
    count, later, earlier = spill.later_duplicates(hashes, payloads, 10_000)
    expected_count, expected_later, expected_earlier = reference(hashes.tolist(), payloads.tolist(), 10_000)
    assert count == expected_count == repeated_values
    assert (later.tolist(), earlier.tolist()) == (expected_later, expected_earlier)


def test_no_repeats_in_a_partition_of_distinct_hashes() -> None:
    hashes = np.array([5, 1, 9, 3], dtype=np.uint64)
    count, later, earlier = spill.later_duplicates(hashes, np.arange(4, dtype=np.uint64), 10)
    assert (count, later.tolist(), earlier.tolist()) == (0, [], [])


def run_python(program: str) -> str:
    """The program's output from a fresh interpreter at the repository root: what it imports is its own."""
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    return result.stdout


def test_a_file_with_blank_lines_and_bad_values_does_not_import_pandas(tmp_path: Path) -> None:
    """pa.array(numpy) and pl.Series(numpy) import pandas and numpy.ma: 0.25 s of start-up (docs)."""
    path = write(tmp_path, rows_csv(GOOD_ROW, "", "u2,i2,17x,View", "u3,i3,,View", GOOD_ROW))
    program = (
        "import sys\n"
        "from tests.validate.support import check\n"
        f"report = check({str(path)!r})\n"
        "failed = sorted(r.rule for r in report.rules if r.status != 'pass')\n"
        "print(failed, 'pandas' in sys.modules, 'numpy.ma' in sys.modules)\n"
    )
    stdout = run_python(program)
    failed, *imported = stdout.rsplit(" ", 2)
    assert all(rule in failed for rule in ("blank_lines", "null_values", "value_types", "duplicate_rows"))
    assert imported == ["False", "False\n"]


def test_validating_a_folder_from_the_cli_does_not_import_the_config_package(tmp_path: Path) -> None:
    """config.model (pydantic, yaml) cost every run 0.25 CPU-seconds; the folder rule is in data_objects."""
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder, rows_csv(GOOD_ROW))
    (folder / ".hidden.csv").write_text("not data")
    program = (
        "import sys\n"
        "from personalize_tools.validate.__main__ import main\n"
        f"code = main([{str(folder)!r}, '--domain', 'ECOMMERCE', '--json'])\n"
        "config = ('config', 'config.model', 'pydantic', 'yaml')\n"
        "print(code, sorted(name for name in config if name in sys.modules))\n"
    )
    stdout = run_python(program)
    assert stdout.strip().splitlines()[-1] == "1 []"  # exit 1: one row is too few interactions
    assert "interactions.csv" in stdout
    assert ".hidden.csv" not in stdout


def test_batches_submitted_while_polars_imports_are_held_then_hashed_in_order() -> None:
    """The duplicate finder holds up to _EARLY batches while polars is still being imported, so parsing
    and checking go on; held and later batches count exactly as if hashed at once, in their order."""
    program = (
        "import numpy as np, pyarrow as pa\n"
        "from personalize_tools.validate import hashing\n"
        "from personalize_tools.validate.duplicates import _EARLY, DuplicateFinder\n"
        "batches = [pa.array([f'v{(batch * 3 + row) % 29}'.encode() for row in range(3)], pa.binary())\n"
        "           for batch in range(_EARLY + 4)]\n"
        "hashing.preload_polars()\n"
        "finder = DuplicateFinder(1000, threads=2)\n"
        "ready = []\n"
        "for batch, column in enumerate(batches):\n"
        "    finder.submit([column], np.arange(batch * 3, batch * 3 + 3, dtype=np.uint64), None)\n"
        "    ready.append(hashing.polars_ready())\n"
        "count, later, earlier = finder.result(1000)\n"
        "finder.close()\n"
        "print(json.dumps([ready[0], count, later.tolist(), earlier.tolist()]))\n"
    )
    ready, count, later, earlier = json.loads(run_python("import json\n" + program))
    assert ready is False  # the first batch came while polars was importing (it takes 0.1 s or more)
    rows = (duplicates._EARLY + 4) * 3
    expected = reference([index % 29 for index in range(rows)], list(range(rows)), 1000)
    assert (count, later, earlier) == expected
