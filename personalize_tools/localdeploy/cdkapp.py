"""Synthesizing the CDK app of a folder as the CDK CLI does: `personalize-local deploy` in a user's own app.

An installed copy of this project (the wheel) has no app.py or config/ of its own, so the local deployer
works on the app of the folder it runs in, as `cdk synth` would. The CLI runs cdk.json's `app` command with
the output folder in CDK_OUTDIR and the context as JSON in CDK_CONTEXT_JSON (aws-cdk-lib,
cx-api/lib/cxapi.ts `OUTDIR_ENV`, `CONTEXT_ENV`), and looks a context key up in cdk.json's `context`, then
cdk.context.json, then ~/.cdk.json's `context`, the first that has it winning (the CLI's Configuration,
aws-cdk 2.x, read in the pinned node_modules/aws-cdk). Our choice: no `-c` context, no CDK_DEFAULT_ACCOUNT
or CDK_DEFAULT_REGION (the CLI sets those from credentials; locally there are none), and an `app` that is
a folder (an assembly synthesized elsewhere) is deployed with `--no-synth --cdk-out DIR` instead.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, TextIO

from personalize_tools.localdeploy.errors import AssemblyError

PROJECT_CONFIG = "cdk.json"
PROJECT_CONTEXT = "cdk.context.json"
USER_DEFAULTS = Path("~/.cdk.json")
OUTDIR_ENV = "CDK_OUTDIR"
CONTEXT_ENV = "CDK_CONTEXT_JSON"


def _json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AssemblyError(f"cannot read {path}: {error.strerror}") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AssemblyError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise AssemblyError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data


def _context_of(path: Path, *, nested: bool) -> dict[str, Any]:
    """A file's context: the whole file (cdk.context.json) or its `context` object (cdk.json)."""
    if not path.is_file():
        return {}
    data = _json_object(path)
    context = data.get("context", {}) if nested else data
    if not isinstance(context, dict):
        raise AssemblyError(f'{path}: "context" must be a JSON object')
    return context


def app_command(folder: Path) -> tuple[str, dict[str, Any]]:
    """cdk.json's `app` command and the context the CLI would hand it."""
    config_file = folder / PROJECT_CONFIG
    if not config_file.is_file():
        raise AssemblyError(
            f"{folder} has no {PROJECT_CONFIG}: run personalize-local deploy in your CDK app's folder (where "
            "`cdk synth` works), or deploy an assembly you synthesized with --no-synth --cdk-out DIR"
        )
    app = _json_object(config_file).get("app")
    if not isinstance(app, str) or not app.strip():
        raise AssemblyError(
            f'{config_file} has no "app" command (the command that synthesizes your app, '
            'e.g. "python3 app.py")'
        )
    context = {
        **_context_of(USER_DEFAULTS.expanduser(), nested=True),
        **_context_of(folder / PROJECT_CONTEXT, nested=False),
        **_context_of(config_file, nested=True),
    }
    return app, context


def synthesize_folder(folder: Path, outdir: Path, out: TextIO | None = None) -> None:
    """Run the folder's app command into `outdir`; its output goes to the terminal, as with `cdk synth`."""
    app, context = app_command(folder)
    if out is not None:
        out.write(f"Synthesizing the CDK app of {folder} ({PROJECT_CONFIG}: {app}) into {outdir} ...\n")
        out.flush()
    outdir.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, OUTDIR_ENV: str(outdir), CONTEXT_ENV: json.dumps(context)}
    try:
        finished = subprocess.run(app, shell=True, cwd=folder, env=environment, check=False)
    except OSError as error:
        raise AssemblyError(f"cannot run {folder / PROJECT_CONFIG}'s app command `{app}`: {error}") from error
    if finished.returncode != 0:
        raise AssemblyError(
            f"{folder / PROJECT_CONFIG}'s app command `{app}` exited with code {finished.returncode} "
            "(its output is above)"
        )
