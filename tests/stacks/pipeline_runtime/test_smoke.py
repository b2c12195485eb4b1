"""The pipeline's smoke test against the local emulator: exit 0 only when group and import are ACTIVE.

It also runs as the pipeline runs it: `python -m` from the checkout in a fresh venv that holds only the
packages of its own lock (stacks/pipeline_runtime/requirements.txt), and loads nothing of the tools.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from lambda_handlers.personalize import domain_rules
from personalize_tools.emulator import EmulatorServer, Pace
from stacks.pipeline_runtime import smoke
from tests import PROJECT_ROOT
from tests.cli.test_locks import _pins
from tests.emulator.support import ROLE_ARN, interactions_csv

SCHEMA = domain_rules.default_schema_json("ECOMMERCE")


@pytest.fixture(scope="module")
def emulator_pace() -> Pace:
    return Pace.instant()


@pytest.fixture(scope="module")
def deployed(emulator: EmulatorServer, personalize: Any, s3: Any) -> Iterator[dict[str, str]]:
    """A group with two import jobs: one that succeeds and one whose CSV lacks EVENT_TYPE."""
    s3.create_bucket(Bucket="smoke-data")
    s3.put_object(Bucket="smoke-data", Key="good.csv", Body=interactions_csv(1200))
    s3.put_object(
        Bucket="smoke-data",
        Key="bad.csv",
        Body=interactions_csv(1200, header=("USER_ID", "ITEM_ID", "TIMESTAMP")),
    )
    group = personalize.create_dataset_group(name="smoke-group", domain="ECOMMERCE")["datasetGroupArn"]
    schema = personalize.create_schema(name="smoke-schema", schema=SCHEMA, domain="ECOMMERCE")["schemaArn"]
    personalize.describe_dataset_group(datasetGroupArn=group)
    dataset = personalize.create_dataset(
        name="smoke-interactions", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    personalize.describe_dataset(datasetArn=dataset)
    jobs = {}
    for name in ("good", "bad"):
        jobs[name] = personalize.create_dataset_import_job(
            jobName=f"smoke-{name}",
            datasetArn=dataset,
            dataSource={"dataLocation": f"s3://smoke-data/{name}.csv"},
            roleArn=ROLE_ARN,
        )["datasetImportJobArn"]
        personalize.describe_dataset_import_job(datasetImportJobArn=jobs[name])
    yield {"group": group, **jobs}
    emulator.reset()


def run_smoke(emulator: EmulatorServer, group: str, job: str, *extra: str) -> int:
    return smoke.main(
        ["--dataset-group-arn", group, "--import-job-arn", job, "--endpoint-url", emulator.url, *extra]
    )


def test_active_group_and_import_pass(
    deployed: dict[str, str], emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_smoke(emulator, deployed["group"], deployed["good"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("ACTIVE") == 2


def test_failed_import_fails_with_personalize_reason(
    deployed: dict[str, str], emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_smoke(emulator, deployed["group"], deployed["bad"])
    err = capsys.readouterr().err
    assert code == 1
    assert "CREATE FAILED: Input CSV is missing the following columns:[EVENT_TYPE]" in err


def test_assumes_the_smoke_test_role_first(
    deployed: dict[str, str],
    emulator: EmulatorServer,
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_server)
    role = "arn:aws:iam::123456789012:role/pz-dev-personalize-smoke-test"
    code = run_smoke(
        emulator, deployed["group"], deployed["good"], "--assume-role", role, "--region", "us-east-1"
    )
    assert code == 0, capsys.readouterr().err


def test_missing_resource_is_a_failure_not_a_traceback(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    base = "arn:aws:personalize:us-east-1:123456789012"
    code = run_smoke(emulator, f"{base}:dataset-group/nope", f"{base}:dataset-import-job/nope")
    assert code == 1
    assert "ResourceNotFoundException" in capsys.readouterr().err


LOCK = "stacks/pipeline_runtime/requirements.txt"
# The repository's files the runtime may load: its own package and the product's standard-library facts.
RUNTIME_FILES = (
    "stacks/__init__.py",
    "stacks/pipeline_runtime/",
    "lambda_handlers/__init__.py",
    "lambda_handlers/personalize/",
)
# Runs the smoke test as `python -m` does, then records every module it loaded and where from.
PROBE = textwrap.dedent(
    """
    import json, runpy, sys
    record = sys.argv.pop(1)
    code = 0
    try:
        runpy.run_module("stacks.pipeline_runtime.smoke", run_name="__main__", alter_sys=True)
    except SystemExit as done:
        code = done.code
    with open(record, "w") as out:
        json.dump({name: getattr(mod, "__file__", None) for name, mod in list(sys.modules.items())}, out)
    sys.exit(code)
    """
)


@pytest.fixture(scope="module")
def lock_only_python(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A new venv whose site-packages holds exactly the lock's distributions (linked from this .venv,
    at the pinned versions: the tests have no index to install from). Returns (python, site-packages)."""
    venv = tmp_path_factory.mktemp("smoke-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    for name, version in _pins(LOCK).items():
        distribution = metadata.distribution(name)
        assert distribution.version == version, f"installed {name} {distribution.version}; run make install"
        for top in {file.parts[0] for file in distribution.files or [] if file.parts[0] != ".."}:
            source = Path(str(distribution.locate_file(top)))
            if not (site / top).exists():
                (site / top).symlink_to(source, target_is_directory=source.is_dir())
    return python, site


def test_runs_from_a_venv_with_only_its_own_lock_and_loads_no_tool(
    deployed: dict[str, str], emulator: EmulatorServer, lock_only_python: tuple[Path, Path], tmp_path: Path
) -> None:
    python, site = lock_only_python
    record = tmp_path / "modules.json"
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [
            str(python), "-c", PROBE, str(record),
            "--dataset-group-arn", deployed["group"], "--import-job-arn", deployed["good"],
            "--endpoint-url", emulator.url,
        ],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ACTIVE") == 2
    loaded = {name: file for name, file in json.loads(record.read_text()).items() if file}
    assert "boto3" in loaded and Path(loaded["boto3"]).is_relative_to(site)
    from_repository = {
        Path(file).resolve().relative_to(PROJECT_ROOT).as_posix()
        for file in loaded.values()
        if Path(file).resolve().is_relative_to(PROJECT_ROOT) and not Path(file).is_relative_to(site)
    }
    assert from_repository, "the probe saw no module of the checkout"
    assert sorted(f for f in from_repository if not f.startswith(RUNTIME_FILES)) == []
    stdlib = Path(sys.base_prefix).resolve()
    elsewhere = sorted(
        name
        for name, file in loaded.items()
        if not (Path(file).is_relative_to(site) or Path(file).resolve().is_relative_to(PROJECT_ROOT))
        and not Path(file).resolve().is_relative_to(stdlib)
    )
    assert elsewhere == [], "modules from outside the lock, the checkout and the standard library"
