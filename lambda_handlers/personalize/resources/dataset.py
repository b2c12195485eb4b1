"""Custom::PersonalizeDataset: a new schema is an in-place UpdateDataset, never a data-losing replacement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from .. import contract, domain, kinds
from ..errors import InvalidPropertyError, NameConflictError, ResourceFailedError, SchemaReplacementError
from ..framework import (
    DELETING_STATUSES,
    IN_USE,
    UPDATING_STATUSES,
    ArnParts,
    PersonalizeResource,
    Placement,
    error_code,
)


class Dataset(PersonalizeResource):
    resource_type = contract.DATASET
    kind = kinds.DATASET
    replacing_properties = frozenset({"Name", "DatasetGroupArn", "DatasetType"})

    def validate(self) -> None:
        super().validate()
        self.props.personalize_arn("DatasetGroupArn", "dataset-group")
        self.props.personalize_arn("SchemaArn", "schema")
        self.dataset_type()

    def dataset_type(self) -> str:
        return self.props.choice("DatasetType", contract.DATASET_TYPES)

    def expected_arn(self) -> str:
        """A dataset's ARN is its group's name and its type, so it is known before it exists."""
        group = ArnParts.parse(self.props.required("DatasetGroupArn"))
        group_name = group.resource.split("/", 1)[1]
        return group.sibling(domain.dataset_arn_suffix(group_name, self.dataset_type()))

    def find_or_create(self) -> Placement:
        name, arn = self.props.name(), self.expected_arn()

        def create() -> str:
            response = self.personalize.create_dataset(
                name=name,
                schemaArn=self.props.required("SchemaArn"),
                datasetGroupArn=self.props.required("DatasetGroupArn"),
                datasetType=self.dataset_type(),
                **self.create_tags(),
            )
            return str(response["datasetArn"])

        def check(existing: Mapping[str, Any]) -> None:
            """A different schema is fine (is_complete moves it); a different name is another dataset."""
            if existing.get("name") != name or existing.get("status") in DELETING_STATUSES:
                raise NameConflictError(
                    f"dataset group {self.props.required('DatasetGroupArn')} already has a dataset of type "
                    f"{self.dataset_type()}: {existing.get('name')} ({arn}, {existing.get('status')}). "
                    "A group holds one dataset per type and the ARN is made of group and type, so a dataset "
                    "cannot be renamed or replaced inside its group: keep its name, or remove it from the "
                    "stack and deploy before adding the new one."
                )

        return self.adopt_or_create(lambda: self.describe(arn), create, check)

    def update(self) -> dict[str, Any]:
        """A new DatasetType is refused before any call: a dataset's type is fixed, and the replacement
        CloudFormation would make deletes the old dataset, whose data no dataset of another type can take.
        The rollback of such a refused update asks for the type the dataset has (its ARN ends in it)."""
        new = self.dataset_type()
        has = str(self.event.physical_id or "").rsplit("/", 1)[-1]
        if "DatasetType" in self.event.changed_properties() and has != new:
            old = self.event.old_properties.get("DatasetType")
            raise InvalidPropertyError(
                f"dataset {self.name} ({self.event.physical_id}): DatasetType cannot change from {old} to "
                f"{new}. A dataset's type is fixed, and replacing it would delete its {old} data, which a "
                f"{new} dataset cannot take. Add the {new} dataset as a resource of its own (config: "
                "users or items) and remove this one in a later deploy if its data may go. "
                "Nothing was changed."
            )
        return super().update()

    def update_in_place(self, arn: str, changed: frozenset[str]) -> None:
        if "SchemaArn" in changed:
            description = self.describe(arn)
            if description is not None:
                self.request_schema_update(arn, description)
        super().update_in_place(arn, changed - {"SchemaArn"})

    def request_schema_update(self, arn: str, description: Mapping[str, Any]) -> bool:
        """UpdateDataset, unless it already happened (a replayed event); busy datasets are retried later.

        True when no update is needed: the dataset's current schema already covers the template's
        (a rollback after a replacement that added columns; Personalize cannot drop columns).
        """
        schema_arn = self.props.required("SchemaArn")
        latest = description.get("latestDatasetUpdate") or {}
        if latest.get("schemaArn") == schema_arn or description.get("schemaArn") == schema_arn:
            self.log("schema-update-already-requested", arn=arn, schema_arn=schema_arn)
            return False
        if self.keeps_current_schema(arn, description, schema_arn):
            return True
        try:
            self.personalize.update_dataset(datasetArn=arn, schemaArn=schema_arn)
        except ClientError as error:
            if error_code(error) != IN_USE:
                raise
            self.log("schema-update-deferred", arn=arn, schema_arn=schema_arn, reason=str(error))
            return False
        self.log(
            "schema-update-requested", arn=arn, schema_arn=schema_arn, previous=description.get("schemaArn")
        )
        return False

    def keeps_current_schema(self, arn: str, description: Mapping[str, Any], schema_arn: str) -> bool:
        """The guide's replacement rules, checked before anything changes; True: keep the current schema."""
        current_arn = str(description.get("schemaArn") or "")
        current = self.schema_text(current_arn)
        requested = self.schema_text(schema_arn)
        problems = domain.schema_replacement_problems(current, requested, self.dataset_type())
        if not problems:
            return False
        if domain.schema_covers(current, requested):
            # A rollback after a replacement added columns (or a rename of an unchanged schema that
            # Personalize cannot apply): the current schema already takes all data for the requested one.
            self.log("schema-kept-superset", arn=arn, schema_arn=current_arn, requested=schema_arn)
            return True
        raise SchemaReplacementError(
            f"dataset {self.display_name(description)} ({arn}) cannot move from schema {current_arn} "
            f"to {schema_arn}: {'; '.join(problems)}. Personalize refuses such a replacement "
            f"({domain.REPLACEMENT_GUIDE}); {domain.replacement_alternative(self.dataset_type())}. "
            "Nothing was changed."
        )

    def schema_text(self, schema_arn: str) -> str:
        return str(self.personalize.describe_schema(schemaArn=schema_arn)["schema"]["schema"])

    def settled(self, arn: str, description: Mapping[str, Any]) -> bool:
        """ACTIVE, and on the template's schema: an UpdateDataset in flight is waited for here."""
        if not super().settled(arn, description):
            return False
        schema_arn = self.props.required("SchemaArn")
        latest = description.get("latestDatasetUpdate") or {}
        status = latest.get("status")
        if latest.get("schemaArn") == schema_arn:
            if status in kinds.FAILED_STATUSES:
                reason = latest.get("failureReason") or f"status {status} without a failureReason"
                action = f"schema update to {schema_arn}"
                raise ResourceFailedError(
                    self.kind.label, self.display_name(description), arn, reason, action=action
                )
            if status == kinds.ACTIVE:
                return True
        elif status not in UPDATING_STATUSES:
            if description.get("schemaArn") == schema_arn:
                return True
            # deferred earlier, adopted on another schema, or a rollback to a schema the current one covers
            return self.request_schema_update(arn, description)
        self.log("waiting", arn=arn, schema_update_status=status, schema_arn=latest.get("schemaArn"))
        return False

    def busy_reason(self, arn: str, description: Mapping[str, Any]) -> str | None:
        """Running imports and schema updates block DeleteDataset only until they finish."""
        reason = super().busy_reason(arn, description)
        if reason:
            return reason
        update_status = (description.get("latestDatasetUpdate") or {}).get("status")
        if update_status in UPDATING_STATUSES:
            return f"its schema update is {update_status}"
        running = [
            job[kinds.IMPORT_JOB.arn_member]
            for job in self.paginate(kinds.IMPORT_JOB.list_method, kinds.IMPORT_JOB.list_key, datasetArn=arn)
            if job.get("status") in kinds.IN_FLIGHT_CREATE_STATUSES
        ]
        if running:
            return f"import job(s) {', '.join(running)} still running"
        training = self.training_recommenders(str(description.get("datasetGroupArn") or ""))
        if training:
            return (
                f"recommender(s) of its dataset group still training: {', '.join(training)} (Personalize "
                "deletes no dataset while a recommender of its group is CREATE PENDING or IN_PROGRESS)"
            )
        return self.dependents_going(description)

    def training_recommenders(self, group_arn: str) -> list[str]:
        """Guide, "Deleting a dataset": recommenders being created (or retrained by an update) block it."""
        if not group_arn:
            return []
        training = []
        for summary in self.paginate("list_recommenders", "recommenders", datasetGroupArn=group_arn):
            status = summary.get("status")
            if status not in kinds.IN_FLIGHT_CREATE_STATUSES:
                described = self.personalize.describe_recommender(recommenderArn=summary["recommenderArn"])
                latest = described["recommender"].get("latestRecommenderUpdate") or {}
                if latest.get("status") not in kinds.IN_FLIGHT_CREATE_STATUSES | UPDATING_STATUSES:
                    continue
                status = f"update {latest.get('status')}"
            training.append(f"{summary['recommenderArn']} ({status})")
        return training

    def ready_to_delete(self, arn: str) -> bool:
        """An ACTIVE recommender does not block the delete, but loses this data: say so in the log."""
        group = ArnParts.parse(arn)
        group_arn = group.sibling(f"{kinds.DATASET_GROUP.arn_resource}/" + group.resource.split("/")[1])
        recommenders = [
            summary["recommenderArn"]
            for summary in self.paginate("list_recommenders", "recommenders", datasetGroupArn=group_arn)
        ]
        if recommenders:
            self.log(
                "recommenders-keep-running",
                arn=arn,
                recommenders=recommenders,
                note="deleting a dataset halts automatic updates of recommenders that have them",
            )
        return True

    def dependents_going(self, description: Mapping[str, Any]) -> str | None:
        """Recommenders and the event tracker block DeleteDataset. Those this stack created are removed by
        their own Deletes, which CloudFormation may run at the same time (a replaced group's cleanup gives
        no order), and those already being deleted will be gone: wait for them instead of failing."""
        group_arn = str(description.get("datasetGroupArn") or "")
        owner = self.event.owner
        if not group_arn or owner is None:
            return None
        going = [
            str(item[kind.arn_member])
            for kind in (kinds.RECOMMENDER, kinds.EVENT_TRACKER)
            for item in self.paginate(kind.list_method, kind.list_key, datasetGroupArn=group_arn)
            if item.get("status") in DELETING_STATUSES
            or owner.same_stack(self.owner_tag(str(item[kind.arn_member])))
        ]
        return f"{', '.join(going)} to be deleted first" if going else None

    def data(self, arn: str, description: Mapping[str, Any] | None) -> dict[str, str]:
        description = description or {}
        data = {
            "DatasetArn": arn,
            "Name": str(description.get("name") or self.name),
            "DatasetType": str(description.get("datasetType") or self.dataset_type()),
            "SchemaArn": self.schema_in_use(description) or self.props.required("SchemaArn"),
        }
        return data

    @staticmethod
    def schema_in_use(description: Mapping[str, Any]) -> str | None:
        """The schema the dataset really has: after a rollback it may be wider than the template's."""
        latest = description.get("latestDatasetUpdate") or {}
        if latest.get("status") == kinds.ACTIVE and latest.get("schemaArn"):
            return str(latest["schemaArn"])
        schema_arn = description.get("schemaArn")
        return str(schema_arn) if schema_arn else None
