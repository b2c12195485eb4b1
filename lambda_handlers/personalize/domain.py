"""The one source of truth for Amazon Personalize domain knowledge.

The constructs, the custom-resource handlers, the data validator and the local emulator all read
this module and never copy it. It lives inside the Lambda asset because the handlers ship it, and
it uses the standard library only because handlers may depend on nothing but boto3 and the
standard library.

Facts come from the botocore service model and the Personalize developer guide; see
docs/personalize-reference.md in the shared notes for the sources.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import contract

# --- names, ARNs and enums ---------------------------------------------------------------------

NAME_MAX_LENGTH = 63
NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]*")
ARN_MAX_LENGTH = 256
PERSONALIZE_ARN_PATTERN = re.compile(r"arn:([a-z\d-]+):personalize:.*:.*:.+")
ROLE_ARN_PATTERN = re.compile(r"arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
KMS_KEY_ARN_PATTERN = re.compile(r"arn:aws.*:kms:.*:[0-9]{12}:key/.*")
KMS_KEY_ARN_MAX_LENGTH = 2048
DATA_LOCATION_PATTERN = re.compile(r"(s3|http|https)://.+")
DATA_LOCATION_MAX_LENGTH = 256
SCHEMA_MAX_LENGTH = 20000
TAG_KEY_MAX_LENGTH = 128
TAG_VALUE_MAX_LENGTH = 256
MAX_TAGS = 50
# Set by the handlers, never by a template, on every resource they create: the proof of ownership that
# rollback, destroy and replacement check before a delete (docs/custom-resources.md#ownership).
OWNER_TAG_KEY = "personalize-cdk:owner"

# CloudFormation waits at most this long for a custom resource (ServiceTimeout, 1 to 3600 s: template
# reference, AWS::CloudFormation::CustomResource). The stack sets it explicitly; the Provider's on_event
# Lambda may run up to HANDLER_TIMEOUT_SECONDS of it before the waiter starts, so the waiter gets at most
# the rest, and CloudFormation's generic timeout never pre-empts the handler's own, specific message.
SERVICE_TIMEOUT_SECONDS = 3600
HANDLER_TIMEOUT_SECONDS = 300
MAX_WAIT_SECONDS = SERVICE_TIMEOUT_SECONDS - HANDLER_TIMEOUT_SECONDS
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


DOMAINS = contract.DOMAINS
DATASET_TYPES = contract.DATASET_TYPES
IMPORT_MODES = contract.IMPORT_MODES
SERVICE_PRINCIPAL = "personalize.amazonaws.com"

# Avro record name each dataset type's schema must carry.
RECORD_NAMES = {
    "INTERACTIONS": "Interactions",
    "ITEMS": "Items",
    "USERS": "Users",
    "ACTIONS": "Actions",
    "ACTION_INTERACTIONS": "ActionInteractions",
}

# --- statuses (note the space: "CREATE PENDING") ------------------------------------------------

CREATE_PENDING = "CREATE PENDING"
CREATE_IN_PROGRESS = "CREATE IN_PROGRESS"
ACTIVE = "ACTIVE"
CREATE_FAILED = "CREATE FAILED"
DELETE_PENDING = "DELETE PENDING"
DELETE_IN_PROGRESS = "DELETE IN_PROGRESS"
UPDATE_PENDING = "UPDATE PENDING"
UPDATE_IN_PROGRESS = "UPDATE IN_PROGRESS"
UPDATE_FAILED = "UPDATE FAILED"
STOP_PENDING = "STOP PENDING"
STOP_IN_PROGRESS = "STOP IN_PROGRESS"
INACTIVE = "INACTIVE"
START_PENDING = "START PENDING"
START_IN_PROGRESS = "START IN_PROGRESS"
IN_FLIGHT_CREATE_STATUSES = frozenset({CREATE_PENDING, CREATE_IN_PROGRESS})
FAILED_STATUSES = frozenset({CREATE_FAILED, UPDATE_FAILED})

# --- failure reasons the service documents, verbatim --------------------------------------------

REASON_S3_ACCESS = "Insufficient privileges for accessing data in Amazon S3."
REASON_INVALID_LOCATION = "Invalid Data location."
REASON_IMPORT_LIMIT = "More than 5 resources with PENDING or IN_PROGRESS status."


def reason_missing_columns(columns: Sequence[str]) -> str:
    return "Input CSV is missing the following columns:[" + ", ".join(columns) + "]"


def reason_too_few_interactions(event_type: str) -> str:
    return (
        f"Dataset has fewer than {MIN_INTERACTIONS} interactions after filtering by event type: {event_type}"
    )


# The service does not document its wording for these; the local emulator uses them (docs/emulator.md).


def reason_too_few_records(found: int) -> str:
    """An Interactions import, or a recommender's unfiltered data, below MIN_INTERACTIONS records."""
    return f"Input data has {found} interaction records; at least {MIN_INTERACTIONS} are required."


def reason_needs_items(use_case: str) -> str:
    return f"Recipe {use_case} needs an Items dataset with imported data in the dataset group."


# --- data rules ---------------------------------------------------------------------------------

MIN_INTERACTIONS = 1000  # per import job (INCREMENTAL: new records) and per recommender after filtering
# Developer guide, "ECOMMERCE use cases" / "VIDEO_ON_DEMAND use cases", the data every use case needs:
RULE_MIN_INTERACTIONS = (
    f"At minimum {MIN_INTERACTIONS} item interactions records from users interacting with items in your "
    "catalog. These interactions can be from bulk imports, or streamed events, or both."
)
MIN_TRAINING_USERS = 25
MIN_INTERACTIONS_PER_TRAINING_USER = 2
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
FULL_IMPORT_MAX_BYTES = 100 * 1024**3
INCREMENTAL_IMPORT_MAX_BYTES = 1 * 1024**3
MAX_IMPORT_JOBS_IN_PROGRESS = 5
MAX_DATASET_GROUPS = 5  # per region; adjustable quota
MAX_SCHEMAS = 500  # per region
MAX_RECOMMENDERS_PER_GROUP = 5
MAX_CUSTOM_INTERACTION_FIELDS = 5
MAX_USER_FIELDS = 25
MAX_ITEM_FIELDS = 100
AVRO_PRIMITIVES = frozenset({"float", "double", "int", "long", "string", "boolean", "null"})

# Event types the domain recommenders are built around.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "ECOMMERCE": ("View", "Purchase"),
    "VIDEO_ON_DEMAND": ("Watch", "Click"),
}


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


def too_many_tags(count: int) -> str | None:
    return f"{count} tags; a resource can have at most {MAX_TAGS}" if count > MAX_TAGS else None


# --- schemas ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRule:
    """A field the service requires or reserves: its base Avro type and flags."""

    name: str
    avro_type: str
    nullable: bool = False
    categorical: bool = False
    textual: bool = False


@dataclass(frozen=True)
class DatasetRules:
    required: tuple[FieldRule, ...]
    reserved: tuple[FieldRule, ...] = ()
    min_metadata_fields: int = 0
    max_fields: int | None = None
    max_custom_fields: int | None = None
    defaults: tuple[FieldRule, ...] = field(default=())

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.required)

    def rule_for(self, name: str) -> FieldRule | None:
        for rule in (*self.required, *self.reserved):
            if rule.name == name:
                return rule
        return None


_INTERACTIONS = DatasetRules(
    required=(
        FieldRule("USER_ID", "string"),
        FieldRule("ITEM_ID", "string"),
        FieldRule("TIMESTAMP", "long"),
        FieldRule("EVENT_TYPE", "string"),
    ),
    reserved=(
        FieldRule("EVENT_VALUE", "float", nullable=True),
        FieldRule("IMPRESSION", "string", nullable=True),
        FieldRule("RECOMMENDATION_ID", "string", nullable=True),
        FieldRule("EVENT_ATTRIBUTION_SOURCE", "string", nullable=True),
    ),
    max_custom_fields=MAX_CUSTOM_INTERACTION_FIELDS,
)

DATASET_RULES: dict[str, dict[str, DatasetRules]] = {
    "ECOMMERCE": {
        "INTERACTIONS": _INTERACTIONS,
        "USERS": DatasetRules(
            required=(FieldRule("USER_ID", "string"),),
            min_metadata_fields=1,
            max_fields=MAX_USER_FIELDS,
            defaults=(FieldRule("MEMBERSHIP_STATUS", "string", categorical=True),),
        ),
        "ITEMS": DatasetRules(
            required=(
                FieldRule("ITEM_ID", "string"),
                FieldRule("PRICE", "float"),
                FieldRule("CATEGORY_L1", "string", categorical=True),
            ),
            reserved=(
                FieldRule("CATEGORY_L2", "string", nullable=True, categorical=True),
                FieldRule("CATEGORY_L3", "string", nullable=True, categorical=True),
                FieldRule("AGE_GROUP", "string", nullable=True, categorical=True),
                FieldRule("ADULT", "string", nullable=True, categorical=True),
                FieldRule("GENDER", "string", nullable=True, categorical=True),
                FieldRule("PRODUCT_DESCRIPTION", "string", nullable=True, textual=True),
                FieldRule("CREATION_TIMESTAMP", "long"),
            ),
            max_fields=MAX_ITEM_FIELDS,
        ),
    },
    "VIDEO_ON_DEMAND": {
        "INTERACTIONS": _INTERACTIONS,
        "USERS": DatasetRules(
            required=(FieldRule("USER_ID", "string"),),
            min_metadata_fields=1,
            max_fields=MAX_USER_FIELDS,
            defaults=(FieldRule("SUBSCRIPTION_MODEL", "string", nullable=True, categorical=True),),
        ),
        "ITEMS": DatasetRules(
            required=(
                FieldRule("ITEM_ID", "string"),
                FieldRule("GENRES", "string", categorical=True),
                FieldRule("CREATION_TIMESTAMP", "long"),
            ),
            reserved=(
                FieldRule("PRICE", "float", nullable=True),
                FieldRule("DURATION", "float", nullable=True),
                FieldRule("AVERAGE_RATING", "float", nullable=True),
                FieldRule("GENRE_L2", "string", nullable=True, categorical=True),
                FieldRule("GENRE_L3", "string", nullable=True, categorical=True),
                FieldRule("CONTENT_OWNER", "string", nullable=True, categorical=True),
                FieldRule("CONTENT_CLASSIFICATION", "string", nullable=True, categorical=True),
                FieldRule("PRODUCT_DESCRIPTION", "string", nullable=True, textual=True),
            ),
            max_fields=MAX_ITEM_FIELDS,
        ),
    },
}


def _field_json(rule: FieldRule) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": rule.name,
        "type": ["null", rule.avro_type] if rule.nullable else rule.avro_type,
    }
    if rule.categorical:
        spec["categorical"] = True
    if rule.textual:
        spec["textual"] = True
    return spec


def default_schema(domain: str, dataset_type: str = "INTERACTIONS") -> dict[str, Any]:
    """The domain's default Avro schema for a dataset type (required fields plus its defaults)."""
    rules = dataset_rules(domain, dataset_type)
    return {
        "type": "record",
        "name": RECORD_NAMES[dataset_type.upper()],
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [_field_json(rule) for rule in (*rules.required, *rules.defaults)],
        "version": "1.0",
    }


def default_schema_json(domain: str, dataset_type: str = "INTERACTIONS") -> str:
    return json.dumps(default_schema(domain, dataset_type), separators=(",", ":"))


def dataset_rules(domain: str, dataset_type: str) -> DatasetRules:
    if domain not in DATASET_RULES:
        raise ValueError(f"domain {domain!r} is not one of {', '.join(DOMAINS)}")
    by_type = DATASET_RULES[domain]
    if dataset_type.upper() not in by_type:
        raise ValueError(
            f"dataset type {dataset_type!r} has no domain schema in {domain}; "
            f"allowed: {', '.join(sorted(by_type))}"
        )
    return by_type[dataset_type.upper()]


# --- schema validation --------------------------------------------------------------------------


def _base_type(avro_type: Any) -> tuple[str | None, bool]:
    """(base primitive or None if unsupported, nullable) for a field's Avro type."""
    if isinstance(avro_type, str):
        return (avro_type if avro_type in AVRO_PRIMITIVES else None), avro_type == "null"
    if isinstance(avro_type, list) and avro_type and all(isinstance(t, str) for t in avro_type):
        non_null = [t for t in avro_type if t != "null"]
        if len(non_null) == 1 and non_null[0] in AVRO_PRIMITIVES and len(avro_type) <= 2:
            return non_null[0], "null" in avro_type
    return None, False


def normalized_field_name(name: str) -> str:
    """Field names must stay unique once non-alphanumerics are dropped and case is folded."""
    return re.sub(r"[^0-9A-Za-z]", "", name).upper()


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


def schema_problems(schema: str | Mapping[str, Any], domain: str | None, dataset_type: str) -> list[str]:
    """Every reason the service would reject this schema for the dataset type, as sentences.

    With domain None the schema is checked as a custom dataset group's: Avro shape, record name
    and the dataset type's required fields (the Interactions ones are the same in every domain).
    """
    dataset_type = dataset_type.upper()
    if isinstance(schema, str) and len(schema) > SCHEMA_MAX_LENGTH:
        return [f"schema is {len(schema)} characters; at most {SCHEMA_MAX_LENGTH} are allowed"]
    try:
        parsed = parse_schema(schema)
    except ValueError as error:
        return [str(error)]
    problems: list[str] = []
    if parsed.get("type") != "record":
        problems.append(f"schema type is {parsed.get('type')!r}; it must be 'record'")
    expected_name = RECORD_NAMES.get(dataset_type)
    if expected_name and parsed.get("name") != expected_name:
        problems.append(
            f"record name is {parsed.get('name')!r}; a {dataset_type} schema must be named {expected_name!r}"
        )
    fields = parsed.get("fields")
    if not isinstance(fields, list) or not fields:
        problems.append("schema has no 'fields' list")
        return problems
    rules: DatasetRules | None
    if domain is not None:
        rules = dataset_rules(domain, dataset_type)
    else:
        rules = _INTERACTIONS if dataset_type == "INTERACTIONS" else None

    seen: dict[str, str] = {}
    names: list[str] = []
    for index, spec in enumerate(fields):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            problems.append(f"field #{index + 1} has no name")
            continue
        name = spec["name"]
        names.append(name)
        key = normalized_field_name(name)
        if key in seen:
            problems.append(
                f"field {name!r} collides with {seen[key]!r} (names must differ in letters or digits)"
            )
        seen[key] = name
        base, nullable = _base_type(spec.get("type"))
        if base is None:
            problems.append(
                f"field {name!r} has type {spec.get('type')!r}; allowed: "
                f"{', '.join(sorted(AVRO_PRIMITIVES))}, or a union of one of them with null"
            )
            continue
        if (spec.get("categorical") or spec.get("textual")) and base != "string":
            problems.append(
                f"field {name!r} is categorical or textual but its type is {base!r}; it must be string"
            )
        rule = rules.rule_for(name) if rules else None
        if rule is not None:
            if base != rule.avro_type and not (rule.avro_type == "float" and base == "double"):
                problems.append(f"field {name!r} has type {base!r}; the domain requires {rule.avro_type!r}")
            if nullable and rules is not None and rule in rules.required:
                problems.append(f"required field {name!r} must not be nullable")
    if rules is not None:
        missing = [rule.name for rule in rules.required if rule.name not in names]
        if missing:
            problems.append(f"schema lacks required field(s) {', '.join(missing)}")
        known = {rule.name for rule in (*rules.required, *rules.reserved)}
        custom = [name for name in names if name not in known]
        if rules.max_custom_fields is not None and len(custom) > rules.max_custom_fields:
            problems.append(
                f"schema has {len(custom)} custom fields ({', '.join(custom)}); "
                f"at most {rules.max_custom_fields} allowed"
            )
        if rules.max_fields is not None and len(names) > rules.max_fields:
            problems.append(f"schema has {len(names)} fields; at most {rules.max_fields} allowed")
        metadata = [name for name in names if name not in rules.required_names]
        if len(metadata) < rules.min_metadata_fields:
            problems.append(
                f"schema needs at least {rules.min_metadata_fields} metadata field besides "
                f"{', '.join(rules.required_names)}"
            )
    return problems


def property_key(field_name: str) -> str:
    """The key a PutEvents/PutUsers/PutItems `properties` member uses for a schema field: its name in
    camel case (NUMBER_OF_RATINGS -> numberOfRatings, CATEGORY_L1 -> categoryL1; developer guide)."""
    head, *rest = field_name.lower().split("_")
    return head + "".join(part.capitalize() for part in rest)


def schema_field_names(schema: str | Mapping[str, Any]) -> list[str]:
    fields = parse_schema(schema).get("fields") or []
    return [spec["name"] for spec in fields if isinstance(spec, dict) and isinstance(spec.get("name"), str)]


def schema_field_types(schema: str | Mapping[str, Any]) -> list[tuple[str, str | None, bool]]:
    """(name, base Avro primitive or None when unsupported, nullable) for each field, in schema order."""
    fields = parse_schema(schema).get("fields") or []
    return [
        (spec["name"], *_base_type(spec.get("type")))
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
            signatures[spec["name"]] = (*_base_type(spec.get("type")), attributes)
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
        _, nullable = _base_type(spec.get("type"))
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


@dataclass(frozen=True)
class RecommendationRequest:
    """What GetRecommendations needs for a use case, and what the service filters out by itself."""

    required: tuple[str, ...]  # request members: "userId", "itemId"
    # The user's items of this event type are left out of the recommendations ("automatically filters").
    excludes_users: str | None = None


# Developer guide, "ECOMMERCE use cases" and "VIDEO_ON_DEMAND use cases": each use case's
# "GetRecommendations requirements" and automatic filter. "Required only if you filter by CurrentUser"
# (frequently bought together, trending now) counts as not required: filters are a separate request member.
RECOMMENDATION_REQUESTS: dict[str, RecommendationRequest] = {
    "aws-ecomm-popular-items-by-views": RecommendationRequest(("userId",)),
    "aws-ecomm-popular-items-by-purchases": RecommendationRequest(("userId",)),
    "aws-ecomm-frequently-bought-together": RecommendationRequest(("itemId",)),
    "aws-ecomm-customers-who-viewed-x-also-viewed": RecommendationRequest(("userId", "itemId"), "Purchase"),
    "aws-ecomm-recommended-for-you": RecommendationRequest(("userId",), "Purchase"),
    "aws-vod-because-you-watched-x": RecommendationRequest(("userId", "itemId"), "Watch"),
    "aws-vod-more-like-x": RecommendationRequest(("userId", "itemId"), "Watch"),
    "aws-vod-most-popular": RecommendationRequest(("userId",)),
    "aws-vod-trending-now": RecommendationRequest(()),
    "aws-vod-top-picks": RecommendationRequest(("userId",), "Watch"),
}
RECOMMENDATIONS_MAX_RESULTS = 500  # GetRecommendations numResults: "The default is 25. The maximum is 500."
RECOMMENDATIONS_DEFAULT_RESULTS = 25


def recipes_for(domain: str) -> list[DomainRecipe]:
    return [recipe for recipe in RECIPES.values() if recipe.domain == domain]


RECIPES_BY_ARN = {recipe.arn: recipe for recipe in RECIPES.values()}


def use_case_problem(domain: str, use_case: str) -> str | None:
    """Why `use_case` is not a recommender use case of `domain` (the value and what is allowed), or None.

    The one check config, constructs, the validator, the handler and the emulator make.
    """
    recipe = RECIPES.get(use_case)
    if recipe is not None and recipe.domain == domain:
        return None
    what = f"belongs to {recipe.domain}" if recipe else "is not a domain use case"
    allowed = ", ".join(recipe.use_case for recipe in recipes_for(domain))
    return f"{use_case!r} {what}; allowed for {domain}: {allowed}"


# --- ARNs ---------------------------------------------------------------------------------------


def arn(region: str, account: str, resource: str, partition: str = "aws") -> str:
    return f"arn:{partition}:personalize:{region}:{account}:{resource}"


def dataset_arn_suffix(dataset_group_name: str, dataset_type: str) -> str:
    """Datasets are named in ARNs by their group and type, not by their own name."""
    return f"dataset/{dataset_group_name}/{dataset_type.upper()}"
