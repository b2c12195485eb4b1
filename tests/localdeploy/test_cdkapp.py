"""deploy without --env in a folder with its own cdk.json: that app is synthesized as `cdk synth` does.

The app here is a small script that writes a cloud assembly by hand (no CDK: seconds saved), so what is
checked is the contract with the app (CDK_OUTDIR, CDK_CONTEXT_JSON, the context's order) and every way it
can go wrong, each a one-line error with exit 2 before any local service starts. The full path, a real
CDK app built on the installed wheel deployed and destroyed locally, is tests/cli/test_wheel.py's.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from personalize_tools.localdeploy.cdkapp import guess_executable, synthesize_folder
from personalize_tools.localdeploy.cli import main
from personalize_tools.localdeploy.errors import AssemblyError
from tests import PROJECT_ROOT

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


# What the pinned CLI's contextFromSettings (node_modules/aws-cdk/lib/index.js) adds for `cdk deploy` with
# no settings of its own: read from that file, so a CLI upgrade that changes it fails here.
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
    "@aws-cdk/core:failSynthOnValidationErrors": False,
}
CLI_BUNDLE = PROJECT_ROOT / "node_modules" / "aws-cdk" / "lib" / "index.js"


@pytest.fixture
def app_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "my-app"
    folder.mkdir()
    (folder / "app.py").write_text(APP)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(folder)
    yield folder
    assert not list(folder.rglob("services.json")), "a test here started the local services"


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
    assert seen == {"stacks": ["A", "B"], "from": "cdk.json", "cached": 1, "user": True, **CLI_CONTEXT}
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


def _seen(folder: Path, outdir: str = "cdk.out") -> dict[str, object]:
    seen: dict[str, object] = json.loads((folder / outdir / "context-seen.json").read_text())
    return seen


def test_the_clis_context_keys_are_read_from_the_pinned_cli() -> None:
    """Each key and value of CLI_CONTEXT is where contextFromSettings sets it, in the bundle we pin."""
    bundle = CLI_BUNDLE.read_text(encoding="utf-8")
    start = bundle.index("function contextFromSettings(settings) {")
    body = bundle[start : bundle.index("\n}\n", start)]
    assert 'settings.get(["pathMetadata"]) ?? true' in body
    assert 'settings.get(["assetMetadata"]) ?? true' in body
    assert 'settings.get(["versionReporting"]) ?? true' in body
    assert 'context["aws:cdk:disable-version-reporting"] = true' in body
    assert 'settings.get(["bundlingStacks"]) ?? ["**"]' in body
    assert "context[cxapi4.FAIL_SYNTH_ON_VALIDATION_ERRORS_CONTEXT] = false" in body
    for name, key in [
        ("PATH_METADATA_ENABLE_CONTEXT", "aws:cdk:enable-path-metadata"),
        ("ASSET_RESOURCE_METADATA_ENABLED_CONTEXT", "aws:cdk:enable-asset-metadata"),
        ("ANALYTICS_REPORTING_ENABLED_CONTEXT", "aws:cdk:version-reporting"),
        ("BUNDLING_STACKS", "aws:cdk:bundling-stacks"),
        ("FAIL_SYNTH_ON_VALIDATION_ERRORS_CONTEXT", "@aws-cdk/core:failSynthOnValidationErrors"),
    ]:
        assert f'exports2.{name} = "{key}";' in bundle, name
        assert key in CLI_CONTEXT


def test_settings_turn_the_clis_keys_off_and_its_keys_win_over_the_files(app_folder: Path) -> None:
    """cdk.json's pathMetadata/assetMetadata/versionReporting false drop the keys, as with the CLI."""
    settings = {"pathMetadata": False, "assetMetadata": 0, "versionReporting": False, "bundlingStacks": []}
    context = {"stacks": ["A"], "aws:cdk:bundling-stacks": ["mine"], "nested": {"a": 1}}
    (app_folder / "cdk.json").write_text(
        json.dumps({"app": f"{sys.executable} app.py", "context": context, **settings})
    )
    (Path.home() / ".cdk.json").write_text(json.dumps({"context": {"nested": {"a": 2, "b": 3}}}))
    code, output = _deploy(app_folder, "--stack", "Z")
    assert code == 2, output
    seen = _seen(app_folder)
    assert seen == {
        "stacks": ["A"],
        "nested": {"a": 1, "b": 3},  # objects merge deeply; the first file that has a leaf wins
        "aws:cdk:disable-version-reporting": True,
        "aws:cdk:bundling-stacks": ["**"],  # `cdk deploy` passes ["**"] on its command line
        "@aws-cdk/core:failSynthOnValidationErrors": False,
    }


def test_an_app_given_as_a_list_is_joined_with_spaces(app_folder: Path) -> None:
    (app_folder / "cdk.json").write_text(
        json.dumps({"app": [sys.executable, "app.py"], "context": {"fail": 1}})
    )
    code, output = _deploy(app_folder)
    assert code == 2
    assert _errors(output) == [
        f"error: {app_folder / 'cdk.json'}'s app command `{sys.executable} app.py` exited with code 3 "
        "(its output is above)"
    ]
    assert _seen(app_folder)["fail"] == 1


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        ([sys.executable, 3], '"app" must be a command (a string, or a list of strings'),
        ({"run": "x"}, '"app" must be a command'),
        ([], 'has no "app" command'),
    ],
)
def test_an_app_of_another_type_is_one_error_line(app_folder: Path, app: object, expected: str) -> None:
    (app_folder / "cdk.json").write_text(json.dumps({"app": app}))
    code, output = _deploy(app_folder)
    assert code == 2, output
    (error,) = _errors(output)
    assert expected in error


def test_an_app_that_is_an_assembly_folder_is_deployed_as_it_is(app_folder: Path) -> None:
    """exec.js: "bypass synth if app points to a cloud assembly"; nothing runs, --cdk-out is not written."""
    _cdk_json(app_folder, {"stacks": ["A", "B"]})
    assert synthesize_folder(app_folder, app_folder / "asm") == app_folder / "asm"
    _cdk_json(app_folder, {"stacks": ["C"]}, app="asm")
    code, output = _deploy(app_folder)
    assert code == 2
    assert _errors(output) == [
        f"error: {app_folder / 'asm'} has 2 stacks (A, B); name the one to deploy with --stack NAME"
    ]
    assert "cloud assembly folder: deploying" in output
    assert not (app_folder / "cdk.out").exists()
    assert _seen(app_folder, "asm")["stacks"] == ["A", "B"], "the app ran again"


def test_no_synth_reads_the_assembly_folder_app_names(app_folder: Path) -> None:
    """--no-synth reads the folder a deploy with synth would deploy: cdk.json's app when it is an assembly."""
    _cdk_json(app_folder, {"stacks": ["A", "B"]})
    synthesize_folder(app_folder, app_folder / "asm")
    _cdk_json(app_folder, {"stacks": ["C"]}, app="asm")
    code, output = _deploy(app_folder, "--no-synth")
    assert code == 2
    assert _errors(output) == [
        f"error: {app_folder / 'asm'} has 2 stacks (A, B); name the one to deploy with --stack NAME"
    ]


def test_an_assembly_folder_app_without_a_manifest_is_named(app_folder: Path) -> None:
    (app_folder / "empty").mkdir()
    _cdk_json(app_folder, {"stacks": ["A"]}, app="empty")
    code, output = _deploy(app_folder)
    assert code == 2
    (error,) = _errors(output)
    assert (
        f"names the folder {app_folder / 'empty'}, which holds no cloud assembly (no manifest.json)" in error
    )


@pytest.mark.parametrize("build", [[], {}], ids=["list", "object"])
def test_a_build_in_the_user_config_is_refused_with_javascripts_truthiness(
    app_folder: Path, build: object
) -> None:
    """The CLI refuses any truthy `build` in ~/.cdk.json; in JavaScript [] and {} are truthy."""
    (Path.home() / ".cdk.json").write_text(json.dumps({"build": build}))
    _cdk_json(app_folder, {"stacks": ["A"]})
    code, output = _deploy(app_folder)
    assert code == 2
    (error,) = _errors(output)
    assert "cannot be in the user config" in error


def test_the_build_command_runs_first_without_the_apps_environment(app_folder: Path) -> None:
    """The app here exists only once the build made it: build, then app, as in execProgram."""
    build = (
        "import os, shutil; shutil.copy('app.py', 'built_app.py'); "
        "seen = [os.environ.get(name, '-') for name in ('CDK_OUTDIR', 'CDK_CONTEXT_JSON')]; "
        "open('built.txt', 'w').write(''.join(seen))"
    )
    cdk_json = {"app": f"{sys.executable} built_app.py", "build": f'{sys.executable} -c "{build}"'}
    (app_folder / "cdk.json").write_text(json.dumps({**cdk_json, "context": {"stacks": ["A"]}}))
    code, output = _deploy(app_folder, "--stack", "B")
    assert code == 2
    assert "has no stack B (it has: A)" in _errors(output)[0]
    assert _seen(app_folder)["stacks"] == ["A"]
    assert (app_folder / "built.txt").read_text() == "--", "build ran with the app's CDK_OUTDIR or context"


def test_a_failing_build_stops_before_the_app(app_folder: Path) -> None:
    (app_folder / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py", "build": "exit 4"}))
    code, output = _deploy(app_folder)
    assert code == 2
    assert _errors(output) == [
        f"error: {app_folder / 'cdk.json'}'s build command `exit 4` exited with code 4 (its output is above)"
    ]
    assert not (app_folder / "cdk.out").exists()


def test_a_build_that_is_not_a_string_is_one_error_line(app_folder: Path) -> None:
    (app_folder / "cdk.json").write_text(json.dumps({"app": "x", "build": ["make", "all"]}))
    code, output = _deploy(app_folder)
    assert code == 2
    assert _errors(output) == [
        f'error: {app_folder / "cdk.json"}: "build" must be a command (a string), not ["make", "all"]'
    ]


def test_a_build_in_the_user_config_is_refused_as_by_the_cli(app_folder: Path) -> None:
    _cdk_json(app_folder, {"stacks": ["A"]})
    (Path.home() / ".cdk.json").write_text(json.dumps({"build": "make"}))
    code, output = _deploy(app_folder)
    assert code == 2
    (error,) = _errors(output)
    assert "the `build` key cannot be in the user config" in error


def test_the_output_setting_is_where_synth_writes_and_no_synth_reads(app_folder: Path) -> None:
    """`cdk synth` with cdk.json's output, then deploy --no-synth: the same folder, no --cdk-out needed."""
    (app_folder / "cdk.json").write_text(
        json.dumps({"app": f"{sys.executable} app.py", "output": "build/asm", "context": {"stacks": ["A"]}})
    )
    code, output = _deploy(app_folder, "--stack", "B")
    assert code == 2
    assert "has no stack B (it has: A)" in _errors(output)[0]
    assert _seen(app_folder, "build/asm")["stacks"] == ["A"]
    assert not (app_folder / "cdk.out").exists()
    code, output = _deploy(app_folder, "--no-synth", "--stack", "B")
    assert f"{app_folder / 'build' / 'asm'} has no stack B (it has: A)" in _errors(output)[0]
    code, output = _deploy(app_folder, "--cdk-out", "other", "--stack", "B")
    assert _seen(app_folder, "other")["stacks"] == ["A"], "--cdk-out wins over output, as --output does"


def test_an_output_that_is_not_a_string_is_one_error_line(app_folder: Path) -> None:
    (app_folder / "cdk.json").write_text(json.dumps({"app": "x", "output": 3}))
    code, output = _deploy(app_folder, "--no-synth")
    assert code == 2
    assert _errors(output) == [
        f'error: {app_folder / "cdk.json"}: "output" must be a folder name (a string, as the CDK CLI '
        "requires), not 3"
    ]


def test_a_prohibited_context_key_is_refused_as_by_the_cli(app_folder: Path) -> None:
    _cdk_json(app_folder, {"default-account": "1"})
    code, output = _deploy(app_folder)
    assert code == 2
    (error,) = _errors(output)
    assert "the 'context.default-account' key was found in" in error


def test_a_javascript_app_runs_with_node_and_an_executable_file_as_it_is(app_folder: Path) -> None:
    """guessExecutable: a .js file without the execute bit gets node; other files are run themselves."""
    (app_folder / "app.js").write_text("")
    assert guess_executable("app.js --x", app_folder) == f"{shutil.which('node')} app.js --x"
    (app_folder / "app.js").chmod(0o755)
    assert guess_executable("app.js --x", app_folder) == "app.js --x"
    assert guess_executable('"my app.sh" -v', app_folder) == '"my app.sh" -v'  # no such file: as it is
    (app_folder / "my app.sh").write_text("")
    assert guess_executable('"my app.sh" -v', app_folder) == '"my app.sh" -v'
    assert guess_executable("python3 app.py", app_folder) == "python3 app.py"


def test_the_app_gets_pythonioencoding_unless_set(app_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONIOENCODING", raising=False)
    command = f"{sys.executable} -c \"import os; open('enc.txt', 'w').write(os.environ['PYTHONIOENCODING'])\""
    _cdk_json(app_folder, {}, app=command)
    _deploy(app_folder)
    assert (app_folder / "enc.txt").read_text() == "utf-8"
    monkeypatch.setenv("PYTHONIOENCODING", "latin-1")
    _deploy(app_folder)
    assert (app_folder / "enc.txt").read_text() == "latin-1"


def test_a_context_too_big_for_the_environment_is_refused(app_folder: Path) -> None:
    _cdk_json(app_folder, {"stacks": ["A"], "big": "x" * 140_000})
    code, output = _deploy(app_folder)
    assert code == 2
    (error,) = _errors(output)
    assert "do not fit in 131,072 bytes" in error
    assert "make the context or the environment smaller" in error
    assert not (app_folder / "cdk.out" / "context-seen.json").exists()
