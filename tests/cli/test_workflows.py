"""The GitHub Actions workflows: actionlint-clean, OIDC only, and the rollout's order and environments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.pipeline import load_rollout
from tests import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
ROLLOUT = load_rollout("rollout.example")
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"


def _workflow(name: str) -> dict[str, Any]:
    # PyYAML reads the `on:` key as True (YAML 1.1); nothing here needs it.
    return dict(yaml.safe_load((WORKFLOWS / name).read_text()))


def _actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, paths)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_actionlint_passes_on_every_workflow() -> None:
    workflows = sorted(WORKFLOWS.glob("*.yml"))
    assert {path.name for path in workflows} >= {"ci.yml", "deploy.yml"}
    result = _actionlint(*workflows)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_property }}\n"
    )
    result = _actionlint(broken)
    assert result.returncode == 1
    assert "no_such_property" in result.stdout


def test_ci_runs_make_test_on_pull_requests_with_cached_installs() -> None:
    ci = _workflow("ci.yml")
    assert "pull_request" in ci[True]
    steps = ci["jobs"]["test"]["steps"]
    assert any(step.get("run", "").startswith("make test") for step in steps)
    setup = yaml.safe_load((PROJECT_ROOT / ".github" / "actions" / "setup" / "action.yml").read_text())
    caches = {step["with"].get("cache") for step in setup["runs"]["steps"] if "with" in step}
    assert caches == {"pip", "npm"}


def test_deploy_jobs_follow_the_rollout_waves_in_order() -> None:
    jobs = _workflow("deploy.yml")["jobs"]
    previous = None
    for wave, environments in ROLLOUT.waves:
        job = jobs[wave.name]
        assert job["strategy"]["matrix"]["environment"] == [environment.name for environment in environments]
        assert job["environment"] == "${{ matrix.environment }}"
        assert job.get("needs") == previous
        previous = wave.name


def test_pull_requests_diff_every_environment_of_the_rollout() -> None:
    diff = _workflow("deploy.yml")["jobs"]["diff"]
    assert diff["if"] == "github.event_name == 'pull_request'"
    assert diff["strategy"]["matrix"]["environment"] == [
        environment.name for environment in ROLLOUT.environments
    ]
    commands = " ".join(step.get("run", "") for step in diff["steps"])
    assert "npx cdk diff" in commands
    assert "GITHUB_STEP_SUMMARY" in commands


@pytest.mark.parametrize("job_name", ["diff", *(wave.name for wave, _ in ROLLOUT.waves)])
def test_aws_credentials_come_from_oidc_only(job_name: str) -> None:
    job = _workflow("deploy.yml")["jobs"][job_name]
    assert job["permissions"]["id-token"] == "write"
    (credentials,) = [step for step in job["steps"] if step.get("uses", "").startswith(CREDENTIALS_ACTION)]
    assert set(credentials["with"]) == {"role-to-assume", "aws-region"}
    expected = "diff_role_arn" if job_name == "diff" else "deploy_role_arn"
    assert credentials["with"]["role-to-assume"] == f"${{{{ steps.target.outputs.{expected} }}}}"
