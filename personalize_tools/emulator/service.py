"""The Personalize operations the emulator implements and the service-side rules behind them.

Every request is first checked against botocore's model (model.py); what the model cannot say —
dependencies between resources, statuses, quotas, schema contents — is enforced here from the
project's domain module. One re-entrant lock guards all state; import reading runs on a small
thread pool outside it so Describe calls stay fast.
"""

from __future__ import annotations

import base64
import contextvars
import dataclasses
import functools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from lambda_handlers.personalize import contract, domain, domain_rules, kinds
from lambda_handlers.personalize.kinds import (
    DATASET,
    DATASET_GROUP,
    EVENT_TRACKER,
    IMPORT_JOB,
    RECOMMENDER,
    SCHEMA,
)
from lambda_handlers.personalize.kinds import ResourceKind as Kind
from personalize_tools.emulator import model
from personalize_tools.emulator.errors import (
    InvalidInputError,
    InvalidNextTokenError,
    LimitExceededError,
    ResourceAlreadyExistsError,
    ResourceInUseError,
    ResourceNotFoundError,
    TooManyTagKeysError,
    TooManyTagsError,
    UnknownOperationError,
    UnsupportedOperationError,
)
from personalize_tools.emulator.faults import FaultInjector
from personalize_tools.emulator.imports import ImportResult, read_import
from personalize_tools.emulator.lifecycle import (
    CREATE_CHAIN,
    DELETE_CHAIN,
    GONE,
    GROUP_DELETE_CHAIN,
    START_CHAIN,
    STOP_CHAIN,
    UPDATE_CHAIN,
    Clock,
    Outcome,
    Pace,
    Track,
    advance,
)
from personalize_tools.emulator.state import (
    KINDS,
    ROW_COLUMNS,
    ImportedData,
    Resource,
    load_state,
    save_state,
)

Params = dict[str, Any]
Handler = Callable[[Params], dict[str, Any]]

_REQUEST_REGION: contextvars.ContextVar[str] = contextvars.ContextVar("personalize_request_region")
READ_WAIT_SECONDS = 20.0  # longest a Describe waits for an import's reading once the job is due to settle
DEFAULT_MAX_RESULTS = 100
_DATASET_TYPE_BY_RECORD = {record: dataset_type for dataset_type, record in domain_rules.RECORD_NAMES.items()}
# Kinds the emulator cannot create, so their Lists are honestly empty (delete pre-checks call them).
_ALWAYS_EMPTY_LISTS = (
    "ListSolutions",
    "ListSolutionVersions",
    "ListCampaigns",
    "ListFilters",
    "ListBatchInferenceJobs",
    "ListBatchSegmentJobs",
    "ListDatasetExportJobs",
    "ListMetricAttributions",
    "ListDataDeletionJobs",
)


class PersonalizeService:
    """Operations by name (`call`), plus the admin views the HTTP server exposes."""

    def __init__(
        self,
        *,
        pace: Pace,
        faults: FaultInjector,
        region: str,
        account: str,
        s3_endpoint_url: str | None = None,
        state_file: Path | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.pace = pace
        self.region = region
        self.account = account
        self._faults = faults
        self._s3_endpoint_url = s3_endpoint_url
        self._state_file = state_file
        self._clock = clock
        self._lock = threading.RLock()
        self._dirty = False
        saved = load_state(state_file) if state_file is not None else []
        self._resources: dict[str, Resource] = {resource.arn: resource for resource in saved}
        self._readers: dict[str, Future[ImportResult]] = {}
        self._executor = ThreadPoolExecutor(
            max_workers=domain_rules.MAX_IMPORT_JOBS_IN_PROGRESS, thread_name_prefix="personalize-import"
        )
        self._s3: Any = None
        # Personalize's own authorization of an import's reads (role ARN, bucket, keys) → allowed;
        # set by the server when IAM is enforced (authorizer.py), else every read is allowed.
        self.import_access: Callable[..., bool] | None = None
        self._s3_lock = threading.Lock()  # not the state lock: building a client takes a while
        self._operations: dict[str, Handler] = {
            "CreateDatasetGroup": self.create_dataset_group,
            "CreateSchema": self.create_schema,
            "CreateDataset": self.create_dataset,
            "CreateDatasetImportJob": self.create_dataset_import_job,
            "CreateEventTracker": self.create_event_tracker,
            "CreateRecommender": self.create_recommender,
            "DeleteDatasetGroup": self.delete_dataset_group,
            "DeleteSchema": self.delete_schema,
            "DeleteDataset": self.delete_dataset,
            "DeleteEventTracker": functools.partial(self._delete_simple, EVENT_TRACKER),
            "DeleteRecommender": functools.partial(self._delete_simple, RECOMMENDER),
            "UpdateDataset": self.update_dataset,
            "UpdateRecommender": self.update_recommender,
            "StopRecommender": self.stop_recommender,
            "StartRecommender": self.start_recommender,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }
        for kind in KINDS.values():
            parent = KINDS[kind.parent].arn_member if kind.parent else None
            self._operations[kind.list_operation] = functools.partial(self._list, kind, kind.list_key, parent)
            self._operations[kind.describe_operation] = functools.partial(self._describe, kind)
        for operation in _ALWAYS_EMPTY_LISTS:
            self._operations[operation] = functools.partial(self._empty_list, model.list_member(operation))

    # --- entry points ---------------------------------------------------------------------------

    @property
    def operations(self) -> list[str]:
        return sorted(self._operations)

    def call(self, operation: str, params: Params, *, region: str | None = None) -> dict[str, Any]:
        """Run one operation in `region` (the request's SigV4 signing region; unsigned: the default)."""
        token = _REQUEST_REGION.set(region or self.region)
        try:
            return self._call(operation, params)
        finally:
            _REQUEST_REGION.reset(token)

    def _call(self, operation: str, params: Params) -> dict[str, Any]:
        handler = self._operations.get(operation)
        if handler is None:
            if operation in model.operation_names():
                raise UnsupportedOperationError(
                    f"{operation} is a Personalize operation the emulator does not implement; "
                    f"it supports: {', '.join(self.operations)}"
                )
            raise UnknownOperationError(f"{operation} is not an Amazon Personalize operation")
        model.validate_request(operation, params)
        return model.shape_output(operation, handler(params))

    def summary(self) -> dict[str, Any]:
        """Every resource as Describe shows it, plus tags and imported record counts."""
        with self._session():
            resources: dict[str, list[dict[str, Any]]] = {key: [] for key in KINDS}
            for resource in self._resources.values():
                entry = {**resource.view(), "tags": dict(resource.tags)}
                if resource.data is not None:
                    entry["records"] = resource.data.records
                    entry["eventTypes"] = dict(resource.data.event_types)
                if resource.recorded is not None:
                    entry["recordedRecords"] = resource.recorded.records
                    entry["recordedEventTypes"] = dict(resource.recorded.event_types)
                resources[resource.kind.key].append(entry)
            return {
                "region": self.region,
                "account": self.account,
                "pace": self.pace.to_json(),
                "importsReading": sum(not future.done() for future in self._readers.values()),
                "resources": resources,
            }

    def tags_of(self, arn: str) -> dict[str, str] | None:
        """A resource's tags (for aws:ResourceTag), None when it does not exist."""
        with self._lock:
            resource = self._resources.get(arn)
            return None if resource is None else dict(resource.tags)

    def reset(self) -> None:
        with self._lock:
            for future in self._readers.values():
                future.cancel()
            self._readers.clear()
            self._resources.clear()
            self._dirty = True
            self._save()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # --- for the data-plane services (events.py, runtime.py), which share this state ------------

    @contextmanager
    def locked(self) -> Iterator[float]:
        """The state lock, lifecycles brought up to the clock; changes persist on the way out."""
        with self._session() as now:
            yield now

    def resources_of(self, kind: Kind, **fields: Any) -> list[Resource]:
        return self._of_kind(kind, **fields)

    def changed(self) -> None:
        self._dirty = True

    # --- state plumbing -------------------------------------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[float]:
        """Lock, bring paced lifecycles up to the clock, and persist whatever changed on the way out."""
        with self._lock:
            now = self._clock()
            if not self.pace.stepwise:
                for resource in list(self._resources.values()):
                    if resource.busy:
                        self._advance(resource, now, describing=False)
            try:
                yield now
            finally:
                self._save()

    def _save(self) -> None:
        if self._dirty and self._state_file is not None:
            save_state(self._state_file, self._resources.values())
        self._dirty = False

    def _advance(self, resource: Resource, now: float, *, describing: bool) -> bool:
        """Move the resource's tracks along; True when it waits on an import still being read."""
        for track in (resource.track, resource.update):
            if track is None:
                continue
            progress = advance(
                track,
                now,
                stepwise=self.pace.stepwise,
                describing=describing,
                settle=functools.partial(self._settle, resource, track),
            )
            for status in progress.entered:
                self._entered(resource, track, status)
                self._dirty = True
            if progress.blocked:
                return True
            if resource.arn not in self._resources or (self.pace.stepwise and progress.entered):
                return False
        return False

    def _settle(self, resource: Resource, track: Track) -> Outcome | None:
        if track is resource.update:
            return kinds.ACTIVE, None
        if resource.planned_failure:
            return kinds.CREATE_FAILED, resource.planned_failure
        if resource.kind is IMPORT_JOB:
            return self._import_outcome(resource)
        if resource.kind is RECOMMENDER:
            return self._training_outcome(resource)
        return kinds.ACTIVE, None

    def _entered(self, resource: Resource, track: Track, status: str) -> None:
        if status == GONE:
            self._resources.pop(resource.arn, None)
        elif (
            resource.kind is IMPORT_JOB
            and status == kinds.CREATE_IN_PROGRESS
            and not resource.planned_failure
        ):
            self._reader(resource)
        elif resource.kind is IMPORT_JOB and status == kinds.ACTIVE:
            self._apply_import(resource)
        elif track is resource.update and status == kinds.ACTIVE:
            resource.fields.update(resource.update_fields)

    def _request_region(self) -> str:
        return _REQUEST_REGION.get(self.region)

    def _here(self, resource: Resource) -> bool:
        """Regions are separate services: a request sees only its own region's resources."""
        return resource.arn.split(":")[3] == self._request_region()

    def _get(self, kind: Kind, arn: str) -> Resource:
        resource = self._resources.get(arn)
        if resource is None or resource.kind is not kind or not self._here(resource):
            raise ResourceNotFoundError(f"{kind.title} {arn} does not exist (never created, or deleted).")
        return resource

    def _find(self, arn: str) -> Resource:
        resource = self._resources.get(arn)
        if resource is None or not self._here(resource):
            raise ResourceNotFoundError(f"No Personalize resource has the ARN {arn}.")
        return resource

    def _of_kind(self, kind: Kind, **fields: Any) -> list[Resource]:
        return [
            resource
            for resource in self._resources.values()
            if resource.kind is kind
            and all(resource.fields.get(key) == value for key, value in fields.items())
        ]

    def _regional(self, kind: Kind) -> list[Resource]:
        """The request region's resources of a kind: what region-wide quotas and Lists count."""
        return [resource for resource in self._of_kind(kind) if self._here(resource)]

    def _arn(self, resource_path: str) -> str:
        return domain.arn(self._request_region(), self.account, resource_path)

    def _ensure_new(self, kind: Kind, arn: str, why: str = "") -> None:
        if arn in self._resources:
            raise ResourceAlreadyExistsError(f"{kind.title} {arn} already exists{why}.")

    @staticmethod
    def _ensure_below(count: int, limit: int, what: str) -> None:
        if count >= limit:
            raise LimitExceededError(f"The limit of {limit} {what} has been reached; delete one first.")

    @staticmethod
    def _require_active(resource: Resource, purpose: str) -> None:
        if resource.status != kinds.ACTIVE:
            raise ResourceInUseError(
                f"{resource.kind.title} {resource.arn} is {resource.status}; it must be ACTIVE before "
                f"{purpose}. Poll Describe until it is ACTIVE."
            )

    @staticmethod
    def _merged_tags(
        existing: Mapping[str, str], tags: list[dict[str, str]] | None, arn: str
    ) -> dict[str, str]:
        given = {tag["tagKey"]: tag["tagValue"] for tag in tags or []}
        problems = domain.tag_problems(given)
        if problems:
            raise InvalidInputError(f"Tags for {arn} are not valid: " + "; ".join(problems) + ".")
        merged = {**existing, **given}
        if domain_rules.too_many_tags(len(merged)):
            raise TooManyTagsError(
                f"{arn} would have {len(merged)} tags; a resource can have at most {domain.MAX_TAGS}."
            )
        return merged

    def _create(
        self,
        kind: Kind,
        arn: str,
        name: str,
        *,
        now: float,
        fields: Params,
        tags: list[dict[str, str]] | None,
    ) -> Resource:
        resource = Resource(
            kind=kind,
            arn=arn,
            name=name,
            created=now,
            fields={key: value for key, value in fields.items() if value is not None},
            tags=self._merged_tags({}, tags, arn),
        )
        if kind.has_status:
            resource.track = Track.begin(CREATE_CHAIN, getattr(self.pace, kind.key), now)
            resource.planned_failure = self._faults.planned_failure(kind.title, name)
        self._resources[arn] = resource
        self._dirty = True
        return resource

    @staticmethod
    def _check_schema(schema: str, domain_name: str | None, dataset_type: str) -> None:
        try:
            problems = domain_rules.schema_problems(schema, domain_name, dataset_type)
        except ValueError as error:
            problems = [str(error)]
        if problems:
            scope = f"the {domain_name} domain" if domain_name else "a Custom dataset group"
            raise InvalidInputError(
                f"The schema is not valid for a {dataset_type} dataset in {scope}: " + "; ".join(problems)
            )

    # --- dataset groups and schemas -------------------------------------------------------------

    def create_dataset_group(self, params: Params) -> dict[str, Any]:
        if domain.key_without_role(params.get("kmsKeyArn"), params.get("roleArn")):
            raise InvalidInputError(f"kmsKeyArn needs roleArn: {domain.KMS_KEY_ROLE_RULE}.")
        with self._session() as now:
            arn = self._arn(f"{DATASET_GROUP.arn_resource}/{params['name']}")
            self._ensure_new(DATASET_GROUP, arn)
            self._ensure_below(
                len(self._regional(DATASET_GROUP)),
                domain_rules.MAX_DATASET_GROUPS,
                "dataset groups per region",
            )
            fields = {key: params.get(key) for key in ("domain", "roleArn", "kmsKeyArn")}
            self._create(DATASET_GROUP, arn, params["name"], now=now, fields=fields, tags=params.get("tags"))
            return {"datasetGroupArn": arn, "domain": params.get("domain")}

    def create_schema(self, params: Params) -> dict[str, Any]:
        schema, domain_name = params["schema"], params.get("domain")
        try:
            record_name = domain.parse_schema(schema).get("name")
        except ValueError as error:
            raise InvalidInputError(f"The schema is not a valid Avro schema: {error}") from error
        dataset_type = _DATASET_TYPE_BY_RECORD.get(record_name) if isinstance(record_name, str) else None
        if dataset_type is None:
            raise InvalidInputError(
                f"The schema's record name {record_name!r} names no dataset type; "
                f"use one of {', '.join(_DATASET_TYPE_BY_RECORD)}."
            )
        self._check_schema(schema, domain_name, dataset_type)
        with self._session() as now:
            arn = self._arn(f"{SCHEMA.arn_resource}/{params['name']}")
            self._ensure_new(SCHEMA, arn)
            self._ensure_below(len(self._regional(SCHEMA)), domain_rules.MAX_SCHEMAS, "schemas per region")
            self._create(
                SCHEMA,
                arn,
                params["name"],
                now=now,
                tags=params.get("tags"),
                fields={"schema": schema, "domain": domain_name},
            )
            return {"schemaArn": arn}

    def delete_dataset_group(self, params: Params) -> dict[str, Any]:
        with self._session() as now:
            group = self._get(DATASET_GROUP, params["datasetGroupArn"])
            members = [
                resource.arn
                for resource in self._resources.values()
                if resource.fields.get("datasetGroupArn") == group.arn
            ]
            if members:
                raise ResourceInUseError(
                    f"Dataset group {group.arn} still contains {', '.join(members)}. Delete recommenders and "
                    f"the event tracker, then the datasets, before the group."
                )
            self._begin_delete(group, GROUP_DELETE_CHAIN, now)
            return {}

    def delete_schema(self, params: Params) -> dict[str, Any]:
        with self._session():
            schema = self._get(SCHEMA, params["schemaArn"])
            users = [
                dataset.arn
                for dataset in self._of_kind(DATASET)
                if schema.arn in (dataset.fields.get("schemaArn"), dataset.update_fields.get("schemaArn"))
            ]
            if users:
                raise ResourceInUseError(
                    f"Schema {schema.arn} is used by {', '.join(users)}; delete those datasets or point "
                    f"them at another schema with UpdateDataset first."
                )
            del self._resources[schema.arn]
            self._dirty = True
            return {}

    # --- datasets and imports -------------------------------------------------------------------

    def create_dataset(self, params: Params) -> dict[str, Any]:
        dataset_type = params["datasetType"].upper()
        if dataset_type not in contract.DATASET_TYPES:
            raise InvalidInputError(
                f"datasetType {params['datasetType']!r} is not one of {', '.join(contract.DATASET_TYPES)} "
                f"(case-insensitive)."
            )
        with self._session() as now:
            group = self._get(DATASET_GROUP, params["datasetGroupArn"])
            schema = self._get(SCHEMA, params["schemaArn"])
            arn = self._arn(domain.dataset_arn_suffix(group.name, dataset_type))
            self._ensure_new(DATASET, arn, f": dataset group {group.name} holds one dataset of each type")
            self._require_active(group, "datasets can be added to it")
            group_domain, schema_domain = group.fields.get("domain"), schema.fields.get("domain")
            if schema_domain != group_domain:
                raise InvalidInputError(
                    f"Schema {schema.arn} has domain {schema_domain or 'none (custom)'} but dataset group "
                    f"{group.arn} has domain {group_domain or 'none (custom)'}; they must match."
                )
            self._check_schema(schema.fields["schema"], group_domain, dataset_type)
            fields = {"datasetGroupArn": group.arn, "datasetType": dataset_type, "schemaArn": schema.arn}
            self._create(DATASET, arn, params["name"], now=now, fields=fields, tags=params.get("tags"))
            return {"datasetArn": arn}

    def update_dataset(self, params: Params) -> dict[str, Any]:
        with self._session() as now:
            dataset = self._get(DATASET, params["datasetArn"])
            schema = self._get(SCHEMA, params["schemaArn"])
            self._ensure_settled(dataset, "its schema can be replaced")
            self._ensure_no_imports(dataset, "its schema can be replaced")
            group = self._resources.get(dataset.fields["datasetGroupArn"])
            group_domain = group.fields.get("domain") if group else None
            if schema.fields.get("domain") != group_domain:
                raise InvalidInputError(
                    f"Schema {schema.arn} has domain {schema.fields.get('domain') or 'none (custom)'}; "
                    f"dataset {dataset.arn} belongs to a {group_domain or 'custom'} dataset group."
                )
            self._check_schema(schema.fields["schema"], group_domain, dataset.fields["datasetType"])
            current = self._get(SCHEMA, dataset.fields["schemaArn"])
            problems = domain.schema_replacement_problems(
                current.fields["schema"], schema.fields["schema"], dataset.fields["datasetType"]
            )
            if problems:
                raise InvalidInputError(
                    f"Dataset {dataset.arn} cannot move from schema {current.arn} to {schema.arn}: "
                    + "; ".join(problems)
                    + "."
                )
            self._begin_update(dataset, {"schemaArn": schema.arn}, self.pace.dataset_update, now)
            return {"datasetArn": dataset.arn}

    def delete_dataset(self, params: Params) -> dict[str, Any]:
        with self._session() as now:
            dataset = self._get(DATASET, params["datasetArn"])
            self._ensure_no_imports(dataset, "it can be deleted")
            group_arn = dataset.fields["datasetGroupArn"]
            # Guide, "Deleting a dataset": no associated recommender may be CREATE PENDING or IN PROGRESS;
            # an ACTIVE one does not block (deleting only halts its automatic updates).
            training = [
                f"{recommender.arn} ({self._training_status(recommender)})"
                for recommender in self._of_kind(RECOMMENDER, datasetGroupArn=group_arn)
                if self._training_status(recommender)
            ]
            if training:
                raise ResourceInUseError(
                    f"Dataset {dataset.arn} cannot be deleted while recommender(s) of its dataset group "
                    f"are training: {', '.join(training)}. Wait until they are ACTIVE."
                )
            trackers = self._of_kind(EVENT_TRACKER, datasetGroupArn=group_arn)
            if dataset.fields["datasetType"] == "INTERACTIONS" and trackers:
                raise ResourceInUseError(
                    f"Dataset {dataset.arn} receives events from event tracker {trackers[0].arn}; "
                    f"delete the tracker first."
                )
            self._begin_delete(dataset, DELETE_CHAIN, now)
            return {}

    @staticmethod
    def _training_status(recommender: Resource) -> str | None:
        """The in-flight create, or update (which retrains), status of a recommender; None when settled."""
        if recommender.status in kinds.IN_FLIGHT_CREATE_STATUSES:
            return recommender.status
        if recommender.update is not None and recommender.update.busy:
            return f"update {recommender.update.status}"
        return None

    def create_dataset_import_job(self, params: Params) -> dict[str, Any]:
        location = (params.get("dataSource") or {}).get("dataLocation")
        if not location:
            raise InvalidInputError(
                "dataSource.dataLocation is required: s3://bucket/file.csv or s3://bucket/folder/."
            )
        import_mode = params.get("importMode", "FULL")
        with self._session() as now:
            dataset = self._get(DATASET, params["datasetArn"])
            arn = self._arn(f"{IMPORT_JOB.arn_resource}/{params['jobName']}")
            self._ensure_new(
                IMPORT_JOB, arn, " (import jobs are never deleted, so their names cannot be reused)"
            )
            self._require_active(dataset, "data can be imported into it")
            if import_mode == "INCREMENTAL" and dataset.data is None:
                raise InvalidInputError(
                    f"Dataset {dataset.arn} has no completed import yet; an INCREMENTAL import is allowed "
                    f"only after a FULL import has become ACTIVE."
                )
            in_flight = [
                job for job in self._regional(IMPORT_JOB) if job.status in kinds.IN_FLIGHT_CREATE_STATUSES
            ]
            if len(in_flight) >= domain_rules.MAX_IMPORT_JOBS_IN_PROGRESS:
                raise LimitExceededError(domain_rules.REASON_IMPORT_LIMIT)
            fields = {
                "datasetArn": dataset.arn,
                "dataSource": {"dataLocation": location},
                "roleArn": params.get("roleArn"),
                "importMode": import_mode,
                "publishAttributionMetricsToS3": params.get("publishAttributionMetricsToS3"),
            }
            self._create(IMPORT_JOB, arn, params["jobName"], now=now, fields=fields, tags=params.get("tags"))
            return {"datasetImportJobArn": arn}

    def _ensure_no_imports(self, dataset: Resource, purpose: str) -> None:
        running = [
            job.arn
            for job in self._of_kind(IMPORT_JOB, datasetArn=dataset.arn)
            if job.status in kinds.IN_FLIGHT_CREATE_STATUSES
        ]
        if running:
            raise ResourceInUseError(
                f"Dataset {dataset.arn} has import job(s) {', '.join(running)} pending or in progress; "
                f"wait until they finish before {purpose}."
            )

    def _reader(self, job: Resource) -> Future[ImportResult]:
        """The job's S3 reading, started on first need (also after a restart from a state file)."""
        future = self._readers.get(job.arn)
        if future is not None:
            return future
        dataset = self._resources.get(job.fields["datasetArn"])
        schema = self._resources.get(dataset.fields["schemaArn"]) if dataset else None
        if dataset is None or schema is None or not job.fields.get("roleArn"):
            # Without a role Personalize has no identity to read the bucket with.
            future = Future()
            future.set_result(ImportResult(None, domain_rules.REASON_S3_ACCESS))
        else:
            event_column = (
                domain.EVENT_TYPE_FIELD if dataset.fields["datasetType"] == "INTERACTIONS" else None
            )
            access = self.import_access
            future = self._executor.submit(
                read_import,
                job.fields["dataSource"]["dataLocation"],
                domain.required_columns(schema.fields["schema"]),
                event_column,
                self._s3_client,
                may_read=functools.partial(access, job.fields["roleArn"], source_arn=job.arn)
                if access is not None
                else None,
                row_columns=ROW_COLUMNS.get(dataset.fields["datasetType"], ()),
            )
        self._readers[job.arn] = future
        return future

    def _import_outcome(self, job: Resource) -> Outcome | None:
        future = self._reader(job)
        if not future.done():
            return None
        del self._readers[job.arn]
        error = future.exception()
        if error is not None:
            return kinds.CREATE_FAILED, f"The emulator could not read the data: {error}"
        result = future.result()
        if result.failure_reason or result.data is None:
            return kinds.CREATE_FAILED, result.failure_reason or domain_rules.REASON_S3_ACCESS
        dataset = self._resources.get(job.fields["datasetArn"])
        is_interactions = dataset is not None and dataset.fields["datasetType"] == "INTERACTIONS"
        if is_interactions and result.data.records < domain.MIN_INTERACTIONS:
            return kinds.CREATE_FAILED, domain_rules.reason_too_few_records(result.data.records)
        job.data = result.data
        return kinds.ACTIVE, None

    def _apply_import(self, job: Resource) -> None:
        """FULL replaces what the dataset holds; INCREMENTAL adds to it."""
        dataset = self._resources.get(job.fields["datasetArn"])
        if dataset is None or job.data is None:
            return
        if job.fields["importMode"] == "INCREMENTAL" and dataset.data is not None:
            dataset.data = dataset.data.plus(job.data)
        else:
            dataset.data = job.data  # bulk data only: records added one by one stay (`recorded`)
        job.data = dataclasses.replace(job.data, rows=[])  # the dataset keeps the rows, once

    def _s3_client(self) -> Any:
        with self._s3_lock:
            if self._s3 is None:
                self._s3 = boto3.session.Session().client(
                    "s3",
                    endpoint_url=self._s3_endpoint_url,  # None: boto3 honours AWS_ENDPOINT_URL_S3
                    region_name=self.region,
                    config=Config(connect_timeout=5, retries={"mode": "standard"}),
                )
            return self._s3

    # --- event trackers and recommenders --------------------------------------------------------

    def create_event_tracker(self, params: Params) -> dict[str, Any]:
        with self._session() as now:
            group = self._get(DATASET_GROUP, params["datasetGroupArn"])
            existing = self._of_kind(EVENT_TRACKER, datasetGroupArn=group.arn)
            if existing:
                raise ResourceAlreadyExistsError(
                    f"Dataset group {group.arn} already has event tracker {existing[0].arn}; "
                    f"a group can have one."
                )
            self._require_active(group, "an event tracker can be added to it")
            arn = self._arn(f"{EVENT_TRACKER.arn_resource}/{uuid.uuid4().hex[:8]}")
            tracking_id = str(uuid.uuid4())
            fields = {"datasetGroupArn": group.arn, "trackingId": tracking_id, "accountId": self.account}
            self._create(EVENT_TRACKER, arn, params["name"], now=now, fields=fields, tags=params.get("tags"))
            return {"eventTrackerArn": arn, "trackingId": tracking_id}

    def create_recommender(self, params: Params) -> dict[str, Any]:
        with self._session() as now:
            group = self._get(DATASET_GROUP, params["datasetGroupArn"])
            arn = self._arn(f"{RECOMMENDER.arn_resource}/{params['name']}")
            self._ensure_new(RECOMMENDER, arn)
            self._require_active(group, "recommenders can be created in it")
            group_domain = group.fields.get("domain")
            if group_domain is None:
                raise InvalidInputError(
                    f"Dataset group {group.arn} is a Custom dataset group; "
                    f"recommenders need a Domain dataset group."
                )
            recipe = domain.RECIPES_BY_ARN.get(params["recipeArn"])
            try:
                domain_rules.recipe_for(group_domain, recipe.use_case if recipe else params["recipeArn"])
            except ValueError as problem:
                raise InvalidInputError(f"Recipe {params['recipeArn']}: {problem}.") from None
            self._ensure_below(
                len(self._of_kind(RECOMMENDER, datasetGroupArn=group.arn)),
                domain_rules.MAX_RECOMMENDERS_PER_GROUP,
                "recommenders per dataset group",
            )
            fields = {
                "datasetGroupArn": group.arn,
                "recipeArn": params["recipeArn"],
                "recommenderConfig": params.get("recommenderConfig"),
            }
            self._create(RECOMMENDER, arn, params["name"], now=now, fields=fields, tags=params.get("tags"))
            return {"recommenderArn": arn}

    def _training_outcome(self, recommender: Resource) -> Outcome:
        """Domain recommenders train only on enough interactions of the recipe's event types."""
        recipe = domain.RECIPES_BY_ARN[recommender.fields["recipeArn"]]
        group_arn = recommender.fields["datasetGroupArn"]
        interactions = self._of_kind(DATASET, datasetGroupArn=group_arn, datasetType="INTERACTIONS")
        data = interactions[0].held() if interactions else ImportedData()
        shortfall = domain_rules.training_shortfall(recipe, data.records, data.event_types)
        if shortfall is not None:
            return kinds.CREATE_FAILED, shortfall
        items = self._of_kind(DATASET, datasetGroupArn=group_arn, datasetType="ITEMS")
        if domain_rules.missing_items(recipe, has_items=bool(items and items[0].held().records)):
            return kinds.CREATE_FAILED, domain_rules.reason_needs_items(recipe.use_case)
        return kinds.ACTIVE, None

    def update_recommender(self, params: Params) -> dict[str, Any]:
        with self._session() as now:
            recommender = self._get(RECOMMENDER, params["recommenderArn"])
            self._ensure_settled(recommender, "it can be updated")
            # DescribeRecommender's RecommenderUpdateSummary: CREATE PENDING > CREATE IN_PROGRESS > ACTIVE.
            self._begin_update(
                recommender,
                {"recommenderConfig": params["recommenderConfig"]},
                self.pace.recommender,
                now,
                chain=CREATE_CHAIN,
            )
            return {"recommenderArn": recommender.arn}

    def stop_recommender(self, params: Params) -> dict[str, Any]:
        return self._switch_recommender(params["recommenderArn"], kinds.ACTIVE, STOP_CHAIN)

    def start_recommender(self, params: Params) -> dict[str, Any]:
        return self._switch_recommender(params["recommenderArn"], kinds.INACTIVE, START_CHAIN)

    def _switch_recommender(self, arn: str, required: str, chain: tuple[str, ...]) -> dict[str, Any]:
        with self._session() as now:
            recommender = self._get(RECOMMENDER, arn)
            if recommender.status != required or recommender.busy or recommender.track is None:
                raise ResourceInUseError(
                    f"Recommender {arn} is {recommender.status}; it must be {required} (and not updating) "
                    f"to go to {chain[-1]}."
                )
            recommender.track.restart(chain, self.pace.recommender, now)
            self._dirty = True
            return {"recommenderArn": arn}

    # --- shared lifecycle requests --------------------------------------------------------------

    @staticmethod
    def _ensure_settled(resource: Resource, purpose: str) -> None:
        if resource.status != kinds.ACTIVE or resource.busy:
            state = resource.update.status if resource.update and resource.update.busy else resource.status
            raise ResourceInUseError(
                f"{resource.kind.title} {resource.arn} is {state}; it must be ACTIVE with no update "
                f"running before {purpose}."
            )

    def _begin_update(
        self,
        resource: Resource,
        changes: Params,
        duration: float,
        now: float,
        chain: tuple[str, ...] = UPDATE_CHAIN,
    ) -> None:
        if resource.update is None:
            resource.update = Track.begin(chain, duration, now)
        else:
            resource.update.restart(chain, duration, now)
        resource.update_fields = changes
        self._dirty = True

    def _begin_delete(self, resource: Resource, chain: tuple[str, ...], now: float) -> None:
        if resource.busy or resource.track is None:
            state = resource.update.status if resource.update and resource.update.busy else resource.status
            raise ResourceInUseError(
                f"{resource.kind.title} {resource.arn} is {state}; it can be deleted once that has finished."
            )
        resource.track.restart(chain, self.pace.delete, now)
        self._dirty = True

    def _delete_simple(self, kind: Kind, params: Params) -> dict[str, Any]:
        with self._session() as now:
            self._begin_delete(self._get(kind, params[kind.arn_member]), DELETE_CHAIN, now)
            return {}

    def _describe(self, kind: Kind, params: Params) -> dict[str, Any]:
        """Describe moves stepwise lifecycles; it may wait (outside the lock) for an import's reading."""
        waited = False
        while True:
            with self._session() as now:
                resource = self._get(kind, params[kind.arn_member])
                blocked = kind.has_status and self._advance(resource, now, describing=True)
                if resource.arn not in self._resources:
                    raise ResourceNotFoundError(f"{kind.title} {resource.arn} has been deleted.")
                if not blocked or waited:
                    return {kind.describe_key: resource.view()}
                reader = self._readers[resource.arn]
            wait([reader], timeout=READ_WAIT_SECONDS)
            waited = True

    # --- lists and tags -------------------------------------------------------------------------

    def _list(self, kind: Kind, key: str, filter_member: str | None, params: Params) -> dict[str, Any]:
        with self._session():
            wanted = params.get(filter_member) if filter_member else None
            filters = {filter_member: wanted} if filter_member and wanted else {}
            matching = [resource for resource in self._of_kind(kind, **filters) if self._here(resource)]
            matching.sort(key=lambda resource: (resource.created, resource.arn))
            token = params.get("nextToken")
            if token:
                after = self._decode_token(kind, token)
                matching = [resource for resource in matching if (resource.created, resource.arn) > after]
            limit = params.get("maxResults", DEFAULT_MAX_RESULTS)
            page = matching[:limit]
            result: dict[str, Any] = {key: [resource.view() for resource in page]}
            if len(matching) > limit:
                result["nextToken"] = self._encode_token(kind, page[-1])
            return result

    @staticmethod
    def _empty_list(key: str, params: Params) -> dict[str, Any]:
        return {key: []}

    @staticmethod
    def _encode_token(kind: Kind, last: Resource) -> str:
        raw = json.dumps([kind.key, last.created, last.arn]).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @staticmethod
    def _decode_token(kind: Kind, token: str) -> tuple[float, str]:
        try:
            key, created, arn = json.loads(base64.urlsafe_b64decode(token.encode()))
            if key != kind.key:
                raise ValueError(key)
            return float(created), str(arn)
        except (ValueError, TypeError) as error:
            raise InvalidNextTokenError(
                f"nextToken {token[:40]!r} was not issued by this List operation; start again without it."
            ) from error

    def tag_resource(self, params: Params) -> dict[str, Any]:
        with self._session():
            resource = self._find(params["resourceArn"])
            resource.tags = self._merged_tags(resource.tags, params["tags"], resource.arn)
            self._dirty = True
            return {}

    def untag_resource(self, params: Params) -> dict[str, Any]:
        with self._session():
            resource = self._find(params["resourceArn"])
            if domain_rules.too_many_tags(len(params["tagKeys"])):
                raise TooManyTagKeysError(
                    f"The request names {len(params['tagKeys'])} tag keys; a resource can have at most "
                    f"{domain.MAX_TAGS}."
                )
            for key in params["tagKeys"]:
                resource.tags.pop(key, None)
            self._dirty = True
            return {}

    def list_tags_for_resource(self, params: Params) -> dict[str, Any]:
        with self._session():
            resource = self._find(params["resourceArn"])
            return {"tags": [{"tagKey": key, "tagValue": value} for key, value in resource.tags.items()]}
