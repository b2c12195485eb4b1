"""The synth path's cost cuts (docs/pipeline.md, "Cost of synthesis") change nothing in the assembly.

`create_app` starts CDK's template validation engine before any construct library loads, and meanwhile,
in a thread, reads the config, checks the data and imports the stack's modules (Python only); cdk-nag
is imported afterwards, only the stacks the context asks for are, and nothing is built before the check
has passed.
"""

from __future__ import annotations

import json
import os
import signal
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
        [sys.executable, "-c", code, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
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
# threads called jsii (with the stack of any call off the main thread), and which loaded the stack
# modules, the construct library, the config model and the validator. Nothing of ours is imported before
# create_app runs, so a module that called aws_cdk at import would call jsii from the preparing thread.
THREADS = """
import json, sys, threading, traceback
from pathlib import Path
from jsii._kernel.providers import process

LOADED = {"stacks": "stacks.", "constructs": "constructs_lib", "config": "config.model",
          "validator": "personalize_tools.validate.engine"}
threads = {kind: set() for kind in ("jsii", *LOADED)}
off_main = []
class Recorder:  # asked first for every module not yet loaded; finds nothing, so the others load it
    @staticmethod
    def find_spec(name, path=None, target=None):
        for kind, prefix in LOADED.items():
            if name.startswith(prefix):
                threads[kind].add(threading.current_thread().name)
        return None
sys.meta_path.insert(0, Recorder)
send = process._NodeProcess.send
def recording_send(self, *args, **kwargs):
    threads["jsii"].add(threading.current_thread().name)
    if threading.current_thread() is not threading.main_thread():
        off_main.append("".join(traceback.format_stack(limit=15)))
    return send(self, *args, **kwargs)
process._NodeProcess.send = recording_send
import app
app.VALIDATED_STAMPS = Path(sys.argv[1])
app.create_app(json.loads(sys.argv[2]))
print(json.dumps({**{kind: sorted(names) for kind, names in threads.items()}, "off_main": off_main}))
"""


@pytest.mark.parametrize(
    ("context", "loaded"),
    [
        ({"env": "dev"}, {"stacks", "constructs", "config", "validator"}),
        ({"pipeline": "rollout.example"}, {"stacks", "constructs", "config"}),  # its data is in S3 only
        ({"env": "dev", "github_oidc": "octo-org/octo-repo"}, {"stacks", "config"}),  # IAM only, no data
    ],
    ids=["environment", "pipeline", "github-oidc"],
)
def test_config_data_check_and_imports_run_beside_the_engine_and_only_the_main_thread_calls_jsii(
    sample_data: Path, tmp_path: Path, context: dict[str, str], loaded: set[str]
) -> None:
    """jsii's client is not thread-safe: the preparing thread reads config and files and imports Python
    modules; the stack and construct modules call no aws_cdk at import (app._while_warming)."""
    result = _run(THREADS, str(tmp_path), json.dumps(context))
    assert result.returncode == 0, result.stderr[-2000:]
    threads = json.loads(result.stdout.strip().splitlines()[-1])
    assert threads["off_main"] == []
    assert threads["jsii"] == ["MainThread"]
    for kind in ("stacks", "constructs", "config", "validator"):
        assert threads[kind] == ([app_module.PREPARE_THREAD] if kind in loaded else []), kind
    # The validator loads for unseen local data only; its full check ran and passed: a stamp.
    assert bool(list(tmp_path.iterdir())) == ("validator" in loaded)


def test_while_warming_returns_what_the_preparation_returns_from_its_own_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app_module, "warm_template_validation", lambda: None)
    assert app_module._while_warming(lambda: threading.current_thread().name) == app_module.PREPARE_THREAD


def test_the_preparations_error_wins_over_the_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad config is what the user must fix first, even when CDK's engine failed to start as well."""

    def engine_fails() -> None:
        raise RuntimeError("the engine failed")

    def bad_config() -> None:
        raise ConfigError("config/dev.yaml: bad")

    monkeypatch.setattr(app_module, "warm_template_validation", engine_fails)
    with pytest.raises(ConfigError, match=r"config/dev\.yaml: bad"):
        app_module._while_warming(bad_config)
    with pytest.raises(RuntimeError, match="the engine failed"):
        app_module._while_warming(lambda: None)


def test_a_ctrl_c_during_the_engines_start_does_not_wait_for_the_preparation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released = threading.Event()

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(app_module, "warm_template_validation", interrupted)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        app_module._while_warming(lambda: released.wait(30))
    assert time.monotonic() - started < 5
    released.set()


# `cdk synth` of dev with unseen data through app.main() (which run_app.py runs before its exit's
# freeze), with Python's Ctrl-C handling even when the suite was started with SIGINT ignored; it says when
# create_app starts the engine ("building") and when the preparing thread starts to import polars, the
# validator's last and largest import.
INTERRUPTED = """
import signal, sys
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)

class Announce:  # asked first for every module not yet loaded; finds nothing, so the others load it
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "polars":
            print("polars", flush=True)
        return None

sys.meta_path.insert(0, Announce)
import app
app.VALIDATED_STAMPS = Path(sys.argv[1])
warm = app.warm_template_validation
def announced():  # create_app has started: the engine's start is its first step on this thread
    print("building", flush=True)
    warm()
app.warm_template_validation = announced
app.main()
"""


@pytest.mark.parametrize("moment", ["building", "polars"])
def test_a_ctrl_c_while_the_app_is_prepared_ends_synth_quietly_with_130_and_leaves_nothing(
    sample_data: Path, tmp_path: Path, moment: str
) -> None:
    """Interrupted as create_app starts, or while its thread imports the validator: exit status 130 (as a
    shell reports a Ctrl-C), no traceback, no output folder, and jsii's temporary folders removed."""
    out, scratch = tmp_path / "out", tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED, str(tmp_path / "stamps")],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "CDK_CONTEXT_JSON": json.dumps({"env": "dev"}),
            "CDK_OUTDIR": str(out),
            "TMPDIR": str(scratch),
        },
    )
    try:
        assert process.stdout is not None
        lines = iter(process.stdout.readline, "")
        assert moment in (line.strip() for line in lines), "the child ended before the moment"
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, errors[-2000:]
    assert "Traceback" not in errors and "Exception in thread" not in errors, errors[-2000:]
    assert not out.exists() or not any(out.iterdir())
    # jsii's folders are gone. The warm-up's own output folder may not be: Node.js goes on with the
    # interrupted warm-up synthesis and can write into it after Python has removed it (docs/pipeline.md).
    assert [path.name for path in scratch.iterdir() if not path.name.startswith("cdk-warm-")] == []
