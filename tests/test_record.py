"""The recording tool against the emulator: batching, rejections, retries, rate limiting, usage errors."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from personalize_tools import record
from personalize_tools.emulator import EmulatorServer
from tests.emulator.support import active_dataset, active_group, admin, settle


@pytest.fixture
def shop(clean_emulator: EmulatorServer, personalize: Any) -> dict[str, str]:
    group_arn = active_group(personalize, "rec")
    arns = {
        dataset_type: active_dataset(
            personalize, group_arn, f"rec-{dataset_type.lower()}", dataset_type=dataset_type
        )
        for dataset_type in ("INTERACTIONS", "USERS", "ITEMS")
    }
    tracker = personalize.create_event_tracker(name="rec-tracker", datasetGroupArn=group_arn)
    settle(personalize, "event_tracker", tracker["eventTrackerArn"])
    return {**arns, "trackingId": tracker["trackingId"]}


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def interactions(users: int, per_user: int) -> list[str]:
    return [
        f"user-{user},item-{(user * 7 + n) % 60},{1_700_000_000 + n},{'Purchase' if n % 5 == 0 else 'View'}"
        for user in range(users)
        for n in range(per_user)
    ]


def recorded(emulator: EmulatorServer, arn: str) -> int:
    dataset = next(item for item in emulator.state()["resources"]["dataset"] if item["datasetArn"] == arn)
    return int(dataset.get("recordedRecords", 0))


def client(emulator: EmulatorServer) -> Any:
    return record.events_client("us-east-1", emulator.url)


def test_events_stream_in_batches_of_the_models_limit(
    clean_emulator: EmulatorServer, shop: dict[str, str], tmp_path: Path
) -> None:
    csv_file = write(tmp_path / "events.csv", "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE", interactions(40, 26))
    events = client(clean_emulator)
    progress = io.StringIO()
    summary = record.record_file(
        csv_file, "events", {"trackingId": shop["trackingId"]}, events, rate=0, progress=progress
    )
    assert (summary.rows, summary.accepted, summary.rejected_count) == (1040, 1040, 0)
    assert summary.calls == 40 * 3  # 26 events of one user's session: 10 + 10 + 6
    assert clean_emulator.calls()["calls"]["PutEvents"] == summary.calls
    assert recorded(clean_emulator, shop["INTERACTIONS"]) == 1040
    assert "100%" in progress.getvalue().splitlines()[-1]
    assert (
        record.Recorder(events, record.KINDS["events"], {}, record.RateLimiter(0), summary).batch_size == 10
    )


def test_bad_rows_are_rejected_with_their_reason_and_good_rows_still_go_in(
    clean_emulator: EmulatorServer, shop: dict[str, str], tmp_path: Path
) -> None:
    rows = interactions(1, 9)
    rows.insert(3, "user-0,,1700000000,View")  # line 5: no item
    rows.insert(6, "user-0,item-1,1700000000000x,View")  # line 8: not epoch seconds
    rows.append("user-0,item-2,1700000001,View,surprise")  # line 13: a field too many
    rows.append("user-0,item-3,1700000002,View")
    csv_file = write(tmp_path / "events.csv", "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE", rows)
    # Custom column the default schema lacks: the service rejects those rows, found by splitting the batch.
    bad = tmp_path / "with-discount.csv"
    bad.write_text(
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,DISCOUNT\n"
        + "".join(f"user-9,item-{n},17000000{n:02d},View,{'yes' if n == 4 else ''}\n" for n in range(8))
    )
    out, err = io.StringIO(), io.StringIO()
    common = [
        "--tracking-id",
        shop["trackingId"],
        "--endpoint-url",
        clean_emulator.url,
        "--region",
        "us-east-1",
    ]
    assert record.main(["events", str(csv_file), *common, "--rate", "0"], out=out, err=err) == 1
    text = out.getvalue()
    assert "accepted            10" in text and "rejected             3" in text
    assert "empty ITEM_ID (line 5)" in text
    assert "TIMESTAMP '1700000000000x' is not epoch seconds (line 8)" in text
    assert "row has 5 fields, the header 4 (line 13)" in text

    out = io.StringIO()
    assert record.main(["events", str(bad), *common, "--quiet"], out=out, err=io.StringIO()) == 1
    assert "accepted             7" in out.getvalue()
    assert "InvalidInputException" in out.getvalue() and "'discount'" in out.getvalue()
    assert "(line 6)" in out.getvalue()
    assert recorded(clean_emulator, shop["INTERACTIONS"]) == 17


def test_throttling_is_retried_with_backoff(
    clean_emulator: EmulatorServer, shop: dict[str, str], tmp_path: Path
) -> None:
    admin(clean_emulator.url, "POST", "faults", {"throttle_rate": 0.5, "seed": 11})
    csv_file = write(tmp_path / "events.csv", "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE", interactions(10, 10))
    summary = record.record_file(
        csv_file,
        "events",
        {"trackingId": shop["trackingId"]},
        client(clean_emulator),
        rate=0,
        backoff_seconds=0.001,
    )
    assert summary.accepted == 100 and summary.rejected_count == 0
    assert summary.retries > 0 and summary.calls == 10 + summary.retries
    assert clean_emulator.calls()["errors"]["PutEvents"]["ThrottlingException"] == summary.retries


def test_throttling_that_never_ends_rejects_the_batch_once(
    clean_emulator: EmulatorServer, shop: dict[str, str], tmp_path: Path
) -> None:
    admin(clean_emulator.url, "POST", "faults", {"throttle_rate": 1.0})
    csv_file = write(tmp_path / "events.csv", "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE", interactions(1, 10))
    summary = record.record_file(
        csv_file,
        "events",
        {"trackingId": shop["trackingId"]},
        client(clean_emulator),
        rate=0,
        max_attempts=3,
        backoff_seconds=0.001,
    )
    assert summary.calls == 3 and summary.accepted == 0
    assert summary.rejected == {"ThrottlingException after 3 attempts": 10}


def test_users_and_items_carry_their_columns_as_properties(
    clean_emulator: EmulatorServer, shop: dict[str, str], tmp_path: Path
) -> None:
    users = write(tmp_path / "users.csv", "USER_ID,MEMBERSHIP_STATUS", [f"u{n},gold" for n in range(12)])
    items = write(tmp_path / "items.csv", "ITEM_ID,PRICE,CATEGORY_L1", ["i1,9.99,shoes", "i2,cheap,hats"])
    events = client(clean_emulator)
    summary = record.record_file(users, "users", {"datasetArn": shop["USERS"]}, events, rate=0)
    assert (summary.accepted, summary.calls) == (12, 2)
    summary = record.record_file(items, "items", {"datasetArn": shop["ITEMS"]}, events, rate=0)
    assert summary.accepted == 1 and list(summary.rejected_lines.values()) == [[3]]
    assert "price" in next(iter(summary.rejected))
    assert recorded(clean_emulator, shop["USERS"]) == 12 and recorded(clean_emulator, shop["ITEMS"]) == 1


def test_the_rate_limiter_spaces_calls_evenly() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = record.RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    unlimited = record.RateLimiter(0, clock=lambda: now[0], sleep=sleep)
    unlimited.wait()
    unlimited.wait()
    assert len(slept) == 4


def test_usage_errors_say_what_to_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = write(tmp_path / "events.csv", "USER_ID,ITEM_ID,EVENT_TYPE", ["u,i,View"])
    err = io.StringIO()
    assert record.main(["events", str(csv_file)], err=err) == 2
    assert "--tracking-id" in err.getvalue()
    err = io.StringIO()
    args = [
        "events",
        str(csv_file),
        "--tracking-id",
        "t",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--region",
        "us-east-1",
    ]
    assert record.main(args, out=io.StringIO(), err=err) == 2
    assert "the header lacks TIMESTAMP" in err.getvalue()
    err = io.StringIO()
    assert (
        record.main(
            ["users", str(tmp_path / "missing.csv"), "--dataset-arn", "a", "--region", "us-east-1"],
            err=err,
            out=io.StringIO(),
        )
        == 2
    )
    assert "cannot read" in err.getvalue()
    with pytest.raises(SystemExit) as done:
        record.main(["--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    assert "PutEvents" in help_text
    assert f"when the first {record.STOP_AFTER_REJECTED} rows" in help_text and "130 interrupted" in help_text


def test_a_run_that_cannot_succeed_stops_early_with_its_summary(
    clean_emulator: EmulatorServer, shop: dict[str, str], tmp_path: Path
) -> None:
    """A wrong tracking id fails every call: the tool stops after a few batches instead of the whole file."""
    csv_file = write(tmp_path / "events.csv", "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE", interactions(50, 20))
    summary = record.record_file(
        csv_file, "events", {"trackingId": "not-ours"}, client(clean_emulator), rate=0
    )
    assert summary.exit_code == 1 and summary.accepted == 0
    assert record.STOP_AFTER_REJECTED <= summary.rejected_count < record.STOP_AFTER_REJECTED + 20
    assert clean_emulator.calls()["calls"]["PutEvents"] == summary.calls < 100
    assert summary.stopped and f"answered, through line {summary.last_line}; later lines were not read" in (
        summary.stopped
    )
    assert "belongs to no event tracker" in summary.render() and "Stopped:" in summary.render()
    assert recorded(clean_emulator, shop["INTERACTIONS"]) == 0


def test_rows_botocore_or_datetime_refuse_are_rejected_without_retries(
    clean_emulator: EmulatorServer, shop: dict[str, str], tmp_path: Path
) -> None:
    csv_file = write(
        tmp_path / "events.csv",
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,IMPRESSION",
        [
            "u,i,nan,View,",
            "u,i,inf,View,",
            "u,i,1e30,View,",
            "u,i,1700000000,View,a||b",
            "u,j,1700000001,View,",
        ],
    )
    summary = record.record_file(
        csv_file, "events", {"trackingId": shop["trackingId"]}, client(clean_emulator), rate=0
    )
    assert summary.accepted == 1 and summary.retries == 0
    assert [lines for reason, lines in summary.rejected_lines.items() if "TIMESTAMP" in reason] == [
        [2],
        [3],
        [4],
    ]
    refused = [reason for reason in summary.rejected if reason.startswith("refused by botocore")]
    assert len(refused) == 1 and "impression" in refused[0] and summary.rejected_lines[refused[0]] == [5]
    assert summary.calls == clean_emulator.calls()["calls"]["PutEvents"]


def test_a_file_that_turns_unreadable_stops_with_the_summary(
    clean_emulator: EmulatorServer, shop: dict[str, str], tmp_path: Path
) -> None:
    csv_file = tmp_path / "events.csv"
    good = "".join(f"u,i{n},{1_700_000_000 + n},View\n" for n in range(12))
    csv_file.write_bytes(f"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n{good}".encode() + b"u,caf\xe9,1,View\n")
    out, err = io.StringIO(), io.StringIO()
    args = [
        "--tracking-id",
        shop["trackingId"],
        "--endpoint-url",
        clean_emulator.url,
        "--region",
        "us-east-1",
    ]
    assert record.main(["events", str(csv_file), *args, "--quiet"], out=out, err=err) == 2
    assert "accepted            12" in out.getvalue()
    assert "Stopped:" in out.getvalue() and "line 14 cannot be read as UTF-8 CSV" in out.getvalue()
    assert "Traceback" not in err.getvalue()
    csv_file.write_bytes(b"USER_ID,ITEM_ID,TIME\xe9\n")
    err = io.StringIO()
    assert record.main(["events", str(csv_file), *args], out=io.StringIO(), err=err) == 2
    assert "the header cannot be read as UTF-8 CSV" in err.getvalue()


# `python -m personalize_tools.record` with SIGINT handled as from a terminal (Python's KeyboardInterrupt),
# whatever the pytest worker passes on: a suite started in the background by a non-interactive shell
# (`nohup make test &`, some CI runners) has SIGINT ignored, every child inherits that, and the child ran
# on to its end (exit 0, not 130). A failure prints the worker's signal state.
AS_FROM_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
    "runpy.run_module('personalize_tools.record', run_name='__main__', alter_sys=True)"
)


def _signal_state() -> list[str]:
    status = Path("/proc/self/status")
    lines = status.read_text().splitlines() if status.exists() else []
    return [line for line in lines if line.startswith(("SigIgn", "SigBlk"))]


def test_ctrl_c_prints_the_summary_and_no_traceback(
    clean_emulator: EmulatorServer, shop: dict[str, str], tmp_path: Path
) -> None:
    csv_file = write(tmp_path / "events.csv", "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE", interactions(50, 40))
    command = [sys.executable, "-c", AS_FROM_A_TERMINAL, "events", str(csv_file)]
    command += ["--tracking-id", shop["trackingId"], "--endpoint-url", clean_emulator.url, "--rate", "20"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
    )
    deadline = time.monotonic() + 60
    while clean_emulator.calls()["calls"].get("PutEvents", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == record.EXIT_INTERRUPTED, (process.returncode, _signal_state(), err[-300:])
    assert "Traceback" not in err
    assert "Stopped: interrupted; every line before" in out
    accepted = int(next(line for line in out.splitlines() if "accepted" in line).split()[-1].replace(",", ""))
    assert 0 < accepted < 2000 and recorded(clean_emulator, shop["INTERACTIONS"]) >= accepted


def test_memory_is_bounded_by_the_reasons_not_the_rows() -> None:
    summary = record.Summary()
    for line in range(100_000):
        summary.reject(f"reason {line % 1000}", [line])
    assert len(summary.rejected) == record.MAX_REASONS + 1
    assert all(len(lines) <= record.SHOWN_LINES for lines in summary.rejected_lines.values())
    assert summary.rejected_count == 100_000
    assert summary.rejected[record.OTHER_REASONS] == 100_000 - record.MAX_REASONS * 100
    assert "(lines 0, 1000, 2000, 3000, 4000 and 95 more)" in summary.render()


def test_interleaved_users_still_fill_batches(
    clean_emulator: EmulatorServer, shop: dict[str, str], tmp_path: Path
) -> None:
    """A log ordered by time interleaves users; each user's session still goes in calls of 10."""
    rows = [f"user-{n % 20},item-{n % 37},{1_700_000_000 + n},View" for n in range(200)]
    csv_file = write(tmp_path / "events.csv", "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE", rows)
    summary = record.record_file(
        csv_file, "events", {"trackingId": shop["trackingId"]}, client(clean_emulator), rate=0
    )
    assert (summary.accepted, summary.calls) == (200, 20)
    assert recorded(clean_emulator, shop["INTERACTIONS"]) == 200


def test_open_groups_are_bounded_and_keep_their_order() -> None:
    rows = [record.Row(line, {}, (f"u{line % 3}", "s")) for line in range(2, 14)]
    batcher = record.Batcher(rows, 10, max_open=2)
    sent = [[row.line for row in batch] for batch in batcher]
    # Three users round-robin, two open at most: the oldest goes out alone each time a third opens.
    assert sent == [[line] for line in range(2, 14)]
    half = record.Batcher(rows, 10, max_open=3)
    assert [[row.line for row in batch] for batch in half] == [
        [2, 5, 8, 11],
        [3, 6, 9, 12],
        [4, 7, 10, 13],
    ]
