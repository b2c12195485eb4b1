"""Synthesis cost of the rollout app with 1, 5 and 20 environments, against the floor of CDK Python.

Each measurement runs in a fresh subprocess (imports, jsii's Node.js process and all), side by side
with a minimal one-bucket CDK Python app synthesized the same way in the same run, and reports
time and peak memory as ratios to it, plus where the time goes: importing aws_cdk, building the
construct tree, and synthesis (which includes cdk-nag's validation).

    .venv/bin/python -m benchmarks.bench_synth [--environments 1 5 20] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks._measure import measure

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")


def _write_rollout(directory: Path, environments: int) -> None:
    """N environments over three regions and accounts, in waves of up to five."""
    config_dir = directory / "config"
    pipelines = config_dir / "pipelines"
    pipelines.mkdir(parents=True)
    names = [f"env{index:02d}" for index in range(environments)]
    for index, name in enumerate(names):
        (config_dir / f"{name}.yaml").write_text(
            yaml.safe_dump(
                {
                    "account": f"{100000000000 + index % 3:012d}",
                    "region": REGIONS[index % len(REGIONS)],
                    "name_prefix": "pz",
                    "domain": "ECOMMERCE",
                    "data_source": {"bucket_key": "imports/"},
                    "kms": "create",
                    "requires_approval": index > 0,
                }
            )
        )
    waves = [{"name": f"wave{n}", "environments": names[n : n + 5]} for n in range(0, len(names), 5)]
    source = {
        "connection": {
            "connection_arn": "arn:aws:codeconnections:eu-west-1:999999999999:connection/bench",
            "repository": "org/repo",
        }
    }
    (pipelines / "bench.yaml").write_text(
        yaml.safe_dump(
            {
                "account": "999999999999",
                "region": "eu-west-1",
                "name_prefix": "pz",
                "source": source,
                "waves": waves,
            }
        )
    )


def child(kind: str, workdir: Path) -> None:
    """Runs in the measured subprocess: import, build, synthesize; writes phase timings to phases.json."""
    started = time.perf_counter()
    import aws_cdk as cdk  # imported here on purpose: the import is a phase we time

    imported = time.perf_counter()
    app = cdk.App(outdir=str(workdir / "cdk.out"))
    if kind == "floor":
        from aws_cdk import aws_s3 as s3

        s3.Bucket(cdk.Stack(app, "Floor"), "Bucket")
    else:
        from cdk_nag import AwsSolutionsChecks

        from app import add_pipeline
        from config.pipeline import load_rollout

        config_dir = workdir / "config"
        add_pipeline(app, load_rollout("bench", directory=config_dir / "pipelines", config_dir=config_dir))
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    built = time.perf_counter()
    app.synth()
    done = time.perf_counter()
    phases = {"import": imported - started, "build": built - imported, "synth": done - built}
    (workdir / "phases.json").write_text(json.dumps(phases))


def run(kind: str, environments: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        if kind == "app":
            _write_rollout(workdir, environments)
        command = [sys.executable, "-m", "benchmarks.bench_synth", "--child", kind, directory]
        result = measure(command, cwd=PROJECT_ROOT)
        phases = json.loads((workdir / "phases.json").read_text())
    return {"wall": result.seconds, "peak_mib": result.peak_rss_mb, **phases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environments", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return

    floor = run("floor", 0)
    rows = [("floor (1 bucket)", floor)]
    rows += [(f"{n} environment(s)", run("app", n)) for n in sorted(args.environments)]
    header = f"{'app':<20} {'wall s':>8} {'x floor':>8} {'peak MiB':>9} {'x floor':>8}"
    print(f"{header}   import / build / synth s")
    for label, row in rows:
        print(
            f"{label:<20} {row['wall']:>8.1f} {row['wall'] / floor['wall']:>8.2f} {row['peak_mib']:>9.0f} "
            f"{row['peak_mib'] / floor['peak_mib']:>8.2f}   "
            f"{row['import']:.1f} / {row['build']:.1f} / {row['synth']:.1f}"
        )
    app_rows = [(n, row) for n, (_, row) in zip(sorted(args.environments), rows[1:], strict=True)]
    if len(app_rows) >= 2:
        (n0, first), (n1, last) = app_rows[0], app_rows[-1]
        slope = (last["wall"] - first["wall"]) / (n1 - n0)
        print(f"slope: {slope:.2f} s per added environment ({slope / floor['wall']:.2f} x floor)")


if __name__ == "__main__":
    main()
