"""What cdk.json runs: the CDK app under the project's .venv when there is one, else the active Python.

`python3 run_app.py` works for a user who follows `cdk init`'s convention (their own activated
virtual environment) and for `make install`'s .venv alike; a .venv whose interpreter is missing or
broken is skipped, not fatal. It also tunes the Node.js processes the app starts through jsii
(jsii_node_flags.js; docs/pipeline.md, "Cost of synthesis"), before aws_cdk is imported.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# The checkout: app.py, stacks/, benchmarks/ and tests/ find it here (the wheel holds none of them).
PROJECT_ROOT = Path(__file__).resolve().parent
# Finding the package is enough (importing aws_cdk starts its Node.js runtime: seconds).
HAS_CDK = "import importlib.util, sys; sys.exit(importlib.util.find_spec('aws_cdk') is None)"
VENV_PYTHON = PROJECT_ROOT / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
NODE_FLAGS_PRELOAD = PROJECT_ROOT / "jsii_node_flags.js"
# PERSONALIZE_NODE_TUNING=off: the app's Node.js runs with its defaults (the templates are the same).
NODE_TUNING_SWITCH = "PERSONALIZE_NODE_TUNING"


def node_tuning_environment(environ: Mapping[str, str], preload: Path = NODE_FLAGS_PRELOAD) -> dict[str, str]:
    """What to add to ENVIRON so every Node.js process started from it first runs PRELOAD.

    Through NODE_OPTIONS (`--require`), after the user's own options, because jsii starts Node.js itself
    (a JSII_NODE or JSII_RUNTIME the user set stays theirs) and its kernel, a child process, inherits the
    environment. Empty when switched off, already there, or when PRELOAD is missing (a copied script).
    """
    if environ.get(NODE_TUNING_SWITCH) == "off" or not preload.is_file():
        return {}
    # NODE_OPTIONS splits at spaces outside double quotes; inside them a backslash escapes a character.
    quoted = '"' + preload.as_posix().replace("\\", "\\\\").replace('"', '\\"') + '"'
    current = environ.get("NODE_OPTIONS", "")
    option = f"--require {quoted}"
    if option in current:
        return {}
    return {"NODE_OPTIONS": f"{current} {option}".strip()}


def project_interpreter() -> Path | None:
    """The .venv's interpreter when it exists, runs, and is not the one already running."""
    if not VENV_PYTHON.is_file() or Path(sys.prefix).resolve() == VENV_PYTHON.parent.parent.resolve():
        return None
    try:
        probe = subprocess.run([VENV_PYTHON, "-c", HAS_CDK], capture_output=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return VENV_PYTHON if probe.returncode == 0 else None


def main() -> None:
    os.environ.update(node_tuning_environment(os.environ))  # before any aws_cdk import starts Node.js
    interpreter = project_interpreter()
    if interpreter is not None:
        command = [str(interpreter), str(PROJECT_ROOT / "app.py"), *sys.argv[1:]]
        if os.name == "nt":
            sys.exit(subprocess.run(command, check=False).returncode)
        os.execv(interpreter, command)
    if importlib.util.find_spec("aws_cdk") is None:
        sys.exit(
            f"error: {sys.executable} has no aws-cdk-lib and {VENV_PYTHON} is missing or broken; run "
            "`make install`, or activate a virtual environment with `pip install -r requirements.txt`"
        )
    sys.path.insert(0, str(PROJECT_ROOT))
    import app  # noqa: PLC0415 - after the interpreter is settled

    app.run_and_exit()


if __name__ == "__main__":
    main()
