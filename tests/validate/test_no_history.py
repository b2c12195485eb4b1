"""validate-data and sample-data for datasets without a data_source: nothing to read, said plainly."""

from __future__ import annotations

from pathlib import Path

from config import EnvironmentConfig
from personalize_tools.sample_data import write_environment_samples
from personalize_tools.validate import validate_environment


def _config(**fields: object) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {"name": "fresh", "name_prefix": "pz", "domain": "ECOMMERCE", **fields}
    )


def test_an_environment_without_bulk_data_validates_nothing_and_says_why() -> None:
    report = validate_environment(_config(users={}))
    assert report.datasets == () and report.valid
    assert [(item.dataset_type, item.source, item.error) for item in report.unchecked] == [
        ("INTERACTIONS", "no data_source", False),
        ("USERS", "no data_source", False),
    ]
    assert "PutEvents" in report.unchecked[0].reason


def test_sample_data_skips_datasets_without_a_data_source(tmp_path: Path) -> None:
    config = _config(items={"data_source": {"local_path": str(tmp_path / "items.csv")}})
    results = {sample.dataset_type: sample for sample in write_environment_samples(config, rows=1200)}
    assert results["INTERACTIONS"].action == "skipped" and "no data_source" in results["INTERACTIONS"].detail
    assert results["ITEMS"].action != "skipped" and (tmp_path / "items.csv").is_file()
