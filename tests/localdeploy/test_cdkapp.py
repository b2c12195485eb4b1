"""deploy without --env in a folder with its own cdk.json: that app is synthesized as `cdk synth` does.

The app here is a small script that writes a cloud assembly by hand (no CDK: seconds saved), so what is
checked is the contract with the app (CDK_OUTDIR, CDK_CONTEXT_JSON, the context's order) and every way it
can go wrong, each a one-line error with exit 2 before any local service starts. The full path, a real
CDK app built on the installed wheel deployed and destroyed locally, is tests/cli/test_wheel.py's.
"""

from __future__ import annotations

import io
import json
import sys
import textwrap
from pathlib import Path

import pytest

from personalize_tools.localdeploy.cdkapp import synthesize_folder
from personalize_tools.localdeploy.cli import main
from personalize_tools.localdeploy.errors import AssemblyError

# Writes the context it was given, and an assembly with the stacks named in the context key "stacks".
APP = textwrap.dedent(
    """
    import json, os, pathlib, sys
    out = pathlib.Path(os.environ["CDK_OUTDIR"])
    context = json.loads(os.environ["CDK_CONTEXT_JSON"])
    (out / "context-seen.json").write_text(json.dumps(context))
    if context.get("fail"):
        sys.exit(3)
    artifacts = {}
    for name in context["stacks"]:
        (out / f"{name}.template.json").write_text(json.dumps({"Resources": {}}))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://unknown-account/unknown-region",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    (out / "manifest.json").write_text(json.dumps({"version": "48.0.0", "artifacts": artifacts}))
    """
)


@pytest.fixture
def app_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "my-app"
    folder.mkdir()
    (folder / "app.py").write_text(APP)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(folder)
    return folder


def _cdk_json(folder: Path, context: dict[str, object], app: str | None = None) -> None:
    command = f"{sys.executable} app.py" if app is None else app
    (folder / "cdk.json").write_text(json.dumps({"app": command, "context": context}))


def _deploy(folder: Path, *arguments: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["deploy", "--state-dir", str(folder / "state"), *arguments], out=out)
    return code, out.getvalue()


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_the_app_gets_the_outdir_and_the_context_in_the_clis_order(app_folder: Path) -> None:
    """First found wins: cdk.json's context, then cdk.context.json, then ~/.cdk.json's."""
    _cdk_json(app_folder, {"stacks": ["A", "B"], "from": "cdk.json"})
    (app_folder / "cdk.context.json").write_text(json.dumps({"from": "cdk.context.json", "cached": 1}))
    (Path.home() / ".cdk.json").write_text(json.dumps({"context": {"cached": 2, "user": True}}))
    code, output = _deploy(app_folder, "--cdk-out", "out")
    seen = json.loads((app_folder / "out" / "context-seen.json").read_text())
    assert seen == {"stacks": ["A", "B"], "from": "cdk.json", "cached": 1, "user": True}
    # Two stacks and no --stack: refused before any service starts.
    assert code == 2
    assert _errors(output) == [
        f"error: {app_folder / 'out'} has 2 stacks (A, B); name the one to deploy with --stack NAME"
    ]
    assert not (app_folder / "state" / "services.json").exists()


def test_a_stack_the_assembly_lacks_is_named(app_folder: Path) -> None:
    _cdk_json(app_folder, {"stacks": ["A"]})
    code, output = _deploy(app_folder, "--stack", "C")
    assert code == 2
    (error,) = _errors(output)
    assert "has no stack C (it has: A)" in error


@pytest.mark.parametrize(
    ("cdk_json", "expected"),
    [
        ("{not json", "cdk.json is not valid JSON"),
        ('["app"]', "cdk.json must hold a JSON object, not list"),
        ('{"context": {}}', 'cdk.json has no "app" command'),
        ('{"app": "x", "context": []}', 'cdk.json: "context" must be a JSON object'),
    ],
)
def test_a_bad_cdk_json_is_one_error_line(app_folder: Path, cdk_json: str, expected: str) -> None:
    (app_folder / "cdk.json").write_text(cdk_json)
    code, output = _deploy(app_folder)
    assert code == 2, output
    (error,) = _errors(output)
    assert expected in error


def test_no_cdk_json_says_where_to_run(app_folder: Path) -> None:
    """In a checkout, deploy there means --env dev; the installed wheel's path is test_wheel.py's."""
    with pytest.raises(AssemblyError, match=r"has no cdk\.json: run personalize-local deploy in"):
        synthesize_folder(app_folder, app_folder / "cdk.out")


def test_a_failing_app_command_names_its_exit_code(app_folder: Path) -> None:
    _cdk_json(app_folder, {"fail": True})
    code, output = _deploy(app_folder)
    assert code == 2
    (error,) = _errors(output)
    assert error == (
        f"error: {app_folder / 'cdk.json'}'s app command `{sys.executable} app.py` exited with code 3 "
        "(its output is above)"
    )


def test_no_synth_deploys_the_assembly_as_it_is_and_needs_one(app_folder: Path) -> None:
    _cdk_json(app_folder, {"stacks": ["A"]})
    code, output = _deploy(app_folder, "--no-synth")
    assert code == 2
    (error,) = _errors(output)
    assert "holds no cloud assembly (no manifest.json)" in error
    assert not (app_folder / "cdk.out" / "context-seen.json").exists(), "--no-synth ran the app"
