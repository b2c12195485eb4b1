"""Shared checks on a synthesized cloud assembly: cdk-nag's report and cfn-lint over every template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# W3005: CDK writes DependsOn next to GetAtt for its own roles, a harmless redundancy.
# E3703: CDK Pipelines writes Fn::Join with an empty delimiter where cfn-lint prefers Fn::Sub: style only.
IGNORED_CHECKS = "W3005,E3703"


def nag_report(outdir: Path) -> dict:
    report = json.loads((outdir / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return plugin


def assert_nag_clean(outdir: Path) -> None:
    plugin = nag_report(outdir)
    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []
    suppressed = plugin["suppressedViolations"]
    assert suppressed, "cdk-nag ran: some CDK-built resources always need an acknowledgement"
    for violation in suppressed:
        assert len(violation["reason"]) >= 40, f"{violation['acknowledgedId']} needs a specific reason"


def cfn_lint(outdir: Path) -> subprocess.CompletedProcess[str]:
    templates = sorted(str(path) for path in outdir.rglob("*.template.json"))
    assert templates
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            "--ignore-checks",
            IGNORED_CHECKS,
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
