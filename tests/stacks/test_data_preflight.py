"""The synth-time data preflight (constructs_lib.preflight): what it refuses, and what it leaves unloaded.

Synthesis needs only the CDK: the validator's readers (pyarrow, polars, numpy) load when data the stack
uploads has not yet passed the full validation, and never when it has, or when only headers are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import app as app_module
from config import ConfigError, EnvironmentConfig
from constructs_lib.preflight import DataPreflightError, LocalDataset, check_local_data
from personalize_tools.sample_data import generate_interactions
from tests import PROJECT_ROOT

HEAVY = ("pyarrow", "polars", "numpy", "pandas")
# Synthesizes an environment from a config folder with a stamp folder, then names the heavy modules loaded.
SYNTH_SCRIPT = """
import json, sys
from pathlib import Path
import app
from config import model
model.CONFIG_DIR = Path(sys.argv[1])
app.VALIDATED_STAMPS = Path(sys.argv[2])
app.create_app({"env": "lib"}, outdir=sys.argv[3]).synth()
print(json.dumps(sorted(name for name in sys.argv[4].split(",") if name in sys.modules)))
"""


@pytest.fixture(scope="module")
def good_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    return generate_interactions(folder / "interactions.csv", domain="ECOMMERCE", rows=1200)


def _config(path: Path) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {"name": "lib", "name_prefix": "pz", "domain": "ECOMMERCE", "data_source": {"local_path": str(path)}}
    )


def test_data_that_passed_is_not_read_again_and_changed_data_is(good_data: Path, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    dataset = LocalDataset(good_data, "INTERACTIONS")
    check_local_data([dataset], domain_name="ECOMMERCE", stamp_dir=stamps)
    (stamp,) = stamps.iterdir()

    changed = generate_interactions(
        tmp_path / "interactions.csv", domain="ECOMMERCE", rows=1200, defects=["milliseconds"]
    )
    with pytest.raises(DataPreflightError, match="timestamp_milliseconds"):
        check_local_data([LocalDataset(changed, "INTERACTIONS")], domain_name="ECOMMERCE", stamp_dir=stamps)
    assert list(stamps.iterdir()) == [stamp], "invalid data leaves no stamp"


def test_a_use_case_is_part_of_what_passed(good_data: Path, tmp_path: Path) -> None:
    """1,200 interactions pass alone, not for a recommender that needs 1,000 purchases."""
    stamps = tmp_path / "stamps"
    check_local_data([LocalDataset(good_data, "INTERACTIONS")], domain_name="ECOMMERCE", stamp_dir=stamps)
    with pytest.raises(DataPreflightError, match="aws-ecomm-popular-items-by-purchases"):
        check_local_data(
            [LocalDataset(good_data, "INTERACTIONS", use_cases=("aws-ecomm-popular-items-by-purchases",))],
            domain_name="ECOMMERCE",
            stamp_dir=stamps,
        )


def test_the_header_check_names_the_file_and_the_columns(tmp_path: Path) -> None:
    data = tmp_path / "spaced.csv"
    data.write_text("USER_ID, ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1700000000,View\n")

    with pytest.raises(DataPreflightError) as refused:
        check_local_data([LocalDataset(data, "INTERACTIONS")], domain_name="ECOMMERCE", full=False)

    message = str(refused.value)
    assert str(data) in message
    assert "missing required column(s) ITEM_ID" in message
    assert "unknown column(s) ' ITEM_ID'" in message


def test_the_header_check_passes_a_good_file_and_refuses_a_missing_one(
    good_data: Path, tmp_path: Path
) -> None:
    check_local_data([LocalDataset(good_data, "INTERACTIONS")], domain_name="ECOMMERCE", full=False)
    with pytest.raises(DataPreflightError, match="does not exist"):
        check_local_data([LocalDataset(tmp_path / "nope.csv", "INTERACTIONS")], domain_name="ECOMMERCE")


def test_an_unknown_data_check_fails_synth_with_the_allowed_values() -> None:
    with pytest.raises(ConfigError, match="data_check='fast' is not one of full, header"):
        app_module.create_app({"env": "dev", "data_check": "fast"})


def test_synthesizing_data_that_passed_loads_neither_pyarrow_nor_polars(
    good_data: Path, tmp_path: Path
) -> None:
    """The full validation runs here once (and loads the readers); the synth in a fresh process does not."""
    config_dir, stamps = tmp_path / "config", tmp_path / "stamps"
    config_dir.mkdir()
    (config_dir / "lib.yaml").write_text(
        json.dumps(
            {"name_prefix": "pz", "domain": "ECOMMERCE", "data_source": {"local_path": str(good_data)}}
        )
    )
    app_module_stamps = app_module.VALIDATED_STAMPS
    try:
        app_module.VALIDATED_STAMPS = stamps
        app_module.preflight_local_data(_config(good_data))
    finally:
        app_module.VALIDATED_STAMPS = app_module_stamps
    assert len(list(stamps.iterdir())) == 1

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SYNTH_SCRIPT,
            str(config_dir),
            str(stamps),
            str(tmp_path / "out"),
            "{}",
            ",".join(HEAVY),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []
    assert (tmp_path / "out" / "manifest.json").is_file()
