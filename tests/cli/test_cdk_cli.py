"""The plain CDK CLI, as a CDK user runs it, offline: `cdk ls`, `cdk synth` and `cdk diff` with no stack name.

Each test runs the pinned CLI (node_modules) through cdk.json, without AWS credentials. `cdk diff`
compares against a synthesized baseline template (`--template`), the CLI's offline mode.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from config import load_environment
from personalize_tools.localdeploy.cli import synthesize_config
from tests.cli.support import run_cdk

DEV_STACK = load_environment("dev", check_data=False).stack_name


@pytest.fixture(scope="module")
def baseline_without_tracker(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Path:
    """dev's template as it was before the event tracker was added: a real, synthesized older version."""
    config = load_environment("dev").model_copy(update={"event_tracker": False})
    directory = tmp_path_factory.mktemp("baseline")
    artifact = synthesize_config(config, directory / "cdk.out")
    baseline = directory / "baseline.json"
    baseline.write_text(json.dumps(artifact.template))
    return baseline


@pytest.fixture(scope="module")
def synthesized(
    tmp_path_factory: pytest.TempPathFactory, sample_data: Path
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`cdk synth -c env=dev` run once: its output is checked, and its assembly is what `--app` diffs."""
    outdir = tmp_path_factory.mktemp("synth")
    return run_cdk("synth", "-c", "env=dev", outdir=outdir), outdir


def test_ls_lists_the_environment_stack_alone(tmp_path: Path, sample_data: Path) -> None:
    result = run_cdk("ls", "-c", "env=dev", outdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [DEV_STACK]


def test_synth_without_a_stack_name_prints_the_template(
    synthesized: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, outdir = synthesized
    assert result.returncode == 0, result.stderr
    assert "Custom::PersonalizeDatasetGroup" in result.stdout
    assert (outdir / f"{DEV_STACK}.template.json").is_file()


def test_diff_without_a_stack_name_reports_the_real_difference(
    tmp_path: Path, baseline_without_tracker: Path
) -> None:
    result = run_cdk("diff", "-c", "env=dev", "--template", str(baseline_without_tracker), outdir=tmp_path)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Number of stacks with differences: 1" in output
    assert "[+] Custom::PersonalizeEventTracker" in output
    assert "[+] Output TrackingId" in output


def test_diff_fail_exits_1_on_a_difference_and_0_without(
    tmp_path: Path, baseline_without_tracker: Path, synthesized: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    """`--fail` is what a CI job checks; the module's one assembly is diffed twice with --app."""
    synth, outdir = synthesized
    assert synth.returncode == 0, synth.stderr
    same = tmp_path / "same.json"
    same.write_text((outdir / f"{DEV_STACK}.template.json").read_text())

    changed = run_cdk("diff", "--app", str(outdir), "--fail", "--template", str(baseline_without_tracker))
    unchanged = run_cdk("diff", "--app", str(outdir), "--fail", "--template", str(same))

    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "Number of stacks with differences: 1" in changed.stdout + changed.stderr
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "Number of stacks with differences: 0" in unchanged.stdout + unchanged.stderr


def test_pipeline_app_lists_the_pipeline_and_its_region_support_stack_at_the_top(tmp_path: Path) -> None:
    """docs/pipeline.md deploys with `--all`, which selects the top-level stacks, not the stages' stacks."""
    result = run_cdk("ls", "-c", "pipeline=rollout.example", outdir=tmp_path)
    assert result.returncode == 0, result.stderr
    top_level = [line.split()[0] for line in result.stdout.splitlines() if "/" not in line.split()[0]]
    assert top_level == ["pz-rollout-example-pipeline", "cross-region-stack-333333333333:us-east-1"]
