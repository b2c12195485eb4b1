"""Amazon Personalize domain knowledge the handlers use: the asset's half of the one source of truth.

Name, ARN and tag rules, recipes and the schema-replacement rule live here because the
handlers need them; the constructs, the validator and the emulator read them from here too. What only
the tools need (default schemas, field rules, data minimums, quotas) lives in `domain_rules.py`,
which the asset leaves out and which imports from this module, never the reverse
(tests/stacks/test_asset.py). Standard library only: handlers depend on nothing but boto3 and it.

Facts come from the botocore service model and the Personalize developer guide; see
docs/personalize-reference.md in the shared notes for the sources.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# --- names, ARNs and enums ---------------------------------------------------------------------

NAME_MAX_LENGTH = 63
NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]*")
# An environment's Personalize names start with PREFIX + SCOPE_DELIMITER. Prefixes are lower case,
# digits and "-" (never "_"), so `pz-prod_*` cannot match `pz-prod-us_…`: an IAM pattern cannot say
# "not followed by -us", but it can stop at a character no prefix contains.
SCOPE_DELIMITER = "_"
PERSONALIZE_ARN_PATTERN = re.compile(r"arn:([a-z\d-]+):personalize:.*:.*:.+")
ROLE_ARN_PATTERN = re.compile(r"arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
KMS_KEY_ARN_PATTERN = re.compile(r"arn:aws.*:kms:.*:[0-9]{12}:key/.*")
DATA_LOCATION_MAX_LENGTH = 256
TAG_KEY_MAX_LENGTH = 128
TAG_VALUE_MAX_LENGTH = 256
MAX_TAGS = 50
# Set by the handlers, never by a template, on every resource they create: the proof of ownership that
# rollback, destroy and replacement check before a delete (docs/custom-resources.md#ownership).
OWNER_TAG_KEY = "personalize-cdk:owner"
WAIT_SECONDS_ENV = "PERSONALIZE_WAIT_SECONDS"  # the handlers' own deadline, set on their Lambdas

# Tagging guide ("Guidelines and requirements", personalize-managing-tags.html): keys and values can't
# start with aws: (reserved; the AWS-wide tagging rules say in any letter case); botocore's TagKey and
# TagValue pattern is [\p{L}\p{Z}\p{N}_.:/=+\-@]*: Unicode letters, separators (not tab or newline,
# which are control characters) and numbers, plus those symbols.
RESERVED_TAG_PREFIX = "aws:"
TAG_SYMBOLS = "_.:/=+-@"
TAG_CATEGORIES = ("L", "Z", "N")


def _tag_characters_allowed(text: str) -> bool:
    return all(char in TAG_SYMBOLS or unicodedata.category(char)[0] in TAG_CATEGORIES for char in text)


REASON_INVALID_LOCATION = "Invalid Data location."
AVRO_PRIMITIVES = frozenset({"float", "double", "int", "long", "string", "boolean", "null"})

# --- the facts of a CSV row -----------------------------------------------------------------------
# The import flow's checks (flow/rows.py) run in the asset; validate-data reads the same facts here.
ID_MAX_LENGTH = 256
# Interactions columns whose values carry meaning beyond their Avro type.
USER_ID_FIELD = "USER_ID"
ITEM_ID_FIELD = "ITEM_ID"
TIMESTAMP_FIELD = "TIMESTAMP"  # Unix epoch seconds
EVENT_TYPE_FIELD = "EVENT_TYPE"
ID_FIELDS = (USER_ID_FIELD, ITEM_ID_FIELD)  # non-empty, at most ID_MAX_LENGTH characters
CREATION_TIMESTAMP_FIELD = "CREATION_TIMESTAMP"  # Items: Unix epoch seconds, as TIMESTAMP
# The id column of a Users or Items dataset: an import keeps one record per id.
RECORD_ID_FIELDS = {"USERS": USER_ID_FIELD, "ITEMS": ITEM_ID_FIELD}
# The column of each dataset type that holds Unix epoch seconds (Users have none).
EPOCH_SECONDS_FIELDS = {"INTERACTIONS": TIMESTAMP_FIELD, "ITEMS": CREATION_TIMESTAMP_FIELD}
CATEGORICAL_VALUE_MAX_LENGTH = 1000
CATEGORICAL_SEPARATOR = "|"
# What each Avro primitive accepts as a CSV value (validate-data's rules, and the import flow's checks).
VALUE_PATTERNS = {
    "long": r"^-?[0-9]+$",
    "int": r"^-?[0-9]+$",
    "float": r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$",
    "double": r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$",
    "boolean": r"(?i)^(true|false|1|0)$",
    "null": r"^$",
}
INTEGER_BOUNDS = {"long": (-(2**63), 2**63 - 1), "int": (-(2**31), 2**31 - 1)}
# TIMESTAMP magnitudes. Epoch seconds reach 10**11 only in the year 5138, so a larger value is
# milliseconds (10**11 ms is 1973); from 10**14 on it is microseconds or finer.
EPOCH_2000 = 946_684_800
EPOCH_MILLISECONDS_FROM = 10**11
EPOCH_MICROSECONDS_FROM = 10**14
# A TIMESTAMP written as a date (2024-05-01...) rather than epoch seconds.
ISO_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
# Quotas page ("Amazon Personalize endpoints and quotas", Item interactions): the minimum number of item
# interactions records per dataset import job, FULL or INCREMENTAL; also the minimum a recommender
# trains on. The import flow's checks refuse a shorter Interactions file before any job starts.
MIN_INTERACTIONS = 1000


# --- tags ---------------------------------------------------------------------------------------


def tag_problems(tags: Mapping[str, str]) -> list[str]:
    """Why Personalize would refuse these tags, one sentence per tag; the count is checked apart."""
    problems = []
    for key, value in tags.items():
        if not 1 <= len(key) <= TAG_KEY_MAX_LENGTH:
            problems.append(f"tag key {key!r} must be 1 to {TAG_KEY_MAX_LENGTH} characters")
        if len(value) > TAG_VALUE_MAX_LENGTH:
            problems.append(f"tag {key!r} value must be at most {TAG_VALUE_MAX_LENGTH} characters")
        for what, text in (("key", key), ("value", value)):
            if text.lower().startswith(RESERVED_TAG_PREFIX):
                problems.append(
                    f"tag {what} {text!r} starts with {RESERVED_TAG_PREFIX!r}, a prefix reserved for AWS"
                )
            elif not _tag_characters_allowed(text):
                problems.append(
                    f"tag {what} {text!r} has characters outside letters, digits, spaces and _ . : / = + - @"
                )
    return problems


# --- schema validation --------------------------------------------------------------------------


def base_type(avro_type: Any) -> tuple[str | None, bool]:
    """(base primitive or None if unsupported, nullable) for a field's Avro type."""
    if isinstance(avro_type, str):
        return (avro_type if avro_type in AVRO_PRIMITIVES else None), avro_type == "null"
    if isinstance(avro_type, list) and avro_type and all(isinstance(t, str) for t in avro_type):
        non_null = [t for t in avro_type if t != "null"]
        if len(non_null) == 1 and non_null[0] in AVRO_PRIMITIVES and len(avro_type) <= 2:
            return non_null[0], "null" in avro_type
    return None, False


def parse_schema(schema: str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse an Avro schema string; raises ValueError with a readable message."""
    if isinstance(schema, Mapping):
        return dict(schema)
    try:
        parsed = json.loads(schema)
    except json.JSONDecodeError as error:
        raise ValueError(f"schema is not valid JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise ValueError("schema must be a JSON object (an Avro record)")
    return parsed


def schema_field_names(schema: str | Mapping[str, Any]) -> list[str]:
    fields = parse_schema(schema).get("fields") or []
    return [spec["name"] for spec in fields if isinstance(spec, dict) and isinstance(spec.get("name"), str)]


# --- schema replacement (UpdateDataset) ------------------------------------------------------------
# Developer guide, "Replacing a dataset's schema to add new columns" (updating-dataset-schema.html):
# only an Items or Users dataset's schema can be replaced (not Item interactions, Action interactions
# or Actions); the replacement keeps every field of the previous schema with its data type and
# attributes, and every new field must support null data.

SCHEMA_REPLACEABLE_TYPES = ("ITEMS", "USERS")
SCHEMA_ATTRIBUTES = ("categorical", "textual")
REPLACEMENT_GUIDE = "the developer guide's 'Replacing a dataset's schema to add new columns'"


def _field_signatures(schema: str | Mapping[str, Any]) -> dict[str, tuple[str | None, bool, tuple[str, ...]]]:
    """Per field: (base Avro type, nullable, attributes set) — what a replacement must keep."""
    signatures = {}
    for spec in parse_schema(schema).get("fields") or []:
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            attributes = tuple(name for name in SCHEMA_ATTRIBUTES if spec.get(name) is True)
            signatures[spec["name"]] = (*base_type(spec.get("type")), attributes)
    return signatures


def _signature_text(signature: tuple[str | None, bool, tuple[str, ...]]) -> str:
    base, nullable, attributes = signature
    words = [*attributes, f"{base}{' or null' if nullable else ''}"]
    return " ".join(words)


def _field_changes(current: str | Mapping[str, Any], replacement: str | Mapping[str, Any]) -> list[str]:
    old, new = _field_signatures(current), _field_signatures(replacement)
    problems: list[str] = []
    missing = [name for name in old if name not in new]
    if missing:
        problems.append(f"field(s) {', '.join(missing)} of the current schema are missing")
    for name in old.keys() & new.keys():
        if old[name] != new[name]:
            problems.append(
                f"field {name} changes from {_signature_text(old[name])} to {_signature_text(new[name])}"
            )
    for name in new.keys() - old.keys():
        base, nullable, _ = new[name]
        if not nullable:
            problems.append(f'new field {name} must allow null (type ["null", "{base}"])')
    return sorted(problems)


def schema_replacement_problems(
    current: str | Mapping[str, Any], replacement: str | Mapping[str, Any], dataset_type: str
) -> list[str]:
    """Every reason UpdateDataset refuses to move a dataset of this type from `current` to `replacement`."""
    dataset_type = dataset_type.upper()
    if dataset_type not in SCHEMA_REPLACEABLE_TYPES:
        return [
            f"a dataset of type {dataset_type} cannot get a new schema; only "
            f"{' and '.join(SCHEMA_REPLACEABLE_TYPES)} datasets can get a new schema ({REPLACEMENT_GUIDE})"
        ]
    return _field_changes(current, replacement)


def schema_covers(wider: str | Mapping[str, Any], narrower: str | Mapping[str, Any]) -> bool:
    """True when `wider` already holds every field of `narrower` unchanged, its extra fields nullable.

    A dataset on `wider` then accepts all data written for `narrower`: what a rollback to the
    previous, smaller schema finds after a replacement that added columns.
    """
    return not _field_changes(narrower, wider)


def replacement_alternative(dataset_type: str) -> str:
    """What to do instead of a schema replacement the service refuses, as the guide says."""
    if dataset_type.upper() not in SCHEMA_REPLACEABLE_TYPES:
        return (
            "a changed schema for this dataset type needs a new dataset group: give the dataset group a "
            "new name (config: names.dataset_group) so the stack builds a new group with the new schema "
            "and imports the data again, or keep the current schema"
        )
    return (
        "keep every current field with its type and attributes and make new fields nullable; to rename a "
        "field or change its type, add a new nullable field instead (the old one stays)"
    )


def required_columns(schema: str | Mapping[str, Any]) -> list[str]:
    """Columns an import's CSV header must have: every non-nullable field of the schema."""
    columns = []
    for spec in parse_schema(schema).get("fields") or []:
        _, nullable = base_type(spec.get("type"))
        if not nullable:
            columns.append(spec["name"])
    return columns


# --- encryption ---------------------------------------------------------------------------------
# API reference, CreateDatasetGroup: "If you specify a KMS key, you must also include an IAM role that
# has permission to access the key." The handler, the emulator and the construct all ask this function.
KMS_KEY_ROLE_RULE = "a KMS key needs an IAM role that Personalize assumes to use the key"


def key_without_role(kms_key_arn: object, role_arn: object) -> bool:
    """True when a KMS key is given without the role CreateDatasetGroup then requires."""
    return bool(kms_key_arn) and not role_arn


# --- names --------------------------------------------------------------------------------------


def name_problem(name: str, what: str = "name") -> str | None:
    """Why the service would reject this resource name, or None when it is valid."""
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        return f"{what} {name!r} is {len(name)} characters; allowed: 1 to {NAME_MAX_LENGTH}"
    if not NAME_PATTERN.fullmatch(name):
        return (
            f"{what} {name!r} must match [a-zA-Z0-9][a-zA-Z0-9-_]* "
            "(letters, digits, '-' and '_', starting with a letter or digit)"
        )
    return None


# --- recipes (domain recommenders) --------------------------------------------------------------


@dataclass(frozen=True)
class DomainRecipe:
    domain: str
    use_case: str
    event_types: tuple[str, ...]  # () means any event type counts
    # The use case's "Datasets used when training" lists the Items dataset as required (VIDEO_ON_DEMAND
    # use cases page: only More like X); config, constructs and the emulator all read this one flag.
    needs_items: bool = False

    @property
    def arn(self) -> str:
        return f"arn:aws:personalize:::recipe/{self.use_case}"


RECIPES: dict[str, DomainRecipe] = {
    recipe.use_case: recipe
    for recipe in (
        DomainRecipe("ECOMMERCE", "aws-ecomm-popular-items-by-views", ("View",)),
        DomainRecipe("ECOMMERCE", "aws-ecomm-popular-items-by-purchases", ("Purchase",)),
        DomainRecipe("ECOMMERCE", "aws-ecomm-frequently-bought-together", ("Purchase",)),
        DomainRecipe("ECOMMERCE", "aws-ecomm-customers-who-viewed-x-also-viewed", ("View",)),
        DomainRecipe("ECOMMERCE", "aws-ecomm-recommended-for-you", ()),
        DomainRecipe("VIDEO_ON_DEMAND", "aws-vod-because-you-watched-x", ("Watch",)),
        DomainRecipe("VIDEO_ON_DEMAND", "aws-vod-more-like-x", (), needs_items=True),
        DomainRecipe("VIDEO_ON_DEMAND", "aws-vod-most-popular", ("Watch",)),
        DomainRecipe("VIDEO_ON_DEMAND", "aws-vod-trending-now", ()),
        # The use-case page lists Items as optional for Top picks ("Items dataset (optional)"); the
        # archived 2022 guide listed it as required. The current page wins.
        DomainRecipe("VIDEO_ON_DEMAND", "aws-vod-top-picks", ()),
    )
}


RECIPES_BY_ARN = {recipe.arn: recipe for recipe in RECIPES.values()}


# --- ARNs ---------------------------------------------------------------------------------------


def arn(region: str, account: str, resource: str, partition: str = "aws") -> str:
    return f"arn:{partition}:personalize:{region}:{account}:{resource}"


def dataset_arn_suffix(dataset_group_name: str, dataset_type: str) -> str:
    """Datasets are named in ARNs by their group and type, not by their own name."""
    return f"dataset/{dataset_group_name}/{dataset_type.upper()}"


def schema_field_types(schema: str | Mapping[str, Any]) -> list[tuple[str, str | None, bool]]:
    """(name, base Avro primitive or None when unsupported, nullable) for each field, in schema order."""
    fields = parse_schema(schema).get("fields") or []
    return [
        (spec["name"], *base_type(spec.get("type")))
        for spec in fields
        if isinstance(spec, dict) and isinstance(spec.get("name"), str)
    ]


def categorical_fields(schema: str | Mapping[str, Any]) -> list[str]:
    """Fields flagged categorical: values split on CATEGORICAL_SEPARATOR, each one length-limited."""
    fields = parse_schema(schema).get("fields") or []
    return [
        spec["name"]
        for spec in fields
        if isinstance(spec, dict) and isinstance(spec.get("name"), str) and spec.get("categorical") is True
    ]
