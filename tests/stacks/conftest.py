"""Fixtures for synthesizing stacks: the demo's sample data must exist before the dev config synthesizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config import load_environment
from config.model import PROJECT_ROOT


def _ensure_sample(relative: str, domain: str) -> None:
    path = PROJECT_ROOT / relative
    if not path.exists():
        from personalize_tools.sample_data import generate_interactions

        path.parent.mkdir(parents=True, exist_ok=True)
        generate_interactions(path, domain=domain, rows=5000, seed=7)


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """Writes the sample file config/dev.yaml uploads, as `make sample-data` does."""
    raw = yaml.safe_load((PROJECT_ROOT / "config" / "dev.yaml").read_text())
    _ensure_sample(raw["data_source"]["local_path"], raw["domain"])
    return PROJECT_ROOT / raw["data_source"]["local_path"]


@pytest.fixture(scope="session")
def dev_config(sample_data: Path):  # type: ignore[no-untyped-def]
    return load_environment("dev")
