"""constructs_lib as a library: built from a git URL into a wheel, installed in a fresh environment, used.

The wheel carries Python modules only: the construct library, the handler asset package and the tools'
code (their dependencies come with the extras); not stacks/, tests, benchmarks, sample data or locks.
Its console scripts run without a checkout: `personalize-local deploy` deploys the user's own CDK app
(its cdk.json) to the local services; what needs this project's app, config or data fails in one line.

The wheel is built offline from a git copy of the working tree (`pip wheel git+file://...`, the build
backend from this .venv), installed without dependencies into a new venv whose only other packages are
this .venv's (a .pth file: the tests have no index to install from), and a user's app outside the
repository synthesizes with its own bucket and role, imported by name and ARN.

The user's apps run as a user of their own: HOME is a folder of the test's (the CDK CLI, and so
`personalize-local deploy`, reads ~/.cdk.json, the CLI's user config), and no CDK_* variable of the
caller's reaches them (CDK_CONTEXT_JSON or CDK_OUTDIR would change their context or output). pip and git
keep the caller's HOME: their configuration and cache (and the PIP_* variables) still apply.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests import PROJECT_ROOT

ACCOUNT = "111111111111"
BUCKET = "acme-existing-data"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/acme-personalize-import"
USER_APP = textwrap.dedent(
    f"""
    import sys
    from pathlib import Path

    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_s3 as s3

    import constructs_lib
    from constructs_lib import DomainDatasetGroup
    from constructs_lib.preflight import DataPreflightError, LocalDataset, check_local_data

    here = Path(__file__).parent
    def preflight(name):
        check_local_data([LocalDataset(here / name, "INTERACTIONS")], domain_name="ECOMMERCE", full=False)
    try:
        preflight("bad.csv")
    except DataPreflightError as error:
        print("refused:", error)
    preflight("good.csv")

    app = cdk.App(outdir=str(here / "cdk.out"))
    stack = cdk.Stack(app, "AcmeRecs", env=cdk.Environment(account="{ACCOUNT}", region="eu-west-1"))
    bucket = s3.Bucket.from_bucket_name(stack, "Data", "{BUCKET}")
    role = iam.Role.from_role_arn(stack, "ImportRole", "{ROLE_ARN}", mutable=False)
    group = DomainDatasetGroup(stack, "Group", domain_name="ECOMMERCE", name_prefix="acme")
    group.add_interactions_dataset().import_data(bucket=bucket, key="imports/interactions.csv", role=role)
    app.synth()
    print("constructs_lib:", Path(constructs_lib.__file__).resolve())
    """
)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Builds, installs and runs once; returns the user's template, cloud assembly folder and output."""
    work = tmp_path_factory.mktemp("wheel")
    source = _git_copy(work / "source")
    dist = work / "dist"
    _run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--wheel-dir", str(dist), f"git+file://{source}",
    )  # fmt: skip
    (wheel,) = dist.glob("personalize_domain_cdk-*.whl")

    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    site = Path(_run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "outer-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel))

    home = work / "home"  # the user's HOME: a ~/.cdk.json of the developer's could change the apps' context
    home.mkdir()
    (home / ".cdk.json").write_text(json.dumps({"context": HOME_CONTEXT}))
    user = work / "acme-app"
    user.mkdir()
    (user / "app.py").write_text(USER_APP)
    (user / "good.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1700000000,View\n")
    (user / "bad.csv").write_text("USER_ID,ITEM,TIMESTAMP,EVENT_TYPE\nu1,i1,1700000000,View\n")
    output = _run(str(python), str(user / "app.py"), cwd=user, extra=_user_environment(home))
    assembly = user / "cdk.out"
    template = json.loads((assembly / "AcmeRecs.template.json").read_text())
    return {
        "template": template,
        "assembly": assembly,
        "output": output,
        "site": site.resolve(),
        "wheel": wheel,
        "source": source,
        "bin": venv / "bin",
        "work": work,
        "home": home,
    }


def _user_environment(home: Path) -> dict[str, str]:
    """The user's apps run with HOME at HOME; jsii keeps the package cache it would use with the real one
    (unpacking aws-cdk-lib into a fresh cache costs some 4 s and 184 MB per session)."""
    return {"HOME": str(home), "JSII_RUNTIME_PACKAGE_CACHE_ROOT": _jsii_package_cache()}


def _jsii_package_cache() -> str:
    """jsii's own choice for this user (its runtime's defaultCacheRoot; this test runs on Linux or macOS)."""
    if configured := os.environ.get("JSII_RUNTIME_PACKAGE_CACHE_ROOT"):
        return configured
    if sys.platform == "darwin":
        return str(Path.home() / "Library" / "Caches" / "com.amazonaws.jsii" / "package-cache")
    return str(Path.home() / ".cache" / "aws" / "jsii" / "package-cache")


def _git_copy(target: Path) -> Path:
    """The working tree's files (tracked and new, not ignored) committed in a fresh repository."""
    listed = _run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=PROJECT_ROOT)
    for name in filter(None, listed.split("\0")):
        if (PROJECT_ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, target / name)
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    _run("git", "init", "--quiet", cwd=target)
    _run("git", "add", "--all", cwd=target)
    _run("git", *identity, "commit", "--quiet", "--no-verify", "-m", "copy", cwd=target)
    return target


def _run(*command: str, cwd: Path | None = None, extra: dict[str, str] | None = None) -> str:
    result = _call(*command, cwd=cwd, extra=extra)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _call(
    *command: str, cwd: Path | None = None, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("CDK_")
    } | (extra or {})
    return subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=cwd or Path.cwd(), env=environment
    )


def _services_environment(folder: Path) -> dict[str, str]:
    """The `export` lines `services start` wrote: what a user sources to reach the local services."""
    lines = (folder / ".personalize-local" / "env.sh").read_text().splitlines()
    pairs = (line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
    return {name: value for name, value in pairs}


def _resources(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == resource_type]


def test_the_app_uses_the_installed_library_not_the_checkout(synthesized: dict[str, Any]) -> None:
    line = next(line for line in synthesized["output"].splitlines() if line.startswith("constructs_lib:"))
    installed = Path(line.split(":", 1)[1].strip())
    assert installed.is_relative_to(synthesized["site"])
    assert not installed.is_relative_to(PROJECT_ROOT)


def test_the_template_has_the_custom_resources_on_the_users_bucket_and_role(
    synthesized: dict[str, Any],
) -> None:
    template = synthesized["template"]
    assert len(_resources(template, "Custom::PersonalizeDatasetGroup")) == 1
    assert len(_resources(template, "Custom::PersonalizeDataset")) == 1
    (job,) = _resources(template, "Custom::PersonalizeDatasetImportJob")
    assert job["Properties"]["DataLocation"] == f"s3://{BUCKET}/imports/interactions.csv"
    assert job["Properties"]["RoleArn"] == ROLE_ARN
    assert not _resources(template, "AWS::S3::Bucket"), "the user's bucket is imported, not created"


def test_the_handler_asset_is_staged_from_the_package_and_holds_the_handlers(
    synthesized: dict[str, Any],
) -> None:
    functions = _resources(synthesized["template"], "AWS::Lambda::Function")
    handlers = {function["Properties"]["Handler"] for function in functions}
    assert {"personalize.entry.on_event", "personalize.entry.is_complete"} <= handlers
    (staged,) = {path.parent.parent for path in synthesized["assembly"].glob("asset.*/personalize/entry.py")}
    assert (staged / "personalize" / "entry.py").is_file()
    assert (staged / "personalize" / "resources").is_dir()
    assert not list(staged.rglob("requirements.*")), "the runtime's boto3 lock is not part of the asset"
    assert not list(staged.rglob("__pycache__"))


def test_the_preflight_is_public_and_refuses_a_bad_header(synthesized: dict[str, Any]) -> None:
    refused = next(line for line in synthesized["output"].splitlines() if line.startswith("refused:"))
    assert "bad.csv" in refused
    assert "missing required column(s) ITEM_ID" in refused


# The wheel's top-level packages; stacks/ (this app's stacks, the pipeline runtime) stays in the checkout.
WHEEL_PACKAGES = {"constructs_lib", "lambda_handlers", "personalize_tools", "config"}


def test_the_wheel_holds_the_packages_python_modules_and_nothing_else(synthesized: dict[str, Any]) -> None:
    names = zipfile.ZipFile(synthesized["wheel"]).namelist()
    files = {name for name in names if not name.split("/", 1)[0].endswith(".dist-info")}
    assert {name.split("/", 1)[0] for name in files} == WHEEL_PACKAGES
    assert sorted(name for name in files if not name.endswith(".py")) == []  # no locks, YAML, CSV, docs
    source: Path = synthesized["source"]
    for package in sorted(WHEEL_PACKAGES):
        modules = {path.relative_to(source).as_posix() for path in (source / package).rglob("*.py")}
        assert {name for name in files if name.startswith(f"{package}/")} == modules, package
    assert "lambda_handlers/personalize/entry.py" in files
    assert "constructs_lib/personalize_provider.py" in files


def _console_scripts(wheel_file: Path) -> dict[str, str]:
    """Each console script of the wheel and the module it runs."""
    wheel = zipfile.ZipFile(wheel_file)
    (entry_points,) = [name for name in wheel.namelist() if name.endswith(".dist-info/entry_points.txt")]
    lines = wheel.read(entry_points).decode().splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {script.strip(): target.strip().split(":", 1)[0] for script, target in pairs}


def test_every_console_script_of_the_wheel_points_into_it(synthesized: dict[str, Any]) -> None:
    targets = _console_scripts(synthesized["wheel"]).values()
    assert targets
    names = set(zipfile.ZipFile(synthesized["wheel"]).namelist())
    for module in targets:
        path = module.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, module


def test_every_console_script_of_the_wheel_answers_help_outside_a_checkout(
    synthesized: dict[str, Any], tmp_path: Path
) -> None:
    scripts = set(_console_scripts(synthesized["wheel"]))
    assert "personalize-local" in scripts
    assert "personalize-demo" not in scripts, "the demo needs this project's app and data: checkout only"
    for script in sorted(scripts):
        shown = _call(str(synthesized["bin"] / script), "--help", cwd=tmp_path)
        assert shown.returncode == 0, f"{script}: {shown.stderr}"
        assert shown.stdout.startswith(f"usage: {script} "), script


def test_the_data_tools_run_from_the_wheel_on_a_domain(synthesized: dict[str, Any], tmp_path: Path) -> None:
    """--domain needs no config: sample data written and validated outside any checkout."""
    bin_dir = synthesized["bin"]
    written = _run(
        str(bin_dir / "personalize-sample-data"), "--domain", "ECOMMERCE", "--rows", "1200", "--out", "i.csv",
        cwd=tmp_path,
    )  # fmt: skip
    assert written.strip() == "wrote 1,200 ECOMMERCE interactions to i.csv"
    report = _run(str(bin_dir / "validate-data"), "i.csv", "--domain", "ECOMMERCE", cwd=tmp_path)
    assert "Result: VALID (0 errors" in report


# What needs a checkout of this project, run from an installed wheel: one line, exit 2, never a traceback.
CHECKOUT_ONLY = {
    "deploy with no cdk.json": (["personalize-local", "deploy"], "has no cdk.json"),
    "deploy with nothing synthesized": (["personalize-local", "deploy", "--no-synth"], "no manifest.json"),
    "deploy of this project's environment": (["personalize-local", "deploy", "--env", "dev"], "checkout"),
    "sample data of an environment": (["personalize-sample-data", "--env", "dev"], "checkout"),
    "validation of an environment": (["validate-data", "--env", "dev"], "checkout"),
    "the demo": (["python", "-m", "personalize_tools.demo"], "make demo"),
}


@pytest.mark.parametrize("case", sorted(CHECKOUT_ONLY))
def test_what_needs_a_checkout_says_so_in_one_line(
    synthesized: dict[str, Any], tmp_path: Path, case: str
) -> None:
    (program, *arguments), expected = CHECKOUT_ONLY[case]
    finished = _call(str(synthesized["bin"] / program), *arguments, cwd=tmp_path)
    output = finished.stdout + finished.stderr
    assert finished.returncode == 2, output
    (line,) = output.splitlines()  # one line: no usage text, no progress line, no traceback
    assert expected in line


# The test's ~/.cdk.json: the project's cdk.json sets acme:prefix too, and wins (loadConfigFiles).
HOME_CONTEXT = {"acme:prefix": "fromhome", "acme:owner": "the test's HOME"}
LOCAL_APP = textwrap.dedent(
    """
    import aws_cdk as cdk
    from constructs_lib import DomainDatasetGroup

    app = cdk.App()
    owner = app.node.try_get_context("acme:owner")  # only the user config (~/.cdk.json) sets it
    stack = cdk.Stack(app, "AcmeLocal", description=f"owner: {owner}")
    prefix = app.node.try_get_context("acme:prefix")  # from cdk.json, as the CDK CLI passes it
    group = DomainDatasetGroup(stack, "Group", domain_name="ECOMMERCE", name_prefix=prefix)
    group.add_interactions_dataset()
    group.add_event_tracker()
    app.synth()
    """
)


def test_personalize_local_deploys_the_users_own_app_from_its_cdk_json(synthesized: dict[str, Any]) -> None:
    """The wheel's local deployer synthesizes the app of the folder it runs in, as `cdk synth` would."""
    folder = synthesized["work"] / "acme-local"
    folder.mkdir()
    (folder / "app.py").write_text(LOCAL_APP)
    python = synthesized["bin"] / "python"
    cdk_json = {"app": f"{python} app.py", "context": {"acme:prefix": "acmelocal"}}
    (folder / "cdk.json").write_text(json.dumps(cdk_json))
    local = str(synthesized["bin"] / "personalize-local")
    user = _user_environment(synthesized["home"])
    fast = [f"--duration={kind}=0.2" for kind in ("dataset_group", "dataset", "event_tracker")]
    _run(local, "services", "start", *fast, cwd=folder, extra=user)
    try:
        deployed = _run(local, "deploy", cwd=folder, extra=user)
        assert "Stack AcmeLocal: CREATE_COMPLETE" in deployed
        template = folder / "cdk.out" / "AcmeLocal.template.json"
        assert template.is_file(), "CDK_OUTDIR was not honoured"
        # The user config read is the test's HOME's, whatever the developer's own ~/.cdk.json holds.
        assert json.loads(template.read_text())["Description"] == f"owner: {HOME_CONTEXT['acme:owner']}"
        status = _run(local, "status", cwd=folder, extra=user)
        assert "dataset group  acmelocal_group-" in status, "cdk.json's context did not reach the app"
        assert "ACTIVE" in status
        _record_events(synthesized["bin"], folder)
        destroyed = _run(local, "destroy", cwd=folder, extra=user)
        assert "Destroyed AcmeLocal." in destroyed
        assert "No local stacks." in _run(local, "status", cwd=folder, extra=user)
    finally:
        _call(local, "services", "stop", cwd=folder, extra=user)


def _record_events(bin_dir: Path, folder: Path) -> None:
    """personalize-record from the wheel sends a CSV's events to the deployed tracker: nothing else needed."""
    environment = _services_environment(folder)
    personalize = boto3.client(
        "personalize",
        endpoint_url=environment["AWS_ENDPOINT_URL_PERSONALIZE"],
        region_name=environment["AWS_REGION"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )
    (tracker,) = personalize.list_event_trackers()["eventTrackers"]
    described = personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])
    tracking_id = described["eventTracker"]["trackingId"]
    events = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1700000000,View\nu2,i2,1700000001,Purchase\n"
    (folder / "events.csv").write_text(events)
    command = [str(bin_dir / "personalize-record"), "events", "events.csv", "--tracking-id", tracking_id]
    recorded = _run(*command, "--quiet", cwd=folder, extra=environment)
    assert re.search(r"accepted +2\b", recorded), recorded
    with urllib.request.urlopen(f"{environment['AWS_ENDPOINT_URL_PERSONALIZE']}/_emulator/calls") as answer:
        calls = json.load(answer)
    assert calls["calls"]["PutEvents"] == 2, calls  # one call per user session
