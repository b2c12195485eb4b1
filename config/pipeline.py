"""Rollout config: one YAML file per pipeline in config/pipelines/, naming environments in waves."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from config.model import (
    CONFIG_DIR,
    ConfigError,
    EnvironmentConfig,
    _display,
    _format_validation_error,
    _Model,
    load_environment,
    named_file,
    read_mapping,
)

PIPELINES_DIR = CONFIG_DIR / "pipelines"


class ConnectionSource(_Model):
    """A repository reached through an AWS CodeConnections (CodeStar Connections) connection."""

    connection_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/.+$"
    )
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="owner/name")
    branch: str = "main"


class CodeCommitSource(_Model):
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    branch: str = "main"


class Source(_Model):
    """Exactly one of `connection` or `codecommit`."""

    connection: ConnectionSource | None = None
    codecommit: CodeCommitSource | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if (self.connection is None) == (self.codecommit is None):
            raise ValueError("set exactly one of connection or codecommit")
        return self


class Wave(_Model):
    """Environments deployed side by side; waves deploy one after another."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,31}$")
    environments: list[str] = Field(min_length=1)


class PipelineConfig(_Model):
    name: str = Field(description="Set from the file name.")
    account: str = Field(pattern=r"^\d{12}$", description="The account the pipeline runs in.")
    region: str = Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
    name_prefix: str = Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")
    source: Source
    waves: list[Wave] = Field(min_length=1)

    @property
    def stack_name(self) -> str:
        return f"{self.name_prefix}-{self.name.replace('.', '-')}-pipeline"


class Rollout:
    """A pipeline config with its environments loaded and checked."""

    def __init__(self, pipeline: PipelineConfig, waves: list[tuple[Wave, list[EnvironmentConfig]]]) -> None:
        self.pipeline = pipeline
        self.waves = waves

    @property
    def environments(self) -> list[EnvironmentConfig]:
        return [environment for _, environments in self.waves for environment in environments]


def available_pipelines(directory: Path = PIPELINES_DIR) -> list[str]:
    return sorted(path.name.removesuffix(".yaml") for path in directory.glob("*.yaml"))


def load_rollout(name: str, directory: Path = PIPELINES_DIR, config_dir: Path = CONFIG_DIR) -> Rollout:
    """Load config/pipelines/NAME.yaml and every environment it names."""
    path = named_file("pipeline", name, directory)
    raw = read_mapping(path, name)
    try:
        pipeline = PipelineConfig.model_validate({**raw, "name": name})
    except ValidationError as error:
        raise ConfigError(_format_validation_error(path, error, PipelineConfig)) from None

    seen: dict[str, str] = {}
    waves = []
    for index, wave in enumerate(pipeline.waves):
        environments = []
        for environment_name in wave.environments:
            where = f"{_display(path)}: waves[{index}].environments: {environment_name!r}"
            if environment_name in seen:
                raise ConfigError(
                    f"{where} is already in wave {seen[environment_name]!r}; each environment deploys once"
                )
            seen[environment_name] = wave.name
            try:
                environment = load_environment(environment_name, config_dir, check_data=False)
                if environment.account is None or environment.region is None:
                    raise ConfigError("a pipeline environment needs an explicit account and region")
                environment.check_local_data()
            except ConfigError as error:
                raise ConfigError(f"{where}: {error}") from None
            environments.append(environment)
        waves.append((wave, environments))
    stacks = [environment.stack_name for _, environments in waves for environment in environments]
    if len(set(stacks)) != len(stacks):
        raise ConfigError(f"{_display(path)}: two environments would share a stack name: {sorted(stacks)}")
    return Rollout(pipeline, waves)
