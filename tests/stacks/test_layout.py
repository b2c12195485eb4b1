"""`cdk deploy -c env=NAME` and the pipeline deploy the same stack: same logical ids, same Personalize names.

The environment's stack sits at the top of the app (so the plain CDK CLI selects it) while the pipeline
wraps it in a Stage; names derive from the path within the stack, so switching between the two never
replaces a dataset group.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

import app as app_module
from config import load_environment
from stacks.pipeline_stack import PipelineStack

ENVIRONMENT = "prod.example"
NAME_KEYS = ("Name", "JobName")


def _names(stack: cdk.Stack) -> dict[str, Any]:
    resources = Template.from_stack(stack).to_json()["Resources"]
    return {
        logical_id: {key: value for key, value in resource["Properties"].items() if key in NAME_KEYS}
        for logical_id, resource in resources.items()
        if resource["Type"].startswith("Custom::Personalize")
    }


def test_environment_stack_is_the_only_top_level_stack() -> None:
    app = app_module.create_app({"env": ENVIRONMENT})
    stacks = [child for child in app.node.children if isinstance(child, cdk.Stack)]
    assert [stack.stack_name for stack in stacks] == [load_environment(ENVIRONMENT).stack_name]
    assert not [child for child in app.node.children if isinstance(child, cdk.Stage)]


def test_direct_and_pipeline_stacks_share_logical_ids_and_names() -> None:
    direct = app_module.add_environment(cdk.App(), load_environment(ENVIRONMENT))
    (pipeline,) = [
        child
        for child in app_module.create_app({"pipeline": "rollout.example"}).node.children
        if isinstance(child, PipelineStack)
    ]
    (staged,) = [stage.stack for stage in pipeline.stages if stage.config.name == ENVIRONMENT]

    assert staged.stack_name == direct.stack_name
    direct_names = _names(direct)
    assert len(direct_names) >= 4
    assert _names(staged) == direct_names
