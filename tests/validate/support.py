"""Helpers the validate-data tests share: tiny CSVs and running the validator on them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lambda_handlers.personalize import domain_rules
from personalize_tools.validate import ValidationReport, validate_path

HEADER = "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"
GOOD_ROW = "u1,i1,1700000000,View"


def write(directory: Path, content: str | bytes, name: str = "interactions.csv") -> Path:
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def rows_csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def check(
    path: Path | str,
    *,
    domain_name: str = "ECOMMERCE",
    schema_json: str | None = None,
    dataset_type: str = "INTERACTIONS",
    use_cases: Sequence[str] = (),
) -> ValidationReport:
    return validate_path(
        str(path),
        domain=domain_name,
        schema_json=schema_json or domain_rules.default_schema_json(domain_name, dataset_type),
        dataset_type=dataset_type,
        use_cases=use_cases,
    )
