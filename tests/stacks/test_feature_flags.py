"""cdk.json sets every feature flag the pinned aws-cdk-lib recommends, except overrides with a reason.

The recommendations are read from the installed aws-cdk-lib (what `cdk init` writes for it), so a CDK
upgrade that adds flags fails here until someone reviews them.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk
import pytest

import app as app_module
from tests import PROJECT_ROOT

# Our choice, each against the recommendation:
OVERRIDES = {
    # aws-cdk-lib's FEATURE_FLAGS.md: "DO NOT ENABLE" for an app whose functions have run; the
    # BucketDeployment's function has, so CloudFormation would fail creating its existing log group.
    "@aws-cdk/aws-lambda:useCdkManagedLogGroup": False,
}


def recommended_flags() -> dict[str, Any]:
    (bundle,) = (Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(bundle) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        return dict(json.load(member))


def test_cdk_json_sets_the_recommended_flags_and_only_the_reviewed_overrides() -> None:
    context = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    recommended = recommended_flags()
    assert len(recommended) > 50
    assert set(OVERRIDES) <= set(recommended)
    assert context == {**recommended, **OVERRIDES}


@pytest.fixture(scope="module")
def dev_assembly(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("flags")
    app_module.create_app({"env": "dev"}, outdir=str(outdir)).synth()
    return outdir


def test_stack_tags_stay_on_the_stack_with_explicit_stack_tags(dev_assembly: Path) -> None:
    """@aws-cdk/core:explicitStackTags ignores Tags.of(stack) for the stack itself: we pass them."""
    manifest = json.loads((dev_assembly / "manifest.json").read_text())
    tags = manifest["artifacts"]["pz-dev-personalize"]["properties"]["tags"]
    assert tags["environment"] == "dev"
    assert tags["managed-by"] == "personalize-domain-cdk"


def test_no_cdk_managed_log_group_for_functions_that_ran_before(dev_assembly: Path) -> None:
    template = json.loads((dev_assembly / "pz-dev-personalize.template.json").read_text())
    log_groups = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Logs::LogGroup" and "CDKBucketDeployment" in logical_id
    ]
    assert log_groups == []
