"""The project's tests. PROJECT_ROOT is the checkout they test: the one place a test finds it."""

from run_app import PROJECT_ROOT

__all__ = ["PROJECT_ROOT"]
