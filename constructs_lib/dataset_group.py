"""Typed constructs for a Personalize Domain dataset group and what lives in it.

Each construct is one custom resource run by the stack's `PersonalizeProvider`; the handler in
lambda_handlers/personalize/ does the API work, waits for ACTIVE and deletes safely. Property
names here are the contract with those handlers (docs/custom-resources.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import CfnWaitCondition, CfnWaitConditionHandle, CustomResource, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.naming import checked_name, derived_name
from constructs_lib.personalize_provider import PersonalizeProvider
from lambda_handlers.personalize import contract, domain, domain_rules
from lambda_handlers.personalize.authorization import SCOPE_TAG_KEY


def _tags(tags: Mapping[str, str]) -> list[contract.Tag]:
    return contract.tags(dict(tags))


@dataclass(frozen=True)
class DeployWait:
    """Hold the deploy for an import longer than a custom resource may wait: the import custom resource
    starts the import state machine, which signals a CloudFormation wait condition (docs/event-imports.md)."""

    state_machine_arn: str
    timeout_seconds: int


def _removal(policy: RemovalPolicy) -> contract.RemovalPolicy:
    return "destroy" if policy == RemovalPolicy.DESTROY else "retain"


def _custom_resource(
    scope: Construct,
    provider: PersonalizeProvider,
    resource_type: contract.ResourceType,
    properties: contract.ResourceProperties,
) -> CustomResource:
    """One custom resource on the stack's provider; its properties are typed by the handler contract."""
    return CustomResource(
        scope,
        "Resource",
        service_token=provider.service_token,
        resource_type=resource_type,
        properties=dict(properties),
        service_timeout=provider.service_timeout,
    )


class DomainDatasetGroup(Construct):
    """A Domain dataset group (`create-dataset-group --domain ...`), ACTIVE when the stack completes.

    Add datasets with `add_dataset` / `add_interactions_dataset`, import into them with
    `Dataset.import_data`, and record live events with `add_event_tracker`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str,
        name_prefix: str,
        provider: PersonalizeProvider | None = None,
        name: str | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        encryption_key: kms.IKey | None = None,
        service_role: iam.IRole | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        known_domain = contract.choice(domain_name, contract.DOMAINS)
        if known_domain is None:
            raise ValueError(
                f"{self.node.path}: domain {domain_name!r} is not one of {', '.join(contract.DOMAINS)}"
            )
        if domain.key_without_role(encryption_key, service_role):
            raise ValueError(
                f"{self.node.path}: encryption_key needs service_role: {domain.KMS_KEY_ROLE_RULE}"
            )
        if domain.SCOPE_DELIMITER in name_prefix or not name_prefix:
            raise ValueError(
                f"{self.node.path}: name prefix {name_prefix!r} must not be empty or contain "
                f"{domain.SCOPE_DELIMITER!r}: it ends every name's prefix, which the handler policy matches"
            )
        self.domain: contract.Domain = known_domain
        self.name_prefix = name_prefix
        self.removal_policy = removal_policy
        # The scope tag lets the handler policy recognise this environment's event trackers.
        self.tags = {**(tags or {}), SCOPE_TAG_KEY: name_prefix}
        self.provider = provider or PersonalizeProvider.of(self)
        self.provider.allow_names(name_prefix)
        key_arn = encryption_key.key_arn if encryption_key else None
        if name:
            self.dataset_group_name = checked_name(self, name, "dataset group name")
            self.provider.allow_pinned_name(name_prefix, "datasetGroup", name, self.node.path)
        else:
            self.dataset_group_name = derived_name(self, name_prefix, domain_name, key_arn or "")
        properties: contract.DatasetGroupProperties = {
            "Name": self.dataset_group_name,
            "Domain": known_domain,
            "Tags": _tags(self.tags),
            "RemovalPolicy": _removal(removal_policy),
        }
        if encryption_key is not None and service_role is not None:
            properties["KmsKeyArn"] = encryption_key.key_arn
            properties["RoleArn"] = service_role.role_arn
            self.provider.allow_pass_role(service_role)
        self.resource = _custom_resource(
            self,
            self.provider,
            contract.DATASET_GROUP,
            properties,
        )
        if service_role is not None:
            self.resource.node.add_dependency(service_role)
        self.dataset_group_arn = self.resource.ref
        self.datasets: dict[str, Dataset] = {}
        self.event_tracker: EventTracker | None = None
        self.recommenders: list[Recommender] = []

    def add_dataset(
        self,
        dataset_type: str,
        *,
        schema: str | None = None,
        name: str | None = None,
        schema_name: str | None = None,
    ) -> Dataset:
        """A dataset of a type (one per type per group) with its schema; default schema: the domain's."""
        dataset_type = dataset_type.upper()
        if dataset_type in self.datasets:
            raise ValueError(
                f"{self.node.path}: a dataset group holds one {dataset_type} dataset; it has one"
            )
        dataset = Dataset(
            self,
            domain_rules.RECORD_NAMES[dataset_type]
            if dataset_type in domain_rules.RECORD_NAMES
            else dataset_type.title(),
            group=self,
            dataset_type=dataset_type,
            schema=schema,
            name=name,
            schema_name=schema_name,
        )
        self.datasets[dataset_type] = dataset
        if dataset_type == "INTERACTIONS" and self.event_tracker is not None:
            self.event_tracker.resource.node.add_dependency(dataset.resource)
        return dataset

    def add_interactions_dataset(self, *, schema: str | None = None, name: str | None = None) -> Dataset:
        return self.add_dataset("INTERACTIONS", schema=schema, name=name)

    def add_recommender(
        self,
        use_case: str,
        *,
        name: str | None = None,
        min_recommendation_requests_per_second: int = 1,
        exploration_weight: float | None = None,
        exploration_item_age_cut_off: float | None = None,
        wait_for_active: bool = False,
    ) -> Recommender:
        """A domain recommender, created once every import of this group is ACTIVE.

        Training often outlasts CloudFormation's one-hour limit, so by default the deployment
        completes once training has started, with the recommender's real status as its attribute;
        `wait_for_active=True` keeps the deployment waiting until ACTIVE instead.
        """
        try:
            recipe = domain_rules.recipe_for(self.domain, use_case)
        except ValueError as problem:
            raise ValueError(f"{self.node.path}: {problem}") from None
        missing = domain_rules.missing_items(recipe, has_items="ITEMS" in self.datasets)
        if missing is not None:
            raise ValueError(f"{self.node.path}: {missing}; add one first with add_dataset('ITEMS')")
        recommender = Recommender(
            self,
            use_case.removeprefix("aws-"),
            group=self,
            recipe=recipe,
            name=name,
            min_recommendation_requests_per_second=min_recommendation_requests_per_second,
            exploration_weight=exploration_weight,
            exploration_item_age_cut_off=exploration_item_age_cut_off,
            wait_for_active=wait_for_active,
        )
        self.recommenders.append(recommender)
        return recommender

    def add_event_tracker(self, *, name: str | None = None) -> EventTracker:
        """An event tracker for PutEvents; created after, and deleted before, the Interactions dataset."""
        if self.event_tracker is not None:
            raise ValueError(f"{self.node.path}: a dataset group holds one event tracker; it has one")
        self.event_tracker = EventTracker(self, "EventTracker", group=self, name=name)
        return self.event_tracker


class Dataset(Construct):
    """A dataset and its schema; a new schema body makes a new schema the dataset moves to (UpdateDataset)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group: DomainDatasetGroup,
        dataset_type: str,
        schema: str | None = None,
        name: str | None = None,
        schema_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        known_type = contract.choice(dataset_type, contract.DATASET_TYPES)
        if known_type is None:
            raise ValueError(
                f"{self.node.path}: dataset type {dataset_type!r} is not one of "
                f"{', '.join(contract.DATASET_TYPES)}"
            )
        self.group = group
        self.dataset_type = dataset_type
        schema_json = schema or domain_rules.default_schema_json(group.domain, dataset_type)
        problems = domain_rules.schema_problems(schema_json, group.domain, dataset_type)
        if problems:
            raise ValueError(
                f"{self.node.path}: schema is not valid for {group.domain} {dataset_type}: "
                + "; ".join(problems)
            )
        self.schema_json = json.dumps(json.loads(schema_json), separators=(",", ":"))

        schema_scope = Construct(self, "Schema")
        self.schema_name = (
            checked_name(self, schema_name, "schema name")
            if schema_name
            else derived_name(schema_scope, group.name_prefix, group.domain, self.schema_json)
        )
        self.schema_resource = _custom_resource(
            schema_scope,
            group.provider,
            contract.SCHEMA,
            {
                "Name": self.schema_name,
                "Domain": group.domain,
                "Schema": self.schema_json,
                "RemovalPolicy": _removal(group.removal_policy),
            },
        )
        self.schema_arn = self.schema_resource.ref

        self.dataset_name = (
            checked_name(self, name, "dataset name")
            if name
            else derived_name(self, group.name_prefix, group.dataset_group_name, dataset_type)
        )
        self.resource = _custom_resource(
            self,
            group.provider,
            contract.DATASET,
            {
                "Name": self.dataset_name,
                "DatasetGroupArn": group.dataset_group_arn,
                "DatasetType": known_type,
                "SchemaArn": self.schema_arn,
                "Tags": _tags(group.tags),
                "RemovalPolicy": _removal(group.removal_policy),
            },
        )
        self.dataset_arn = self.resource.ref
        self.import_jobs: list[DatasetImportJob] = []

    def import_data(
        self,
        *,
        bucket: s3.IBucket,
        key: str,
        role: iam.IRole,
        import_mode: str = "FULL",
        data_version: str = "1",
        encryption_key: kms.IKey | None = None,
        content_fingerprint: str = "",
        skip_when_empty: bool = False,
        deploy_wait: DeployWait | None = None,
    ) -> DatasetImportJob:
        """Import s3://bucket/key (an object, or a folder ending in '/').

        A new location, mode, data version or content fingerprint (a hash of data the stack uploads)
        starts a new import job; FULL replaces the bulk data, INCREMENTAL appends. `skip_when_empty`: a
        location with no data yet gets no job (first deploy of a bucket that fills later); `deploy_wait`:
        wait through a wait condition, for longer than a custom resource may.
        """
        job = DatasetImportJob(
            self,
            "Import" if not self.import_jobs else f"Import{len(self.import_jobs) + 1}",
            dataset=self,
            bucket=bucket,
            key=key,
            role=role,
            import_mode=import_mode,
            data_version=data_version,
            encryption_key=encryption_key,
            content_fingerprint=content_fingerprint,
            skip_when_empty=skip_when_empty,
            deploy_wait=deploy_wait,
        )
        self.import_jobs.append(job)
        for recommender in self.group.recommenders:
            recommender.resource.node.add_dependency(job.completion)
        return job


class DatasetImportJob(Construct):
    """A dataset import job; the deployment completes only once Personalize reports it ACTIVE."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dataset: Dataset,
        bucket: s3.IBucket,
        key: str,
        role: iam.IRole,
        import_mode: str,
        data_version: str,
        encryption_key: kms.IKey | None = None,
        content_fingerprint: str = "",
        skip_when_empty: bool = False,
        deploy_wait: DeployWait | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        known_mode = contract.choice(import_mode, contract.IMPORT_MODES)
        if known_mode is None:
            raise ValueError(
                f"{self.node.path}: import mode {import_mode!r} is not one of "
                f"{', '.join(contract.IMPORT_MODES)}"
            )
        provider = dataset.group.provider
        provider.allow_pass_role(role)
        provider.allow_read(bucket, key, encryption_key)
        self.data_location = f"s3://{bucket.bucket_name}/{key}"
        self.job_name = derived_name(
            self,
            dataset.group.name_prefix,
            dataset.dataset_name,
            self.data_location,
            import_mode,
            data_version,
            content_fingerprint,
        )
        properties: contract.ImportJobProperties = {
            "JobName": self.job_name,
            "DatasetArn": dataset.dataset_arn,
            "SchemaArn": dataset.schema_arn,
            "DataLocation": self.data_location,
            "RoleArn": role.role_arn,
            "ImportMode": known_mode,
            "DataVersion": data_version,
            "Tags": _tags(dataset.group.tags),
        }
        if skip_when_empty:
            properties["WhenNoData"] = "skip"
        self.wait_condition: CfnWaitCondition | None = None
        if deploy_wait is not None:
            # The guide: a new or updated wait condition needs a new handle, never a reused one, so both
            # are named after the job: a new import (a new JobName) is a new handle and a new condition.
            suffix = hashlib.sha256(self.job_name.encode()).hexdigest()[:8].upper()
            handle = CfnWaitConditionHandle(self, f"WaitHandle{suffix}")
            properties["WaitHandle"] = handle.ref
            properties["WaitStateMachineArn"] = deploy_wait.state_machine_arn
        self.resource = _custom_resource(self, provider, contract.IMPORT_JOB, properties)
        # Personalize reads with the role as soon as the job starts: its policies must exist first.
        self.resource.node.add_dependency(role)
        self.import_job_arn = self.resource.ref
        self.status_message = self.resource.get_att_string("Message")
        self.completion: Construct = self.resource
        if deploy_wait is not None:
            self.wait_condition = CfnWaitCondition(
                self,
                f"WaitCondition{suffix}",
                handle=handle.ref,
                timeout=str(deploy_wait.timeout_seconds),
                count=1,
            )
            self.wait_condition.node.add_dependency(self.resource)
            self.completion = self.wait_condition


class EventTracker(Construct):
    """An event tracker (PutEvents recording); its tracking id is what applications send events with."""

    def __init__(
        self, scope: Construct, construct_id: str, *, group: DomainDatasetGroup, name: str | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        self.tracker_name = (
            checked_name(self, name, "event tracker name")
            if name
            else derived_name(self, group.name_prefix, group.dataset_group_name)
        )
        self.resource = _custom_resource(
            self,
            group.provider,
            contract.EVENT_TRACKER,
            {
                "Name": self.tracker_name,
                "DatasetGroupArn": group.dataset_group_arn,
                "Tags": _tags(group.tags),
                "RemovalPolicy": _removal(group.removal_policy),
            },
        )
        # The service deletes a tracker before the Interactions dataset; CloudFormation deletes in reverse.
        interactions = group.datasets.get("INTERACTIONS")
        if interactions is not None:
            self.resource.node.add_dependency(interactions.resource)
        self.event_tracker_arn = self.resource.ref
        self.tracking_id = self.resource.get_att_string("TrackingId")


class Recommender(Construct):
    """A domain recommender (`create-recommender --recipe-arn arn:aws:personalize:::recipe/...`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group: DomainDatasetGroup,
        recipe: domain.DomainRecipe,
        name: str | None,
        min_recommendation_requests_per_second: int,
        exploration_weight: float | None,
        exploration_item_age_cut_off: float | None,
        wait_for_active: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.recipe = recipe
        if name:
            self.recommender_name = checked_name(self, name, "recommender name")
            group.provider.allow_pinned_name(group.name_prefix, "recommender", name, self.node.path)
        else:
            self.recommender_name = derived_name(
                self, group.name_prefix, group.dataset_group_name, recipe.use_case
            )
        exploration: contract.ItemExplorationConfig = {}
        if exploration_weight is not None:
            exploration["explorationWeight"] = f"{exploration_weight:g}"
        if exploration_item_age_cut_off is not None:
            exploration["explorationItemAgeCutOff"] = f"{exploration_item_age_cut_off:g}"
        recommender_config: contract.RecommenderConfig = {
            "minRecommendationRequestsPerSecond": min_recommendation_requests_per_second
        }
        if exploration:
            recommender_config["itemExplorationConfig"] = exploration
        self.resource = _custom_resource(
            self,
            group.provider,
            contract.RECOMMENDER,
            {
                "Name": self.recommender_name,
                "DatasetGroupArn": group.dataset_group_arn,
                "RecipeArn": recipe.arn,
                "RecommenderConfig": recommender_config,
                "WaitForActive": "true" if wait_for_active else "false",
                "Tags": _tags(group.tags),
                "RemovalPolicy": _removal(group.removal_policy),
            },
        )
        # Training reads every dataset of the group: start only once each dataset and import is ACTIVE.
        for dataset in group.datasets.values():
            self.resource.node.add_dependency(dataset.resource)
            for job in dataset.import_jobs:
                self.resource.node.add_dependency(job.completion)
        self.recommender_arn = self.resource.ref
        self.status = self.resource.get_att_string("Status")
