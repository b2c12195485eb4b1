"""validate-data: a fast streaming preflight for a Personalize dataset CSV before an import job reads it.

    from personalize_tools.validate import validate_path
    report = validate_path("data/sample/items.csv", domain="VIDEO_ON_DEMAND", schema_json=schema,
                           dataset_type="ITEMS")
    if not report.valid:
        raise SystemExit(report.render())

`validate_environment(config)` checks every dataset an environment imports. Importing this
package is cheap: numpy, pyarrow and polars load on the first validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from personalize_tools.validate.environment import validate_environment
from personalize_tools.validate.errors import SchemaError, SourceError, UsageError, ValidateError
from personalize_tools.validate.report import (
    EnvironmentReport,
    Example,
    FileSummary,
    RuleResult,
    UncheckedDataset,
    ValidationReport,
)

__all__ = [
    "EnvironmentReport",
    "Example",
    "FileSummary",
    "RuleResult",
    "SchemaError",
    "SourceError",
    "UncheckedDataset",
    "UsageError",
    "ValidateError",
    "ValidationReport",
    "validate_environment",
    "validate_path",
]


def validate_path(
    path_or_uri: str,
    *,
    domain: str,
    schema_json: str,
    dataset_type: str = "INTERACTIONS",
    use_cases: Sequence[str] = (),
    s3_client: Any = None,
    s3_endpoint_url: str | None = None,
    max_examples: int = 10,
    progress: bool = False,
) -> ValidationReport:
    """Validate a local CSV file or folder, an s3:// object, or every object under an s3:// prefix.

    DATASET_TYPE (INTERACTIONS, USERS or ITEMS, any case) selects the rules; USE_CASES (domain
    recipe names, Interactions only) add each recommender's minimum of events. Findings about the
    data are in the report (`.valid`, `.render()`, `.to_json()`); only input that cannot be used at
    all raises: UsageError for a bad domain, dataset type, use case or schema, SourceError for an
    unreadable path or URI. S3 is read with S3_CLIENT, or a boto3 client for S3_ENDPOINT_URL.
    """
    from personalize_tools.validate.engine import validate  # noqa: PLC0415 - keeps this import cheap

    return validate(
        path_or_uri,
        domain_name=domain,
        schema_json=schema_json,
        dataset_type=dataset_type,
        use_cases=use_cases,
        s3_client=s3_client,
        s3_endpoint_url=s3_endpoint_url,
        max_examples=max_examples,
        progress=progress,
    )
