from __future__ import annotations

from pathlib import Path

import pytest

from personalize_tools.sample_data import generate_interactions


@pytest.fixture(scope="session")
def valid_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5000 realistic ECOMMERCE interactions: every rule passes."""
    return generate_interactions(
        tmp_path_factory.mktemp("valid") / "interactions.csv", domain="ECOMMERCE", rows=5000, seed=7
    )
