"""run_app.py's Node.js tuning (jsii_node_flags.js; docs/pipeline.md, "Cost of synthesis").

It must be in effect in the app's own Node.js process (where CDK's template validation engine runs),
change nothing in the cloud assembly, keep the user's own NODE_OPTIONS, and stay out of the way of a V8
it was not checked with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from run_app import NODE_FLAGS_PRELOAD, NODE_TUNING_SWITCH, node_tuning_environment
from tests import PROJECT_ROOT
from tests.cli.support import NODE_BIN, offline_environment

NODE = NODE_BIN / "node"
# A user's own preload: V8 prints one line per WebAssembly function it compiles, naming the compiler, and,
# in jsii's kernel (started with --preserve-symlinks), one line per garbage collection. Never in jsii's
# first Node.js process: its stdout is jsii's channel to Python.
TRACE_PRELOAD = """const v8 = require('v8');
v8.setFlagsFromString('--trace-wasm-compilation-times');
if (process.execArgv.includes('--preserve-symlinks')) v8.setFlagsFromString('--trace-gc');
"""


def _synth(outdir: Path, trace: Path, *, tuning: bool) -> str:
    """dev's synthesis as cdk.json runs it (`python3 run_app.py`, context and outdir from the CLI).

    It must leave its private TMPDIR empty: the exit handlers still run after app.run_and_exit's
    gc.freeze(), and jsii's stops its Node.js processes, which remove their folders. (jsii waits 5 s for
    them before it kills them; this has not come near it, at load averages up to 6.)
    """
    scratch = outdir.with_name(f"{outdir.name}-tmp")
    scratch.mkdir()
    environment = {
        **offline_environment(),
        "CDK_CONTEXT_JSON": json.dumps({"env": "dev"}),
        "CDK_OUTDIR": str(outdir),
        "NODE_OPTIONS": f'--require "{trace.as_posix()}"',
        NODE_TUNING_SWITCH: "on" if tuning else "off",
        "TMPDIR": str(scratch),
    }
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "run_app.py")],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert [path.name for path in scratch.iterdir()] == []
    return result.stdout + result.stderr


def test_the_tuning_keeps_the_validation_engine_off_turbofan_cuts_full_collections_and_changes_no_byte(
    sample_data: Path, tmp_path: Path
) -> None:
    trace = tmp_path / "trace.js"
    trace.write_text(TRACE_PRELOAD)
    tuned = _synth(tmp_path / "tuned", trace, tuning=True)
    default = _synth(tmp_path / "default", trace, tuning=False)

    # Both ran the user's preload (kept, not replaced) and compiled CDK's validation engine.
    assert tuned.count("using Liftoff") > 100
    assert default.count("using Liftoff") > 100
    # Node.js's defaults recompile hot functions with TurboFan; the tuning, in the app's process, does not.
    assert default.count("using TurboFan") > 0
    v8 = subprocess.run([str(NODE), "-p", "process.versions.v8"], capture_output=True, text=True, check=True)
    assert tuned.count("using TurboFan") == 0, (
        f"the tuning is not in effect with the pinned Node.js (V8 {v8.stdout.strip()}): check its flags "
        f"and add the V8 major.minor to CHECKED_V8_VERSIONS in {NODE_FLAGS_PRELOAD.name} once they work"
    )
    # Without concurrent marking, the engine's start no longer sets off a full collection per memory growth
    # (14-35 against 68-173 in our runs on Node.js 20, 22 and 24).
    tuned_collections, default_collections = tuned.count("Mark-Compact"), default.count("Mark-Compact")
    assert 0 < tuned_collections * 2 < default_collections, (tuned_collections, default_collections)

    def files(root: Path) -> dict[str, bytes]:
        return {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in root.rglob("*")
            if path.is_file() and path.name != "performance-counters.json"  # written only when synth is slow
        }

    tuned_files, default_files = files(tmp_path / "tuned"), files(tmp_path / "default")
    assert any(name.endswith(".template.json") for name in tuned_files)
    assert sorted(tuned_files) == sorted(default_files)
    assert [name for name in tuned_files if tuned_files[name] != default_files[name]] == []


def _preload_calls(v8_version: str | None) -> list[str]:
    """The flags the preload hands V8 when Node.js reports V8_VERSION (None: the real one)."""
    fake = f"Object.defineProperty(process.versions, 'v8', {{value: '{v8_version}'}});" if v8_version else ""
    script = (
        "const v8 = require('v8'); const calls = []; v8.setFlagsFromString = (f) => calls.push(f);"
        f"{fake} require({json.dumps(str(NODE_FLAGS_PRELOAD))}); console.log(JSON.stringify(calls));"
    )
    result = subprocess.run([str(NODE), "-e", script], capture_output=True, text=True, check=True)
    assert result.stderr == ""
    calls: list[str] = json.loads(result.stdout)
    return calls


def test_a_v8_the_flags_were_not_checked_with_keeps_its_defaults_silently() -> None:
    assert _preload_calls("99.1.0") == []
    assert _preload_calls("10.2.154") == []
    assert _preload_calls("12.9.202.28") == []  # Node.js 23's V8: the same major as 22's, never checked
    flags = "--no-wasm-tier-up --no-wasm-dynamic-tiering --no-concurrent-marking"
    assert _preload_calls("13.6.233.10") == [flags]  # Node.js 24
    assert _preload_calls(None) == [flags]


@pytest.mark.parametrize("folder", ["plain", 'with space, "quotes" and a back\\slash'])
def test_node_options_gain_the_preload_after_the_users_own(tmp_path: Path, folder: str) -> None:
    preload = tmp_path / folder / "flags.js"
    preload.parent.mkdir()
    preload.write_text("console.log('preloaded')\n")
    added = node_tuning_environment({"NODE_OPTIONS": "--max-semi-space-size=16"}, preload)
    assert added["NODE_OPTIONS"].startswith("--max-semi-space-size=16 --require ")
    result = subprocess.run(
        [str(NODE), "-p", "require('v8').getHeapStatistics().total_available_size > 0"],
        env={**offline_environment(), **added},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["preloaded", "true"]
    # Applied twice (run_app.py handing over to the .venv's interpreter), it is added once.
    assert node_tuning_environment(added, preload) == {}


def test_switched_off_or_without_its_file_nothing_is_added(tmp_path: Path) -> None:
    assert node_tuning_environment({NODE_TUNING_SWITCH: "off"}) == {}
    assert node_tuning_environment({}, tmp_path / "missing.js") == {}
    assert node_tuning_environment({})["NODE_OPTIONS"].endswith(f'"{NODE_FLAGS_PRELOAD.as_posix()}"')
