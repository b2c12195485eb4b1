"""The GitHub OIDC roles stack: trusted only by this repository's jobs, only able to assume CDK's roles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import app as app_module
from config import ConfigError, load_environment
from stacks.github_oidc_stack import bootstrap_role_arn, main, oidc_stack_name, workflow_outputs
from tests.stacks.nag_lint import cfn_lint

REPOSITORY = "example-org/personalize-domain-cdk"
ENVIRONMENT = "prod.example"


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("oidc")
    app_module.create_app({"env": ENVIRONMENT, "github_oidc": REPOSITORY}, outdir=str(directory)).synth()
    return directory


@pytest.fixture(scope="module")
def resources(outdir: Path) -> dict[str, Any]:
    name = oidc_stack_name(load_environment(ENVIRONMENT, check_data=False))
    return json.loads((outdir / f"{name}.template.json").read_text())["Resources"]


def _by_type(resources: dict[str, Any], iam_type: str) -> dict[str, Any]:
    return {key: r for key, r in resources.items() if r["Type"] == f"AWS::IAM::{iam_type}"}


def _roles(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["RoleName"]: r for r in _by_type(resources, "Role").values()}


def test_only_the_oidc_stack_is_synthesized(outdir: Path) -> None:
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert len(stacks) == 1


def test_cdk_nag_and_cfn_lint_are_clean_without_acknowledgements(outdir: Path) -> None:
    """cdk-nag writes a plugin report only when it has findings or acknowledgements: none here."""
    report = json.loads((outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []
    result = cfn_lint(outdir)
    assert result.returncode == 0, result.stdout + result.stderr


def test_roles_trust_only_this_repository_environment_or_pull_requests(resources: dict[str, Any]) -> None:
    outputs = workflow_outputs(load_environment(ENVIRONMENT, check_data=False))
    roles = _roles(resources)
    expected = {
        outputs["deploy_role_arn"].rpartition("/")[2]: f"repo:{REPOSITORY}:environment:{ENVIRONMENT}",
        outputs["diff_role_arn"].rpartition("/")[2]: f"repo:{REPOSITORY}:pull_request",
    }
    assert set(roles) == set(expected)
    for name, subject in expected.items():
        (statement,) = roles[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Condition"] == {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": subject,
            }
        }


def test_deploy_role_may_assume_the_cdk_bootstrap_roles_and_diff_role_only_lookup(
    resources: dict[str, Any],
) -> None:
    config = load_environment(ENVIRONMENT, check_data=False)
    assert config.account and config.region
    roles = {logical_id: r["Properties"]["RoleName"] for logical_id, r in _by_type(resources, "Role").items()}
    granted: dict[str, set[str]] = {}
    for policy in _by_type(resources, "Policy").values():
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRole")
        arns = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for role in policy["Properties"]["Roles"]:
            granted[roles[role["Ref"]]] = set(arns)

    def arns(*names: str) -> set[str]:
        return {bootstrap_role_arn(config.account or "", config.region or "", name) for name in names}

    assert granted == {
        "pz-prod-example-github-deploy": arns("deploy", "file-publishing", "image-publishing", "lookup"),
        "pz-prod-example-github-diff": arns("lookup"),
    }


def test_outputs_for_the_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([ENVIRONMENT]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["deploy_role_arn"] == "arn:aws:iam::111111111111:role/pz-prod-example-github-deploy"
    assert lines["region"] == "eu-west-1"


def test_an_environment_without_account_is_refused() -> None:
    with pytest.raises(ConfigError, match="must set account and region"):
        workflow_outputs(load_environment("dev", check_data=False))


def test_a_bad_repository_is_refused() -> None:
    with pytest.raises(ConfigError, match="is not a GitHub repository"):
        app_module.create_app({"env": ENVIRONMENT, "github_oidc": "not a repo"})
