"""Validate every dataset an environment imports, with the schemas and use cases its config names.

Standard library only at import time: the config object passed in has already loaded pydantic, and
the engine loads numpy, pyarrow and polars on the first call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from personalize_tools.validate.errors import SourceError, UsageError
from personalize_tools.validate.report import EnvironmentReport, UncheckedDataset, ValidationReport

if TYPE_CHECKING:
    from config.model import DatasetPlan, EnvironmentConfig


def validate_environment(
    config: EnvironmentConfig,
    *,
    dataset_types: Sequence[str] | None = None,
    use_cases: Sequence[str] | None = None,
    s3_client: Any = None,
    s3_endpoint_url: str | None = None,
    max_examples: int = 10,
    progress: bool = False,
) -> EnvironmentReport:
    """One report per dataset of CONFIG (or only DATASET_TYPES) whose data is a local path or s3:// URI.

    USE_CASES defaults to the use cases of the environment's recommenders and applies to its
    Interactions. A `bucket_key` source names an object in the stack's own bucket, which exists only
    once deployed, so it is listed as unchecked; so is a source that cannot be read (`error` True).
    UsageError when nothing at all can be validated or an argument does not fit the environment.
    """
    from personalize_tools.validate.engine import validate  # noqa: PLC0415 - keeps this import cheap

    plans = config.datasets()
    wanted = [dataset_type.upper() for dataset_type in dataset_types] if dataset_types else list(plans)
    for dataset_type in wanted:
        dataset_plan(config, dataset_type)
    if use_cases and "INTERACTIONS" not in wanted:
        raise UsageError("use cases set minimums on Interactions; include the interactions dataset")
    if use_cases is None:
        use_cases = [recommender.use_case for recommender in config.recommenders]

    reports: list[ValidationReport] = []
    unchecked: list[UncheckedDataset] = []
    for dataset_type in wanted:
        plan = plans[dataset_type]
        schema_json = plan_schema(plan)
        location = data_location(plan)
        if plan.data_source is None:
            reason = "no bulk data: the dataset is filled with PutEvents/PutUsers/PutItems"
            unchecked.append(UncheckedDataset(dataset_type, "no data_source", reason, error=False))
            continue
        if location is None:
            source = f"bucket_key {plan.data_source.bucket_key}"
            reason = "an object in the stack's bucket; give its file or s3:// URI to validate it"
            unchecked.append(UncheckedDataset(dataset_type, source, reason, error=False))
            continue
        try:
            reports.append(
                validate(
                    location,
                    domain_name=config.domain,
                    schema_json=schema_json,
                    dataset_type=dataset_type,
                    use_cases=use_cases if dataset_type == "INTERACTIONS" else (),
                    s3_client=s3_client,
                    s3_endpoint_url=s3_endpoint_url,
                    max_examples=max_examples,
                    progress=progress,
                )
            )
        except SourceError as error:
            unchecked.append(UncheckedDataset(dataset_type, location, str(error), error=True))
    without_data = all(plans[dataset_type].data_source is None for dataset_type in wanted)
    if not reports and not without_data and not any(item.error for item in unchecked):
        raise UsageError(
            f"environment {config.name} imports only from the stack's bucket (bucket_key); "
            "give the file or s3:// URI to validate"
        )
    return EnvironmentReport(config.name, config.domain, tuple(reports), tuple(unchecked))


def dataset_plan(config: EnvironmentConfig, dataset_type: str) -> DatasetPlan:
    """The environment's plan for one dataset type; UsageError naming what it has when it lacks it."""
    plans = config.datasets()
    plan = plans.get(dataset_type.upper())
    if plan is None:
        raise UsageError(
            f"environment {config.name} has no {dataset_type.lower()} dataset "
            f"(it imports {', '.join(name.lower() for name in plans)}); add a `{dataset_type.lower()}:` "
            "section or use --domain"
        )
    return plan


def plan_schema(plan: DatasetPlan) -> str:
    """The plan's schema JSON; a schema file that is missing or invalid is a UsageError."""
    from config.model import ConfigError  # noqa: PLC0415 - the config package is loaded already

    try:
        return plan.schema_json()
    except ConfigError as error:
        raise UsageError(str(error)) from error


def data_location(plan: DatasetPlan) -> str | None:
    """The file, folder or s3:// URI to read, or None when the data sits in the stack's own bucket."""
    if plan.local_path is not None:
        return str(plan.local_path)
    return plan.data_source.s3_uri if plan.data_source else None
