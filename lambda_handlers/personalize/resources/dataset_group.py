"""Custom::PersonalizeDatasetGroup: a Domain dataset group, deleted only when it is empty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from .. import contract, domain, kinds
from ..errors import DatasetGroupNotEmptyError, InvalidPropertyError, NameConflictError
from ..framework import (
    DELETING_STATUSES,
    IN_USE,
    NOT_FOUND,
    UNREADABLE_OWNER,
    Owner,
    PersonalizeResource,
    Placement,
    error_code,
    with_status,
)

# How to delete what an earlier attempt left in an empty group, in the order Personalize accepts: a dataset
# only once no tracker uses it. Anything else in the group counts as data and is never cleared.
CLEARABLE = {kinds.EVENT_TRACKER: 0, kinds.DATASET: 1}
HOLDING_IMPORT_STATUSES = kinds.IN_FLIGHT_CREATE_STATUSES | {kinds.ACTIVE}


class DatasetGroup(PersonalizeResource):
    resource_type = contract.DATASET_GROUP
    kind = kinds.DATASET_GROUP
    # Personalize cannot change any of these on an existing group.
    replacing_properties = frozenset({"Name", "Domain", "RoleArn", "KmsKeyArn"})

    def validate(self) -> None:
        super().validate()
        self.props.choice("Domain", contract.DOMAINS)
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
            "domain": self.props.choice("Domain", contract.DOMAINS),
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
            actual = self.settings(existing)
            if actual != wanted and existing.get("status") not in DELETING_STATUSES:
                self.refuse_earlier_attempt(existing)
            if actual != wanted or existing.get("status") in DELETING_STATUSES:
                raise NameConflictError(
                    f"dataset group {name} already exists ({existing[self.kind.arn_member]}, "
                    f"{existing.get('status')}, settings {actual}) and does not match the template's "
                    f"{wanted}. Changing Domain, RoleArn or KmsKeyArn replaces the group, and a replacement "
                    "needs a new Name; otherwise delete the existing group first."
                )

        return self.adopt_or_create(lambda: self.find_named(name), create, check)

    @staticmethod
    def settings(existing: Mapping[str, Any]) -> dict[str, str]:
        return {
            member: existing[member] for member in ("domain", "roleArn", "kmsKeyArn") if existing.get(member)
        }

    def earlier_stack_tag(self, existing: Mapping[str, Any]) -> str | None:
        """The owner tag, when a stack of this name made the group for this logical id in an earlier
        incarnation (one deleted since: a rolled-back first deploy, or a destroy under retain)."""
        owner, tag = self.event.owner, self.owner_tag(str(existing[self.kind.arn_member]))
        if owner is None or not owner.same_resource(tag) or owner.same_stack(tag):
            return None
        return tag

    def data_evidence(self, arn: str, tag: str) -> list[str]:
        """Why the group may hold data; empty when it provably holds none.

        Data is an import job ACTIVE or still running since its dataset was created, or anything that
        only exists on data (a recommender, a solution, a filter), or anything that earlier stack did not
        make. Personalize has no API that shows events recorded with PutEvents, so an event tracker counts
        as data unless the Interactions dataset was bulk-fed and none of its imports succeeded: a stack
        with a data source completes only once its imports are ACTIVE, so that stack never completed and
        never published the tracker's tracking id (our choice, docs/custom-resources.md#ownership).
        """
        maker = Owner.parse(tag)[:2]
        evidence: list[str] = []
        trackers: list[str] = []
        interactions_attempted = False
        for kind in kinds.GROUP_CONTENTS:
            for item in self.paginate(kind.list_method, kind.list_key, datasetGroupArn=arn):
                item_arn = str(item[kind.arn_member])
                if item.get("status") in DELETING_STATUSES:
                    continue
                if Owner.parse(self.owner_tag(item_arn))[:2] != maker:
                    evidence.append(f"{kind.label} {item_arn}, which that stack did not create")
                elif kind == kinds.EVENT_TRACKER:
                    trackers.append(item_arn)
                elif kind == kinds.DATASET:
                    holding, attempted = self.imports_since_creation(item_arn)
                    evidence += holding
                    interactions_attempted |= attempted and item_arn.endswith("/INTERACTIONS")
                else:
                    evidence.append(f"{kind.label} {item_arn}")
        if not interactions_attempted:
            evidence += [
                f"event tracker {tracker_arn}, which may have recorded events (Personalize cannot list them)"
                for tracker_arn in trackers
            ]
        return evidence

    def imports_since_creation(self, dataset_arn: str) -> tuple[list[str], bool]:
        """Import jobs that hold (or will hold) data in this dataset, and whether any was attempted.
        A dataset deleted and made again has the same ARN: older jobs imported into its predecessor."""
        try:
            created = self.personalize.describe_dataset(datasetArn=dataset_arn)["dataset"]["creationDateTime"]
        except ClientError as error:
            if error_code(error) == NOT_FOUND:
                return [], False
            raise
        jobs = [
            job
            for job in self.paginate(
                kinds.IMPORT_JOB.list_method, kinds.IMPORT_JOB.list_key, datasetArn=dataset_arn
            )
            if job["creationDateTime"] >= created
        ]
        holding = [
            f"import job {job['datasetImportJobArn']} ({job['status']})"
            for job in jobs
            if job["status"] in HOLDING_IMPORT_STATUSES
        ]
        return holding, bool(jobs)

    def stale_attempt(self, existing: Mapping[str, Any]) -> bool:
        """An ACTIVE group an earlier stack of this name made with settings this template no longer
        asks for, holding no data: it only blocks the name, so it is cleared and made anew."""
        if existing.get("status") != kinds.ACTIVE or self.settings(existing) == self.wanted():
            return False
        tag = self.earlier_stack_tag(existing)
        return tag is not None and not self.data_evidence(str(existing[self.kind.arn_member]), tag)

    def leftover(self, existing: Mapping[str, Any]) -> bool:
        return super().leftover(existing) or self.stale_attempt(existing)

    def clear_leftover(self, arn: str, existing: Mapping[str, Any]) -> None:
        """An earlier attempt's empty group goes after its contents: event trackers first, then datasets."""
        if existing.get("status") == kinds.ACTIVE and self.clear_contents(arn):
            return
        super().clear_leftover(arn, existing)

    def clear_contents(self, arn: str) -> bool:
        """Request the deletes the group's contents allow now; True while any content is left."""
        present: list[tuple[int, kinds.ResourceKind, str, str]] = []
        for kind in kinds.GROUP_CONTENTS:
            for item in self.paginate(kind.list_method, kind.list_key, datasetGroupArn=arn):
                tier = CLEARABLE.get(kind, len(CLEARABLE))  # past the clearable tiers: waited for only
                present.append((tier, kind, str(item[kind.arn_member]), str(item.get("status"))))
        if not present:
            return False
        first_tier = min(tier for tier, *_ in present)
        for tier, kind, item_arn, status in present:
            if tier != first_tier or kind not in CLEARABLE:
                continue
            # A deletion in progress is followed by Describe, the authoritative status, not by the listing.
            call = kind.describe_method if status in DELETING_STATUSES else kind.delete_method
            try:
                getattr(self.personalize, str(call))(**{kind.arn_member: item_arn})
            except ClientError as error:
                if error_code(error) not in (NOT_FOUND, IN_USE):
                    raise
        self.log(
            "clearing-earlier-attempt",
            arn=arn,
            waiting_for=[f"{kind.label} {item_arn} ({status})" for _, kind, item_arn, status in present],
        )
        return True

    def refuse_earlier_attempt(self, existing: Mapping[str, Any]) -> None:
        """A group an earlier stack of this name left, with other settings and with data: never deleted,
        and never adoptable (Personalize cannot change a group's key or role). Say what to do."""
        tag = self.earlier_stack_tag(existing)
        if tag is None:
            return
        arn = str(existing[self.kind.arn_member])
        evidence = self.data_evidence(arn, tag)
        if not evidence:
            return
        raise NameConflictError(
            f"dataset group {self.name} ({arn}) was left by an earlier stack named {Owner.parse(tag)[0]} "
            f"(KMS key {existing.get('kmsKeyArn') or 'none'}, role {existing.get('roleArn') or 'none'}), "
            f"and this template asks for KMS key {self.props.get('KmsKeyArn') or 'none'} and role "
            f"{self.props.get('RoleArn') or 'none'}. Personalize cannot change a group's key or role, and "
            f"the group may hold data ({'; '.join(evidence)}), so this stack neither deletes nor adopts it. "
            "Two ways out. To keep it and its data, deploy beside it: give the new group a name not used "
            f"yet in the config (names: {{dataset_group: {self.name}-2}}) and deploy again. To discard it "
            "and its data, delete its contents and then the group, in this order, each once the one "
            "before is gone (its describe- command answers ResourceNotFoundException), then deploy again: "
            f"{'; '.join(self.discard_commands(arn))}. {unlisted_contents(arn)}"
        )

    def discard_commands(self, arn: str) -> list[str]:
        """The AWS CLI commands that delete the group: what depends on the datasets first, then the
        datasets, then the group (Personalize refuses a dataset while a tracker feeds it)."""
        contents = [
            (kind, str(item[kind.arn_member]))
            for kind in kinds.GROUP_CONTENTS
            for item in self.paginate(kind.list_method, kind.list_key, datasetGroupArn=arn)
        ]
        ordered = [*sorted(contents, key=lambda pair: pair[0] == kinds.DATASET), (self.kind, arn)]
        return [
            f"aws personalize delete-{_kebab(kind.noun)} --{_kebab(kind.arn_member)} {item_arn}"
            for kind, item_arn in ordered
        ]

    def data(self, arn: str, description: Mapping[str, Any] | None) -> dict[str, str]:
        description = description or {}
        data = {
            "DatasetGroupArn": arn,
            "Name": str(description.get("name") or self.name),
            "Domain": str(description.get("domain") or self.props.get("Domain") or ""),
        }
        return with_status(data, description)

    def gone(self, kind: kinds.ResourceKind, arn: str) -> bool:
        """Whether Describe no longer finds the resource (a listing can outlive it by a moment); only for
        the kinds this stack manages, whose Describe the handler role may call."""
        try:
            getattr(self.personalize, kind.describe_method)(**{kind.arn_member: arn})
        except ClientError as error:
            if error_code(error) == NOT_FOUND:
                return True
            raise
        return False

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
                    item_arn = str(item[kind.arn_member])
                    tag = self.owner_tag(item_arn)
                    if tag is None and kind in kinds.MANAGED and self.gone(kind, item_arn):
                        continue  # deleted between the listing and the tag lookup: it blocks nothing
                    entry = f"{kind.label} {item_arn}"
                    if tag == UNREADABLE_OWNER:
                        entry += " (not made by this stack: the handler role may not even read its tags)"
                    ours = owner is not None and owner.same_stack(tag)
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


def unlisted_contents(arn: str) -> str:
    """What also blocks the group's delete but is not in the commands: campaigns hang off solutions (not
    the group, so not in kinds.GROUP_CONTENTS), and metric attributions are no kind of this project;
    anything made outside the stack this way has to go first."""
    return (
        "Campaigns and metric attributions are not among these commands: delete any first, the campaigns "
        "before their solution (aws personalize list-campaigns --solution-arn SOLUTION_ARN; "
        f"aws personalize list-metric-attributions --dataset-group-arn {arn})."
    )


def _kebab(name: str) -> str:
    """An API name as the AWS CLI spells it: EventTracker, eventTrackerArn -> event-tracker(-arn)."""
    return "".join(f"-{char.lower()}" if char.isupper() else char for char in name).lstrip("-")
