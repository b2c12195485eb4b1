"""The synth path's cost cuts (docs/pipeline.md, "Cost of synthesis") change nothing in the assembly.

`create_app` starts CDK's template validation engine before any construct library loads, and meanwhile,
in a thread, reads the config, checks the data and imports the stack's modules (Python only); cdk-nag
is imported afterwards, only the stacks the context asks for are, and nothing is built before the check
has passed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import aws_cdk as cdk
import pytest

import app as app_module
from config import ConfigError
from tests import PROJECT_ROOT

# The app as it was built before the warm-up: CDK creates its validation engine during synthesis.
COLD_SYNTH = """
import json, sys
import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
import app
from config import load_environment

flags = json.loads((app.PROJECT_ROOT / "cdk.json").read_text())["context"]
cdk_app = cdk.App(context={**flags, "env": "dev"}, outdir=sys.argv[1])
app.add_environment(cdk_app, load_environment("dev"))
cdk.Validations.of(cdk_app).add_plugins(AwsSolutionsChecks(cdk_app))
cdk_app.synth()
"""

# The app as `cdk synth` builds it, in a fresh process: no validation engine exists yet, so the warm-up
# really starts one (in the pytest worker another test's synthesis may have started it already).
WARM_SYNTH = """
import sys
import app

cdk_app = app.create_app({"env": "dev"}, outdir=sys.argv[1])
assert app.warm_template_validation.cache_info().misses == 1, "the warm-up did not run"
cdk_app.synth()
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )


def test_the_warm_up_leaves_templates_and_reports_byte_identical(sample_data: Path, tmp_path: Path) -> None:
    warm, cold = tmp_path / "warm", tmp_path / "cold"
    for code, outdir in ((WARM_SYNTH, warm), (COLD_SYNTH, cold)):
        result = _run(code, str(outdir))
        assert result.returncode == 0, result.stderr[-2000:]

    def files(root: Path) -> dict[str, bytes]:
        return {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in root.rglob("*")
            if path.is_file() and path.name != "performance-counters.json"  # written only when synth is slow
        }

    warm_files, cold_files = files(warm), files(cold)
    assert any(name.endswith(".template.json") for name in warm_files)
    assert sorted(warm_files) == sorted(cold_files)
    different = [name for name in warm_files if warm_files[name] != cold_files[name]]
    assert different == []
    report = json.loads(warm_files["validation-report.json"])
    assert [plugin["pluginName"] for plugin in report["pluginReports"]] == ["AwsSolutions"]


def test_importing_the_app_loads_no_stack_module_and_no_cdk_nag() -> None:
    """Each kind of app (environment, pipeline, GitHub OIDC) imports its own stacks when it is built."""
    result = _run(
        "import sys, app; print(sorted(m for m in sys.modules if m.startswith(('stacks', 'cdk_nag', "
        "'constructs_lib')) or m in ('argparse', 'tomllib')))"
    )  # argparse and tomllib: the console scripts' helpers, which config's checkout test shares
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_cdk_validation_false_skips_the_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """CDK_VALIDATION=false turns CDK's validation off, and the warm-up with it (no throwaway synthesis)."""
    synthesized: list[str] = []
    monkeypatch.setattr(cdk.App, "synth", lambda self, *a, **k: synthesized.append(self.node.path))
    monkeypatch.setenv("CDK_VALIDATION", "false")
    app_module.warm_template_validation.cache_clear()
    try:
        app_module.warm_template_validation()
        assert synthesized == []
        monkeypatch.delenv("CDK_VALIDATION")
        app_module.warm_template_validation.cache_clear()
        app_module.warm_template_validation()
        assert synthesized == [""]  # the throwaway app (the root's path is empty)
    finally:
        app_module.warm_template_validation.cache_clear()


# An app built in a fresh process, the dev data unseen by the validator (an empty stamp folder): which
# threads called jsii, imported the stack modules, read config and checked the data.
THREADS = """
import importlib, json, sys, threading
from pathlib import Path
from jsii._kernel.providers import process
import app
import config.model
import constructs_lib.preflight as preflight

threads = {"jsii": set(), "stacks": set(), "config": set(), "check": set()}
def recording(kind, function):
    def record(*args, **kwargs):
        if kind != "stacks" or args[0].startswith("stacks."):
            threads[kind].add(threading.current_thread().name)
        return function(*args, **kwargs)
    return record
process._NodeProcess.send = recording("jsii", process._NodeProcess.send)
importlib.import_module = recording("stacks", importlib.import_module)
config.model.read_mapping = recording("config", config.model.read_mapping)
preflight.check_local_data = recording("check", preflight.check_local_data)
app.VALIDATED_STAMPS = Path(sys.argv[1])
app.create_app(json.loads(sys.argv[2]))
print(json.dumps({kind: sorted(names) for kind, names in threads.items()}))
"""


@pytest.mark.parametrize(
    ("context", "checks_data", "local_data"),
    [
        ({"env": "dev"}, True, True),
        ({"pipeline": "rollout.example"}, True, False),  # its environments import from S3 only
        ({"env": "dev", "github_oidc": "octo-org/octo-repo"}, False, False),
    ],
    ids=["environment", "pipeline", "github-oidc"],
)
def test_config_data_check_and_imports_run_beside_the_engine_and_only_the_main_thread_calls_jsii(
    sample_data: Path, tmp_path: Path, context: dict[str, str], checks_data: bool, local_data: bool
) -> None:
    """jsii's client is not thread-safe: the preparing thread reads config and files and imports Python
    modules; the stack and construct modules call no aws_cdk at import (app._while_warming)."""
    result = _run(THREADS, str(tmp_path), json.dumps(context))
    assert result.returncode == 0, result.stderr[-2000:]
    threads = json.loads(result.stdout.strip().splitlines()[-1])
    assert threads["jsii"] == ["MainThread"]
    assert threads["stacks"] == [app_module.PREPARE_THREAD]
    assert threads["config"] == [app_module.PREPARE_THREAD]
    assert threads["check"] == ([app_module.PREPARE_THREAD] if checks_data else [])
    # The full validation of dev's local files ran and passed: its stamp.
    assert bool(list(tmp_path.iterdir())) == local_data


def test_while_warming_returns_what_the_preparation_returns_from_its_own_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app_module, "warm_template_validation", lambda: None)
    assert app_module._while_warming(lambda name: (name, threading.current_thread().name), "dev") == (
        "dev",
        app_module.PREPARE_THREAD,
    )


def test_the_preparations_error_wins_over_the_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad config is what the user must fix first, even when CDK's engine failed to start as well."""

    def engine_fails() -> None:
        raise RuntimeError("the engine failed")

    def bad_config(name: str) -> None:
        raise ConfigError(f"config/{name}.yaml: bad")

    monkeypatch.setattr(app_module, "warm_template_validation", engine_fails)
    with pytest.raises(ConfigError, match=r"config/dev\.yaml: bad"):
        app_module._while_warming(bad_config, "dev")
    with pytest.raises(RuntimeError, match="the engine failed"):
        app_module._while_warming(lambda name: None, "dev")


def test_a_ctrl_c_during_the_engines_start_does_not_wait_for_the_preparation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released = threading.Event()

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(app_module, "warm_template_validation", interrupted)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        app_module._while_warming(lambda name: released.wait(30), "dev")
    assert time.monotonic() - started < 5
    released.set()
