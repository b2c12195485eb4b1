"""What IAM enforcement costs per Personalize call, as ratios to the same calls without it.

Three emulators side by side, each reading S3, STS and IAM from one moto server: without IAM (the
baseline), with IAM called by the dummy `testing` keys (an administrator: one cached identity lookup),
and with IAM called as an assumed role that holds the handler role's policies (every call reads the
role's policies from moto and evaluates them). Each answers the same DescribeDatasetGroup calls; the
best of several rounds is reported. Prints; asserts nothing.

    .venv/bin/python -m benchmarks.bench_iam [--calls 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from personalize_tools.emulator import EmulatorServer, Pace
from personalize_tools.localdeploy.report import format_table

REGION = "us-east-1"
ACCOUNT = "123456789012"
ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}"
# Shaped like the synthesized handler role: one scope policy, three data reads, the default policy.
HANDLER_LIKE_POLICIES = {
    "Personalize-pz-bench": [
        {
            "Effect": "Allow",
            "Action": ["personalize:DescribeDatasetGroup"],
            "Resource": f"{ARN}:dataset-group/pz-bench_*",
        },
        {"Effect": "Allow", "Action": ["personalize:CreateSchema"], "Resource": f"{ARN}:schema/pz-bench_*"},
        {"Effect": "Allow", "Action": ["personalize:ListDatasets"], "Resource": "*"},
    ],
    **{
        f"ReadData{index}": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b/k{index}"}
        ]
        for index in range(1, 4)
    },
    "DefaultPolicy": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
}


def _client(url: str, **credentials: str) -> Any:
    return boto3.client(
        "personalize",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=credentials.get("key", "testing"),
        aws_secret_access_key=credentials.get("secret", "testing"),
        aws_session_token=credentials.get("token"),
    )


def _role_credentials(moto_url: str) -> dict[str, str]:
    dummy = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    iam = boto3.client("iam", endpoint_url=moto_url, region_name=REGION, **dummy)
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
    }
    role = iam.create_role(RoleName="bench-handler", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    for name, statements in HANDLER_LIKE_POLICIES.items():
        document = json.dumps({"Version": "2012-10-17", "Statement": statements})
        iam.put_role_policy(RoleName="bench-handler", PolicyName=name, PolicyDocument=document)
    sts = boto3.client("sts", endpoint_url=moto_url, region_name=REGION, **dummy)
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="bench")["Credentials"]
    return {
        "key": credentials["AccessKeyId"],
        "secret": credentials["SecretAccessKey"],
        "token": credentials["SessionToken"],
    }


def _seconds_per_call(client: Any, arn: str, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        client.describe_dataset_group(datasetGroupArn=arn)
    return (time.perf_counter() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    role = _role_credentials(moto_url)
    plain = EmulatorServer(pace=Pace.instant(), s3_endpoint_url=moto_url).start()
    strict = EmulatorServer(pace=Pace.instant(), s3_endpoint_url=moto_url, iam_endpoint_url=moto_url).start()
    try:
        rows: list[list[str]] = []
        cases = [
            ("no IAM (baseline)", plain, {}),
            ("IAM, administrator keys", strict, {}),
            ("IAM, assumed handler-like role", strict, role),
        ]
        targets = []
        for index, (_, server, credentials) in enumerate(cases):
            arn = _client(server.url).create_dataset_group(name=f"pz-bench_{index}", domain="ECOMMERCE")[
                "datasetGroupArn"
            ]
            client = _client(server.url, **credentials)
            _seconds_per_call(client, arn, 10)  # warm up: connections, caches
            targets.append((client, arn))
        best = [float("inf")] * len(cases)
        for _ in range(args.rounds):  # interleaved, so load on the machine hits every case alike
            for index, (client, arn) in enumerate(targets):
                best[index] = min(best[index], _seconds_per_call(client, arn, args.calls))
        for (label, _, _), seconds in zip(cases, best, strict=True):
            rows.append([label, f"{seconds * 1000:.2f}", f"{seconds / best[0]:.2f}"])
        print(f"DescribeDatasetGroup, best of {args.rounds} rounds of {args.calls} calls\n")
        print(format_table(["emulator", "ms per call", "ratio to baseline"], rows))
    finally:
        plain.stop()
        strict.stop()
        moto.stop()


if __name__ == "__main__":
    main()
