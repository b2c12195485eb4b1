"""The named rules validate-data applies, with their level and wording; docs/validate-data.md explains each.

An error means Personalize would reject the import, or could not train the domain's
recommenders on the data; a warning means the data imports but something is probably wrong.
`failure` is a str.format template: {count} offences, {columns} counts per column, {now} the
validation time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lambda_handlers.personalize import domain

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    title: str  # what passing means
    failure: str = ""  # what failing means; empty for rules whose message is computed


_TS = domain.TIMESTAMP_FIELD
_IDS = " and ".join(domain.ID_FIELDS)

RULES: tuple[Rule, ...] = (
    Rule(
        "header_bom",
        "error",
        "header starts without a UTF-8 byte-order mark",
        "the file starts with a byte-order mark, so its first column name will not match; save it as UTF-8 "
        "without BOM",
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
        f"{_IDS} are at most {domain.ID_MAX_LENGTH} characters",
        f"{{count}} ID(s) longer than {domain.ID_MAX_LENGTH} characters{{columns}}",
    ),
    Rule(
        "timestamp_milliseconds",
        "error",
        f"{_TS} is not in epoch milliseconds",
        f"{{count}} {_TS}(s) look like epoch milliseconds; Personalize needs seconds (divide by 1000)",
    ),
    Rule(
        "timestamp_microseconds",
        "error",
        f"{_TS} is not in epoch microseconds (or finer)",
        f"{{count}} {_TS}(s) look like epoch microseconds or finer; Personalize needs seconds",
    ),
    Rule(
        "timestamp_iso",
        "error",
        f"{_TS} is not an ISO-8601 date string",
        f"{{count}} {_TS}(s) are date strings; Personalize needs Unix epoch seconds",
    ),
    Rule(
        "timestamp_future",
        "warning",
        f"no {_TS} lies in the future",
        f"{{count}} {_TS}(s) lie in the future (after {{now}}): wrong unit or clock?",
    ),
    Rule(
        "timestamp_before_2000",
        "warning",
        f"no {_TS} lies before 2000-01-01",
        f"{{count}} {_TS}(s) lie before 2000-01-01: wrong unit or placeholder values?",
    ),
    Rule("event_types", "warning", "every event type the domain's recommenders use is present"),
    Rule("min_interactions", "error", f"at least {domain.MIN_INTERACTIONS} interactions"),
    Rule(
        "training_users",
        "error",
        f"at least {domain.MIN_TRAINING_USERS} users with "
        f"{domain.MIN_INTERACTIONS_PER_TRAINING_USER} or more interactions",
    ),
    Rule(
        "duplicate_rows",
        "warning",
        "no row repeats an earlier row exactly",
        "{count} row(s) repeat an earlier row exactly; Personalize would import each copy",
    ),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
