"""validate-data: a fast streaming preflight for an Interactions CSV before Personalize imports it.

    from personalize_tools.validate import validate_path
    report = validate_path("data/sample/interactions.csv", domain="ECOMMERCE", schema_json=schema)
    if not report.valid:
        raise SystemExit(report.render())

Importing this package is cheap: numpy, pyarrow and polars load on the first validate_path call.
"""

from __future__ import annotations

from typing import Any

from personalize_tools.validate.errors import SchemaError, SourceError, UsageError, ValidateError
from personalize_tools.validate.report import Example, FileSummary, RuleResult, ValidationReport

__all__ = [
    "Example",
    "FileSummary",
    "RuleResult",
    "SchemaError",
    "SourceError",
    "UsageError",
    "ValidateError",
    "ValidationReport",
    "validate_path",
]


def validate_path(
    path_or_uri: str,
    *,
    domain: str,
    schema_json: str,
    s3_client: Any = None,
    s3_endpoint_url: str | None = None,
    max_examples: int = 10,
    progress: bool = False,
) -> ValidationReport:
    """Validate a local CSV file or folder, an s3:// object, or every object under an s3:// prefix.

    Findings about the data are in the report (`.valid`, `.render()`, `.to_json()`); only input that
    cannot be used at all raises: UsageError for a bad domain or schema, SourceError for an
    unreadable path or URI. S3 is read with S3_CLIENT, or a boto3 client for S3_ENDPOINT_URL.
    """
    from personalize_tools.validate.engine import validate  # noqa: PLC0415 - keeps this import cheap

    return validate(
        path_or_uri,
        domain_name=domain,
        schema_json=schema_json,
        s3_client=s3_client,
        s3_endpoint_url=s3_endpoint_url,
        max_examples=max_examples,
        progress=progress,
    )
