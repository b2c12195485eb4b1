"""The named rules validate-data applies, with their level and wording; docs/validate-data.md explains each.

An error means Personalize would reject the import, or could not train the domain's
recommenders on the data; a warning means the data imports but something is probably wrong.
Each rule applies to some dataset types: Interactions have event, volume and training rules;
Users and Items have one record per id. `title` and `failure` are str.format templates:
{ids} the id column(s), {timestamp} the epoch-seconds column, and in `failure` {count} offences,
{columns} counts per column, {now} the validation time. `reads` names the column a rule needs:
without it in the header the rule reports `skip`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from lambda_handlers.personalize import domain, domain_rules

Level = Literal["error", "warning"]
# The column(s) a rule reads, resolved per dataset type; a file without them gets a `skip`.
Reads = Literal["ids", "timestamp", "categorical", "event_type", "user"]

DATASET_TYPES = ("INTERACTIONS", "USERS", "ITEMS")
_EVERY_TYPE = frozenset(DATASET_TYPES)
_INTERACTIONS = frozenset({"INTERACTIONS"})
_RECORDS = frozenset(domain.RECORD_ID_FIELDS)  # one record per id
_TIMESTAMPED = frozenset(domain.EPOCH_SECONDS_FIELDS)
USE_CASE_PREFIX = "use_case:"


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    title: str  # what passing means
    failure: str = ""  # what failing means; empty for rules whose message is computed
    dataset_types: frozenset[str] = _EVERY_TYPE
    reads: Reads | None = None
    recipe: domain.DomainRecipe | None = None  # a use-case rule's: the recommender minimum it guards


_TS = "{timestamp}"  # TIMESTAMP for Interactions, CREATION_TIMESTAMP for Items

RULES: tuple[Rule, ...] = (
    Rule(
        "header_bom",
        "error",
        "header starts without a UTF-8 byte-order mark",
        "the file starts with a UTF-8 byte-order mark, which the handler's preflight and the emulator refuse "
        "too; save it as UTF-8 without BOM",
    ),
    Rule(
        "header_quoted",
        "warning",
        "header names are not quoted",
        "column names are quoted: valid CSV, but check that the exporter quotes nothing else",
    ),
    Rule(
        "header_missing_columns",
        "error",
        "header has every required column of the schema",
        "{count} required column(s) missing from the header",
    ),
    Rule(
        "header_unknown_columns",
        "error",
        "header has no column the schema does not define",
        "{count} column(s) the schema does not define: add them to the schema or drop them",
    ),
    Rule(
        "header_duplicate_columns",
        "error",
        "header names each column once",
        "{count} column name(s) repeated in the header",
    ),
    Rule(
        "csv_syntax",
        "error",
        "the file parses as CSV to the end",
        "the CSV could not be parsed to the end; rows after the line shown were not checked",
    ),
    Rule("utf8", "error", "every line is valid UTF-8", "{count} line(s) are not valid UTF-8"),
    Rule(
        "row_width",
        "error",
        "every row has as many fields as the header",
        "{count} row(s) have a different number of fields than the header; they were not checked",
    ),
    Rule("blank_lines", "warning", "no blank lines", "{count} blank line(s)"),
    Rule(
        "null_values",
        "error",
        "no empty value in a non-nullable field",
        "{count} empty value(s) in fields that are not nullable{columns}",
    ),
    Rule(
        "value_types",
        "error",
        "every value parses as its field's Avro type",
        "{count} value(s) do not parse as their field's Avro type{columns}",
    ),
    Rule(
        "id_length",
        "error",
        f"no {{ids}} is longer than {domain.ID_MAX_LENGTH} characters",
        f"{{count}} ID(s) longer than {domain.ID_MAX_LENGTH} characters{{columns}}",
        reads="ids",
    ),
    Rule(
        "categorical_length",
        "error",
        f"every '{domain.CATEGORICAL_SEPARATOR}'-separated categorical value is at most "
        f"{domain.CATEGORICAL_VALUE_MAX_LENGTH} characters",
        f"{{count}} categorical value(s) have a part longer than {domain.CATEGORICAL_VALUE_MAX_LENGTH} "
        f"characters{{columns}}",
        reads="categorical",
    ),
    Rule(
        "timestamp_milliseconds",
        "error",
        f"{_TS} is not in epoch milliseconds",
        f"{{count}} {_TS}(s) look like epoch milliseconds; Personalize needs seconds (divide by 1000)",
        _TIMESTAMPED,
        "timestamp",
    ),
    Rule(
        "timestamp_microseconds",
        "error",
        f"{_TS} is not in epoch microseconds (or finer)",
        f"{{count}} {_TS}(s) look like epoch microseconds or finer; Personalize needs seconds",
        _TIMESTAMPED,
        "timestamp",
    ),
    Rule(
        "timestamp_iso",
        "error",
        f"{_TS} is not an ISO-8601 date string",
        f"{{count}} {_TS}(s) are date strings; Personalize needs Unix epoch seconds",
        _TIMESTAMPED,
        "timestamp",
    ),
    Rule(
        "timestamp_future",
        "warning",
        f"no {_TS} lies in the future",
        f"{{count}} {_TS}(s) lie in the future (after {{now}}): wrong unit or clock?",
        _TIMESTAMPED,
        "timestamp",
    ),
    Rule(
        "timestamp_before_2000",
        "warning",
        f"no {_TS} lies before 2000-01-01",
        f"{{count}} {_TS}(s) lie before 2000-01-01: wrong unit or placeholder values?",
        _TIMESTAMPED,
        "timestamp",
    ),
    Rule(
        "event_types",
        "warning",
        "every event type the domain's recommenders use is present",
        dataset_types=_INTERACTIONS,
        reads="event_type",
    ),
    Rule(
        "min_interactions",
        "error",
        f"at least {domain.MIN_INTERACTIONS} interactions",
        dataset_types=_INTERACTIONS,
    ),
    Rule(
        "training_users",
        "error",
        f"at least {domain_rules.MIN_TRAINING_USERS} users with "
        f"{domain_rules.MIN_INTERACTIONS_PER_TRAINING_USER} or more interactions",
        dataset_types=_INTERACTIONS,
        reads="user",
    ),
    Rule("min_records", "error", "at least one record", dataset_types=_RECORDS),
    Rule(
        "duplicate_rows",
        "warning",
        "no row repeats an earlier row exactly",
        "{count} row(s) repeat an earlier row exactly; Personalize would import each copy",
        _INTERACTIONS,
    ),
    Rule(
        "duplicate_ids",
        "error",
        "every {ids} appears once",
        "{count} record(s) repeat the {ids} of an earlier record; Personalize keeps only one record per id",
        _RECORDS,
        "ids",
    ),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def use_case_rule(recipe: domain.DomainRecipe) -> Rule:
    """The per-recommender minimum: a rule whose id names the use case it guards."""
    return Rule(
        f"{USE_CASE_PREFIX}{recipe.use_case}",
        "error",
        f"enough events for {recipe.use_case}",
        dataset_types=_INTERACTIONS,
        reads="event_type" if recipe.event_types else None,
        recipe=recipe,
    )


def rule_by_id(rule_id: str) -> Rule:
    if rule_id in RULES_BY_ID:
        return RULES_BY_ID[rule_id]
    recipe = domain.RECIPES.get(rule_id.removeprefix(USE_CASE_PREFIX))
    if rule_id.startswith(USE_CASE_PREFIX) and recipe is not None:
        return use_case_rule(recipe)
    raise KeyError(f"no rule {rule_id!r}")


def rules_for(dataset_type: str, recipes: Iterable[domain.DomainRecipe] = ()) -> tuple[Rule, ...]:
    """The rules a dataset type is checked against, in report order; use-case rules come last."""
    return (
        *(rule for rule in RULES if dataset_type in rule.dataset_types),
        *(use_case_rule(recipe) for recipe in recipes),
    )
