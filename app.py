#!/usr/bin/env python3
"""The CDK app.

`cdk synth -c env=NAME` builds config/NAME.yaml's stack (default: dev) as the app's only top-level
stack, so plain `cdk ls/synth/diff/deploy/destroy` select it; `cdk synth -c pipeline=NAME` builds the
rollout pipeline of config/pipelines/NAME.yaml, which deploys each environment as a CDK Stage.
"""

from __future__ import annotations

import concurrent.futures
import functools
import gc
import importlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import aws_cdk as cdk

from run_app import PROJECT_ROOT

if TYPE_CHECKING:
    from config import EnvironmentConfig
    from config.pipeline import Rollout
    from stacks.github_oidc_stack import GitHubOidcStack
    from stacks.personalize_stack import PersonalizeStack
    from stacks.pipeline_stack import PipelineStack

# Digests of data that passed the full validation: unchanged data is not read again at the next synth.
VALIDATED_STAMPS = PROJECT_ROOT / ".personalize-local" / "validated"
DATA_CHECKS = ("full", "header")
# The thread that prepares the app (config, data check, Python imports) while CDK's engine starts.
PREPARE_THREAD = "synth-prepare"
T = TypeVar("T")


def create_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """Build the app for the environment named by the `env` context; raises ConfigError on bad config.

    The feature flags in cdk.json apply in-process too (tests, the local deployer), not only under the CLI.
    Config, data check and the stack's Python modules are prepared in a thread while this one starts CDK's
    template validation engine (`_while_warming`); the tree is built only after both are done.
    """
    flags = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(context={**flags, **(context or {})}, outdir=outdir)
    environment = str(app.node.try_get_context("env") or "dev")
    pipeline = app.node.try_get_context("pipeline")
    data_check = str(app.node.try_get_context("data_check") or "full")
    github_repository = app.node.try_get_context("github_oidc")
    if github_repository:
        provider_arn = app.node.try_get_context("github_oidc_provider_arn")
        config = _while_warming(
            functools.partial(
                _prepare_environment, environment, data_check, "stacks.github_oidc_stack", uploads=False
            )
        )
        add_github_oidc(app, config, str(github_repository), provider_arn)
    elif pipeline:
        rollout = _while_warming(functools.partial(_prepare_rollout, str(pipeline), data_check))
        add_pipeline(app, rollout)
    else:
        config = _while_warming(
            functools.partial(
                _prepare_environment, environment, data_check, "stacks.personalize_stack", uploads=True
            )
        )
        add_environment(app, config)
    from cdk_nag import AwsSolutionsChecks  # noqa: PLC0415 - jsii loads it: on this thread, after the engine

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


def _while_warming(prepare: Callable[[], T]) -> T:
    """PREPARE() in a thread while this thread starts CDK's validation engine; PREPARE's result.

    Why: the engine's start (over a second) keeps jsii's Node.js process busy and Python idle, and PREPARE
    is Python only: reading config, checking the data (unseen data loads the validator and reads every
    file), importing the stack's modules. jsii is not thread-safe, so PREPARE must never call it: the stack
    and construct modules call aws_cdk only when a construct is built, never at import, and cdk-nag (whose
    import loads it into jsii) is imported afterwards on this thread; `tests/stacks/test_synth_path.py`
    records which thread calls jsii. PREPARE's error (a ConfigError) wins over the engine's, and is raised
    before anything is built, so a failed check leaves the output folder empty. A Ctrl-C (any
    BaseException that is not an Exception) is raised as it is, without waiting for PREPARE: its thread is
    a daemon.
    """
    prepared: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        try:
            prepared.set_result(prepare())
        except BaseException as error:  # handed to this thread, which raises it
            prepared.set_exception(error)

    threading.Thread(target=run, name=PREPARE_THREAD, daemon=True).start()
    try:
        warm_template_validation()
    except Exception:
        prepared.result()  # the preparation's error, raised before (and instead of) the engine's
        raise
    return prepared.result()


def _full_check(data_check: str) -> bool:
    """Whether `-c data_check=VALUE` asks for the full validation (`full`) or headers only (`header`)."""
    from config import ConfigError  # noqa: PLC0415 - config loads in the preparing thread

    if data_check not in DATA_CHECKS:
        raise ConfigError(f"-c data_check={data_check!r} is not one of {', '.join(DATA_CHECKS)}")
    return data_check == "full"


def _prepare_environment(name: str, data_check: str, stack_module: str, uploads: bool) -> EnvironmentConfig:
    """config/NAME.yaml, and STACK_MODULE imported (no jsii: see _while_warming); with UPLOADS (the stack
    uploads the environment's data), its data checked. The GitHub OIDC stack uploads none."""
    from config import load_environment  # noqa: PLC0415 - pydantic and the model load in this thread

    full = _full_check(data_check)
    config = load_environment(name, check_data=uploads)
    importlib.import_module(stack_module)
    if uploads:
        preflight_local_data(config, full=full)
    return config


def _prepare_rollout(name: str, data_check: str) -> Rollout:
    """config/pipelines/NAME.yaml, every environment's local data checked, the pipeline stack imported."""
    from config.pipeline import load_rollout  # noqa: PLC0415 - only a pipeline app reads rollouts

    full = _full_check(data_check)
    rollout = load_rollout(name)
    importlib.import_module("stacks.pipeline_stack")
    for config in rollout.environments:
        preflight_local_data(config, full=full)
    return rollout


def preflight_local_data(config: EnvironmentConfig, *, full: bool = True) -> None:
    """Data the stack uploads is validated before it synthesizes: invalid data fails synth with the report.

    An hour-long import of a file with millisecond timestamps is the failure this saves. Data that passed
    unchanged is not read again (VALIDATED_STAMPS); `full=False` (`-c data_check=header`) reads headers only.
    """
    from config import ConfigError  # noqa: PLC0415
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
    except KeyboardInterrupt:
        # Exit status 130, as a shell reports a Ctrl-C, and no traceback. Raised by hand: a Ctrl-C can
        # arrive while create_app's preparing thread still imports, and the interpreter's shutdown beside
        # that import turned Python's own exit status for an uncaught Ctrl-C into 1. The exit still runs
        # jsii's clean-up (its Node.js processes and temporary folders).
        raise SystemExit(130) from None
    except Exception as error:
        from config import ConfigError  # noqa: PLC0415 - loaded by then, in create_app's preparing thread

        if not isinstance(error, ConfigError):
            raise
        sys.exit(f"config error: {error}")
    app.synth()


def run_and_exit() -> None:
    """What `python app.py` and run_app.py run: main(), after which the process only exits.

    Python's last collections at exit would walk every object aws_cdk's bindings made (0.3 s of a dev
    synth in-process, about 0.15 s through the CLI); frozen first, they are skipped. Exit handlers (jsii's,
    which stops Node.js; tempfile's) run as before. Python never promises to finalize what is still alive
    at exit (the data model's note on __del__), and nothing here relies on it. Not part of main(), which a
    caller may run in a process that goes on: there the freeze would keep every later cycle of these
    objects uncollected.
    """
    main()
    gc.freeze()


if __name__ == "__main__":
    run_and_exit()
