"""The result of a validation: what the CLI prints, what --json emits and what the app reads.

Standard library only, so that importing the integration API stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lambda_handlers.personalize import domain_rules
from personalize_tools.validate.rules import Level, rule_by_id

Status = Literal["pass", "fail", "warn", "skip"]
JSON_VERSION = 1
_STATUS_LABEL = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "skip": "SKIP"}
# Control characters from the data (ESC starts terminal escape sequences, NUL and CR garble a line)
# are shown as \xNN in the human report; --json escapes them by itself.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(32), *range(127, 160))}


def printable(text: str) -> str:
    """TEXT with every C0/C1 control character and DEL written as \\xNN, safe to print on a terminal."""
    return text.translate(_ESCAPES)


@dataclass(frozen=True)
class Example:
    """One offending line: where it is and what is wrong with it."""

    file: str
    line: int
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "detail": self.detail}


@dataclass(frozen=True)
class RuleResult:
    rule: str
    status: Status
    count: int
    message: str
    examples: tuple[Example, ...] = ()

    @property
    def level(self) -> Level:
        return rule_by_id(self.rule).level

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "level": self.level,
            "status": self.status,
            "count": self.count,
            "lines": [example.line for example in self.examples],
            "examples": [example.to_json() for example in self.examples],
            "message": self.message,
        }


@dataclass(frozen=True)
class FileSummary:
    name: str
    bytes: int
    rows: int
    line_ending: str  # "LF", "CRLF" or "none" (a file of one line without a line break)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "bytes": self.bytes, "rows": self.rows, "line_ending": self.line_ending}


@dataclass(frozen=True)
class ValidationReport:
    """Every rule's result for one input (a file, an object, or all objects under a prefix)."""

    source: str
    domain: str
    rows: int
    files: tuple[FileSummary, ...]
    rules: tuple[RuleResult, ...]
    event_types: dict[str, int] = field(default_factory=dict)
    event_types_other: int = 0  # rows whose event type was beyond the tracked number of distinct types
    dataset_type: str = "INTERACTIONS"

    @property
    def valid(self) -> bool:
        """True when no error-level rule failed; warnings do not make data invalid."""
        return not self.errors

    @property
    def errors(self) -> list[RuleResult]:
        return [result for result in self.rules if result.status == "fail"]

    @property
    def warnings(self) -> list[RuleResult]:
        return [result for result in self.rules if result.status == "warn"]

    def rule(self, rule_id: str) -> RuleResult:
        for result in self.rules:
            if result.rule == rule_id:
                return result
        raise KeyError(f"no rule {rule_id!r}; rules: {', '.join(result.rule for result in self.rules)}")

    def to_json(self) -> dict[str, Any]:
        return {
            "version": JSON_VERSION,
            "source": self.source,
            "domain": self.domain,
            "dataset_type": self.dataset_type,
            "valid": self.valid,
            "rows": self.rows,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "files": [summary.to_json() for summary in self.files],
            "rules": [result.to_json() for result in self.rules],
            "event_types": dict(self.event_types),
            "event_types_other": self.event_types_other,
        }

    def render(self) -> str:
        """The human report: one line per rule, offending lines indented beneath it."""
        lines = [
            f"validate-data {self.source} ({self.domain} {domain_rules.RECORD_NAMES[self.dataset_type]})"
        ]
        if len(self.files) == 1:
            only = self.files[0]
            lines.append(f"  {only.rows:,} rows, {only.bytes:,} bytes, line endings {only.line_ending}")
        else:
            lines.append(f"  {len(self.files)} files, {self.rows:,} rows")
            lines.extend(
                f"  {item.name}: {item.rows:,} rows, {item.bytes:,} bytes, line endings {item.line_ending}"
                for item in self.files
            )
        lines.append("")
        width = max(len(result.rule) for result in self.rules) if self.rules else 0
        several_files = len(self.files) > 1
        for result in self.rules:
            lines.append(f"{_STATUS_LABEL[result.status]}  {result.rule:<{width}}  {result.message}")
            for example in result.examples:
                where = f"{example.file}:{example.line}" if several_files else f"line {example.line}"
                lines.append(f"{'':6}{'':<{width}}  {where}: {example.detail}")
            # A header rule counts columns, all named on its one line: nothing is hidden there.
            hidden = 0 if result.rule.startswith("header_") else result.count - len(result.examples)
            if result.examples and hidden > 0:
                lines.append(f"{'':6}{'':<{width}}  ... and {hidden:,} more")
        if self.event_types or self.event_types_other:
            counts = [
                f"{name} {count:,}" for name, count in sorted(self.event_types.items(), key=lambda kv: -kv[1])
            ]
            if self.event_types_other:
                counts.append(f"(other types) {self.event_types_other:,}")
            lines.extend(["", "Event types: " + ", ".join(counts)])
        verdict = "VALID" if self.valid else "INVALID"
        lines.extend(
            [
                "",
                f"Result: {verdict} "
                f"({_plural(len(self.errors), 'error')}, {_plural(len(self.warnings), 'warning')})",
            ]
        )
        return "\n".join(printable(line) for line in lines)


@dataclass(frozen=True)
class UncheckedDataset:
    """A dataset of an environment that was not validated, and why."""

    dataset_type: str
    source: str
    reason: str
    error: bool  # True: its source could not be read (exit 2); False: nothing local or in S3 to read

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset_type": self.dataset_type,
            "source": self.source,
            "reason": self.reason,
            "error": self.error,
        }


@dataclass(frozen=True)
class EnvironmentReport:
    """One report per dataset an environment imports: what `--env NAME` without a path prints."""

    environment: str
    domain: str
    datasets: tuple[ValidationReport, ...]
    unchecked: tuple[UncheckedDataset, ...] = ()

    @property
    def valid(self) -> bool:
        """True when every dataset validated is valid; unchecked datasets do not count."""
        return all(report.valid for report in self.datasets)

    @property
    def unreadable(self) -> list[UncheckedDataset]:
        return [dataset for dataset in self.unchecked if dataset.error]

    def dataset(self, dataset_type: str) -> ValidationReport:
        for report in self.datasets:
            if report.dataset_type == dataset_type:
                return report
        raise KeyError(
            f"no {dataset_type} report; validated: {', '.join(r.dataset_type for r in self.datasets)}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": JSON_VERSION,
            "environment": self.environment,
            "domain": self.domain,
            "valid": self.valid,
            "datasets": [report.to_json() for report in self.datasets],
            "unchecked": [dataset.to_json() for dataset in self.unchecked],
        }

    def render(self) -> str:
        sections = [report.render() for report in self.datasets]
        sections.extend(
            f"validate-data {item.source} ({self.domain} {domain_rules.RECORD_NAMES[item.dataset_type]}): "
            f"not checked: {item.reason}"
            for item in self.unchecked
        )
        failing = [
            domain_rules.RECORD_NAMES[report.dataset_type] for report in self.datasets if not report.valid
        ]
        verdict = f"INVALID ({', '.join(failing)})" if failing else "VALID"
        summary = (
            f"Environment {self.environment}: {verdict}, {_plural(len(self.datasets), 'dataset')} checked"
        )
        if self.unchecked:
            summary += f", {len(self.unchecked)} not checked"
        return ("\n\n" + "=" * 80 + "\n").join(sections) + "\n\n" + summary


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
