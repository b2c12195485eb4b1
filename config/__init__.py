"""Typed, validated per-environment configuration: one YAML file per environment in this folder."""

from config.model import (
    CONFIG_DIR,
    ConfigError,
    DataSource,
    EnvironmentConfig,
    ProviderSettings,
    available_environments,
    load_environment,
    load_file,
)

__all__ = [
    "CONFIG_DIR",
    "ConfigError",
    "DataSource",
    "EnvironmentConfig",
    "ProviderSettings",
    "available_environments",
    "load_environment",
    "load_file",
]
