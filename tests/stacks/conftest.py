"""Fixtures for synthesizing stacks: dev's sample data (tests/conftest.py) exists before it synthesizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import EnvironmentConfig, load_environment


@pytest.fixture(scope="session")
def dev_config(sample_data: Path) -> EnvironmentConfig:
    return load_environment("dev")
