"""Synthesizing the CDK app of a folder as the CDK CLI does: `personalize-local deploy` in a user's own app.

An installed copy of this project (the wheel) has no app.py or config/ of its own, so the local deployer
works on the app of the folder it runs in, as `cdk synth` would. Each step follows the pinned CLI
(node_modules/aws-cdk 2.1148.1): lib/cli/user-configuration.js `Configuration.loadConfigFiles` (settings:
defaults, then ~/.cdk.json, then cdk.json, merged deeply; context: cdk.json's `context`, cdk.context.json,
~/.cdk.json's `context`, the first that has a key winning); lib/cxapp/exec.js `execProgram` (run `build`,
then `app`: a folder is the assembly itself, a list is joined with spaces); and in lib/index.js
`contextFromSettings` (the context keys the CLI adds), `guessExecutable` (a non-executable .js file runs
with node) and `execInChildProcess` (a shell, PYTHONIOENCODING=utf-8 unless set). What the CLI does that
we don't is listed in docs/local-deploy.md as "our choice".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from personalize_tools.localdeploy.errors import AssemblyError

PROJECT_CONFIG = "cdk.json"
PROJECT_CONTEXT = "cdk.context.json"
USER_DEFAULTS = Path("~/.cdk.json")
OUTDIR_ENV = "CDK_OUTDIR"  # aws-cdk-lib cx-api/lib/cxapi.ts
CONTEXT_ENV = "CDK_CONTEXT_JSON"
# Configuration.defaultConfig in user-configuration.js.
DEFAULT_SETTINGS: dict[str, Any] = {
    "versionReporting": True,
    "assetMetadata": True,
    "pathMetadata": True,
    "output": "cdk.out",
}
# contextFromSettings (lib/index.js); `cdk deploy` passes bundlingStacks ["**"] on its command line
# (commandLineArgumentsToSettings), which overrides any in cdk.json.
PATH_METADATA_CONTEXT = "aws:cdk:enable-path-metadata"
ASSET_METADATA_CONTEXT = "aws:cdk:enable-asset-metadata"
VERSION_REPORTING_CONTEXT = "aws:cdk:version-reporting"
DISABLE_VERSION_REPORTING_CONTEXT = "aws:cdk:disable-version-reporting"
BUNDLING_STACKS_CONTEXT = "aws:cdk:bundling-stacks"
FAIL_SYNTH_ON_VALIDATION_ERRORS_CONTEXT = "@aws-cdk/core:failSynthOnValidationErrors"
PROHIBITED_CONTEXT_KEYS = ("default-account", "default-region")  # prohibitContextKeys
# writeContextToEnv: the most the environment may hold on Linux and macOS.
ENVIRONMENT_SIZE_LIMIT = 131072
WINDOWS_ENVIRONMENT_SIZE_LIMIT = 32760  # the same function's limit on Windows
SHELL_SAFE = re.compile(r"^[A-Za-z0-9_+=:,.@/-]+$")  # quoteShellPart
OTHERS_EXECUTE = 0o001  # checkFile tests `mode & fs.constants.X_OK` (1): the others' execute bit


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


def _file_settings(path: Path) -> dict[str, Any]:
    """A settings file's object ({} when absent), its context checked as the CLI's settingsFromFile does."""
    if not path.is_file():
        return {}
    data = _json_object(path)
    context = data.get("context")
    if isinstance(context, dict):
        for key in PROHIBITED_CONTEXT_KEYS:
            if key in context:
                raise AssemblyError(
                    f"the 'context.{key}' key was found in {path}, but it is no longer supported (the CDK "
                    "CLI refuses it too); remove it"
                )
    return data


def _context_of(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise AssemblyError(f'{path}: "context" must be a JSON object')
    return context


def deep_merge(*objects: dict[str, Any]) -> dict[str, Any]:
    """Later objects win key by key; nested objects merge (the CLI's deepMerge), lists are replaced."""
    merged: dict[str, Any] = {}

    def merge_one(target: dict[str, Any], source: dict[str, Any]) -> None:
        for key, value in source.items():
            if isinstance(value, dict):
                if not isinstance(target.get(key), dict):
                    target[key] = {}
                merge_one(target[key], value)
            else:
                target[key] = value

    for item in objects:
        merge_one(merged, item)
    return merged


def _truthy(value: Any) -> bool:
    """JavaScript's truthiness of a JSON value: [] and {} are true there."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    return bool(value != "")


def cli_context(settings: dict[str, Any]) -> dict[str, Any]:
    """The context keys `cdk deploy` always adds (contextFromSettings), which override the files'."""
    context: dict[str, Any] = {}
    for setting, key in (("pathMetadata", PATH_METADATA_CONTEXT), ("assetMetadata", ASSET_METADATA_CONTEXT)):
        if _truthy(True if settings.get(setting) is None else settings[setting]):
            context[key] = True
    version_reporting = settings.get("versionReporting")
    if _truthy(True if version_reporting is None else version_reporting):
        context[VERSION_REPORTING_CONTEXT] = True
    else:
        context[DISABLE_VERSION_REPORTING_CONTEXT] = True
    context[BUNDLING_STACKS_CONTEXT] = ["**"]
    context[FAIL_SYNTH_ON_VALIDATION_ERRORS_CONTEXT] = False
    return context


@dataclass(frozen=True)
class ProjectSettings:
    """What the CLI reads from a folder's cdk.json, cdk.context.json and ~/.cdk.json."""

    folder: Path
    settings: dict[str, Any]  # defaults, ~/.cdk.json, cdk.json: deep-merged
    context: dict[str, Any]  # what the app gets in CDK_CONTEXT_JSON
    app_source: Path  # the file that names the app (for messages)

    @property
    def config_file(self) -> Path:
        return self.folder / PROJECT_CONFIG

    @property
    def output(self) -> Path:
        """Where the assembly goes (`output`, default cdk.out), relative to the folder as for the CLI."""
        output = self.settings.get("output")
        if not isinstance(output, str) or not output:
            raise AssemblyError(
                f'{self.config_file}: "output" must be a folder name (a string, as the CDK CLI requires), '
                f"not {json.dumps(output)}"
            )
        return (self.folder / output).resolve()

    @property
    def build(self) -> str | None:
        build = self.settings.get("build")
        if build is None or build == "":
            return None
        if not isinstance(build, str):
            raise AssemblyError(
                f'{self.config_file}: "build" must be a command (a string), not {json.dumps(build)}'
            )
        return build

    @property
    def app(self) -> str | Path:
        """The app command, or the cloud assembly folder `app` names (exec.js: then there is no synth)."""
        app = self.settings.get("app")
        if app is None or app in ("", []):
            if not self.config_file.is_file():
                raise AssemblyError(
                    f"{self.folder} has no {PROJECT_CONFIG}: run personalize-local deploy in your CDK app's "
                    "folder (where `cdk synth` works), or deploy an assembly you synthesized with "
                    "--no-synth --cdk-out DIR"
                )
            raise AssemblyError(
                f'{self.config_file} has no "app" command (the command that synthesizes your app, '
                'e.g. "python3 app.py", or a list of words the CDK CLI joins with spaces)'
            )
        if isinstance(app, str):
            if (self.folder / app).is_dir():
                return (self.folder / app).resolve()
            return app
        if isinstance(app, list) and all(isinstance(word, str) for word in app):
            return " ".join(app)
        raise AssemblyError(
            f'{self.app_source}: "app" must be a command (a string, or a list of strings the CDK CLI joins '
            f"with spaces), not {json.dumps(app)}"
        )


def project_settings(folder: Path) -> ProjectSettings:
    """The folder's settings and context, read as Configuration.loadConfigFiles reads them."""
    user_file = USER_DEFAULTS.expanduser()
    user = _file_settings(user_file)
    if _truthy(user.get("build")):  # JavaScript truthiness, as the CLI tests it: [] and {} count
        raise AssemblyError(
            f"the `build` key cannot be in the user config ({user_file}), as for the CDK CLI; "
            f"put it in the project's {PROJECT_CONFIG}"
        )
    project = _file_settings(folder / PROJECT_CONFIG)
    cached = _file_settings(folder / PROJECT_CONTEXT)
    settings = deep_merge(DEFAULT_SETTINGS, user, project)
    files_context = deep_merge(
        _context_of(user_file, user), cached, _context_of(folder / PROJECT_CONFIG, project)
    )
    context = {**files_context, **cli_context(settings)}
    app_source = folder / PROJECT_CONFIG if "app" in project or "app" not in user else user_file
    return ProjectSettings(folder=folder, settings=settings, context=context, app_source=app_source)


def guess_executable(command: str, folder: Path) -> str:
    """The command line the CLI would run (guessExecutable): a non-executable .js file runs with node."""
    whole = _checked_file(command, folder)
    if whole is not None:
        return _interpreter(command, whole)
    first, rest = _split_first_shell_word(command)
    first_file = _checked_file(first, folder)
    if first_file is not None:
        return f"{_interpreter(first, first_file)} {rest}".strip()
    return command


def _checked_file(name: str, folder: Path) -> os.stat_result | None:
    try:
        return (folder / name).stat() if name else None
    except (OSError, ValueError):
        return None


def _interpreter(name: str, status: os.stat_result) -> str:
    if Path(name).suffix == ".js" and not status.st_mode & OTHERS_EXECUTE:
        node = shutil.which("node")
        if node is None:
            raise AssemblyError(
                f"the app {name} is a JavaScript file, which the CDK CLI runs with Node.js: no `node` on PATH"
            )
        return f"{_quote(node)} {_quote(name)}"
    return _quote(name)


def _split_first_shell_word(command: str) -> tuple[str, str]:
    command = command.strip()
    if command.startswith('"'):
        end = command.find('"', 1)
        return (command[1:end], command[end + 1 :].strip()) if end > -1 else (command, "")
    first, space, rest = command.partition(" ")
    return (first, rest) if space else (command, "")


def _quote(part: str) -> str:
    if SHELL_SAFE.match(part):
        return part
    return '"' + re.sub(r'([\\"$`])', r"\\\1", part) + '"'


def _run(what: str, command: str, folder: Path, environment: dict[str, str]) -> None:
    try:
        finished = subprocess.run(command, shell=True, cwd=folder, env=environment, check=False)
    except OSError as error:
        raise AssemblyError(
            f"cannot run {folder / PROJECT_CONFIG}'s {what} command `{command}`: {error}"
        ) from error
    if finished.returncode != 0:
        raise AssemblyError(
            f"{folder / PROJECT_CONFIG}'s {what} command `{command}` exited with code {finished.returncode} "
            "(its output is above)"
        )


def synthesize_folder(folder: Path, outdir: Path, out: TextIO | None = None) -> Path:
    """Run cdk.json's build, then its app into `outdir`; returns the cloud assembly's folder.

    That is `outdir`, or the folder `app` names when it is an assembly already (the CLI then does not synth).
    The app's output goes to the terminal, as with `cdk synth`.
    """
    project = project_settings(folder)
    environment = {"PYTHONIOENCODING": "utf-8", **os.environ}
    if project.build is not None:
        if out is not None:
            out.write(f"Building ({PROJECT_CONFIG} build: {project.build}) ...\n")
            out.flush()
        _run("build", project.build, folder, environment)
    app = project.app
    if isinstance(app, Path):
        if not (app / "manifest.json").is_file():
            raise AssemblyError(
                f"{project.app_source}'s app names the folder {app}, which holds no cloud assembly "
                "(no manifest.json): point app at your app's command, or at a folder `cdk synth` wrote"
            )
        if out is not None:
            out.write(f"{PROJECT_CONFIG}'s app is a cloud assembly folder: deploying {app} as it is\n")
        return app
    command = guess_executable(app, folder)
    if out is not None:
        out.write(f"Synthesizing the CDK app of {folder} ({PROJECT_CONFIG}: {app}) into {outdir} ...\n")
        out.flush()
    outdir.mkdir(parents=True, exist_ok=True)
    environment[OUTDIR_ENV] = str(outdir)
    context = json.dumps(project.context, separators=(",", ":"), ensure_ascii=False)  # as JSON.stringify
    used = sum(len(key.encode()) + len(value.encode()) for key, value in environment.items())
    limit = WINDOWS_ENVIRONMENT_SIZE_LIMIT if sys.platform == "win32" else ENVIRONMENT_SIZE_LIMIT
    if len(context.encode()) + len(CONTEXT_ENV) + used > limit:
        raise AssemblyError(
            f"the context ({len(context.encode()):,} bytes of JSON) and the environment ({used:,} bytes) "
            f"do not fit in {limit:,} bytes; the CDK CLI would move the context into a file, which "
            "personalize-local does not: make the context or the environment smaller"
        )
    environment[CONTEXT_ENV] = context
    _run("app", command, folder, environment)
    return outdir
