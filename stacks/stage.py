"""One environment's stack as a CDK Stage, for the pipeline (`cdk deploy -c env=NAME` deploys the stack)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config import EnvironmentConfig
from stacks.personalize_stack import PersonalizeStack


class PersonalizeStage(cdk.Stage):
    def __init__(
        self,
        scope: Construct,
        *,
        config: EnvironmentConfig,
        smoke_test_account: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, config.resource_name_prefix, **kwargs)
        self.config = config
        self.stack = PersonalizeStack(
            self,
            "Personalize",
            stack_name=config.stack_name,
            config=config,
            smoke_test_account=smoke_test_account,
        )
