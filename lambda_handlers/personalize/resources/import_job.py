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
from ..errors import (
    CustomResourceError,
    IncrementalImportError,
    InvalidPropertyError,
    NameConflictError,
    NoDataYetError,
)
from ..flow import contract as flow_contract
from ..flow import signal
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
WAIT_PROPERTIES = ("WaitHandle", "WaitStateMachineArn")
EXECUTION_EXISTS = "ExecutionAlreadyExists"
# StartExecution `name` (botocore's stepfunctions model): 1 to 80 characters, none of white space, brackets,
# wildcards, control or special characters such as / : ; and only 0-9 A-Z a-z - _ for CloudWatch logging.
# A job name (at most 63 of [a-zA-Z0-9-_]), a hyphen and 12 hex digits is at most 76 of those.
EXECUTION_NAME_MAX_LENGTH = 80
HANDLE_DIGEST_LENGTH = 12


def execution_name(job_name: str, wait_handle: str) -> str:
    """The deploy wait's execution: one per job AND wait condition handle.

    A replayed event for the same handle computes the same name (Step Functions accepts a running
    execution's name with the same input, and refuses it once the execution ended: either way it was
    started). A new handle for the same job (the long wait turned on for a deployed stack, or a redeploy
    that adopts the job after a rolled-back first deploy) gets its own execution, which signals it.
    """
    digest = hashlib.sha256(wait_handle.encode()).hexdigest()[:HANDLE_DIGEST_LENGTH]
    return f"{job_name[: EXECUTION_NAME_MAX_LENGTH - HANDLE_DIGEST_LENGTH - 1]}-{digest}"


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
        self.props.choice("WhenNoData", ("FAIL", "SKIP"), default="FAIL")
        given = [name for name in WAIT_PROPERTIES if self.props.get(name)]
        if given and len(given) != len(WAIT_PROPERTIES):
            raise InvalidPropertyError(
                f"{self.props.owner}: {given[0]} needs {' and '.join(WAIT_PROPERTIES)} together: the state "
                "machine signals the wait condition's handle"
            )

    def import_mode(self) -> str:
        return self.props.choice("ImportMode", contract.IMPORT_MODES, default="FULL")

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
            if existing.get("status") in kinds.FAILED_STATUSES:
                self.log("failed-attempt-skipped", arn=arn, attempt=attempt)
                continue
            self.log("adopted", arn=arn, status=existing.get("status"))
            if self.waits_with_condition:
                self.start_deploy_wait(arn)
            return Placement(arn, existing)
        else:
            raise CustomResourceError(
                f"dataset import job {self.name}: {MAX_ATTEMPTS} attempts at this import all failed; fix the "
                "data (validate-data shows why) and change DataVersion (data_version) to try again"
            )
        self.check_incremental()
        schema_arn = self.props.required("SchemaArn")
        schema = self.personalize.describe_schema(schemaArn=schema_arn)["schema"]
        try:
            checked = preflight.check_header(
                clients.s3(),
                self.props.required("DataLocation"),
                schema["schema"],
                schema_label=f"{schema.get('name')} ({schema_arn})",
                subject=f"{self.kind.label} {self.name}",
            )
        except NoDataYetError as error:
            if not self.skips_empty:
                raise
            return self.skip_no_data(arn, str(error))
        self.log("preflight-passed", arn=arn, object=checked.uri, columns=list(checked.columns))
        self.submit(arn)
        if self.waits_with_condition:
            self.start_deploy_wait(arn)
        return Placement(arn)

    # --- a location with no data yet (first deploy of a bucket that fills later) ---------------------

    def no_data_message(self) -> str:
        return (
            f"no data at {self.props.required('DataLocation')} yet; no import job was created. Upload the "
            "data, then deploy with a new data_version to import it (or upload to an incoming location)."
        )

    def skip_no_data(self, arn: str, why: str) -> Placement:
        """No job: the physical id is the job this import would have been, so a later deploy with a new
        data_version replaces it, and the Delete CloudFormation then sends finds nothing to do."""
        self.log("no-data", arn=arn, location=self.props.required("DataLocation"), why=why)
        if self.waits_with_condition:
            self.signal_now(arn, outcome=flow_contract.NO_DATA, reason=self.no_data_message())
        return Placement(arn, {"status": flow_contract.NO_DATA, "jobName": arn.rsplit("/", 1)[1]})

    def creation_progress(self) -> dict[str, Any]:
        """Done at once when on_event found no data (its Data says so) or handed the wait to the state
        machine; otherwise the base class's describe-and-wait."""
        started = self.event.started or {}
        if started.get("Status") == flow_contract.NO_DATA or (
            self.waits_with_condition and self.event.physical_id
        ):
            self.log("complete", arn=self.event.physical_id, status=started.get("Status"))
            return {"IsComplete": True, "Data": dict(started) or self.data(self.physical_arn(), None)}
        return super().creation_progress()

    # --- deploy-time waits through a wait condition ------------------------------------------------

    @property
    def skips_empty(self) -> bool:
        return (self.props.get("WhenNoData") or "").upper() == "SKIP"

    @property
    def waits_with_condition(self) -> bool:
        return bool(self.props.get("WaitHandle"))

    def start_deploy_wait(self, arn: str) -> None:
        """Hand the wait to the import state machine, which signals the wait condition's handle. The job
        name and the handle name the execution (execution_name): a replayed event finds it running (same
        input: accepted) or ended; a new handle for the same job starts a new execution."""
        job_name = arn.rsplit("/", 1)[1]
        request = {
            "jobName": job_name,
            "datasetArn": self.props.required("DatasetArn"),
            "dataLocation": self.props.required("DataLocation"),
            "importMode": self.import_mode(),
            "roleArn": self.props.required("RoleArn"),
            "tags": self.create_tags().get("tags", []),
            "dataset": self.props.required("DatasetArn").rsplit("/", 1)[-1].lower(),
        }
        handle = self.props.required("WaitHandle")
        name = execution_name(job_name, handle)
        execution_input = {
            "deploy": {"waitHandle": handle, "uniqueId": job_name},
            "request": request,
        }
        try:
            clients.stepfunctions().start_execution(
                stateMachineArn=self.props.required("WaitStateMachineArn"),
                name=name,
                input=json.dumps(execution_input),
            )
        except ClientError as error:
            if error_code(error) != EXECUTION_EXISTS:
                raise
            self.log("wait-already-started", arn=arn, execution=name)
            return
        self.log(
            "wait-started", arn=arn, execution=name, state_machine=self.props.required("WaitStateMachineArn")
        )

    def signal_now(self, arn: str, *, outcome: str, reason: str) -> None:
        """Signal the wait condition without the state machine, as its SignalDeploy step does (the same
        document and success rule, flow/signal.py), with no job ARN when there was no data."""
        document = signal.wait_condition_signal(
            outcome=outcome,
            reason=reason,
            unique_id=arn.rsplit("/", 1)[1],
            job_arn=None if outcome == flow_contract.NO_DATA else arn,
        )
        signal.send(self.props.required("WaitHandle"), document)
        self.log("wait-signalled", status=document["Status"])

    def update(self) -> dict[str, Any]:
        """An import that found no data yet looks again on any update, and imports what is there now (and,
        with a wait condition, hands it the wait or signals it: find_or_create). A new wait condition
        handle for the same job (the long wait turned on, or a new handle) is handed the wait here: an
        in-place update would otherwise leave it unsignalled until its timeout."""
        changed = self.event.changed_properties()
        replacing = changed & self.replacing_properties
        if not replacing and self.skips_empty and self.describe(self.physical_arn()) is None:
            self.log("no-data-retry", arn=self.physical_arn())
            return self.respond(self.find_or_create())
        if not replacing and self.waits_with_condition and changed & frozenset(WAIT_PROPERTIES):
            return self.respond(self.wait_for_existing(self.physical_arn()))
        return super().update()

    def wait_for_existing(self, arn: str) -> Placement:
        """The deployed job and a new wait condition: a finished job is signalled at once (SUCCESS, or
        FAILURE with Personalize's failureReason verbatim), as the state machine would after adopting it,
        without announcing an earlier import again on the topic and the event bus; otherwise the state
        machine waits (and creates the job if it is missing)."""
        description = self.describe(arn)
        status = (description or {}).get("status")
        self.log("wait-added", arn=arn, status=status)
        if status == kinds.ACTIVE:
            location = ((description or {}).get("dataSource") or {}).get("dataLocation")
            self.signal_now(arn, outcome=flow_contract.ACTIVE, reason=f"{location} was imported ({arn})")
        elif status in kinds.FAILED_STATUSES:
            reason = (description or {}).get(
                "failureReason"
            ) or f"{status} (Personalize gives no failureReason)"
            self.signal_now(arn, outcome=flow_contract.FAILED, reason=str(reason))
        else:
            self.start_deploy_wait(arn)
        return Placement(arn, description)

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
        jobs = self.paginate(kinds.IMPORT_JOB.list_method, kinds.IMPORT_JOB.list_key, datasetArn=dataset_arn)
        if not any(job.get("status") == kinds.ACTIVE for job in jobs):
            raise IncrementalImportError(
                f"dataset import job {self.name}: ImportMode INCREMENTAL adds to data imported earlier, "
                f"but dataset {dataset_arn} has no ACTIVE import yet. Import with FULL first "
                "(import_mode: FULL), then switch to INCREMENTAL for later imports."
            )

    def data(self, arn: str, description: Mapping[str, Any] | None) -> dict[str, str]:
        description = description or {}
        if description.get("status") == flow_contract.NO_DATA:
            return {
                "DatasetImportJobArn": arn,
                "JobName": arn.rsplit("/", 1)[-1],
                "ImportMode": self.import_mode(),
                "DataLocation": self.props.required("DataLocation"),
                "Status": flow_contract.NO_DATA,
                "Message": self.no_data_message(),
            }
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
        status = description.get("status")
        if self.waits_with_condition:
            data["Message"] = (
                f"importing {data['DataLocation']}; the deploy waits for it through a wait condition"
            )
        else:
            data["Message"] = (
                f"{data['DataLocation']}: {status}" if status else f"importing {data['DataLocation']}"
            )
        return with_status(data, description)
