"""The one-time AWS side of deploying from GitHub Actions: an OIDC provider and two roles per environment.

`npx cdk deploy -c env=NAME -c github_oidc=OWNER/REPO` in the environment's account. The deploy role
trusts only jobs of the GitHub environment named NAME (where production's required reviewers sit);
the diff role only pull-request jobs. Neither holds AWS permissions of its own: each may only assume
the CDK bootstrap roles of its account and region, which carry out the deployment or the diff.

`python -m stacks.github_oidc_stack NAME` prints what the workflow needs (account, region, role ARNs)
in GitHub's `key=value` output format, derived from config/NAME.yaml.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from config import ConfigError, EnvironmentConfig, load_environment

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# The bootstrap roles `cdk deploy` assumes (DefaultStackSynthesizer): publishing assets, deploying, lookups.
DEPLOY_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
# `cdk diff --method template` reads the deployed template through the read-only lookup role.
DIFF_BOOTSTRAP_ROLES = ("lookup",)


def deploy_role_name(config: EnvironmentConfig) -> str:
    return f"{config.resource_name_prefix}-github-deploy"


def diff_role_name(config: EnvironmentConfig) -> str:
    return f"{config.resource_name_prefix}-github-diff"


def oidc_stack_name(config: EnvironmentConfig) -> str:
    return f"{config.resource_name_prefix}-github-oidc"


def bootstrap_role_arn(account: str, region: str, role: str, partition: str = "aws") -> str:
    qualifier = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
    return f"arn:{partition}:iam::{account}:role/cdk-{qualifier}-{role}-role-{account}-{region}"


def workflow_outputs(config: EnvironmentConfig) -> dict[str, str]:
    """What a workflow job needs for configure-aws-credentials, from the environment's config."""
    if not config.account or not config.region:
        raise ConfigError(f"config/{config.name}.yaml must set account and region to deploy from GitHub")
    return {
        "account": config.account,
        "region": config.region,
        "deploy_role_arn": f"arn:aws:iam::{config.account}:role/{deploy_role_name(config)}",
        "diff_role_arn": f"arn:aws:iam::{config.account}:role/{diff_role_name(config)}",
    }


class GitHubOidcStack(cdk.Stack):
    """GitHub's OIDC provider (or an existing one) and the environment's deploy and diff roles."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        repository: str,
        provider_arn: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if not REPOSITORY_PATTERN.fullmatch(repository):
            raise ConfigError(f"github_oidc: {repository!r} is not a GitHub repository OWNER/NAME")
        if provider_arn is None:
            # An account holds one provider per URL: pass -c github_oidc_provider_arn=ARN if it has one.
            provider = iam.CfnOIDCProvider(
                self, "GitHubProvider", url=GITHUB_OIDC_URL, client_id_list=[STS_AUDIENCE]
            )
            provider_arn = provider.attr_arn
        self.deploy_role = self._role(
            "DeployRole",
            deploy_role_name(config),
            provider_arn,
            subject=f"repo:{repository}:environment:{config.name}",
            bootstrap_roles=DEPLOY_BOOTSTRAP_ROLES,
            description=f"GitHub Actions deploys {config.stack_name} from {repository} ({config.name})",
        )
        self.diff_role = self._role(
            "DiffRole",
            diff_role_name(config),
            provider_arn,
            subject=f"repo:{repository}:pull_request",
            bootstrap_roles=DIFF_BOOTSTRAP_ROLES,
            description=f"GitHub Actions diffs {config.stack_name} on pull requests of {repository}",
        )
        cdk.CfnOutput(self, "DeployRoleArn", value=self.deploy_role.role_arn)
        cdk.CfnOutput(self, "DiffRoleArn", value=self.diff_role.role_arn)

    def _role(
        self,
        construct_id: str,
        role_name: str,
        provider_arn: str,
        *,
        subject: str,
        bootstrap_roles: tuple[str, ...],
        description: str,
    ) -> iam.Role:
        role = iam.Role(
            self,
            construct_id,
            role_name=role_name,
            description=description,
            max_session_duration=cdk.Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(
                provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subject,
                    }
                },
            ),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                resources=[
                    bootstrap_role_arn(self.account, self.region, name, self.partition)
                    for name in bootstrap_roles
                ],
            )
        )
        return role


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        sys.stderr.write("usage: python -m stacks.github_oidc_stack ENV\n")
        return 2
    try:
        outputs = workflow_outputs(load_environment(arguments[0], check_data=False))
    except ConfigError as error:
        sys.stderr.write(f"config error: {error}\n")
        return 2
    sys.stdout.write("".join(f"{key}={value}\n" for key, value in outputs.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
