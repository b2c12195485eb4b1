"""Environment config models and the loader.

Every value is checked when the app synthesizes; a bad file fails with the file, the field, the
bad value and what is allowed, never a traceback. Personalize's own rules (domains, import modes,
name and tag limits, schema rules) come from `lambda_handlers.personalize.domain`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lambda_handlers.personalize import authorization, contract, domain, domain_rules
from lambda_handlers.personalize.data_objects import is_data_path
from personalize_tools.cli_common import IN_CHECKOUT, PROJECT_ROOT

CONFIG_DIR = PROJECT_ROOT / "config"
ENVIRONMENT_NAME = re.compile(r"[a-z][a-z0-9.-]{0,31}")


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file, the field and the fix."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSource(_Model):
    """Where the interactions CSV comes from: exactly one of the three fields."""

    local_path: str | None = Field(
        default=None,
        description="A CSV file or folder in this project that the stack uploads to its bucket "
        "(relative to the project root).",
    )
    bucket_key: str | None = Field(
        default=None,
        description="An object key, or a folder prefix ending in '/', already in the stack's bucket.",
    )
    s3_uri: str | None = Field(
        default=None,
        description="An existing s3://bucket/key or s3://bucket/prefix/ outside the stack.",
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> DataSource:
        chosen = [name for name in ("local_path", "bucket_key", "s3_uri") if getattr(self, name)]
        if len(chosen) != 1:
            raise ValueError(
                f"set exactly one of local_path, bucket_key or s3_uri (got {', '.join(chosen) or 'none'})"
            )
        return self

    @field_validator("bucket_key")
    @classmethod
    def _relative_key(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or value.startswith("s3://")):
            raise ValueError("bucket_key is a key inside the stack's bucket, without a leading '/' or s3://")
        return value


class ProviderSettings(_Model):
    """How the custom-resource provider polls Personalize while it waits for ACTIVE."""

    query_interval_seconds: int = Field(default=30, ge=5, le=300)
    total_timeout_seconds: int = Field(
        default=domain_rules.MAX_WAIT_SECONDS,
        ge=60,
        description="How long a deploy waits for an import to become ACTIVE. Up to "
        f"{domain_rules.MAX_WAIT_SECONDS} s the custom resource's waiter polls (CloudFormation waits at most "
        "one hour for a custom resource, and on_event may take five minutes of it); above, up to "
        f"{domain_rules.WAIT_CONDITION_MAX_SECONDS} s (12 h), a CloudFormation wait condition waits, "
        "signalled by the import state machine (docs/event-imports.md).",
    )

    @property
    def waits_with_condition(self) -> bool:
        """Above the custom-resource limit, imports wait through a CloudFormation wait condition."""
        return self.total_timeout_seconds > domain_rules.MAX_WAIT_SECONDS

    @property
    def waiter_timeout_seconds(self) -> int:
        """What the custom-resource waiter polls for: the whole wait, or the most a custom resource allows."""
        if not self.waits_with_condition:
            return self.total_timeout_seconds
        return domain_rules.MAX_WAIT_SECONDS - domain_rules.MAX_WAIT_SECONDS % self.query_interval_seconds

    @model_validator(mode="after")
    def _multiple(self) -> ProviderSettings:
        if self.total_timeout_seconds > domain_rules.WAIT_CONDITION_MAX_SECONDS:
            raise ValueError(
                f"total_timeout_seconds is {self.total_timeout_seconds}; at most "
                f"{domain_rules.WAIT_CONDITION_MAX_SECONDS} (12 hours) allowed: a CloudFormation wait "
                "condition, the longest wait a stack can hold, times out after 12 hours. For imports that "
                "take longer, use an incoming location (incoming: true), whose state machine waits as long "
                "as the import takes, after the deploy"
            )
        if self.total_timeout_seconds % self.query_interval_seconds:
            raise ValueError(
                f"total_timeout_seconds ({self.total_timeout_seconds}) must be a multiple of "
                f"query_interval_seconds ({self.query_interval_seconds})"
            )
        return self


NO_DATA_SOURCE_DESCRIPTION = (
    "Where the bulk data comes from. Leave it out to create the dataset with no import job, "
    "to fill with PutEvents, PutUsers or PutItems (python -m personalize_tools.record)."
)


class IncomingConfig(_Model):
    """An incoming S3 location whose new CSV objects are validated and imported (docs/event-imports.md)."""

    import_mode: Literal["INCREMENTAL", "FULL"] = Field(
        default="INCREMENTAL",
        description="INCREMENTAL adds each file's records to the dataset; FULL replaces its bulk data with "
        "each file. The dataset's first import is FULL either way (INCREMENTAL needs an earlier import).",
    )


def _incoming_setting(value: Any) -> Any:
    """`incoming: true` is the default section, `incoming: false` none."""
    if value is True:
        return {}
    if value is False:
        return None
    return value


INCOMING_DESCRIPTION = (
    "Event-driven imports: true, or a section with import_mode. A CSV uploaded under the stack's "
    "incoming/<dataset>/ prefix is validated, then imported; docs/event-imports.md."
)


def _check_import_settings(section: DatasetConfig | EnvironmentConfig) -> None:
    """import_mode and data_version describe an import: without a data_source there is none."""
    if section.data_source is not None:
        return
    stray = sorted({"import_mode", "data_version"} & section.model_fields_set)
    if stray:
        raise ValueError(
            f"{', '.join(stray)} set without a data_source: they describe a "
            "bulk import; add a data_source or remove them"
        )


class DatasetConfig(_Model):
    """An optional Users or Items dataset: its schema, its data and how to import it."""

    schema_file: str = Field(
        default="default",
        alias="schema",
        description="'default' for the domain's schema of this dataset type, or a path to an Avro JSON file.",
    )
    data_source: DataSource | None = Field(default=None, description=NO_DATA_SOURCE_DESCRIPTION)
    import_mode: contract.ImportMode = "FULL"
    data_version: str = Field(default="1", pattern=r"^[A-Za-z0-9._-]{1,32}$")
    incoming: Annotated[
        IncomingConfig | None,
        BeforeValidator(_incoming_setting, json_schema_input_type=IncomingConfig | bool | None),
    ] = Field(default=None, description=INCOMING_DESCRIPTION)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _import_settings_need_data(self) -> DatasetConfig:
        _check_import_settings(self)
        return self


class RecommenderConfig(_Model):
    """A domain recommender for one use case (recipe) of the environment's domain."""

    use_case: str = Field(description="A domain recipe name, e.g. aws-ecomm-recommended-for-you.")
    name: PersonalizeName | None = Field(default=None, description="Personalize name; derived when empty.")

    min_recommendation_requests_per_second: int = Field(default=1, ge=1, le=100000)
    exploration_weight: float | None = Field(
        default=None, ge=0, le=1, description="0 exploits what is known, 1 explores new items the most."
    )
    exploration_item_age_cut_off: float | None = Field(
        default=None, gt=0, description="Days: only items this new are explored."
    )
    wait_for_active: bool = Field(
        default=False,
        description="Keep the deployment waiting until training ends (at most the provider's total "
        "timeout, one hour); otherwise the deployment completes once training has started.",
    )


KmsSetting = Annotated[
    str,
    Field(
        description="'none' (S3-managed encryption), 'create' (a key the stack creates and rotates) "
        "or the ARN of an existing KMS key.",
        examples=[
            "none",
            "create",
            "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ],
    ),
]


def _personalize_name(value: str) -> str:
    problem = domain.name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


PersonalizeName = Annotated[str, AfterValidator(_personalize_name)]


class ResourceNames(_Model):
    """Names to use instead of derived ones, e.g. to adopt resources made before this stack.

    Schemas, datasets and import jobs are always named by the app: a schema's name must change
    whenever its body does, and an import job's with every new import.
    """

    dataset_group: PersonalizeName | None = None
    event_tracker: PersonalizeName | None = None


MANAGED_BY = "personalize-domain-cdk"
# The tag keys the app sets itself, and who sets them: a user tag may use none of them, and they count
# against Personalize's 50 tags per resource.
APP_TAG_KEYS = {
    "environment": "the stack, on every resource",
    "managed-by": "the stack, on every resource",
    authorization.SCOPE_TAG_KEY: "the constructs; it scopes the handlers' permissions",
    domain.OWNER_TAG_KEY: "the handlers at create; it proves ownership",
}
APP_TAGS = len(APP_TAG_KEYS)


class EnvironmentConfig(_Model):
    """One deployment environment: where it goes and what dataset group it stands up."""

    name: str = Field(description="Environment name; set from the file name, not written in the file.")
    account: str | None = Field(
        default=None, pattern=r"^\d{12}$", description="Target AWS account; empty means CDK_DEFAULT_ACCOUNT."
    )
    region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$",
        description="Target region; empty means CDK_DEFAULT_REGION.",
    )
    name_prefix: str = Field(
        pattern=r"^[a-z][a-z0-9-]{0,15}$",
        description="Starts every stack and Personalize resource name; lower case, digits and '-'.",
    )
    domain: contract.Domain
    schema_file: str = Field(
        default="default",
        alias="schema",
        description="'default' for the domain's Interactions schema, or a path to an Avro JSON file "
        "(relative to the project root).",
    )
    data_source: DataSource | None = Field(default=None, description=NO_DATA_SOURCE_DESCRIPTION)
    import_mode: contract.ImportMode = "FULL"
    data_version: str = Field(
        default="1",
        pattern=r"^[A-Za-z0-9._-]{1,32}$",
        description="Change it to import the same data location again.",
    )
    incoming: Annotated[
        IncomingConfig | None,
        BeforeValidator(_incoming_setting, json_schema_input_type=IncomingConfig | bool | None),
    ] = Field(default=None, description=INCOMING_DESCRIPTION)
    event_tracker: bool = Field(default=True, description="Create an event tracker for PutEvents recording.")
    interactions_recorded: bool = Field(
        default=False,
        description="Without an Interactions data_source, recommenders are refused at synth until you set "
        "this: it says the minimum interactions have been recorded with PutEvents, so training can start.",
    )
    requires_approval: bool = Field(
        default=False,
        description="In a pipeline, wait for a manual approval before deploying this environment.",
    )
    removal_policy: contract.RemovalPolicy = "retain"
    kms: KmsSetting = "none"
    tags: dict[str, str] = Field(default_factory=dict)
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
    names: ResourceNames = Field(
        default_factory=ResourceNames, description="Fixed Personalize names; derived ones never collide."
    )
    users: DatasetConfig | None = Field(default=None, description="An optional Users dataset.")
    items: DatasetConfig | None = Field(default=None, description="An optional Items dataset.")
    recommenders: list[RecommenderConfig] = Field(
        default_factory=list, max_length=domain_rules.MAX_RECOMMENDERS_PER_GROUP
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _import_settings_need_data(self) -> EnvironmentConfig:
        _check_import_settings(self)
        return self

    @model_validator(mode="after")
    def _recommenders_need_interactions(self) -> EnvironmentConfig:
        """The seed's rule: recommenders train on enough interactions, imported or recorded."""
        if self.recommenders and self.data_source is None and not self.interactions_recorded:
            use_cases = ", ".join(recommender.use_case for recommender in self.recommenders)
            raise ValueError(
                f"recommenders ({use_cases}) need interaction data, and this environment imports none "
                f"(no data_source). Personalize's rule: {domain_rules.RULE_MIN_INTERACTIONS} Deploy without "
                "recommenders, record events with PutEvents (python -m personalize_tools.record), then set "
                "interactions_recorded: true and add the recommenders"
            )
        if self.interactions_recorded and self.data_source is not None:
            raise ValueError(
                "interactions_recorded: true is for environments without an Interactions data_source; "
                "this one imports data, so remove it"
            )
        return self

    @model_validator(mode="after")
    def _long_waits_are_for_imports(self) -> EnvironmentConfig:
        """A wait condition holds the deploy for imports only; a recommender still waits in its resource."""
        if not self.provider.waits_with_condition:
            return self
        for index, recommender in enumerate(self.recommenders):
            if recommender.wait_for_active:
                raise ValueError(
                    f"recommenders.{index}.wait_for_active: true waits inside the recommender's custom "
                    "resource, "
                    f"at most {domain_rules.MAX_WAIT_SECONDS} s; provider.total_timeout_seconds "
                    f"({self.provider.total_timeout_seconds}) above that holds the deploy for imports only "
                    "(through a wait condition). Set wait_for_active: false, or total_timeout_seconds to at "
                    f"most {domain_rules.MAX_WAIT_SECONDS}"
                )
        return self

    @model_validator(mode="after")
    def _recommenders_fit_the_domain(self) -> EnvironmentConfig:
        seen: set[str] = set()
        for index, recommender in enumerate(self.recommenders):
            where = f"recommenders.{index}.use_case"
            try:
                recipe = domain_rules.recipe_for(self.domain, recommender.use_case)
            except ValueError as problem:
                raise ValueError(f"{where}: {problem} (this environment's domain)") from None
            missing = domain_rules.missing_items(recipe, has_items=self.items is not None)
            if missing is not None:
                raise ValueError(f"{where}: {missing}; add an `items:` section")
            if recommender.use_case in seen:
                raise ValueError(f"{where}: {recommender.use_case!r} is listed twice")
            seen.add(recommender.use_case)
        named: dict[str, int] = {}
        for index, recommender in enumerate(self.recommenders):
            if recommender.name is None:
                continue
            first = named.setdefault(recommender.name, index)
            if first != index:
                raise ValueError(
                    f"recommenders.{index}.name: {recommender.name!r} is also the name of "
                    f"recommenders.{first}; "
                    "recommender names are unique in a dataset group (or leave name out to derive one)"
                )
        return self

    @model_validator(mode="after")
    def _kms_key_in_region(self) -> EnvironmentConfig:
        """Personalize only uses a KMS key of its own region; a key elsewhere fails at deploy, not here."""
        if self.kms_mode == "existing" and self.region is not None:
            key_region = self.kms.split(":")[3]
            if key_region != self.region:
                raise ValueError(
                    f"kms: the key is in {key_region or 'no region'}, "
                    f"this environment deploys to region {self.region}; "
                    f"use a KMS key ARN of {self.region} (arn:aws:kms:{self.region}:ACCOUNT:key/ID)"
                )
        return self

    @field_validator("kms", mode="before")
    @classmethod
    def _kms(cls, value: Any) -> Any:
        if value is False or value is None:  # YAML reads a bare `off`/`no` as false
            return "none"
        is_arn = isinstance(value, str) and bool(domain.KMS_KEY_ARN_PATTERN.fullmatch(value))
        too_long = isinstance(value, str) and len(value) > domain_rules.KMS_KEY_ARN_MAX_LENGTH
        if isinstance(value, str) and value not in ("none", "create") and (not is_arn or too_long):
            raise ValueError("must be 'none', 'create' or a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > domain.MAX_TAGS - APP_TAGS:
            raise ValueError(f"{len(value)} tags given; at most {domain.MAX_TAGS - APP_TAGS} allowed")
        problems = domain.tag_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        for key in sorted(value.keys() & APP_TAG_KEYS.keys()):
            raise ValueError(f"tag key {key!r} is reserved: it is set by the app ({APP_TAG_KEYS[key]})")
        return value

    @model_validator(mode="after")
    def _pinned_names_in_own_namespace(self) -> EnvironmentConfig:
        """A pinned name in another environment's namespace (`OTHER_…`) would be managed by two stacks."""
        pinned = [("names.dataset_group", self.names.dataset_group)] + [
            (f"recommenders.{index}.name", recommender.name)
            for index, recommender in enumerate(self.recommenders)
        ]
        prefix = self.resource_name_prefix
        for where, name in pinned:
            owner = authorization.foreign_scope(name, prefix) if name else None
            if owner is not None:
                raise ValueError(
                    f"{where}: {name!r} lies in the namespace of the environment whose prefix is {owner!r} "
                    f"(a name up to its first {domain.SCOPE_DELIMITER!r} is an environment's prefix); "
                    f"allowed: a name without {domain.SCOPE_DELIMITER!r}, or one starting with "
                    f"'{prefix}{domain.SCOPE_DELIMITER}'"
                )
        return self

    @property
    def kms_mode(self) -> Literal["none", "create", "existing"]:
        if self.kms in ("none", "create"):
            return self.kms  # type: ignore[return-value]
        return "existing"

    @property
    def resource_tags(self) -> dict[str, str]:
        """The user's tags and the two the stack puts on every resource (APP_TAG_KEYS)."""
        return {**self.tags, "environment": self.name, "managed-by": MANAGED_BY}

    @property
    def stack_name(self) -> str:
        return f"{self.resource_name_prefix}-personalize"

    @property
    def resource_name_prefix(self) -> str:
        """Starts every Personalize name this environment owns, e.g. `pz-dev`."""
        return f"{self.name_prefix}-{self.name.replace('.', '-')}"

    def interactions_schema(self) -> str:
        """The Interactions schema as compact JSON, read and checked against the domain's rules."""
        return self.datasets()["INTERACTIONS"].schema_json()

    @property
    def local_data_path(self) -> Path | None:
        return self.datasets()["INTERACTIONS"].local_path

    def datasets(self) -> dict[str, DatasetPlan]:
        """Every dataset this environment imports, Interactions first, keyed by dataset type."""
        plans = {
            "INTERACTIONS": DatasetPlan(
                self.domain,
                "INTERACTIONS",
                "",
                self.schema_file,
                self.data_source,
                self.import_mode,
                self.data_version,
                self.incoming,
            )
        }
        for dataset_type, section in (("USERS", self.users), ("ITEMS", self.items)):
            if section is not None:
                plans[dataset_type] = DatasetPlan(
                    self.domain,
                    dataset_type,
                    f"{dataset_type.lower()}.",
                    section.schema_file,
                    section.data_source,
                    section.import_mode,
                    section.data_version,
                    section.incoming,
                )
        return plans

    def check_local_data(self) -> None:
        """Schemas must be valid and data the stack uploads must exist when it synthesizes."""
        for plan in self.datasets().values():
            plan.schema_json()
            path = plan.local_path
            if path is None:
                continue
            where = (
                f"{plan.field_prefix}data_source.local_path: "
                f"{_printable(str(plan.data_source.local_path if plan.data_source else path))}"
            )
            if not path.exists():
                raise ConfigError(f"{where} does not exist (make sample-data writes the demo's sample files)")
            if path.is_dir() and not has_data_file(path):
                raise ConfigError(
                    f"{where} is a folder with no data files (empty files and files whose names start "
                    "with '.' do not count); put the CSV files to import in it, or name one CSV file"
                )


def has_data_file(folder: Path) -> bool:
    """Whether a local data folder holds a file to import (`is_data_file`).

    It stops at the first such file: listing a folder of 100,000 files to the end took seconds at every synth.
    """
    return any(is_data_file(path, folder) for path in folder.rglob("*"))


# What a local data folder uploads, validates and imports: every file but hidden ones (a name, or a folder
# on its path, starting with '.'). The upload excludes them with these asset patterns, the validator and
# the synth check skip them with `is_data_file`: one rule, so what was validated is what gets imported.
# An empty file is uploaded but is not data, locally as in S3 (data_objects.is_data_object).
HIDDEN_PATTERNS = (".*", "**/.*")


def is_data_file(path: Path, folder: Path) -> bool:
    return is_data_path(path, folder)


@dataclass(frozen=True)
class DatasetPlan:
    """One dataset to create and import, resolved from config: the same shape for every dataset type."""

    domain: str
    dataset_type: str
    field_prefix: str  # where its fields sit in the file: "" for Interactions, "items." for Items
    schema_file: str
    data_source: DataSource | None  # None: no import job; data arrives through PutEvents/PutUsers/PutItems
    import_mode: str
    data_version: str
    incoming: IncomingConfig | None = None  # event-driven imports from incoming/<dataset>/

    @property
    def local_path(self) -> Path | None:
        local = self.data_source.local_path if self.data_source else None
        return None if local is None else PROJECT_ROOT / local

    def schema_json(self) -> str:
        """The schema as compact JSON, read and checked against the domain's rules for its type."""
        if self.schema_file == "default":
            return domain_rules.default_schema_json(self.domain, self.dataset_type)
        field = f"{self.field_prefix}schema"
        try:
            text = (PROJECT_ROOT / self.schema_file).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"{field}: cannot read {self.schema_file}: {error.strerror}") from error
        problems = domain_rules.schema_problems(text, self.domain, self.dataset_type)
        if problems:
            raise ConfigError(
                f"{field}: {self.schema_file} is not a valid {self.domain} "
                f"{domain_rules.RECORD_NAMES[self.dataset_type]} schema: " + "; ".join(problems)
            )
        return json.dumps(json.loads(text), separators=(",", ":"))


def _format_validation_error(path: Path, error: ValidationError, model: type[BaseModel] | None = None) -> str:
    model = model or EnvironmentConfig
    kind = "environment" if model is EnvironmentConfig else "pipeline"
    lines = [f"{_display(path)} is not a valid {kind} config:"]
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(_field_names(model, problem["loc"][:-1])))
            lines.append(f"  {location}: unknown field; allowed fields here: {allowed}")
        elif problem["type"] == "missing":
            lines.append(f"  {location}: required field is missing")
        elif not problem["loc"] and _FIELD_PATH.match(message):
            lines.append(f"  {message}")  # a rule across fields names its field itself
        else:
            lines.append(f"  {location}: {message}{_got(problem.get('input'))}")
    return "\n".join(_printable(line) for line in lines)


def _printable(text: str) -> str:
    """TEXT with control characters (ESC, NUL...) escaped: a message never drives the user's terminal."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


_FIELD_PATH = re.compile(r"[a-z_]+(\.[a-z0-9_]+)*: ")
MAX_SHOWN_VALUE = 80


def _got(value: Any) -> str:
    """The offending value, short; a whole section (mapping or list) is named by its field, not dumped."""
    if isinstance(value, dict | list):
        return ""
    shown = repr(value)
    if len(shown) > MAX_SHOWN_VALUE:
        shown = f"{shown[:MAX_SHOWN_VALUE]}... ({len(shown)} characters)"
    return f" (got {shown})"


def _field_names(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    for part in location:
        annotation = model.model_fields[str(part)].annotation if str(part) in model.model_fields else None
        for candidate in (annotation, *get_args(annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
    return [field.alias or name for name, field in model.model_fields.items() if name != "name"]


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except (ValueError, OSError, RuntimeError):  # outside the project, or a symlink loop (RuntimeError)
        return str(path)


def load_file(path: Path, name: str | None = None, *, check_data: bool = True) -> EnvironmentConfig:
    """Load and validate one environment file; raises ConfigError naming the file and field.

    `check_data=False` skips the check that local data files exist, for tools that write them.
    """
    name = name or path.name.removesuffix(".yaml")
    raw = read_mapping(path, name)
    try:
        config = EnvironmentConfig.model_validate({**raw, "name": name})
        if check_data:
            config.check_local_data()
    except ValidationError as error:
        raise ConfigError(_format_validation_error(path, error)) from None
    except ConfigError as error:
        raise ConfigError(f"{_display(path)}: {error}") from None
    return config


def read_mapping(path: Path, name: str) -> dict[str, Any]:
    """A config file's fields; ConfigError with the file (and line) when it is not a YAML mapping."""
    try:
        raw = yaml.load(_config_text(path), Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{_display(path)}:{where}: not valid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{_display(path)}: not valid YAML: {error}") from None
    except _DuplicateKeyError as error:
        raise ConfigError(f"{_display(path)}: {error}") from None
    except RecursionError:
        raise ConfigError(
            f"{_display(path)}: nests too deeply to read; config files nest a few levels"
        ) from None
    if raw is None:
        raise ConfigError(f"{_display(path)}: is empty; it must be a mapping of fields")
    if not isinstance(raw, dict):
        raise ConfigError(f"{_display(path)}: must be a mapping of fields, got {type(raw).__name__}")
    if "name" in raw:
        raise ConfigError(f"{_display(path)}: name: do not set it; it is named after its file ({name})")
    return raw


_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")
_UTF32_MARKS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")


def _config_text(path: Path) -> str:
    """The file as text; ConfigError saying it must be UTF-8 YAML when it is binary or another encoding."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{_display(path)}: cannot read: {error.strerror}") from None
    expected = "config files are UTF-8 YAML text"
    head = data[:4]  # a byte-order mark, or ASCII written as UTF-32 (3 zero bytes in 4) or UTF-16 (1 in 2)
    if data.startswith(_UTF32_MARKS) or (len(head) == 4 and head.count(b"\0") == 3):
        raise ConfigError(f"{_display(path)}: is UTF-32 text; {expected}: save it as UTF-8")
    if data.startswith(_UTF16_MARKS) or head[:2].count(b"\0") == 1:
        raise ConfigError(f"{_display(path)}: is UTF-16 text; {expected}: save it as UTF-8")
    nul = data.find(b"\0")
    if nul >= 0:
        raise ConfigError(f"{_display(path)}: is not a text file (a NUL byte at offset {nul}); {expected}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{_display(path)}: line {line}: byte 0x{data[error.start]:02x} is not UTF-8; {expected}"
        ) from None


class _DuplicateKeyError(Exception):
    """A key written twice in one mapping: YAML would silently keep the last value."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing duplicate keys instead of letting the last one win."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in seen:
                raise _DuplicateKeyError(
                    f"line {line}: duplicate key {key!r} (first set on line {seen[key]}); "
                    "YAML would keep only the last value: write each key once"
                )
            if isinstance(key, Hashable):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """An integer; one too long for Python to read (over 4300 digits) is a YAML error with its line."""
        try:
            return int(super().construct_yaml_int(node))
        except ValueError:  # Python's limit on decimal digits (sys.get_int_max_str_digits)
            limit = sys.get_int_max_str_digits()
            problem = f"a number of {len(node.value)} digits; at most {limit} can be read"
            raise yaml.constructor.ConstructorError(
                None, None, f"{problem} (quote it if it is text)", node.start_mark
            ) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _UniqueKeyLoader.construct_yaml_int)


def named_file(kind: str, name: str, directory: Path) -> Path:
    """DIRECTORY/NAME.yaml, or a ConfigError listing the KIND names that exist there."""
    if not ENVIRONMENT_NAME.fullmatch(name):
        raise ConfigError(f"{kind} name {name!r} must match {ENVIRONMENT_NAME.pattern}")
    path = directory / f"{name}.yaml"
    if path.is_dir():
        raise ConfigError(f"{_display(path)}: is a folder, not a file: the {kind} {name!r} is a YAML file")
    if path.is_symlink() and not path.exists():
        raise ConfigError(
            f"{_display(path)}: is a symbolic link to nothing (its target is missing, or a loop)"
        )
    if not path.is_file() and not IN_CHECKOUT and directory == CONFIG_DIR:
        raise ConfigError(
            f"unknown {kind} {name!r}: {kind}s are the config/NAME.yaml files of a personalize-domain-cdk "
            f"checkout, and this installed copy ({PROJECT_ROOT}) has none"
        )
    if not path.is_file():
        available = sorted(candidate.name.removesuffix(".yaml") for candidate in directory.glob("*.yaml"))
        raise ConfigError(
            f"unknown {kind} {name!r}: {_display(path)} does not exist; "
            f"available: {', '.join(available) or 'none'}"
        )
    return path


def available_environments(config_dir: Path | None = None) -> list[str]:
    return sorted(path.name.removesuffix(".yaml") for path in (config_dir or CONFIG_DIR).glob("*.yaml"))


def load_environment(
    name: str, config_dir: Path | None = None, *, check_data: bool = True
) -> EnvironmentConfig:
    """The environment called NAME, from config/NAME.yaml (or CONFIG_DIR/NAME.yaml)."""
    path = named_file("environment", name, config_dir or CONFIG_DIR)
    return load_file(path, name, check_data=check_data)


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to complete and check config files (config/schema.json)."""
    schema = EnvironmentConfig.model_json_schema(by_alias=True)
    schema["properties"].pop("name", None)
    schema["required"] = [field for field in schema.get("required", []) if field != "name"]
    schema["title"] = "Personalize environment config"
    return schema
