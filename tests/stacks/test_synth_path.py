"""The synth path's cost cuts (docs/pipeline.md, "Cost of synthesis") change nothing in the assembly.

`create_app` starts CDK's template validation engine before any construct library loads, imports the
stacks and cdk-nag only for the kind of app the context asks for, and checks the data in a thread while
they are imported (nothing is built before the check has passed).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest

import app as app_module

PROJECT_ROOT = Path(app_module.__file__).resolve().parent
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


# The dev app built in a fresh process with data the validator has not seen (an empty stamp folder):
# which threads called jsii, and which checked the data.
THREADS = """
import json, sys, threading
from pathlib import Path
from jsii._kernel.providers import process
import app
import constructs_lib.preflight as preflight

jsii_threads, check_threads = set(), set()
send = process._NodeProcess.send
def recording_send(self, *args, **kwargs):
    jsii_threads.add(threading.current_thread().name)
    return send(self, *args, **kwargs)
process._NodeProcess.send = recording_send
check = preflight.check_local_data
def recording_check(*args, **kwargs):
    check_threads.add(threading.current_thread().name)
    return check(*args, **kwargs)
preflight.check_local_data = recording_check
app.VALIDATED_STAMPS = Path(sys.argv[1])
app.create_app({"env": "dev"})
print(json.dumps({"jsii": sorted(jsii_threads), "check": sorted(check_threads)}))
"""


def test_the_data_check_runs_beside_the_imports_and_only_the_main_thread_calls_jsii(
    sample_data: Path, tmp_path: Path
) -> None:
    """jsii's client is not thread-safe: the preflight's thread reads files, nothing else."""
    result = _run(THREADS, str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    threads = json.loads(result.stdout.strip().splitlines()[-1])
    assert threads["jsii"] == ["MainThread"]
    assert len(threads["check"]) == 1
    assert threads["check"][0].startswith("data-preflight")
    assert len(list(tmp_path.iterdir())) == 1  # the full validation ran and passed: one stamp
