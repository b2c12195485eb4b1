#!/usr/bin/env python3
"""The CDK app: `cdk synth -c env=NAME` builds the stack for config/NAME.yaml (default: dev)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from config import ConfigError, EnvironmentConfig, load_environment
from stacks.personalize_stack import PersonalizeStack


def create_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """Build the app for the environment named by the `env` context; raises ConfigError on bad config.

    The feature flags in cdk.json apply in-process too (tests, the local deployer), not only under the CLI.
    """
    flags = json.loads((Path(__file__).parent / "cdk.json").read_text())["context"]
    app = cdk.App(context={**flags, **(context or {})}, outdir=outdir)
    config = load_environment(str(app.node.try_get_context("env") or "dev"))
    add_environment(app, config)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def add_environment(scope: cdk.App, config: EnvironmentConfig) -> PersonalizeStack:
    return PersonalizeStack(
        scope,
        config.stack_name,
        config=config,
        env=cdk.Environment(
            account=config.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=config.region or os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )


def main() -> None:
    try:
        app = create_app()
    except ConfigError as error:
        sys.exit(f"config error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
