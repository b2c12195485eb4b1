#!/usr/bin/env python3
"""The CDK app.

`cdk synth -c env=NAME` builds config/NAME.yaml's stack (default: dev) as the app's only top-level
stack, so plain `cdk ls/synth/diff/deploy/destroy` select it; `cdk synth -c pipeline=NAME` builds the
rollout pipeline of config/pipelines/NAME.yaml, which deploys each environment as a CDK Stage.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import importlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk

from config import ConfigError, EnvironmentConfig, load_environment

if TYPE_CHECKING:
    from config.pipeline import Rollout
    from stacks.github_oidc_stack import GitHubOidcStack
    from stacks.personalize_stack import PersonalizeStack
    from stacks.pipeline_stack import PipelineStack

PROJECT_ROOT = Path(__file__).resolve().parent
# Digests of data that passed the full validation: unchanged data is not read again at the next synth.
VALIDATED_STAMPS = PROJECT_ROOT / ".personalize-local" / "validated"
DATA_CHECKS = ("full", "header")


def create_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """Build the app for the environment named by the `env` context; raises ConfigError on bad config.

    The feature flags in cdk.json apply in-process too (tests, the local deployer), not only under the CLI.
    """
    # Before any construct library loads: the constructs, the stacks and cdk-nag are imported below, only
    # for the kind of app the context asks for.
    warm_template_validation()
    flags = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(context={**flags, **(context or {})}, outdir=outdir)
    pipeline = app.node.try_get_context("pipeline")
    data_check = str(app.node.try_get_context("data_check") or "full")
    if data_check not in DATA_CHECKS:
        raise ConfigError(f"-c data_check={data_check!r} is not one of {', '.join(DATA_CHECKS)}")
    github_repository = app.node.try_get_context("github_oidc")
    if github_repository:
        config = load_environment(str(app.node.try_get_context("env") or "dev"), check_data=False)
        add_github_oidc(
            app, config, str(github_repository), app.node.try_get_context("github_oidc_provider_arn")
        )
    elif pipeline:
        from config.pipeline import load_rollout  # noqa: PLC0415 - only a pipeline app reads rollouts

        rollout = load_rollout(str(pipeline))
        with _data_preflight(rollout.environments, full=data_check == "full"):
            _import_construct_code("stacks.pipeline_stack")
        add_pipeline(app, rollout)
    else:
        config = load_environment(str(app.node.try_get_context("env") or "dev"))
        with _data_preflight([config], full=data_check == "full"):
            _import_construct_code("stacks.personalize_stack")
        add_environment(app, config)
    from cdk_nag import AwsSolutionsChecks  # noqa: PLC0415 - loaded after the validation engine (above)

    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


@functools.cache
def warm_template_validation() -> None:
    """Start CDK's own template validation engine (CloudFormation Validate, which every CDK app runs at
    synth) now, once per process, by synthesizing an empty throwaway app.

    Why: CDK makes the engine, a process-wide singleton, when the first app synthesizes, by then with the
    construct tree and every loaded construct library on the Node.js heap; made first, while the heap is
    small, the same engine costs about a CPU-second less (docs/pipeline.md, "Cost of synthesis"). The engine
    and its rules are CDK's default, so templates and reports are unchanged. CDK_VALIDATION=false turns the
    validation off in CDK, and this with it.
    """
    if os.environ.get("CDK_VALIDATION") == "false":
        return
    with tempfile.TemporaryDirectory(prefix="cdk-warm-") as outdir:
        cdk.App(
            outdir=outdir,
            auto_synth=False,
            analytics_reporting=False,
            performance_reporting=False,
            tree_metadata=False,
        ).synth()


def _import_construct_code(stack_module: str) -> None:
    """Import the stack module and cdk-nag (Python, jsii calls on this thread) while the data check runs."""
    importlib.import_module(stack_module)
    importlib.import_module("cdk_nag")


@contextlib.contextmanager
def _data_preflight(configs: Sequence[EnvironmentConfig], *, full: bool) -> Iterator[None]:
    """Checks the environments' data in a thread while the body imports code; its error wins, on exit.

    Why: the check is Python (unseen data loads the validator and reads every file) while importing the
    stacks and cdk-nag waits part of its time on jsii's Node.js process. The body only imports: nothing is
    built before the check has passed, because building the tree already copies assets (the data itself)
    into the output folder. jsii is not thread-safe: everything that calls it (the construct library,
    imported here) stays on this thread; the check's thread reads the files and writes its stamp.
    A Ctrl-C (or any BaseException that is not an Exception) is raised as it is, without waiting for the
    check's verdict.
    """
    import constructs_lib.preflight  # noqa: F401, PLC0415 - its import calls jsii: on this thread

    def check() -> None:
        for config in configs:
            preflight_local_data(config, full=full)

    checked: concurrent.futures.Future[None] = concurrent.futures.Future()

    def run() -> None:
        try:
            check()
        except BaseException as error:  # handed to the main thread, which raises it
            checked.set_exception(error)
        else:
            checked.set_result(None)

    # A daemon thread (a pool's workers are joined at exit): a Ctrl-C ends the process without waiting for it.
    threading.Thread(target=run, name="data-preflight", daemon=True).start()
    try:
        yield
    except Exception:
        checked.result()  # the preflight's ConfigError, raised before (and instead of) the body's error
        raise
    checked.result()


def preflight_local_data(config: EnvironmentConfig, *, full: bool = True) -> None:
    """Data the stack uploads is validated before it synthesizes: invalid data fails synth with the report.

    An hour-long import of a file with millisecond timestamps is the failure this saves. Data that passed
    unchanged is not read again (VALIDATED_STAMPS); `full=False` (`-c data_check=header`) reads headers only.
    """
    from constructs_lib.preflight import DataPreflightError, LocalDataset, check_local_data  # noqa: PLC0415

    use_cases = tuple(recommender.use_case for recommender in config.recommenders)
    local = [
        LocalDataset(
            plan.local_path,
            dataset_type,
            plan.schema_json(),
            use_cases if dataset_type == "INTERACTIONS" else (),
        )
        for dataset_type, plan in config.datasets().items()
        if plan.local_path is not None
    ]
    try:
        check_local_data(local, domain_name=config.domain, full=full, stamp_dir=VALIDATED_STAMPS)
    except DataPreflightError as error:
        raise ConfigError(
            f"the data config/{config.name}.yaml uploads is not valid for Personalize; fix it or the import "
            f"would fail after deployment:\n{error}"
        ) from error


def add_environment(scope: cdk.App, config: EnvironmentConfig) -> PersonalizeStack:
    """`cdk deploy -c env=NAME`: the environment's stack at the top of the app, named as in the pipeline.

    A top-level stack (not a Stage) because the CDK CLI selects only top-level stacks by default: inside a
    Stage, `cdk diff` selected nothing and reported no differences.
    """
    from stacks.personalize_stack import PersonalizeStack  # noqa: PLC0415 - only what the context asks for

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
    from stacks.github_oidc_stack import GitHubOidcStack, oidc_stack_name  # noqa: PLC0415

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
    from stacks.pipeline_stack import PipelineStack  # noqa: PLC0415

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
