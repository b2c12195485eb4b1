"""python -m personalize_tools.validate [PATH_OR_S3_URI] (--env NAME | --domain D [--schema FILE])
                                     [--dataset-type TYPE] [--use-case NAME ...] [--json]

Exit codes: 0 the data is valid (warnings allowed), 1 the data has errors, 2 the command could not
judge the data (bad arguments, unreadable file or URI, invalid schema or config). With --env and no
path every dataset of the environment is validated and the exit code is the worst of them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from lambda_handlers.personalize import contract, domain_rules
from personalize_tools.cli_common import add_version, program
from personalize_tools.validate import validate_environment, validate_path
from personalize_tools.validate.environment import dataset_plan, plan_schema
from personalize_tools.validate.errors import SchemaError, UsageError
from personalize_tools.validate.report import EnvironmentReport, ValidationReport
from personalize_tools.validate.rules import DATASET_TYPES

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program("validate-data", "personalize_tools.validate"),
        description="Check an Interactions, Users or Items CSV (local file or folder, s3:// object or "
        "s3:// prefix/) before Amazon Personalize imports it.",
        epilog="Exit codes: 0 valid, 1 data errors, 2 usage errors.",
    )
    add_version(parser)
    parser.add_argument(
        "location",
        nargs="?",
        metavar="PATH_OR_S3_URI",
        help="CSV file, folder, s3://bucket/key or s3://bucket/prefix/ "
        "(with --env and no path: every dataset the environment imports)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--env", metavar="NAME", help="take domain, schemas and use cases from config/NAME.yaml"
    )
    source.add_argument("--domain", choices=contract.DOMAINS, help="check against this domain's rules")
    parser.add_argument(
        "--schema", metavar="FILE", help="Avro schema JSON (with --domain; default: the domain's)"
    )
    parser.add_argument(
        "--dataset-type",
        choices=[dataset_type.lower() for dataset_type in DATASET_TYPES],
        help="the kind of data (default interactions; with --env and no path: only this dataset)",
    )
    parser.add_argument(
        "--use-case",
        action="append",
        metavar="NAME",
        help="check the minimum events of this domain recipe (repeatable; with --env default: the "
        "environment's recommenders)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--max-examples", type=int, default=10, metavar="N", help="offending lines shown per rule"
    )
    parser.add_argument("--s3-endpoint-url", metavar="URL", help="S3 endpoint, e.g. a local emulator")
    return parser


def _run(args: argparse.Namespace) -> ValidationReport | EnvironmentReport:
    """Validate what the arguments name; UsageError when they cannot be used."""
    options = {
        "s3_endpoint_url": args.s3_endpoint_url,
        "max_examples": args.max_examples,
        "progress": True,
    }
    dataset_type = (args.dataset_type or "interactions").upper()
    if args.env:
        if args.schema:
            raise UsageError(
                "--schema goes with --domain; with --env the schema comes from the environment config"
            )
        from config.model import ConfigError, load_environment  # noqa: PLC0415 - pydantic only for --env

        try:
            environment = load_environment(args.env)
        except ConfigError as error:
            raise UsageError(str(error)) from error
        if args.location is None:
            return validate_environment(
                environment,
                dataset_types=[args.dataset_type] if args.dataset_type else None,
                use_cases=args.use_case,
                **options,
            )
        plan = dataset_plan(environment, dataset_type)
        configured = [recommender.use_case for recommender in environment.recommenders]
        use_cases = args.use_case or (configured if dataset_type == "INTERACTIONS" else [])
        return validate_path(
            args.location,
            domain=environment.domain,
            schema_json=plan_schema(plan),
            dataset_type=dataset_type,
            use_cases=use_cases,
            **options,
        )
    if args.location is None:
        raise UsageError("give PATH_OR_S3_URI (or --env NAME to validate that environment's data)")
    return validate_path(
        args.location,
        domain=args.domain,
        schema_json=_schema(args.schema, args.domain, dataset_type),
        dataset_type=dataset_type,
        use_cases=args.use_case or (),
        **options,
    )


def _schema(path: str | None, domain_name: str, dataset_type: str) -> str:
    """The schema file's JSON, checked for the dataset type, or the domain's default schema."""
    if path is None:
        return domain_rules.default_schema_json(domain_name, dataset_type)
    try:
        schema_json = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SchemaError(f"cannot read schema {path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise SchemaError(f"schema {path} is not UTF-8 text: {error}") from error
    problems = domain_rules.schema_problems(schema_json, domain_name, dataset_type)
    if problems:
        raise SchemaError(
            f"schema {path} is not a valid {domain_name} {domain_rules.RECORD_NAMES[dataset_type]} schema: "
            + "; ".join(problems)
        )
    return schema_json


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.max_examples < 0:
        parser.error("--max-examples must be 0 or more")
    try:
        report = _run(args)
    except UsageError as error:
        print(f"validate-data: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report.to_json(), indent=2) if args.json else report.render())
    if isinstance(report, EnvironmentReport):
        for item in report.unreadable:
            print(f"validate-data: {item.reason}", file=sys.stderr)
        if report.unreadable:
            return EXIT_USAGE
    return EXIT_VALID if report.valid else EXIT_INVALID


def run() -> NoReturn:
    """The command (console script and `python -m`): main(), then exit without finalizing the interpreter.

    Finalizing unloads numpy, pyarrow and polars and frees every buffer one by one: wasted work once the
    report is out (docs/validate-data.md, sixth pass). It is also where pyarrow can abort the process:
    a read of the input still queued on pyarrow's IO thread asks for the GIL while the interpreter
    finalizes ("terminate called without an active exception", apache/arrow#34314). The temporary
    files are gone by then (validate() removes them before it returns).
    """
    code = main()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None: the descriptor was closed when Python started (`>&-`)
                stream.flush()
    except (OSError, ValueError):  # a closed pipe or file: let the interpreter report it as it always has
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    run()
