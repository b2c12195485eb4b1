#!/usr/bin/env python3
"""The CDK app.

`cdk synth -c env=NAME` builds config/NAME.yaml's stack (default: dev) as the app's only top-level
stack, so plain `cdk ls/synth/diff/deploy/destroy` select it; `cdk synth -c pipeline=NAME` builds the
rollout pipeline of config/pipelines/NAME.yaml, which deploys each environment as a CDK Stage.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from config import ConfigError, EnvironmentConfig, load_environment
from config.pipeline import Rollout, load_rollout
from personalize_tools.validate import validate_environment
from stacks.github_oidc_stack import GitHubOidcStack, oidc_stack_name
from stacks.personalize_stack import PersonalizeStack
from stacks.pipeline_stack import PipelineStack


def create_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """Build the app for the environment named by the `env` context; raises ConfigError on bad config.

    The feature flags in cdk.json apply in-process too (tests, the local deployer), not only under the CLI.
    """
    flags = json.loads((Path(__file__).parent / "cdk.json").read_text())["context"]
    app = cdk.App(context={**flags, **(context or {})}, outdir=outdir)
    pipeline = app.node.try_get_context("pipeline")
    github_repository = app.node.try_get_context("github_oidc")
    if github_repository:
        config = load_environment(str(app.node.try_get_context("env") or "dev"), check_data=False)
        add_github_oidc(
            app, config, str(github_repository), app.node.try_get_context("github_oidc_provider_arn")
        )
    elif pipeline:
        rollout = load_rollout(str(pipeline))
        for environment in rollout.environments:
            preflight_local_data(environment)
        add_pipeline(app, rollout)
    else:
        config = load_environment(str(app.node.try_get_context("env") or "dev"))
        preflight_local_data(config)
        add_environment(app, config)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def preflight_local_data(config: EnvironmentConfig) -> None:
    """Data the stack uploads is validated before it synthesizes: invalid data fails synth with the report.

    An hour-long import of a file with millisecond timestamps is the failure this saves.
    """
    local = [kind for kind, plan in config.datasets().items() if plan.local_path is not None]
    if not local:
        return
    report = validate_environment(
        config, dataset_types=local, use_cases=None if "INTERACTIONS" in local else []
    )
    if not report.valid:
        raise ConfigError(
            f"the data config/{config.name}.yaml uploads is not valid for Personalize; fix it or the import "
            f"would fail after deployment:\n{report.render()}"
        )


def add_environment(scope: cdk.App, config: EnvironmentConfig) -> PersonalizeStack:
    """`cdk deploy -c env=NAME`: the environment's stack at the top of the app, named as in the pipeline.

    A top-level stack (not a Stage) because the CDK CLI selects only top-level stacks by default: inside a
    Stage, `cdk diff` selected nothing and reported no differences.
    """
    return PersonalizeStack(
        scope,
        config.stack_name,
        stack_name=config.stack_name,
        config=config,
        env=cdk.Environment(
            account=config.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=config.region or os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )


def add_github_oidc(
    scope: cdk.App, config: EnvironmentConfig, repository: str, provider_arn: str | None
) -> GitHubOidcStack:
    """`cdk deploy -c env=NAME -c github_oidc=OWNER/REPO`: the roles GitHub Actions assumes.

    docs/github-actions.md describes the one-time setup; the app then holds only this stack.
    """
    return GitHubOidcStack(
        scope,
        oidc_stack_name(config),
        config=config,
        repository=repository,
        provider_arn=provider_arn,
        env=cdk.Environment(
            account=config.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=config.region or os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )


def add_pipeline(scope: cdk.App, rollout: Rollout) -> PipelineStack:
    """`cdk deploy -c pipeline=NAME`: the pipeline that rolls the environments out in waves."""
    pipeline = rollout.pipeline
    return PipelineStack(
        scope,
        pipeline.stack_name,
        rollout=rollout,
        env=cdk.Environment(account=pipeline.account, region=pipeline.region),
    )


def main() -> None:
    try:
        app = create_app()
    except ConfigError as error:
        sys.exit(f"config error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
