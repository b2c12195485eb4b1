"""The CLI tests synthesize config/dev.yaml, whose sample data the stacks' fixture writes."""

from __future__ import annotations

from tests.stacks.conftest import dev_config, sample_data

__all__ = ["dev_config", "sample_data"]
