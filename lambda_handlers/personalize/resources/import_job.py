"""Custom::PersonalizeDatasetImportJob: one job per JobName, checked before it is created.

Import jobs cannot be deleted or changed, and their names can never be reused. The construct
derives JobName from a hash of everything that defines the import, so a changed import arrives
as a new JobName: a new job, and a new physical id that CloudFormation "deletes" (a no-op) later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from .. import clients, domain, preflight
from ..errors import IncrementalImportError, InvalidPropertyError, NameConflictError
from ..framework import (
    ALREADY_EXISTS,
    LIMIT_EXCEEDED,
    ArnParts,
    PersonalizeResource,
    Placement,
    error_code,
    error_message,
    is_transient,
    with_status,
)


class DatasetImportJob(PersonalizeResource):
    resource_type = "Custom::PersonalizeDatasetImportJob"
    label = "dataset import job"
    arn_resource = "dataset-import-job"
    arn_member = "datasetImportJobArn"
    describe_operation = "describe_dataset_import_job"
    describe_key = "datasetImportJob"
    delete_operation = None  # the service has no DeleteDatasetImportJob
    name_property = "JobName"
    name_member = "jobName"
    replacing_properties = frozenset({"JobName"})
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
            preflight.S3Location.parse(location)
        except ValueError as error:
            raise InvalidPropertyError(f"{self.props.owner}: property {error}") from error
        role = self.props.required("RoleArn")
        if not domain.ROLE_ARN_PATTERN.fullmatch(role):
            raise InvalidPropertyError(f"{self.props.owner}: RoleArn {role!r} is not an IAM role ARN")

    def import_mode(self) -> str:
        return self.props.choice("ImportMode", domain.IMPORT_MODES, default="FULL")

    def job_arn(self) -> str:
        """Deterministic, so on_event can name the job even when its creation has to wait."""
        dataset = ArnParts.parse(self.props.required("DatasetArn"))
        return dataset.sibling(f"{self.arn_resource}/{self.props.name(self.name_property)}")

    def find_or_create(self) -> Placement:
        arn = self.job_arn()
        existing = self.describe(arn)
        if existing is not None:
            self.check_adoptable(arn, existing)
            self.log("adopted", arn=arn, status=existing.get("status"))
            return Placement(arn, existing)
        self.check_incremental()
        schema_arn = self.props.required("SchemaArn")
        schema = self.personalize.describe_schema(schemaArn=schema_arn)["schema"]
        checked = preflight.check_header(
            clients.s3(),
            self.props.required("DataLocation"),
            schema["schema"],
            schema_label=f"{schema.get('name')} ({schema_arn})",
            subject=f"{self.label} {self.name}",
        )
        self.log("preflight-passed", arn=arn, object=checked.uri, columns=list(checked.columns))
        self.submit(arn)
        return Placement(arn)

    def ensure(self) -> None:
        """The job is missing while is_complete waits: on_event deferred its creation, so retry it."""
        self.submit(self.job_arn())

    def submit(self, arn: str) -> None:
        """Create the job; while Personalize's five-imports limit is reached, leave it for the next poll."""
        try:
            clients.personalize_single_attempt().create_dataset_import_job(
                jobName=self.props.name(self.name_property),
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
                f"{existing.get('datasetArn')}, not {wanted[1]} into {wanted[0]}. Job names can never be "
                "reused: change DataVersion (data_version) to get a new job name."
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
            "JobName": str(description.get("jobName") or self.name),
            "ImportMode": str(description.get("importMode") or self.import_mode()),
            "DataLocation": str(
                (description.get("dataSource") or {}).get("dataLocation")
                or self.props.get("DataLocation")
                or ""
            ),
        }
        return with_status(data, description)
