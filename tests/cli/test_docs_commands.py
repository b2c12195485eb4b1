"""Every command in README.md, docs/*.md and the config files' comments resolves, and the safe ones run.

Commands come from shell code blocks, from inline code that starts like a command, and from
backticked commands in config comments. Each must match a checker below (an unknown kind of command
fails the test, so a new one gets a checker): make targets and their variables exist, `npx cdk`
subcommands and `-c` names resolve to config files, modules and console scripts exist. Listing,
read-only commands run for real; the README's example outputs are regenerated and compared.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from config import available_environments
from config.pipeline import available_pipelines
from personalize_tools.emulator.server import ADMIN_PREFIX
from personalize_tools.localdeploy.services import ServiceManager
from tests import PROJECT_ROOT
from tests.cli.support import run_cdk

DOCUMENTS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
CONFIG_FILES = sorted((PROJECT_ROOT / "config").rglob("*.yaml"))
COMMAND_START = re.compile(
    r"^(make |npx |\.venv/bin/|python3? -m |validate-data |personalize-[a-z-]+ |aws |source )"
)
SHELL_BLOCK = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.S)
INLINE = re.compile(r"`([^`\n]+)`")
PLACEHOLDER = re.compile(r"^(?:[A-Z_]+|\[.*\]|\.\.\.)$")
SCRIPTS = set(tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"])
MAKEFILE = (PROJECT_ROOT / "Makefile").read_text()
MAKE_TARGETS = set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE, re.M))
MAKE_VARIABLES = set(re.findall(r"^([A-Z_]+) \?=", MAKEFILE, re.M))  # what `make NAME=value` may set
CDK_SUBCOMMANDS = {"ls", "synth", "diff", "deploy", "destroy", "bootstrap", "flags"}
# config/prod.example.yaml says: copy it to config/prod.yaml; the docs then use -c env=prod.
USER_COPIES = {"prod": "prod.example"}
ENVIRONMENTS = set(available_environments())
PIPELINES = set(available_pipelines())
BIN = Path(sys.executable).parent


def _logical_lines(block: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", block)
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def documented_commands() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in DOCUMENTS:
        text = path.read_text()
        where = path.relative_to(PROJECT_ROOT).as_posix()
        found += [(where, line) for block in SHELL_BLOCK.findall(text) for line in _logical_lines(block)]
        prose = SHELL_BLOCK.sub("", text)
        found += [(where, span) for span in INLINE.findall(prose) if COMMAND_START.match(span)]
    for path in CONFIG_FILES:
        where = path.relative_to(PROJECT_ROOT).as_posix()
        for line in path.read_text().splitlines():
            if line.lstrip().startswith("#"):
                found += [(where, span) for span in INLINE.findall(line) if COMMAND_START.match(span)]
    return sorted(set(found))


COMMANDS = documented_commands()


def _context_name(pair: str) -> None:
    key, _, value = pair.partition("=")
    if key == "env":
        assert USER_COPIES.get(value, value) in ENVIRONMENTS or PLACEHOLDER.match(value), (
            f"no config/{value}.yaml"
        )
    elif key == "pipeline":
        assert value in PIPELINES or PLACEHOLDER.match(value), f"no config/pipelines/{value}.yaml"
    else:
        assert key in {"github_oidc", "github_oidc_provider_arn"}, f"unknown context key {key}"


def check_make(words: list[str]) -> None:
    for word in words[1:]:
        name, equals, value = word.partition("=")
        if not equals:
            assert name in MAKE_TARGETS, f"no make target {name}"
        elif name == "ENV":
            assert value in ENVIRONMENTS, f"ENV={value}: no config/{value}.yaml"
        elif name == "PIPELINE":
            assert value in PIPELINES, f"PIPELINE={value}: no such rollout"
        else:
            assert name in MAKE_VARIABLES, f"the Makefile reads no variable {name}"


def check_cdk(words: list[str]) -> None:
    assert words[1] == "cdk" and words[2] in CDK_SUBCOMMANDS, f"not a CDK CLI command: {words[1:3]}"
    for flag, value in itertools.pairwise(words):
        if flag in ("-c", "--context"):
            _context_name(value)


def check_module(words: list[str]) -> None:
    module = words[words.index("-m") + 1]
    assert importlib.util.find_spec(module) is not None, f"no module {module}"


def check_program(words: list[str]) -> None:
    name = words[0].removeprefix(".venv/bin/")
    if name in ("python", "python3"):
        check_module(words)
        return
    assert name in SCRIPTS or name == "aws", f"{name} is neither a console script nor the AWS CLI"
    assert (BIN / name).is_file(), f"{name} is not installed in {BIN}"
    if name == "aws":
        local = {"personalize", "personalize-events", "personalize-runtime", "s3"}  # what env.sh routes
        assert words[1] in local, f"aws {words[1]}: only {', '.join(sorted(local))} are local"


def check_source(words: list[str]) -> None:
    assert words[1] == (ServiceManager(Path(".personalize-local")).env_file).as_posix()


def check_export(words: list[str]) -> None:
    for word in words[1:]:
        name = word.partition("=")[0]
        assert name == "PATH" or name.startswith("AWS_"), f"export {name}"


def check_curl(words: list[str]) -> None:
    (url,) = [word for word in words if "/_emulator/" in word]
    assert url.partition("/_emulator/")[2] in {"calls", "state", "faults", "reset"}
    assert ADMIN_PREFIX == "/_emulator/"


CHECKERS: dict[str, Callable[[list[str]], None]] = {
    "make": check_make,
    "npx": check_cdk,
    "source": check_source,
    "export": check_export,
    "curl": check_curl,
}


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[f"{w}: {c}"[:90] for w, c in COMMANDS])
def test_documented_command_resolves(where: str, command: str) -> None:
    words = shlex.split(command)
    while words:  # `a && b`: each command in turn
        part = words[: words.index("&&")] if "&&" in words else words
        words = words[len(part) + 1 :]
        CHECKERS.get(part[0], check_program)(part)


def test_the_documents_hold_the_commands_this_test_reads() -> None:
    commands = {command for _, command in COMMANDS}
    assert {"make demo", "make test", "npx cdk deploy -c env=dev", "npx cdk diff -c env=dev"} <= commands
    assert len(COMMANDS) > 40


def test_listing_commands_run(tmp_path: Path) -> None:
    """`npx cdk ls` as documented; nothing is deployed, no credentials are needed."""
    listed = sorted({command for _, command in COMMANDS if command.startswith("npx cdk ls ")})
    assert listed
    for command in listed:
        result = run_cdk(*shlex.split(command)[2:], outdir=tmp_path / str(listed.index(command)))
        assert result.returncode == 0, f"{command}: {result.stderr}"


def test_github_oidc_outputs_command_runs() -> None:
    (command,) = [c for _, c in COMMANDS if c.startswith(".venv/bin/python -m stacks.github_oidc_stack")]
    result = subprocess.run(
        [sys.executable, *shlex.split(command)[1:]],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [line.partition("=")[0] for line in result.stdout.splitlines()] == [
        "account",
        "region",
        "deploy_role_arn",
        "diff_role_arn",
    ]


def _readme_block(starting: str) -> str:
    blocks = re.findall(r"```text\n(.*?)```", (PROJECT_ROOT / "README.md").read_text(), re.S)
    (block,) = [block for block in blocks if block.startswith(starting)]
    return str(block)


def _sessions(block: str) -> list[tuple[str, str]]:
    """`$ command` lines (with `\\` continuations) and the output printed under each."""
    sessions: list[tuple[str, list[str]]] = []
    continued = False
    for line in block.splitlines():
        if line.startswith("$ ") or continued:
            if continued:
                command, output = sessions[-1]
                sessions[-1] = (command + " " + line.strip(), output)
            else:
                sessions.append((line[2:], []))
            continued = line.endswith("\\")
            if continued:
                command, output = sessions[-1]
                sessions[-1] = (command.removesuffix("\\").rstrip(), output)
        else:
            sessions[-1][1].append(line)
    return [(command, "\n".join(output) + "\n") for command, output in sessions]


def test_readme_validate_data_example_is_what_the_tools_print(tmp_path: Path) -> None:
    """The README's own commands write the file and validate it; the printed report is the README's."""
    sessions = _sessions(_readme_block("$ .venv/bin/personalize-sample-data"))
    assert [command.split()[0] for command, _ in sessions] == [
        ".venv/bin/personalize-sample-data",
        ".venv/bin/validate-data",
    ]
    for command, expected in sessions:
        words = shlex.split(command)
        result = subprocess.run(
            [str(BIN / words[0].removeprefix(".venv/bin/")), *words[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.stdout == expected, command


def test_readme_config_error_example_is_what_synthesis_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import ConfigError
    from config.model import load_file

    expected = _readme_block("config error:")
    bad = re.sub(r"(?m)^domain: .*$", "domain: RETAIL", (PROJECT_ROOT / "config" / "dev.yaml").read_text())
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "dev.yaml").write_text(bad)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as refused:
        load_file(Path("config/dev.yaml"), "dev")
    assert f"config error: {refused.value}\n" == expected
