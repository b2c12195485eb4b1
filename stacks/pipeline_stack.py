"""The rollout pipeline: CDK Pipelines deploying each environment's stage in waves, smoke-testing each."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from config.pipeline import Rollout
from constructs_lib.nag import acknowledge, acknowledge_wildcards
from run_app import PROJECT_ROOT
from stacks.stage import PersonalizeStage


def pinned_cli_version() -> str:
    """The CDK CLI version package.json pins: the pipeline's own steps use the same one."""
    return str(json.loads((PROJECT_ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"])


# The Synth step runs `make test`: three pytest workers with their emulators, moto servers and in-process
# synths peaked at 4.5 GB (PSS, summed over the process tree) on the development machine, more than
# CodeBuild's default SMALL gives ("up to 4 GiB memory and 2 vCPUs"); MEDIUM gives up to 8 GiB and 4 vCPUs
# (CodeBuild API reference, ProjectEnvironment.computeType).
SYNTH_COMPUTE_TYPE = codebuild.ComputeType.MEDIUM

# What the smoke-test step runs, and the lock file it installs first (boto3 and what boto3 needs).
SMOKE_TEST_MODULE = "stacks.pipeline_runtime.smoke"
SMOKE_TEST_LOCK = "stacks/pipeline_runtime/requirements.txt"


class PipelineStack(cdk.Stack):
    """Synth runs `make test` first; then waves in config order, approvals where asked, smoke tests after."""

    def __init__(self, scope: Construct, construct_id: str, *, rollout: Rollout, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = rollout.pipeline
        source = self._source(rollout)
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=config.stack_name,
            pipeline_type=codepipeline.PipelineType.V2,
            cross_account_keys=True,
            enable_key_rotation=True,
            cli_version=pinned_cli_version(),
            synth_code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(compute_type=SYNTH_COMPUTE_TYPE)
            ),
            synth=pipelines.ShellStep(
                "Synth",
                input=source,
                commands=["make test", f"npx cdk synth --quiet -c pipeline={config.name}"],
                primary_output_directory="cdk.out",
            ),
        )
        self.stages: list[PersonalizeStage] = []
        for wave_config, environments in rollout.waves:
            wave = self.pipeline.add_wave(wave_config.name)
            for environment in environments:
                stage = PersonalizeStage(
                    self,
                    config=environment,
                    smoke_test_account=config.account,
                    env=cdk.Environment(account=environment.account, region=environment.region),
                )
                self.stages.append(stage)
                approval = (
                    [
                        pipelines.ManualApprovalStep(
                            f"Approve-{stage.stage_name}", comment=f"Deploy {environment.name}?"
                        )
                    ]
                    if environment.requires_approval
                    else []
                )
                wave.add_stage(stage, pre=approval, post=[self._smoke_test(stage, source)])
        self.pipeline.build_pipeline()
        self._acknowledge()

    def _source(self, rollout: Rollout) -> pipelines.CodePipelineSource:
        source = rollout.pipeline.source
        if source.connection is not None:
            return pipelines.CodePipelineSource.connection(
                source.connection.repository,
                source.connection.branch,
                connection_arn=source.connection.connection_arn,
            )
        assert source.codecommit is not None
        return pipelines.CodePipelineSource.code_commit(
            codecommit.Repository.from_repository_name(self, "Repository", source.codecommit.repository),
            source.codecommit.branch,
        )

    def _smoke_test(
        self, stage: PersonalizeStage, source: pipelines.IFileSetProducer
    ) -> pipelines.CodeBuildStep:
        stack = stage.stack
        assert stack.smoke_test_role_output is not None
        environment = stage.config
        role_arn = (
            f"arn:{self.partition}:iam::{environment.account}:role/"
            f"{environment.resource_name_prefix}-personalize-smoke-test"
        )
        outputs = {
            "DATASET_GROUP_ARN": stack.dataset_group_output,
            "SMOKE_TEST_ROLE_ARN": stack.smoke_test_role_output,
        }
        extra_arguments = ""
        if stack.import_job_output is not None:  # none when the Interactions dataset fills through PutEvents
            outputs["IMPORT_JOB_ARN"] = stack.import_job_output
            extra_arguments = ' --import-job-arn "$IMPORT_JOB_ARN"'
        for number, output in enumerate(stack.recommender_outputs, start=1):
            outputs[f"RECOMMENDER_ARN_{number}"] = output
            extra_arguments += f' --recommender-arn "$RECOMMENDER_ARN_{number}"'
        return pipelines.CodeBuildStep(
            f"SmokeTest-{stage.stage_name}",
            input=source,
            install_commands=[f"pip install --quiet --no-deps --require-hashes -r {SMOKE_TEST_LOCK}"],
            commands=[
                f'python3 -m {SMOKE_TEST_MODULE} --dataset-group-arn "$DATASET_GROUP_ARN"'
                f'{extra_arguments} --assume-role "$SMOKE_TEST_ROLE_ARN" --region {environment.region}'
            ],
            env_from_cfn_outputs=outputs,
            role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[role_arn])],
        )

    def _acknowledge(self) -> None:
        """CDK Pipelines builds its roles, bucket and projects itself; acknowledge what it writes, and why."""
        acknowledge(
            self.pipeline.pipeline.artifact_bucket,
            "AwsSolutions-S1",
            "The artifact bucket only passes build outputs between pipeline actions; CloudTrail logs it.",
        )
        for region, support in self.pipeline.pipeline.cross_region_support.items():
            acknowledge(
                support.replication_bucket,
                "AwsSolutions-S1",
                f"The replication bucket only carries pipeline artifacts to {region}; CloudTrail records it.",
            )
        for construct in self.pipeline.node.find_all():
            if isinstance(construct, iam.Policy):
                acknowledge_wildcards(
                    construct,
                    "CDK Pipelines scopes these to the pipeline's own artifact bucket and key, its own "
                    "CodeBuild projects and logs, and the CDK bootstrap roles (cdk-*) of target accounts.",
                )
