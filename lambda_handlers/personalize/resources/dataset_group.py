"""Custom::PersonalizeDatasetGroup: a Domain dataset group, deleted only when it is empty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from .. import contract, domain, kinds
from ..errors import DatasetGroupNotEmptyError, InvalidPropertyError, NameConflictError
from ..framework import (
    DELETING_STATUSES,
    NOT_FOUND,
    PersonalizeResource,
    Placement,
    error_code,
    with_status,
)


class DatasetGroup(PersonalizeResource):
    resource_type = contract.DATASET_GROUP
    kind = kinds.DATASET_GROUP
    # Personalize cannot change any of these on an existing group.
    replacing_properties = frozenset({"Name", "Domain", "RoleArn", "KmsKeyArn"})

    def validate(self) -> None:
        super().validate()
        self.props.choice("Domain", domain.DOMAINS)
        role, key = self.props.get("RoleArn"), self.props.get("KmsKeyArn")
        owner = self.props.owner
        if role and not domain.ROLE_ARN_PATTERN.fullmatch(role):
            raise InvalidPropertyError(f"{owner}: RoleArn {role!r} is not an IAM role ARN")
        if key and not domain.KMS_KEY_ARN_PATTERN.fullmatch(key):
            raise InvalidPropertyError(f"{owner}: KmsKeyArn {key!r} is not a KMS key ARN")
        if domain.key_without_role(key, role):
            raise InvalidPropertyError(f"{owner}: KmsKeyArn needs RoleArn: {domain.KMS_KEY_ROLE_RULE}")

    def wanted(self) -> dict[str, str]:
        settings = {
            "domain": self.props.choice("Domain", domain.DOMAINS),
            "roleArn": self.props.get("RoleArn"),
            "kmsKeyArn": self.props.get("KmsKeyArn"),
        }
        return {member: value for member, value in settings.items() if value}

    def find_or_create(self) -> Placement:
        name, wanted = self.props.name(), self.wanted()

        def create() -> str:
            response = self.personalize.create_dataset_group(name=name, **wanted, **self.create_tags())
            return str(response["datasetGroupArn"])

        def check(existing: Mapping[str, Any]) -> None:
            actual = {
                member: existing[member]
                for member in ("domain", "roleArn", "kmsKeyArn")
                if existing.get(member)
            }
            if actual != wanted or existing.get("status") in DELETING_STATUSES:
                raise NameConflictError(
                    f"dataset group {name} already exists ({existing[self.kind.arn_member]}, "
                    f"{existing.get('status')}, settings {actual}) and does not match the template's "
                    f"{wanted}. Changing Domain, RoleArn or KmsKeyArn replaces the group, and a replacement "
                    "needs a new Name; otherwise delete the existing group first."
                )

        return self.adopt_or_create(lambda: self.find_named(name), create, check)

    def data(self, arn: str, description: Mapping[str, Any] | None) -> dict[str, str]:
        description = description or {}
        data = {
            "DatasetGroupArn": arn,
            "Name": str(description.get("name") or self.name),
            "Domain": str(description.get("domain") or self.props.get("Domain") or ""),
        }
        return with_status(data, description)

    def ready_to_delete(self, arn: str) -> bool:
        """No cascade. What this stack created in the group is waited for (its own Delete removes it, and
        CloudFormation's cleanup after a replacement gives no order to rely on); anything else that the
        group still holds was not made by this stack, so the delete fails and says what it is."""
        blocking: list[str] = []
        leaving: list[str] = []
        owner = self.event.owner
        try:
            for kind in kinds.GROUP_CONTENTS:  # each blocks DeleteDatasetGroup
                for item in self.paginate(kind.list_method, kind.list_key, datasetGroupArn=arn):
                    entry = f"{kind.label} {item[kind.arn_member]}"
                    ours = owner is not None and owner.same_stack(self.owner_tag(str(item[kind.arn_member])))
                    going = item.get("status") in DELETING_STATUSES or ours
                    (leaving if going else blocking).append(entry)
        except ClientError as error:
            if error_code(error) == NOT_FOUND:
                return True  # the group is gone; the delete call will say so
            raise
        if blocking:
            raise DatasetGroupNotEmptyError(self.name, arn, blocking + leaving)
        if leaving:
            self.log("delete-deferred", arn=arn, waiting_for=leaving)
            return False
        return True
