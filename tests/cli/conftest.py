"""The CLI tests synthesize config/dev.yaml, whose sample data tests/conftest.py writes."""

from __future__ import annotations

from tests.stacks.conftest import dev_config

__all__ = ["dev_config"]
