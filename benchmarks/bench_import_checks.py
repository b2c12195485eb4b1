"""The import flow's row checks (plain Python, as in Lambda) against reading the same bytes without checks.

An Interactions CSV goes into moto's S3 (over HTTP, as the Lambda reads S3); then, side by side in this
run, the same ranged GETs with no checks (the baseline) and `rows.check_rows`. The ratio is the checks'
cost; MB/s says how long MAX_CHECKED_BYTES takes on this machine (a 1,024 MB Lambda gets less CPU).
Prints; asserts nothing.

    .venv/bin/python -m benchmarks.bench_import_checks [--megabytes 64]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from lambda_handlers.personalize import domain_rules
from lambda_handlers.personalize.flow import rows

REGION = "us-east-1"
BUCKET = "bench-import-checks"
KEY = "incoming/interactions/bench.csv"


def _csv(megabytes: int) -> bytes:
    chooser = random.Random(7)
    lines = [",".join(("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"))]
    size = 0
    while size < megabytes * 1024 * 1024:
        timestamp = 1_700_000_000 + chooser.randrange(10**7)
        line = f"user-{chooser.randrange(100_000)},item-{chooser.randrange(20_000)},{timestamp},View"
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def _read_only(s3: Any, size: int) -> None:
    for _ in rows._chunks(s3, BUCKET, KEY, version_id=None, end=size):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        body = _csv(args.megabytes)
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
        schema = domain_rules.default_schema_json("ECOMMERCE")

        started = time.perf_counter()
        _read_only(s3, len(body))
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        report = rows.check_rows(
            s3,
            bucket=BUCKET,
            key=KEY,
            version_id=None,
            size=len(body),
            schema=schema,
            dataset_type="INTERACTIONS",
        )
        checked = time.perf_counter() - started
    finally:
        server.stop()
    megabytes = len(body) / 1024 / 1024
    print(f"object: {megabytes:.1f} MiB, {report.rows} rows, findings: {sorted(report.findings) or 'none'}")
    print(f"ranged GETs only (baseline): {baseline:.2f} s")
    print(f"check_rows:                  {checked:.2f} s ({checked / baseline:.1f}x the baseline)")
    rate = megabytes / checked
    limit = rows.MAX_CHECKED_BYTES >> 20
    print(
        f"check rate: {rate:.1f} MiB/s; MAX_CHECKED_BYTES ({limit} MiB) takes about {limit / rate:.0f} s here"
    )


if __name__ == "__main__":
    main()
