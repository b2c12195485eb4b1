"""Local deploy against the critical path of the emulator's pace, and Personalize API calls per deploy.

The emulator is paced like the service, scaled down (default: dataset group 2 s, dataset 2 s, import
job 4 s, event tracker 2 s, delete 1 s). No schedule can deploy faster than the longest chain of those
durations through the stack's dependency graph, so the wall time is reported as a ratio to it (1.0 is
the limit; the rest is polling granularity, handler processes and moto). Each query interval gets a
fresh stack: deploy, a no-change deploy, destroy. Then the Personalize calls of one deploy, per
resource type, from the emulator's call counts (status display off, so only the handlers' calls count).
Prints; asserts nothing.

    .venv/bin/python -m benchmarks.bench_deploy [--query-interval 1 0.25] [--duration import_job=8]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from moto.server import ThreadedMotoServer

from config import load_file
from personalize_tools.emulator import EmulatorServer, Pace
from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.cli import synthesize_config
from personalize_tools.localdeploy.engine import DeployOptions, LocalDeployer, dependency_graph
from personalize_tools.localdeploy.events import EventLog
from personalize_tools.localdeploy.graph import critical_path, reverse
from personalize_tools.localdeploy.report import format_table
from personalize_tools.localdeploy.state import StateStore
from personalize_tools.sample_data import generate_interactions

SCALED_PACE = {
    "dataset_group": 2.0,
    "dataset": 2.0,
    "import_job": 4.0,
    "event_tracker": 2.0,
    "recommender": 6.0,
    "delete": 1.0,
    "dataset_update": 2.0,
}
# Which pace duration a resource type waits for; Personalize schemas have no status.
CREATE_PACE = {
    "Custom::PersonalizeDatasetGroup": "dataset_group",
    "Custom::PersonalizeDataset": "dataset",
    "Custom::PersonalizeDatasetImportJob": "import_job",
    "Custom::PersonalizeEventTracker": "event_tracker",
    "Custom::PersonalizeRecommender": "recommender",
}
DELETED_WITH_PACE = (
    "Custom::PersonalizeDatasetGroup",
    "Custom::PersonalizeDataset",
    "Custom::PersonalizeEventTracker",
)
# Operation name → the resource type it serves, most specific first.
OPERATION_TYPES = (
    ("DatasetImportJob", "DatasetImportJob"),
    ("DatasetGroup", "DatasetGroup"),
    ("Dataset", "Dataset"),
    ("Schema", "Schema"),
    ("EventTracker", "EventTracker"),
    ("Recommender", "Recommender"),
    ("Tag", "(tags)"),
)


@dataclass(frozen=True)
class Run:
    query_interval: float
    deploy_seconds: float
    unchanged_seconds: float
    destroy_seconds: float
    calls: dict[str, int]


def _synthesize(folder: Path) -> StackArtifact:
    data = generate_interactions(folder / "interactions.csv", domain="ECOMMERCE", rows=5000)
    config_file = folder / "bench.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "name_prefix": "bench",
                "domain": "ECOMMERCE",
                "data_source": {"local_path": str(data)},
                "event_tracker": True,
                "removal_policy": "destroy",
            }
        )
    )
    return synthesize_config(load_file(config_file, "deploy"), folder / "cdk.out")


def _durations(artifact: StackArtifact, pace: Mapping[str, float], *, deleting: bool) -> dict[str, float]:
    durations = {}
    for logical_id, resource in artifact.template["Resources"].items():
        kind = resource["Type"]
        if deleting:
            durations[logical_id] = pace["delete"] if kind in DELETED_WITH_PACE else 0.0
        elif kind in CREATE_PACE:
            durations[logical_id] = pace[CREATE_PACE[kind]]
    return durations


def _calls_by_type(calls: Mapping[str, int]) -> dict[str, dict[str, int]]:
    grouped: dict[str, dict[str, int]] = defaultdict(dict)
    for operation, count in sorted(calls.items()):
        kind = next((kind for marker, kind in OPERATION_TYPES if marker in operation), "(other)")
        grouped[kind][operation] = count
    return dict(grouped)


def _measure(
    artifact: StackArtifact, endpoints: Endpoints, emulator: EmulatorServer, state_dir: Path, interval: float
) -> Run:
    deployer = LocalDeployer(
        endpoints,
        store=StateStore(state_dir),
        session="bench",
        events=EventLog(stream=None),
        options=DeployOptions(query_interval=interval, watch_service_status=False),
    )
    emulator.reset()
    started = time.perf_counter()
    deployer.deploy(artifact)
    deployed = time.perf_counter()
    calls = dict(emulator.calls()["calls"])
    deployer.deploy(artifact)
    unchanged = time.perf_counter()
    deployer.destroy(artifact.stack_name)
    destroyed = time.perf_counter()
    return Run(interval, deployed - started, unchanged - deployed, destroyed - unchanged, calls)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_deploy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--query-interval", type=float, nargs="+", default=[1.0, 0.25])
    parser.add_argument(
        "--duration", action="append", default=[], metavar="KIND=SECONDS", help="pace override"
    )
    arguments = parser.parse_args(argv)
    pace = {
        **SCALED_PACE,
        **{k: float(v) for k, _, v in (item.partition("=") for item in arguments.duration)},
    }
    os.environ.update(
        Endpoints(personalize="", aws="").environment()
    )  # dummy credentials for the emulator's S3

    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as temporary:
        folder = Path(temporary)
        print("Synthesizing the benchmark environment ...", flush=True)
        artifact = _synthesize(folder)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per moto request
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        aws_url = f"http://{host}:{port}"
        try:
            with EmulatorServer(pace=Pace().with_durations(pace), s3_endpoint_url=aws_url) as emulator:
                endpoints = Endpoints(personalize=emulator.url, aws=aws_url)
                runs = [
                    _measure(artifact, endpoints, emulator, folder / f"state-{index}", interval)
                    for index, interval in enumerate(arguments.query_interval)
                ]
        finally:
            moto.stop()

    graph = dependency_graph(artifact.template)
    create_durations = _durations(artifact, pace, deleting=False)
    create_path, create_chain = critical_path(graph, create_durations)
    create_chain = [logical_id for logical_id in create_chain if create_durations.get(logical_id)]
    delete_path, _ = critical_path(reverse(graph), _durations(artifact, pace, deleting=True))
    print(f"\nPace (s): {', '.join(f'{k}={v:g}' for k, v in pace.items())}")
    print(f"Critical path of a deploy: {create_path:g} s ({' → '.join(create_chain)})")
    print(f"Critical path of a destroy: {delete_path:g} s\n")
    rows = [
        (
            f"{run.query_interval:g}",
            f"{run.deploy_seconds:.1f}",
            f"{run.deploy_seconds / create_path:.2f}",
            f"{run.unchanged_seconds:.2f}",
            f"{run.destroy_seconds:.1f}",
            f"{run.destroy_seconds / delete_path:.2f}" if delete_path else "-",
        )
        for run in runs
    ]
    headers = (
        "query interval s",
        "deploy s",
        "deploy / path",
        "no-change deploy s",
        "destroy s",
        "destroy / path",
    )
    print(format_table(headers, rows))
    calls = _calls_by_type(runs[-1].calls)
    interval = runs[-1].query_interval
    print(f"\nPersonalize API calls of one deploy (query interval {interval:g} s), by resource type:")
    print(
        format_table(
            ("resource type", "calls", "by operation"),
            [
                (kind, str(sum(operations.values())), ", ".join(f"{op} {n}" for op, n in operations.items()))
                for kind, operations in calls.items()
            ],
        )
    )
    print(f"total {sum(runs[-1].calls.values())}")


if __name__ == "__main__":
    main()
