"""Every environment in config/ synthesizes through the real app, passes cdk-nag and cfn-lint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import app as app_module
from config import available_environments
from tests import PROJECT_ROOT
from tests.stacks.nag_lint import assert_nag_clean, cfn_lint

ENVIRONMENTS = available_environments()


@pytest.fixture(scope="module")
def assemblies(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One synthesis per environment; app.synth() raises if cdk-nag reports an unacknowledged finding."""
    out = {}
    for environment in ENVIRONMENTS:
        outdir = tmp_path_factory.mktemp(environment)
        app_module.create_app({"env": environment}, outdir=str(outdir)).synth()
        out[environment] = outdir
    return out


def test_config_folder_has_dev_and_a_production_example() -> None:
    assert {"dev", "prod.example"} <= set(ENVIRONMENTS)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_has_no_unacknowledged_nag_finding(assemblies: dict[str, Path], environment: str) -> None:
    assert_nag_clean(assemblies[environment])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_cfn_lint_is_clean(assemblies: dict[str, Path], environment: str) -> None:
    result = cfn_lint(assemblies[environment])
    assert result.returncode == 0, result.stdout + result.stderr


def test_stack_names_differ_per_environment(assemblies: dict[str, Path]) -> None:
    names = set()
    for outdir in assemblies.values():
        names |= {
            artifact["properties"].get("stackName", artifact_id)  # omitted when it equals the artifact id
            for manifest_path in outdir.rglob("manifest.json")
            for artifact_id, artifact in json.loads(manifest_path.read_text())["artifacts"].items()
            if artifact["type"] == "aws:cloudformation:stack"
        }
    assert len(names) == len(ENVIRONMENTS)


def test_bad_config_fails_synth_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "app.py"],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "CDK_CONTEXT_JSON": json.dumps({"env": "no-such-env"}),
            "CDK_OUTDIR": str(tmp_path),
        },
    )
    assert result.returncode == 1
    assert "unknown environment 'no-such-env'" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_local_data_fails_synth_with_the_validation_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import ConfigError, model
    from personalize_tools.sample_data import generate_interactions

    data = generate_interactions(tmp_path / "ms.csv", domain="ECOMMERCE", rows=1200, defects=["milliseconds"])
    config = {"name_prefix": "pz", "domain": "ECOMMERCE", "data_source": {"local_path": str(data)}}
    (tmp_path / "bad-data.yaml").write_text(json.dumps(config))
    monkeypatch.setattr(model, "CONFIG_DIR", tmp_path)

    with pytest.raises(ConfigError) as refused:
        app_module.create_app({"env": "bad-data"}, outdir=str(tmp_path / "out"))

    message = str(refused.value)
    assert "config/bad-data.yaml uploads is not valid" in message
    assert "FAIL  timestamp_milliseconds" in message
    # Nothing is written: no manifest, and no asset (building the tree copies them, the bad data included).
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir()), sorted(path.name for path in out.iterdir())


def test_a_folder_uploads_exactly_the_files_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hidden files (`.DS_Store`, `.git/…`) are neither validated nor uploaded: what passed is imported."""
    from config import model
    from personalize_tools.sample_data import generate_interactions
    from personalize_tools.validate.sources import resolve

    folder = tmp_path / "data"
    generate_interactions(folder / "part-1.csv", domain="ECOMMERCE", rows=1200)
    (folder / ".DS_Store").write_bytes(b"\x00\x01not csv")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "old.csv").write_text("USER_ID,ITEM_ID\n")
    config = {"name_prefix": "pz", "domain": "ECOMMERCE", "data_source": {"local_path": str(folder)}}
    (tmp_path / "hidden.yaml").write_text(json.dumps(config))
    monkeypatch.setattr(model, "CONFIG_DIR", tmp_path)

    validated = {Path(found.name).relative_to(folder).as_posix() for found in resolve(str(folder))}
    app_module.create_app({"env": "hidden"}, outdir=str(tmp_path / "out"))
    staged = [
        path
        for path in (tmp_path / "out").glob("asset.*")
        if path.is_dir() and any(part.name == "part-1.csv" for part in path.rglob("*"))
    ]
    assert len(staged) == 1
    uploaded = {path.relative_to(staged[0]).as_posix() for path in staged[0].rglob("*") if path.is_file()}
    assert validated == uploaded == {"part-1.csv"}
