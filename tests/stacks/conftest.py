"""Fixtures for synthesizing stacks: the dev config's sample data must exist before it synthesizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import EnvironmentConfig, load_environment
from personalize_tools.sample_data import write_environment_samples


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """Writes the sample files config/dev.yaml uploads, as `make sample-data` does."""
    config = load_environment("dev", check_data=False)
    write_environment_samples(config)
    path = config.local_data_path
    assert path is not None and path.is_file()
    return path


@pytest.fixture(scope="session")
def dev_config(sample_data: Path) -> EnvironmentConfig:
    return load_environment("dev")
