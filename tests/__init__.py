"""The project's tests. PROJECT_ROOT is the checkout they test: the one place a test finds it."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
