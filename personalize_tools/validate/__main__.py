"""python -m personalize_tools.validate PATH_OR_S3_URI [--env NAME | --domain D [--schema FILE]] [--json]

Exit codes: 0 the data is valid (warnings allowed), 1 the data has errors, 2 the command could not
judge the data (bad arguments, unreadable file or URI, invalid schema or config).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from lambda_handlers.personalize import domain
from personalize_tools.validate import validate_path
from personalize_tools.validate.errors import SchemaError, UsageError

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m personalize_tools.validate",
        description="Check an Interactions CSV (local file or folder, s3:// object or s3:// prefix/) "
        "before Amazon Personalize imports it.",
        epilog="Exit codes: 0 valid, 1 data errors, 2 usage errors.",
    )
    parser.add_argument(
        "location",
        nargs="?",
        metavar="PATH_OR_S3_URI",
        help="CSV file, folder, s3://bucket/key or s3://bucket/prefix/ (default with --env: its data_source)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--env", metavar="NAME", help="take domain and schema from config/NAME.yaml")
    source.add_argument("--domain", choices=domain.DOMAINS, help="check against this domain's rules")
    parser.add_argument(
        "--schema", metavar="FILE", help="Avro schema JSON (with --domain; default: the domain's)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--max-examples", type=int, default=10, metavar="N", help="offending lines shown per rule"
    )
    parser.add_argument("--s3-endpoint-url", metavar="URL", help="S3 endpoint, e.g. a local emulator")
    return parser


def _settings(args: argparse.Namespace) -> tuple[str, str, str]:
    """(location, domain, schema JSON) from --env or --domain/--schema; UsageError when unusable."""
    if args.env:
        if args.schema:
            raise UsageError(
                "--schema goes with --domain; with --env the schema comes from the environment config"
            )
        from config.model import PROJECT_ROOT, ConfigError, load_environment  # noqa: PLC0415 - pydantic only for --env

        try:
            environment = load_environment(args.env)
            schema_json = environment.interactions_schema()
        except ConfigError as error:
            raise UsageError(str(error)) from error
        location = args.location
        if location is None:
            source = environment.data_source
            if source.local_path:
                location = str(PROJECT_ROOT / source.local_path)
            elif source.s3_uri:
                location = source.s3_uri
            else:
                raise UsageError(
                    f"environment {args.env} imports bucket_key {source.bucket_key!r} from the stack's "
                    "bucket; give the file or s3:// URI to validate"
                )
        return location, environment.domain, schema_json
    if args.location is None:
        raise UsageError("give PATH_OR_S3_URI (or --env NAME to use that environment's data source)")
    if args.schema is None:
        return args.location, args.domain, domain.default_schema_json(args.domain)
    try:
        schema_json = Path(args.schema).read_text(encoding="utf-8")
    except OSError as error:
        raise SchemaError(f"cannot read schema {args.schema}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise SchemaError(f"schema {args.schema} is not UTF-8 text: {error}") from error
    problems = domain.schema_problems(schema_json, args.domain, "INTERACTIONS")
    if problems:
        raise SchemaError(
            f"schema {args.schema} is not a valid {args.domain} Interactions schema: " + "; ".join(problems)
        )
    return args.location, args.domain, schema_json


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.max_examples < 0:
        parser.error("--max-examples must be 0 or more")
    try:
        location, domain_name, schema_json = _settings(args)
        report = validate_path(
            location,
            domain=domain_name,
            schema_json=schema_json,
            s3_endpoint_url=args.s3_endpoint_url,
            max_examples=args.max_examples,
            progress=True,
        )
    except UsageError as error:
        print(f"validate-data: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.render())
    return EXIT_VALID if report.valid else EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
