"""Custom::PersonalizeSchema: immutable, so a changed schema is a new schema under a new name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from .. import contract, domain, kinds
from ..errors import CustomResourceError, InvalidPropertyError, NameConflictError, SchemaImmutableError
from ..errors import ResourceInUseError as DeleteRefusedError
from ..framework import (
    DELETING_STATUSES,
    NOT_FOUND,
    PersonalizeResource,
    Placement,
    error_code,
    error_message,
)


class Schema(PersonalizeResource):
    resource_type = contract.SCHEMA
    kind = kinds.SCHEMA
    # The construct puts a content hash in Name: a changed schema arrives as a new Name.
    replacing_properties = frozenset({"Name"})
    tagged = False  # CreateSchema takes no tags

    def validate(self) -> None:
        super().validate()
        self.content()
        self.schema_domain()

    def content(self) -> dict[str, Any]:
        try:
            return domain.parse_schema(self.props.required("Schema"))
        except ValueError as error:
            raise InvalidPropertyError(f"{self.props.owner}: property Schema: {error}") from error

    def schema_domain(self) -> str | None:
        return self.props.choice("Domain", contract.DOMAINS) if self.props.get("Domain") else None

    def find_or_create(self) -> Placement:
        name, schema_domain = self.props.name(), self.schema_domain()

        def create() -> str:
            extra = {"domain": schema_domain} if schema_domain else {}
            schema = self.props.required("Schema")
            return str(self.personalize.create_schema(name=name, schema=schema, **extra)["schemaArn"])

        def check(existing: Mapping[str, Any]) -> None:
            same = domain.parse_schema(existing["schema"]) == self.content()
            if not same or existing.get("domain") != schema_domain:
                raise NameConflictError(
                    f"schema {name} already exists ({existing[self.kind.arn_member]}) with different content "
                    f"or domain ({existing.get('domain') or 'no domain'}). Schemas cannot be changed: give "
                    "this schema another name, or delete the existing one if nothing uses it."
                )

        return self.adopt_or_create(lambda: self.find_named(name), create, check)

    def update_in_place(self, arn: str, changed: frozenset[str]) -> None:
        old = self.event.old_properties
        old_content = domain.parse_schema(old.get("Schema") or "{}")
        if old_content != self.content() or (old.get("Domain") or None) != self.schema_domain():
            raise SchemaImmutableError(
                f"schema {self.name} ({arn}): Schema or Domain changed but Name did not. Personalize "
                "schemas are immutable, so a changed schema must be created under a new name: drop the "
                "pinned name (the construct then derives one from the content) or change it."
            )
        super().update_in_place(arn, changed)

    def data(self, arn: str, description: Mapping[str, Any] | None) -> dict[str, str]:
        return {"SchemaArn": arn, "Name": str((description or {}).get("name") or self.name)}

    def keep_reason(self, arn: str, description: Mapping[str, Any]) -> str | None:
        """A schema carries no tags (CreateSchema takes none), so ownership cannot be proved; it holds no
        data either. One a dataset still uses and keeps (a kept, adopted or foreign dataset, or one that
        stays on a wider schema after a rollback) stays, so a rollback or destroy never fails over it; an
        unused one follows its removal policy. A dataset being deleted does not keep it: the Delete waits
        for it to go (busy_reason), then deletes the schema."""
        reason = super().keep_reason(arn, description)
        if reason is not None:
            return reason
        staying = [self.summary(user) for user in self.users(arn) if not self.going(user)]
        if staying:
            self.log("in-use-kept", arn=arn, used_by=staying)
            return "in-use-kept"
        return None

    def busy_reason(self, arn: str, description: Mapping[str, Any]) -> str | None:
        """API DeleteSchema: "Before deleting a schema, you must delete all datasets referencing the schema";
        a dataset DELETE PENDING or DELETE IN_PROGRESS still references it until it is gone, so the refusal
        is one that waiting cures (a rollback's cleanup may reach the schema before the dataset is gone)."""
        going = [self.summary(user) for user in self.users(arn) if self.going(user)]
        return f"dataset(s) {', '.join(going)} being deleted" if going else None

    def delete_refused(self, arn: str, error: ClientError) -> CustomResourceError:
        users = [self.summary(user) for user in self.users(arn)]
        named = ", ".join(users) if users else f"a dataset ({error_message(error)})"
        return DeleteRefusedError(
            f"schema {self.name} ({arn}) is still used by {named}; delete those datasets or move them to "
            "another schema first, or set removal_policy: retain."
        )

    @staticmethod
    def summary(dataset: Mapping[str, Any]) -> str:
        return f"dataset {dataset.get('name')} ({dataset['datasetArn']})"

    @staticmethod
    def going(dataset: Mapping[str, Any]) -> bool:
        return dataset.get("status") in DELETING_STATUSES

    def users(self, arn: str) -> list[dict[str, Any]]:
        """DescribeSchema does not say who uses a schema: look through every dataset in the region."""
        try:
            return [
                dataset
                for dataset in self.all_datasets()
                if arn
                in (dataset.get("schemaArn"), (dataset.get("latestDatasetUpdate") or {}).get("schemaArn"))
            ]
        except ClientError as error:
            # Datasets outside the stack's name prefix may not be describable; the service's message remains.
            self.log("datasets-using-schema-unknown", arn=arn, error=error_code(error))
            return []

    def all_datasets(self) -> Iterator[dict[str, Any]]:
        for group in self.paginate("list_dataset_groups", "datasetGroups"):
            for summary in self.paginate(
                "list_datasets", "datasets", datasetGroupArn=group["datasetGroupArn"]
            ):
                try:
                    yield self.personalize.describe_dataset(datasetArn=summary["datasetArn"])["dataset"]
                except ClientError as error:
                    if error_code(error) != NOT_FOUND:  # deleted between the List and the Describe
                        raise
