"""The recording tool against a bare boto3 loop, and GetRecommendations as the data grows.

1. The same interactions go to the emulator's PutEvents twice, each into a fresh dataset group: once
   through `personalize_tools.record` (CSV parsing, batching, rate limiter off, retries, progress) and once
   through a bare loop of `put_events` calls with the same batches. The ratio is the tool's overhead.
2. GetRecommendations (Recommended for you, the heaviest stand-in) with N recorded interactions, as a
   ratio to the same call with 1,000: how the stand-in scales with the data it reads.
Prints; asserts nothing.

    .venv/bin/python -m benchmarks.bench_record [--rows 5000] [--sizes 1000 10000 50000]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3

from lambda_handlers.personalize import domain, domain_rules
from lambda_handlers.personalize.kinds import DATASET
from personalize_tools import record
from personalize_tools.emulator import EmulatorServer, Pace
from personalize_tools.emulator.state import ImportedData
from personalize_tools.localdeploy.report import format_table

REGION = "us-east-1"
CALLS_PER_SIZE = 20


def _client(emulator: EmulatorServer, service: str) -> Any:
    if service == "personalize-events":
        return record.events_client(REGION, emulator.url)
    return boto3.client(service, endpoint_url=emulator.url, region_name=REGION)


def _group(emulator: EmulatorServer, name: str) -> tuple[str, str, str]:
    """A fresh emulator's group with an ACTIVE Interactions dataset and tracker: its ARNs and tracking id."""
    emulator.reset()  # the region's five dataset groups would not last the runs
    personalize = _client(emulator, "personalize")
    group = personalize.create_dataset_group(name=name, domain="ECOMMERCE")["datasetGroupArn"]
    schema = personalize.create_schema(
        name=f"{name}-schema", schema=domain_rules.default_schema_json("ECOMMERCE"), domain="ECOMMERCE"
    )["schemaArn"]
    dataset = personalize.create_dataset(
        name=f"{name}-interactions", schemaArn=schema, datasetGroupArn=group, datasetType="INTERACTIONS"
    )["datasetArn"]
    tracker = personalize.create_event_tracker(name=f"{name}-tracker", datasetGroupArn=group)
    return group, dataset, tracker["trackingId"]


def _rows(count: int) -> list[list[str]]:
    return [
        [
            f"user-{n // 20}",
            f"item-{(n * 7919) % 2000}",
            str(1_700_000_000 + n),
            "View" if n % 4 else "Purchase",
        ]
        for n in range(count)
    ]


def bench_recording(emulator: EmulatorServer, rows: int, folder: Path, repeats: int = 3) -> list[list[str]]:
    """Best of REPEATS, the two alternating, each run into a fresh group (so neither warms the other up)."""
    data = _rows(rows)
    path = folder / "events.csv"
    with path.open("w", newline="") as stream:
        csv.writer(stream).writerows([["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"], *data])
    events = _client(emulator, "personalize-events")
    planned = list(
        record.batches(
            (
                record.Row(n, {"itemId": r[1], "sentAt": float(r[2]), "eventType": r[3]}, (r[0], r[0]))
                for n, r in enumerate(data)
            ),
            10,
        )
    )
    bare: list[float] = []
    tool: list[float] = []
    for attempt in range(repeats):
        _, _, tracking_id = _group(emulator, f"bare-{attempt}")
        started = time.perf_counter()
        for batch in planned:
            user, session = batch[0].group
            events.put_events(
                trackingId=tracking_id,
                userId=user,
                sessionId=session,
                eventList=[row.record for row in batch],
            )
        bare.append(time.perf_counter() - started)
        _, _, tracking_id = _group(emulator, f"tool-{attempt}")
        started = time.perf_counter()
        summary = record.record_file(path, "events", {"trackingId": tracking_id}, events, rate=0)
        tool.append(time.perf_counter() - started)
        assert summary.accepted == rows and summary.calls == len(planned)
    fastest_bare, fastest_tool = min(bare), min(tool)
    return [
        [
            "bare put_events loop (baseline)",
            f"{len(planned):,}",
            f"{fastest_bare:.2f}",
            f"{rows / fastest_bare:,.0f}",
            "1.00",
        ],
        [
            "personalize_tools.record",
            f"{len(planned):,}",
            f"{fastest_tool:.2f}",
            f"{rows / fastest_tool:,.0f}",
            f"{fastest_tool / fastest_bare:.2f}",
        ],
    ]


def bench_recommendations(emulator: EmulatorServer, sizes: Sequence[int]) -> list[list[str]]:
    runtime = _client(emulator, "personalize-runtime")
    personalize = _client(emulator, "personalize")
    results: list[tuple[int, float]] = []
    for size in sizes:
        group, dataset_arn, _ = _group(emulator, f"size-{size}")
        with emulator.service.locked():  # the rows PutEvents would add, without timing PutEvents again
            dataset = next(d for d in emulator.service.resources_of(DATASET) if d.arn == dataset_arn)
            dataset.recorded = ImportedData(size, {"View": size}, _rows(size))
        arn = personalize.create_recommender(
            name=f"size-{size}",
            datasetGroupArn=group,
            recipeArn=domain.RECIPES["aws-ecomm-recommended-for-you"].arn,
        )["recommenderArn"]
        personalize.describe_recommender(recommenderArn=arn)
        timings = []
        for call in range(CALLS_PER_SIZE):
            started = time.perf_counter()
            runtime.get_recommendations(recommenderArn=arn, userId=f"user-{call}", numResults=25)
            timings.append(time.perf_counter() - started)
        results.append((size, statistics.median(timings)))
    baseline = results[0][1]
    return [[f"{size:,}", f"{seconds * 1000:.1f}", f"{seconds / baseline:.2f}"] for size, seconds in results]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_record", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 50_000])
    arguments = parser.parse_args(argv)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # the emulator checks no signature
        os.environ.setdefault(name, "testing")
    with (
        tempfile.TemporaryDirectory() as folder,
        EmulatorServer(pace=Pace.instant(), region=REGION) as emulator,
    ):
        print(f"Recording {arguments.rows:,} interactions into the emulator's PutEvents:")
        print(
            format_table(
                ["how", "calls", "seconds", "events/s", "ratio"],
                bench_recording(emulator, arguments.rows, Path(folder)),
            )
        )
        print(f"\nGetRecommendations (aws-ecomm-recommended-for-you), median of {CALLS_PER_SIZE} calls:")
        print(
            format_table(
                ["interactions held", "ms", "ratio to the first"],
                bench_recommendations(emulator, arguments.sizes),
            )
        )


if __name__ == "__main__":
    main()
