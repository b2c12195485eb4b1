"""validate-data against its floor and against pandas, measured side by side in one run.

    .venv/bin/python -m benchmarks.bench_validate                 # 1M, 5M and 10M rows
    .venv/bin/python -m benchmarks.bench_validate --quick         # 100k and 1M rows
    .venv/bin/python -m benchmarks.bench_validate --rows 2000000 --repeats 5

For each size it generates (once, cached in benchmarks/out/) a realistic ECOMMERCE file with
personalize_tools.sample_data, then runs four programs, each in a fresh process so that its
peak RSS is its own:

- floor: pyarrow's streaming CSV reader with default options (use_threads=True, 1 MiB blocks,
  type inference: USER_ID, ITEM_ID and EVENT_TYPE validated as UTF-8 strings, TIMESTAMP converted
  to int64), iterating every batch and doing nothing else. No validator that reads the file can
  beat it by much.
- validator: `python -m personalize_tools.validate FILE --domain ECOMMERCE --json`.
- parse: the validator's own parse alone (engine.open_rows over its header reader: binary
  columns, one thread, 2 MiB blocks), with the engine's imports but no check and no hash. Not a
  baseline and no target: it splits the validator's CPU into parsing and the rest.
- pandas: the same checks written the way the Personalize sample notebooks prepare data
  (pd.read_csv, then column operations, value_counts and duplicated on the whole frame).

Wall time is the best of --repeats runs (other processes only ever add time); the programs take
turns (floor, validator, pandas, floor, ...) so that a burst of load from elsewhere hits each of
them alike. pandas runs once on inputs of 5M rows or more, where one run takes long enough to be
stable. CPU seconds (user + system, best run) are shown too: on a machine shared with other jobs
they move less than wall time. The targets (issue 14) are printed next to the measured ratios,
with "met" or "MISSED"; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._measure import Measurement, best_measurement, measure
from lambda_handlers.personalize import domain, domain_rules
from personalize_tools.sample_data import generate_interactions

OUT = Path(__file__).resolve().parent / "out"
DOMAIN = "ECOMMERCE"
DEFAULT_ROWS = (1_000_000, 5_000_000, 10_000_000)
QUICK_ROWS = (100_000, 1_000_000)
PANDAS_SINGLE_RUN_ROWS = 5_000_000
SMALL_ROWS = 1_000_000  # at most this many rows: start-up weighs more, so the floor target is looser
TARGET_FLOOR_RATIO_SMALL = 1.5
TARGET_FLOOR_RATIO = 1.3
TARGET_PANDAS_RATIO = 1.0  # faster than pandas at every size
TARGET_RSS_MB_AT_10M = 400


def floor_target(rows: int) -> float:
    return TARGET_FLOOR_RATIO_SMALL if rows <= SMALL_ROWS else TARGET_FLOOR_RATIO


def sample_file(rows: int) -> Path:
    """The cached benchmark input for ROWS rows (generation is deterministic, so a cache never goes stale)."""
    path = OUT / f"interactions_{DOMAIN.lower()}_{rows}.csv"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        print(f"generating {rows:,} rows into {path} ...", file=sys.stderr)
        generate_interactions(partial, domain=DOMAIN, rows=rows, seed=7)
        partial.replace(path)
    return path


# --- the programs measured (each runs in its own process via --run) ---------------------------


def floor(path: Path) -> dict[str, Any]:
    import pyarrow.csv as pacsv  # noqa: PLC0415 - each program pays only for its own imports

    rows = 0
    for batch in pacsv.open_csv(path):
        rows += batch.num_rows
    return {"rows": rows}


def parse(path: Path) -> dict[str, Any]:
    """The validator's own parse alone: its header reader and reader options, no check, no hash.

    Not a baseline: validator minus parse is what the checks cost (hashing included).
    """
    from personalize_tools.validate.engine import open_rows  # noqa: PLC0415 - own imports only
    from personalize_tools.validate.reading import Replay, read_header  # noqa: PLC0415

    rows = 0
    with path.open("rb") as stream:
        header, rest, _ = read_header(stream, path.name)
        reader = open_rows(Replay(rest, stream, None), len(header.names), range(len(header.names)), None)
        for batch in reader:
            rows += batch.num_rows
    return {"rows": rows}


def pandas_checks(path: Path) -> dict[str, Any]:
    """validate-data's checks, the way a notebook would write them with pandas."""
    import pandas as pd  # noqa: PLC0415 - each program pays only for its own imports

    schema = domain_rules.default_schema_json(DOMAIN)
    frame = pd.read_csv(path, dtype={"USER_ID": str, "ITEM_ID": str, "EVENT_TYPE": str})
    report: dict[str, Any] = {"rows": len(frame)}
    report["missing_columns"] = [
        name for name in domain.required_columns(schema) if name not in frame.columns
    ]
    report["unknown_columns"] = [
        name for name in frame.columns if name not in domain.schema_field_names(schema)
    ]
    report["nulls"] = {name: int(count) for name, count in frame.isna().sum().items()}
    timestamps = pd.to_numeric(frame["TIMESTAMP"], errors="coerce")
    report["bad_timestamps"] = int(timestamps.isna().sum())
    now = pd.Timestamp.now(tz="UTC").timestamp()
    report["milliseconds"] = int(((timestamps >= 1e11) & (timestamps < 1e14)).sum())
    report["microseconds"] = int((timestamps >= 1e14).sum())
    report["future"] = int(((timestamps > now) & (timestamps < 1e11)).sum())
    report["before_2000"] = int((timestamps < 946_684_800).sum())
    for name in domain.ID_FIELDS:
        report[f"{name}_too_long"] = int((frame[name].str.len() > domain.ID_MAX_LENGTH).sum())
    report["event_types"] = {
        str(name): int(count) for name, count in frame["EVENT_TYPE"].value_counts().items()
    }
    per_user = frame["USER_ID"].value_counts()
    report["training_users"] = int((per_user >= domain_rules.MIN_INTERACTIONS_PER_TRAINING_USER).sum())
    duplicated = frame.duplicated()
    report["duplicates"] = int(duplicated.sum())
    report["duplicate_lines"] = [int(index) + 2 for index in frame.index[duplicated][:10]]
    return report


PROGRAMS = {"floor": floor, "parse": parse, "pandas": pandas_checks}


# --- the comparison ------------------------------------------------------------------------------


def _commands(path: Path) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "floor": [python, "-m", "benchmarks.bench_validate", "--run", "floor", str(path)],
        "validator": [python, "-m", "personalize_tools.validate", str(path), "--domain", DOMAIN, "--json"],
        "parse": [python, "-m", "benchmarks.bench_validate", "--run", "parse", str(path)],
        "pandas": [python, "-m", "benchmarks.bench_validate", "--run", "pandas", str(path)],
    }


def compare(rows: int, repeats: int) -> dict[str, Measurement]:
    """Each program REPEATS times, taking turns; the best run of each."""
    path = sample_file(rows)
    runs: dict[str, list[Measurement]] = {}
    for repeat in range(max(1, repeats)):
        for name, command in _commands(path).items():
            if name == "pandas" and rows >= PANDAS_SINGLE_RUN_ROWS and repeat:
                continue
            print(f"  {rows:>11,} rows: {name} run {repeat + 1} ...", file=sys.stderr)
            runs.setdefault(name, []).append(measure(command))
    return {name: best_measurement(measured) for name, measured in runs.items()}


def table(measured: dict[int, dict[str, Measurement]]) -> str:
    header = (
        f"{'rows':>11} | {'floor s':>7} {'cpu':>5} {'MB':>4} | {'parse cpu':>9} | "
        f"{'validator s':>11} {'cpu':>5} {'MB':>4} | "
        f"{'pandas s':>8} {'MB':>5} | {'validator/floor':>15} {'(cpu)':>6} | {'pandas/validator':>16}"
    )
    lines = [header, "-" * len(header)]
    verdicts, splits = [], []
    for rows, results in measured.items():
        base, ours, pandas = results["floor"], results["validator"], results["pandas"]
        parsing = results["parse"]
        ratio, speedup = ours.seconds / base.seconds, pandas.seconds / ours.seconds
        lines.append(
            f"{rows:>11,} | {base.seconds:>7.2f} {base.cpu_seconds:>5.2f} {base.peak_rss_mb:>4.0f} | "
            f"{parsing.cpu_seconds:>9.2f} | "
            f"{ours.seconds:>11.2f} {ours.cpu_seconds:>5.2f} {ours.peak_rss_mb:>4.0f} | "
            f"{pandas.seconds:>8.2f} {pandas.peak_rss_mb:>5.0f} | "
            f"{ratio:>14.2f}x {ours.cpu_seconds / base.cpu_seconds:>5.2f}x | {speedup:>15.1f}x"
        )
        verdicts.append(
            f"{rows:,} rows: validator/floor {ratio:.2f}x <= {floor_target(rows)}x "
            f"{_met(ratio <= floor_target(rows))}, "
            f"faster than pandas {_met(speedup > TARGET_PANDAS_RATIO)}"
        )
        splits.append(
            f"{rows:,} rows: validator CPU = its parse {parsing.cpu_seconds / base.cpu_seconds:.2f}x "
            f"+ checks and hashing {(ours.cpu_seconds - parsing.cpu_seconds) / base.cpu_seconds:.2f}x "
            "of the floor's CPU"
        )
        if rows >= 10_000_000:
            verdicts.append(
                f"{rows:,} rows: validator peak RSS {ours.peak_rss_mb:.0f} MB <= {TARGET_RSS_MB_AT_10M} MB "
                f"{_met(ours.peak_rss_mb <= TARGET_RSS_MB_AT_10M)}"
            )
    lines.extend(["", "targets (issue 14):", *verdicts, "", "where the validator's CPU goes:", *splits])
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _environment() -> str:
    import numpy  # noqa: PLC0415 - versions for the record only
    import pandas  # noqa: PLC0415
    import polars  # noqa: PLC0415
    import pyarrow  # noqa: PLC0415

    return (
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, pyarrow {pyarrow.__version__}, "
        f"polars {polars.__version__}, numpy {numpy.__version__}, pandas {pandas.__version__}, "
        # The validator uses both cores: read its ratios from a quiet run (docs/validate-data.md).
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_validate", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--rows", type=int, nargs="+", help=f"input sizes (default {' '.join(map(str, DEFAULT_ROWS))})"
    )
    parser.add_argument("--quick", action="store_true", help=f"sizes {' and '.join(map(str, QUICK_ROWS))}")
    parser.add_argument("--repeats", type=int, default=3, help="runs per program; the fastest counts")
    parser.add_argument("--run", choices=sorted(PROGRAMS), help=argparse.SUPPRESS)
    parser.add_argument("path", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(PROGRAMS[args.run](Path(args.path))), flush=True)
        if args.run == "parse":
            # pyarrow may still have a read of the Python stream queued on its IO thread when parse()
            # returns at once; if that thread asks for the GIL while the interpreter finalizes, the
            # process aborts ("terminate called without an active exception", exit -6; it stopped three
            # benchmark runs in a row under load). Nothing is left to finalize in this measuring child.
            os._exit(0)
        return 0
    sizes = args.rows or (QUICK_ROWS if args.quick else DEFAULT_ROWS)
    measured = {rows: compare(rows, args.repeats) for rows in sizes}
    print(_environment())
    print(table(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
