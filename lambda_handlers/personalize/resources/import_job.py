"""Custom::PersonalizeDatasetImportJob: one job per import, named so that names never collide.

Import jobs cannot be deleted or changed, and their names can never be reused. The construct derives
JobName from a hash of everything in the template that defines the import (so a changed import is a
new JobName, a replacement). The handler adds what the template cannot know: the dataset's creation
time and the resolved data location, hashed into the job's real name. A dataset deleted and created
again, or a bucket replaced, so gets a new job and is imported again, instead of adopting the old
dataset's job; a replayed event computes the same name and adopts its own job. A job of that name
that ended CREATE FAILED is never adopted: the next attempt number gets a new name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from .. import clients, contract, domain, kinds, preflight
from ..errors import CustomResourceError, IncrementalImportError, InvalidPropertyError, NameConflictError
from ..framework import (
    ALREADY_EXISTS,
    LIMIT_EXCEEDED,
    NOT_FOUND,
    ArnParts,
    PersonalizeResource,
    Placement,
    error_code,
    error_message,
    is_transient,
    with_status,
)
from ..s3_location import S3Location

JOB_SUFFIX_LENGTH = 8
MAX_ATTEMPTS = 20  # failed jobs of one import before the handler stops trying new names


class DatasetImportJob(PersonalizeResource):
    resource_type = contract.IMPORT_JOB
    kind = kinds.IMPORT_JOB
    name_property = "JobName"
    # Each of these is in the job's real name: a change is a new job.
    replacing_properties = frozenset({"JobName", "DatasetArn", "DataLocation", "ImportMode"})
    has_removal_policy = False

    def validate(self) -> None:
        super().validate()
        self.props.personalize_arn("DatasetArn", "dataset")
        self.props.personalize_arn("SchemaArn", "schema")
        self.import_mode()
        location = self.props.required("DataLocation")
        if len(location) > domain.DATA_LOCATION_MAX_LENGTH:
            raise InvalidPropertyError(
                f"{self.props.owner}: DataLocation is {len(location)} characters; "
                f"at most {domain.DATA_LOCATION_MAX_LENGTH} allowed"
            )
        try:
            S3Location.parse(location, "DataLocation")
        except ValueError as error:
            raise InvalidPropertyError(f"{self.props.owner}: property {error}") from error
        role = self.props.required("RoleArn")
        if not domain.ROLE_ARN_PATTERN.fullmatch(role):
            raise InvalidPropertyError(f"{self.props.owner}: RoleArn {role!r} is not an IAM role ARN")

    def import_mode(self) -> str:
        return self.props.choice("ImportMode", domain.IMPORT_MODES, default="FULL")

    def job_arn(self, job_name: str) -> str:
        dataset = ArnParts.parse(self.props.required("DatasetArn"))
        return dataset.sibling(f"{self.kind.arn_resource}/{job_name}")

    def job_name(self, attempt: int, dataset_created: str) -> str:
        """JobName, shortened to make room, then a hash of what makes this import one of a kind."""
        base = self.props.name(self.name_property)
        material = [
            base,
            self.props.required("DatasetArn"),
            dataset_created,
            self.props.required("DataLocation"),
            self.import_mode(),
            *([attempt] if attempt > 1 else []),
        ]
        digest = hashlib.sha256(json.dumps(material).encode()).hexdigest()[:JOB_SUFFIX_LENGTH]
        return f"{base[: domain.NAME_MAX_LENGTH - JOB_SUFFIX_LENGTH - 1].rstrip('-_')}-{digest}"

    def dataset_created(self) -> str:
        dataset_arn = self.props.required("DatasetArn")
        try:
            dataset = self.personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]
        except ClientError as error:
            if error_code(error) == NOT_FOUND:
                raise InvalidPropertyError(
                    f"{self.props.owner}: dataset {dataset_arn} does not exist, so nothing can be imported "
                    "into it; the dataset resource must be created first"
                ) from error
            raise
        return str(dataset.get("creationDateTime") or "")

    def find_or_create(self) -> Placement:
        created = self.dataset_created()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            arn = self.job_arn(self.job_name(attempt, created))
            existing = self.describe(arn)
            if existing is None:
                break
            self.check_adoptable(arn, existing)
            if existing.get("status") in domain.FAILED_STATUSES:
                self.log("failed-attempt-skipped", arn=arn, attempt=attempt)
                continue
            self.log("adopted", arn=arn, status=existing.get("status"))
            return Placement(arn, existing)
        else:
            raise CustomResourceError(
                f"dataset import job {self.name}: {MAX_ATTEMPTS} attempts at this import all failed; fix the "
                "data (validate-data shows why) and change DataVersion (data_version) to try again"
            )
        self.check_incremental()
        schema_arn = self.props.required("SchemaArn")
        schema = self.personalize.describe_schema(schemaArn=schema_arn)["schema"]
        checked = preflight.check_header(
            clients.s3(),
            self.props.required("DataLocation"),
            schema["schema"],
            schema_label=f"{schema.get('name')} ({schema_arn})",
            subject=f"{self.kind.label} {self.name}",
        )
        self.log("preflight-passed", arn=arn, object=checked.uri, columns=list(checked.columns))
        self.submit(arn)
        return Placement(arn)

    def ensure(self) -> None:
        """The job is missing while is_complete waits: on_event deferred its creation, so retry it."""
        self.submit(self.physical_arn())

    def submit(self, arn: str) -> None:
        """Create the job; while Personalize's five-imports limit is reached, leave it for the next poll."""
        try:
            clients.personalize_single_attempt().create_dataset_import_job(
                jobName=arn.rsplit("/", 1)[1],
                datasetArn=self.props.required("DatasetArn"),
                dataSource={"dataLocation": self.props.required("DataLocation")},
                roleArn=self.props.required("RoleArn"),
                importMode=self.import_mode(),
                **self.create_tags(),
            )
        except ClientError as error:
            if error_code(error) == ALREADY_EXISTS:
                self.log("adopted", arn=arn)  # an earlier attempt's response was lost
            elif error_code(error) == LIMIT_EXCEEDED or is_transient(error):
                self.log("create-deferred", arn=arn, error=error_code(error), message=error_message(error))
            else:
                raise
            return
        self.log("created", arn=arn, import_mode=self.import_mode())

    def check_adoptable(self, arn: str, existing: Mapping[str, Any]) -> None:
        location = (existing.get("dataSource") or {}).get("dataLocation")
        wanted = (self.props.required("DatasetArn"), self.props.required("DataLocation"))
        if (existing.get("datasetArn"), location) != wanted:
            raise NameConflictError(
                f"dataset import job {self.name} already exists ({arn}) and imported {location} into "
                f"{existing.get('datasetArn')}, not {wanted[1]} into {wanted[0]}; its name was derived from "
                "the same inputs, so something outside this stack created it. Change DataVersion "
                "(data_version) to get a new job name."
            )

    def check_incremental(self) -> None:
        if self.import_mode() != "INCREMENTAL":
            return
        dataset_arn = self.props.required("DatasetArn")
        jobs = self.paginate("list_dataset_import_jobs", "datasetImportJobs", datasetArn=dataset_arn)
        if not any(job.get("status") == domain.ACTIVE for job in jobs):
            raise IncrementalImportError(
                f"dataset import job {self.name}: ImportMode INCREMENTAL adds to data imported earlier, "
                f"but dataset {dataset_arn} has no ACTIVE import yet. Import with FULL first "
                "(import_mode: FULL), then switch to INCREMENTAL for later imports."
            )

    def update_in_place(self, arn: str, changed: frozenset[str]) -> None:
        """Jobs cannot change: with the same JobName, Tags and RoleArn only apply to future jobs."""
        self.log("no-op", changed=sorted(changed))

    def data(self, arn: str, description: Mapping[str, Any] | None) -> dict[str, str]:
        description = description or {}
        data = {
            "DatasetImportJobArn": arn,
            "JobName": str(description.get("jobName") or arn.rsplit("/", 1)[-1]),
            "ImportMode": str(description.get("importMode") or self.import_mode()),
            "DataLocation": str(
                (description.get("dataSource") or {}).get("dataLocation")
                or self.props.get("DataLocation")
                or ""
            ),
        }
        return with_status(data, description)
