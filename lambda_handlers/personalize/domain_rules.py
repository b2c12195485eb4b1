"""Personalize domain knowledge the tools need and the handlers never use.

Default schemas and field rules, data minimums, quotas, recommendation requests, the emulator's failure
reasons and the stack's timeouts: config, constructs, the validator and the emulator read them here. The
Lambda asset leaves this module out (constructs_lib.personalize_provider.ASSET_EXCLUDES), so changing a
threshold here never changes the asset's hash nor redeploys the handlers. It builds on the asset's own
facts (lambda_handlers/personalize/domain.py, contract.py), never the reverse: no handler imports it.

Facts come from the botocore service model and the Personalize developer guide, cited where they stand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambda_handlers.personalize import domain
from lambda_handlers.personalize.contract import DATASET_TYPES, DOMAINS
from lambda_handlers.personalize.domain import (
    AVRO_PRIMITIVES,
    MAX_TAGS,
    RECIPES,
    DomainRecipe,
    base_type,
    parse_schema,
)

ARN_MAX_LENGTH = 256
KMS_KEY_ARN_MAX_LENGTH = 2048
DATA_LOCATION_PATTERN = re.compile(r"(s3|http|https)://.+")
SCHEMA_MAX_LENGTH = 20000

# CloudFormation waits at most this long for a custom resource (ServiceTimeout, 1 to 3600 s: template
# reference, AWS::CloudFormation::CustomResource). The stack sets it explicitly; the Provider's on_event
# Lambda may run up to HANDLER_TIMEOUT_SECONDS of it before the waiter starts, so the waiter gets at most
# the rest, and CloudFormation's generic timeout never pre-empts the handler's own, specific message.
SERVICE_TIMEOUT_SECONDS = 3600
HANDLER_TIMEOUT_SECONDS = 300
MAX_WAIT_SECONDS = SERVICE_TIMEOUT_SECONDS - HANDLER_TIMEOUT_SECONDS
# Longer waits go through an AWS::CloudFormation::WaitCondition, whose Timeout "can't exceed 43200
# seconds (12 hours)" (template reference, AWS::CloudFormation::WaitCondition): docs/event-imports.md.
WAIT_CONDITION_MAX_SECONDS = 43200
SERVICE_PRINCIPAL = "personalize.amazonaws.com"

# Avro record name each dataset type's schema must carry (one per contract.DATASET_TYPES).
RECORD_NAMES: dict[str, str] = {
    "INTERACTIONS": "Interactions",
    "ITEMS": "Items",
    "USERS": "Users",
    "ACTIONS": "Actions",
    "ACTION_INTERACTIONS": "ActionInteractions",
}
assert set(RECORD_NAMES) == set(DATASET_TYPES), "a record name per dataset type of the contract"

# --- failure reasons the service documents, verbatim --------------------------------------------

REASON_S3_ACCESS = "Insufficient privileges for accessing data in Amazon S3."
REASON_IMPORT_LIMIT = "More than 5 resources with PENDING or IN_PROGRESS status."


def reason_missing_columns(columns: Sequence[str]) -> str:
    return "Input CSV is missing the following columns:[" + ", ".join(columns) + "]"


def reason_too_few_interactions(event_type: str) -> str:
    return (
        f"Dataset has fewer than {domain.MIN_INTERACTIONS} interactions after filtering by event type: "
        f"{event_type}"
    )


# The service does not document its wording for these; the local emulator uses them (docs/emulator.md).


def reason_too_few_records(found: int) -> str:
    """An Interactions import, or a recommender's unfiltered data, below domain.MIN_INTERACTIONS records."""
    return f"Input data has {found} interaction records; at least {domain.MIN_INTERACTIONS} are required."


def reason_needs_items(use_case: str) -> str:
    return f"Recipe {_needs_items(use_case)} with imported data in the dataset group."


# --- data rules ---------------------------------------------------------------------------------

# Developer guide, "ECOMMERCE use cases" / "VIDEO_ON_DEMAND use cases", the data every use case needs:
RULE_MIN_INTERACTIONS = (
    f"At minimum {domain.MIN_INTERACTIONS} item interactions records from users interacting with items in "
    "your catalog. These interactions can be from bulk imports, or streamed events, or both."
)
MIN_TRAINING_USERS = 25
MIN_INTERACTIONS_PER_TRAINING_USER = 2


def training_shortfall(recipe: DomainRecipe, records: int, event_counts: Mapping[str, int]) -> str | None:
    """Why a recommender of `recipe` would fail on this Interactions data (the failure reason), or None.

    The one training-minimum rule the emulator applies and the validator predicts: domain.MIN_INTERACTIONS of
    each event type the recipe reads, or of all records for a recipe that reads every event type.
    """
    for event_type in recipe.event_types:
        if event_counts.get(event_type, 0) < domain.MIN_INTERACTIONS:
            return reason_too_few_interactions(event_type)
    if not recipe.event_types and records < domain.MIN_INTERACTIONS:
        return reason_too_few_records(records)
    return None


FULL_IMPORT_MAX_BYTES = 100 * 1024**3
INCREMENTAL_IMPORT_MAX_BYTES = 1 * 1024**3
MAX_IMPORT_JOBS_IN_PROGRESS = 5
MAX_DATASET_GROUPS = 5  # per region; adjustable quota
MAX_SCHEMAS = 500  # per region
MAX_RECOMMENDERS_PER_GROUP = 5
MAX_CUSTOM_INTERACTION_FIELDS = 5
MAX_USER_FIELDS = 25
MAX_ITEM_FIELDS = 100

# Event types the domain recommenders are built around.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "ECOMMERCE": ("View", "Purchase"),
    "VIDEO_ON_DEMAND": ("Watch", "Click"),
}


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


def normalized_field_name(name: str) -> str:
    """Field names must stay unique once non-alphanumerics are dropped and case is folded."""
    return re.sub(r"[^0-9A-Za-z]", "", name).upper()


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
        base, nullable = base_type(spec.get("type"))
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


def recipe_for(domain: str, use_case: str) -> DomainRecipe:
    """The recipe of a recommender use case of `domain`; ValueError naming the value and what is allowed.

    The one check config, the constructs, the validator and the emulator make; each prefixes the message
    with where the value came from.
    """
    recipe = RECIPES.get(use_case)
    if recipe is not None and recipe.domain == domain:
        return recipe
    what = f"belongs to {recipe.domain}" if recipe else "is not a domain use case"
    allowed = ", ".join(recipe.use_case for recipe in recipes_for(domain))
    raise ValueError(f"{use_case!r} {what}; allowed for {domain}: {allowed}")


def _needs_items(use_case: str) -> str:
    return f"{use_case!r} needs an Items dataset"


def missing_items(recipe: DomainRecipe, *, has_items: bool) -> str | None:
    """Why a recommender of `recipe` cannot be made in a group without an Items dataset, or None.

    Which use cases need one is DomainRecipe.needs_items (developer guide, VIDEO_ON_DEMAND use cases: Items
    are required for More like X, optional for Top picks for you). Config and the constructs add their own
    advice; the emulator's training failure (reason_needs_items) says the same.
    """
    return _needs_items(recipe.use_case) if recipe.needs_items and not has_items else None
