"""Synth-time data preflight: local files a stack uploads are checked before the stack synthesizes.

An import job reads its data an hour after the deploy started; a file with millisecond timestamps or
a wrong header fails it then. Two depths, both public so apps built on these constructs use them:

- `full=True` runs the validator (`personalize_tools.validate`, the `[validate]` extra: pyarrow, polars,
  numpy) over every file. With `stamp_dir`, data that already passed, byte for byte, under the same
  schema, use cases and validator, is not read again: synth then imports neither pyarrow nor polars.
- `full=False` reads only each file's CSV header (standard library): the check the handler's own
  deploy-time preflight makes, moved to synth.

    from constructs_lib.preflight import LocalDataset, check_local_data
    check_local_data([LocalDataset(Path("data/interactions.csv"), "INTERACTIONS")], domain_name="ECOMMERCE")
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from lambda_handlers.personalize import contract, domain, domain_rules
from lambda_handlers.personalize.csv_header import HEADER_BYTES, header_refusal, parse_header
from lambda_handlers.personalize.data_objects import is_data_path

# The packages whose source decides the verdict: the validator and the domain facts it applies.
VALIDATOR_PACKAGES = ("personalize_tools.validate", "lambda_handlers.personalize")
# Besides the validator's own source, what its verdict depends on: the readers' versions.
VALIDATOR_DISTRIBUTIONS = ("pyarrow", "polars", "numpy")
EXTRA_HINT = (
    "pip install 'personalize-domain-cdk[validate]' (make install does), or check headers only "
    "(full=False; in this app: -c data_check=header)"
)


class DataPreflightError(ValueError):
    """The data would fail its import (or cannot be checked); the message names the file and the finding."""


@dataclass(frozen=True)
class LocalDataset:
    """A local file or folder a stack uploads for one dataset, and what its import will be held to."""

    path: Path
    dataset_type: str  # INTERACTIONS, USERS or ITEMS
    schema_json: str | None = None  # None: the domain's default schema for the type
    use_cases: tuple[str, ...] = field(default=())  # recommenders trained on it (Interactions only)


def check_local_data(
    datasets: Sequence[LocalDataset],
    *,
    domain_name: str,
    full: bool = True,
    stamp_dir: Path | None = None,
) -> None:
    """Raise DataPreflightError unless every dataset's files would pass their import.

    `stamp_dir` remembers data that passed the full validation (one empty file per digest): give it a
    folder outside the synth output, such as the project's cache; None validates on every call.
    """
    if domain_name not in contract.DOMAINS:
        raise DataPreflightError(f"domain {domain_name!r} is not one of {', '.join(contract.DOMAINS)}")
    if not datasets:
        return
    if not full:
        for dataset in datasets:
            _check_headers(dataset, domain_name)
        return
    stamp = None if stamp_dir is None else stamp_dir / _digest(datasets, domain_name)
    if stamp is not None and stamp.is_file():
        return
    _validate(datasets, domain_name)
    if stamp is not None:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()


def _schema(dataset: LocalDataset, domain_name: str) -> str:
    return dataset.schema_json or domain_rules.default_schema_json(domain_name, dataset.dataset_type)


def _data_files(path: Path) -> Iterator[Path]:
    """The files an upload of PATH imports, in a stable order: the validator's and the upload's rule."""
    if not path.exists():
        raise DataPreflightError(f"{path} does not exist")
    if path.is_file():
        yield path
        return
    found = sorted(candidate for candidate in path.rglob("*") if is_data_path(candidate, path))
    if not found:
        raise DataPreflightError(
            f"{path} is a folder with no data files (names starting with '.' do not count)"
        )
    yield from found


def _check_headers(dataset: LocalDataset, domain_name: str) -> None:
    """Each file's header names every required field of the schema and nothing it does not define."""
    schema = _schema(dataset, domain_name)
    fields = domain.schema_field_names(schema)
    required = domain.required_columns(schema)
    for path in _data_files(dataset.path):
        with path.open("rb") as stream:
            header = parse_header(stream.read(HEADER_BYTES))
        # The deploy-time check's own rule: the same file passes or fails at synth and at deploy.
        refusal = header_refusal(header, path.stat().st_size)
        if refusal:
            raise DataPreflightError(f"{path}{refusal}")
        problems = []
        missing = [name for name in required if name not in header.names]
        unknown = [name for name in header.names if name not in fields]
        if missing:
            problems.append(f"missing required column(s) {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s) {', '.join(repr(name) for name in unknown)}")
        if problems:
            raise DataPreflightError(
                f"the CSV header of {path} does not match the {domain_name} "
                f"{domain_rules.RECORD_NAMES[dataset.dataset_type]} schema: {'; '.join(problems)} "
                f"(allowed columns: {', '.join(fields)})"
            )


def _validate(datasets: Sequence[LocalDataset], domain_name: str) -> None:
    """The validator over every dataset; imported here, so a synth that needs no validation never loads it."""
    try:
        # The engine imports pyarrow, polars and numpy: a missing extra shows here, before any file is read.
        import personalize_tools.validate.engine  # noqa: F401, PLC0415
        from personalize_tools.validate import ValidateError, validate_path  # noqa: PLC0415
    except ImportError as error:
        raise DataPreflightError(
            f"validating the data the stack uploads needs the validator ({error}): {EXTRA_HINT}"
        ) from error
    failing = []
    for dataset in datasets:
        try:
            report = validate_path(
                str(dataset.path),
                domain=domain_name,
                schema_json=_schema(dataset, domain_name),
                dataset_type=dataset.dataset_type,
                use_cases=dataset.use_cases,
            )
        except ValidateError as error:
            raise DataPreflightError(f"{dataset.path}: {error}") from error
        if not report.valid:
            failing.append(report.render())
    if failing:
        raise DataPreflightError("\n\n".join(failing))


def _digest(datasets: Sequence[LocalDataset], domain_name: str) -> str:
    """What the full validation's verdict depends on: the validator, the rules' inputs and every byte read."""
    digest = hashlib.sha256()
    digest.update(_validator_fingerprint().encode())
    for dataset in sorted(datasets, key=lambda item: item.dataset_type):
        facts = [domain_name, dataset.dataset_type, _schema(dataset, domain_name), sorted(dataset.use_cases)]
        digest.update(json.dumps(facts).encode())
        for path in _data_files(dataset.path):
            digest.update(str(path.relative_to(dataset.path) if path != dataset.path else path.name).encode())
            with path.open("rb") as stream:
                digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.hexdigest()


def _validator_fingerprint() -> str:
    """The validator's source and its readers' versions, found without importing any of them."""
    parts: list[str] = []
    for package in VALIDATOR_PACKAGES:
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            sources = sorted(Path(folder).rglob("*.py"))
            parts.extend(hashlib.sha256(source.read_bytes()).hexdigest() for source in sources)
    for distribution in VALIDATOR_DISTRIBUTIONS:
        try:
            parts.append(f"{distribution}=={metadata.version(distribution)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{distribution} missing")
    return "\n".join(parts)
