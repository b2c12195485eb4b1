"""Synthesis cost of `cdk synth -c env=dev` and of the rollout app, against the floor of CDK Python.

First, through the CDK CLI (what `make synth ENV=dev` runs after `make sample-data`): the dev
environment's synth against a one-bucket CDK Python app's, best of `--repeat` runs each, the rows taking
turns; once with data that already passed the full validation (the usual synth: no pyarrow, no polars),
once with data the validator has not seen (the stamps in .personalize-local/validated/ removed first),
and against the target (TARGET x the plain floor, wall and CPU). Two more rows say what the app's Node.js
tuning (run_app.py) buys: the floor given the same tuning, and dev with Node.js's defaults.
Then, in-process, the rollout app with 1, 5 and 20 environments (tuned as run_app.py tunes it, and 20 with
Node.js's defaults): each measurement a fresh subprocess (imports, jsii's Node.js process and all), with
time and peak memory as ratios to the floor, plus where the time goes: importing aws_cdk, building the
construct tree, and synthesis (with cdk-nag's checks).

    .venv/bin/python -m benchmarks.bench_synth [--environments 1 5 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks._measure import Measurement, best_measurement, measure
from run_app import NODE_TUNING_SWITCH, PROJECT_ROOT, node_tuning_environment

REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
CDK_CLI = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
FLOOR_APP = """
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
s3.Bucket(cdk.Stack(app, "Floor"), "Bucket")
app.synth()
"""
TARGET = 1.25  # issue 11: `make synth ENV=dev` at most 1.25x the floor, through the same CLI
# The environment run_app.py gives the app's Node.js processes, and the one that leaves Node.js's defaults.
TUNED = node_tuning_environment(os.environ)
DEFAULTS = {NODE_TUNING_SWITCH: "off"}


def cli_synth(kind: str, env: dict[str, str] | None = None) -> Measurement:
    """One `cdk synth --quiet` of the floor app or of `-c env=dev`, through the project's pinned CLI."""
    from app import VALIDATED_STAMPS  # the dev app's own stamp folder: emptied for the "unseen" row

    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        command = [str(CDK_CLI), "synth", "--quiet", "--output", str(workdir / "cdk.out")]
        if kind in ("floor", "floor-tuned"):
            # Tuned as run_app.py tunes dev: inside the app's process (so jsii's Node.js inherits it), never
            # in the CLI's own Node.js process, which the dev rows leave untuned too.
            prelude = f"import os\nos.environ.update({TUNED!r})\n" if kind == "floor-tuned" else ""
            (workdir / "floor_app.py").write_text(prelude + FLOOR_APP)
            (workdir / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} floor_app.py"}))
            cwd = workdir
        else:
            command += ["-c", "env=dev"]
            cwd = PROJECT_ROOT
            if kind == "dev-unseen":
                shutil.rmtree(VALIDATED_STAMPS, ignore_errors=True)
        result = measure(command, cwd=cwd, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed in {cwd}")
        return result


def compare_cli(repeat: int) -> None:
    from config import load_environment
    from personalize_tools.sample_data import write_environment_samples

    write_environment_samples(load_environment("dev", check_data=False))  # as make synth does first
    cli_synth("dev")  # the data passes once, so the "seen" row measures the usual synth
    rows: list[tuple[str, str, dict[str, str] | None]] = [
        ("floor (1 bucket)", "floor", None),
        ("dev, data seen", "dev", None),
        ("dev, data unseen", "dev-unseen", None),
        ("floor, app's tuning", "floor-tuned", None),
        ("dev, Node.js defaults", "dev", DEFAULTS),
    ]
    runs: dict[str, list[Measurement]] = {label: [] for label, _, _ in rows}
    for _ in range(max(1, repeat)):  # the rows take turns, so a change in the machine's load hits them all
        for label, kind, env in rows:
            runs[label].append(cli_synth(kind, env))
    best = {label: best_measurement(measured) for label, measured in runs.items()}
    floor = best["floor (1 bucket)"]
    # CPU time (user + system of the CLI, Python and jsii's Node.js) moves less than wall time when other
    # processes share the cores; both are ratios to the plain floor measured in the same run.
    print(f"cdk synth through the CLI, best of {repeat}, load average {os.getloadavg()[0]:.1f} at the end")
    ratio = f"{'x floor':>8}"
    print(f"{'app':<22} {'wall s':>8} {ratio} {'CPU s':>8} {ratio} {'peak MiB':>9} {ratio}")
    for label, row in best.items():
        print(
            f"{label:<22} {row.seconds:>8.1f} {row.seconds / floor.seconds:>8.2f} {row.cpu_seconds:>8.1f} "
            f"{row.cpu_seconds / floor.cpu_seconds:>8.2f} {row.peak_rss_mb:>9.0f} "
            f"{row.peak_rss_mb / floor.peak_rss_mb:>8.2f}"
        )
    for label in ("dev, data seen", "dev, data unseen"):
        wall, cpu = best[label].seconds / floor.seconds, best[label].cpu_seconds / floor.cpu_seconds
        verdict = "met" if max(wall, cpu) <= TARGET else "missed"
        print(f"target <= {TARGET:.2f}x the floor, {label}: wall {wall:.2f}x, CPU {cpu:.2f}x: {verdict}")
    print()


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
        from app import add_pipeline, warm_template_validation

        warm_template_validation()  # as create_app does, before any construct library loads
        from cdk_nag import AwsSolutionsChecks

        from config.pipeline import load_rollout

        config_dir = workdir / "config"
        add_pipeline(app, load_rollout("bench", directory=config_dir / "pipelines", config_dir=config_dir))
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    built = time.perf_counter()
    app.synth()
    done = time.perf_counter()
    phases = {"import": imported - started, "build": built - imported, "synth": done - built}
    (workdir / "phases.json").write_text(json.dumps(phases))


def run(kind: str, environments: int, env: dict[str, str] | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        if kind == "app":
            _write_rollout(workdir, environments)
        command = [sys.executable, "-m", "benchmarks.bench_synth", "--child", kind, directory]
        result = measure(command, cwd=PROJECT_ROOT, env=env)
        phases = json.loads((workdir / "phases.json").read_text())
    return {"wall": result.seconds, "cpu": result.cpu_seconds, "peak_mib": result.peak_rss_mb, **phases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environments", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--repeat", type=int, default=3, help="CLI runs per row; the fastest counts")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return

    compare_cli(args.repeat)
    floor = run("floor", 0)
    rows = [("floor (1 bucket)", floor)]
    # As `cdk synth -c pipeline=NAME` runs them: through run_app.py, so with its Node.js tuning.
    rows += [(f"{n} environment(s)", run("app", n, TUNED)) for n in sorted(args.environments)]
    most = max(args.environments)
    defaults = (f"{most} env., defaults", run("app", most, DEFAULTS))  # what the tuning does to a long run
    ratio = f"{'x floor':>8}"
    header = f"{'app':<20} {'wall s':>8} {ratio} {'CPU s':>8} {ratio} {'peak MiB':>9} {ratio}"
    print(f"{header}   import / build / synth s")
    for label, row in [*rows, defaults]:
        print(
            f"{label:<20} {row['wall']:>8.1f} {row['wall'] / floor['wall']:>8.2f} {row['cpu']:>8.1f} "
            f"{row['cpu'] / floor['cpu']:>8.2f} {row['peak_mib']:>9.0f} "
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
