"""What every Personalize custom resource shares: the event, its properties, logging, and the
create / describe / wait / delete mechanics the CDK Provider framework drives.

The Provider calls `on_event` once per CloudFormation request and then `is_complete` every query
interval with the same event plus whatever `on_event` returned. Nothing is kept between calls:
`is_complete` works out what it is waiting for from the request type, the properties and a fresh
Describe, so a retried or replayed event converges on the same resources instead of duplicating them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from . import clients, contract, domain, kinds
from .contract import RemovalPolicy, RequestType, ResourceType
from .errors import (
    CustomResourceError,
    InvalidEventError,
    InvalidPropertyError,
    OwnerUnreadableError,
    ResourceFailedError,
    ResourceInUseError,
    WaitTimedOutError,
)
from .kinds import ResourceKind

LOGGER = logging.getLogger("personalize.custom_resources")
LOGGER.setLevel(os.environ.get("LOG_LEVEL", "INFO"))  # Lambda's root logger stops at WARNING

CREATE: RequestType = "Create"
UPDATE: RequestType = "Update"
DELETE: RequestType = "Delete"
ON_EVENT, IS_COMPLETE = "on_event", "is_complete"
RETAIN: RemovalPolicy = "retain"
DESTROY: RemovalPolicy = "destroy"

NOT_FOUND = "ResourceNotFoundException"
ALREADY_EXISTS = "ResourceAlreadyExistsException"
IN_USE = "ResourceInUseException"
ACCESS_DENIED = "AccessDeniedException"
# owner_tag's answer for a resource whose tags the handler role may not read: its policy grants
# ListTagsForResource on everything this environment creates (grants scoped by the name prefix), so
# such a resource was made by someone else, and nothing that reads an owner tag treats it as this stack's.
# Except the Delete of the stack's own resource (its physical id): there a denial is a missing grant, and
# keep_reason fails the Delete naming it rather than keep the resource silently.
UNREADABLE_OWNER = "unreadable: the handler role may not list its tags"
LIMIT_EXCEEDED = "LimitExceededException"
THROTTLING = "ThrottlingException"

DELETING_STATUSES = frozenset({kinds.DELETE_PENDING, kinds.DELETE_IN_PROGRESS})
UPDATING_STATUSES = frozenset({kinds.UPDATE_PENDING, kinds.UPDATE_IN_PROGRESS})
BUSY_STATUSES = kinds.IN_FLIGHT_CREATE_STATUSES | UPDATING_STATUSES | DELETING_STATUSES

# AWS::CloudFormation::CustomResource's own properties (CloudFormation user guide, "Custom resource
# request objects"): not the provider's, so not in the contract. Whether CloudFormation forwards
# ServiceTimeout in ResourceProperties the guide leaves open; our choice: ignore it if it does.
CLOUDFORMATION_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout"})
NOT_COMPLETE: dict[str, Any] = {"IsComplete": False}
# on_event's answer carries the handlers' deadline to is_complete: the Provider framework passes
# is_complete the request merged with on_event's answer (aws-cdk custom-resources README, "isComplete").
WAIT_UNTIL = "PersonalizeWaitUntil"
# The request part of the owner tag of a resource whose Create timed out (docs/custom-resources.md#ownership).
ABANDONED = "abandoned-"


def wait_until(now: float | None = None) -> float | None:
    """The deadline for the is_complete polls that follow an on_event starting now, if one is set."""
    seconds = os.environ.get(domain.WAIT_SECONDS_ENV)
    return (time.time() if now is None else now) + float(seconds) if seconds else None


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or str(error)


def is_transient(error: ClientError) -> bool:
    """Throttling and 5xx that outlasted botocore's retries: worth another poll, not a failed stack."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error_code(error) == THROTTLING or int(status or 0) >= 500


def personalize_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"tagKey": key, "tagValue": value} for key, value in tags.items()]


@dataclass(frozen=True)
class ArnParts:
    partition: str
    region: str
    account: str
    resource: str  # "dataset-group/NAME"

    @classmethod
    def parse(cls, arn: str) -> ArnParts:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            raise InvalidPropertyError(f"{arn!r} is not an ARN")
        return cls(partition=parts[1], region=parts[3], account=parts[4], resource=parts[5])

    def sibling(self, resource: str) -> str:
        """An ARN in the same partition, region and account: how deterministic ARNs are derived."""
        return domain.arn(self.region, self.account, resource, self.partition)


def with_status(data: dict[str, str], description: Mapping[str, Any]) -> dict[str, str]:
    """Data's Status only when a Describe told it: right after a create or an update it is not known."""
    status = description.get("status")
    return {**data, "Status": str(status)} if status else data


# --- the event -----------------------------------------------------------------------------------


class Properties:
    """ResourceProperties as CloudFormation delivers them: every scalar arrives as a string."""

    def __init__(self, raw: Mapping[str, Any], owner: str) -> None:
        self.raw = {key: value for key, value in raw.items() if key not in CLOUDFORMATION_PROPERTIES}
        self.owner = owner

    def get(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise InvalidPropertyError(f"{self.owner}: property {key} must be a string, got {value!r}")
        return value

    def required(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise InvalidPropertyError(f"{self.owner}: property {key} is required and was not given")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.get(key) or default
        if value is None or value.upper() not in allowed:
            raise InvalidPropertyError(
                f"{self.owner}: property {key} is {value!r}; allowed: {', '.join(allowed)}"
            )
        return value.upper()

    def name(self, key: str = "Name") -> str:
        value = self.required(key)
        problem = domain.name_problem(value, key)
        if problem:
            raise InvalidPropertyError(f"{self.owner}: {problem}")
        return value

    def personalize_arn(self, key: str, resource: str) -> str:
        value = self.required(key)
        if not domain.PERSONALIZE_ARN_PATTERN.fullmatch(value) or f":{resource}/" not in value:
            raise InvalidPropertyError(
                f"{self.owner}: property {key} is {value!r}; expected a {resource} ARN"
            )
        return value

    def tags(self) -> dict[str, str]:
        """Tags as a dict; CloudFormation passes them as a list of {"Key", "Value"}."""
        raw = self.raw.get("Tags") or []
        if not isinstance(raw, list):
            raise InvalidPropertyError(f"{self.owner}: Tags must be a list of {{Key, Value}}, got {raw!r}")
        tags: dict[str, str] = {}
        for tag in raw:
            if not (isinstance(tag, Mapping) and isinstance(tag.get("Key"), str)):
                raise InvalidPropertyError(f"{self.owner}: tag {tag!r} is not a {{Key, Value}} pair")
            tags[tag["Key"]] = str(tag.get("Value", ""))
        if domain.OWNER_TAG_KEY in tags:
            raise InvalidPropertyError(
                f"{self.owner}: tag {domain.OWNER_TAG_KEY!r} is reserved; "
                "the handlers set it to prove ownership"
            )
        problems = domain.tag_problems(tags)
        allowed = domain.MAX_TAGS - 1  # room for the owner tag the handler adds at create
        if len(tags) > allowed:
            problems.append(
                f"{len(tags)} tags; at most {allowed} (a resource can have at most {domain.MAX_TAGS}, "
                f"and the handlers add {domain.OWNER_TAG_KEY})"
            )
        if problems:
            raise InvalidPropertyError(f"{self.owner}: Tags: " + "; ".join(problems))
        return tags

    def check_known(self, resource_type: ResourceType) -> None:
        """Refuse a property the contract does not name for this type: a misspelt one would be ignored."""
        required, optional = contract.property_names(resource_type)
        allowed = required | optional
        unknown = sorted(set(self.raw) - allowed)
        if unknown:
            raise InvalidPropertyError(
                f"{self.owner}: unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )

    def check_removal_policy(self) -> None:
        value = self.get("RemovalPolicy")
        if value is not None and value.lower() not in contract.REMOVAL_POLICIES:
            raise InvalidPropertyError(
                f"{self.owner}: property RemovalPolicy is {value!r}; "
                f"allowed: {', '.join(contract.REMOVAL_POLICIES)}"
            )

    def removal_policy(self) -> RemovalPolicy:
        """Anything but an explicit "destroy" keeps the resource: a Delete never fails over a bad value,
        and losing data is never the default."""
        value = (self.get("RemovalPolicy") or RETAIN).lower()
        return DESTROY if value == DESTROY else RETAIN


@dataclass(frozen=True)
class Owner:
    """Who creates a resource: stack, stack incarnation, logical resource and request; the owner tag.

    The StackId ends in a UUID CloudFormation gives each stack when it is created, so a stack deleted
    and created again under the same name is another owner: it adopts what its predecessor retained
    and never deletes it. The RequestId tells a failure of this request from one an earlier attempt left.
    """

    stack_name: str
    stack_uuid: str
    logical_id: str
    request_id: str

    @classmethod
    def of(cls, stack_id: str, logical_id: str, request_id: str) -> Owner | None:
        """None when the StackId is not a CloudFormation stack ARN: then nothing can be proved ours."""
        parts = stack_id.split(":", 5)[-1].split("/")
        if len(parts) != 3 or parts[0] != "stack" or not all(parts) or not logical_id:
            return None
        return cls(stack_name=parts[1], stack_uuid=parts[2], logical_id=logical_id, request_id=request_id)

    def fields(self) -> tuple[str, str, str, str]:
        logical = self.logical_id
        longest_request = len(ABANDONED) + len(self.request_id)  # the same logical part either way
        if len(self.stack_name) + len(self.stack_uuid) + len(logical) + longest_request + 3 > (
            domain.TAG_VALUE_MAX_LENGTH
        ):
            logical = hashlib.sha256(logical.encode()).hexdigest()[:32]
        return (self.stack_name, self.stack_uuid, logical, self.request_id)

    @property
    def tag_value(self) -> str:
        return "/".join(self.fields())

    @property
    def abandoned_tag_value(self) -> str:
        """The owner tag of a resource whose Create this request gave up on while Personalize was still
        creating it: the rollback's Delete may not be able to delete it, and then the next deploy takes it."""
        return "/".join((*self.fields()[:3], ABANDONED + self.request_id))

    @staticmethod
    def abandoned(tag_value: str | None) -> bool:
        parts = Owner.parse(tag_value)
        return len(parts) == 4 and parts[3].startswith(ABANDONED)

    @staticmethod
    def parse(tag_value: str | None) -> tuple[str, ...]:
        return tuple((tag_value or "").split("/", 3))

    def created(self, tag_value: str | None) -> bool:
        """Created for this logical resource by this stack incarnation (in any of its requests)."""
        return self.parse(tag_value)[:3] == self.fields()[:3]

    def same_stack(self, tag_value: str | None) -> bool:
        """Created by this stack incarnation, for any of its resources."""
        return self.parse(tag_value)[:2] == self.fields()[:2]

    def same_resource(self, tag_value: str | None) -> bool:
        """Created for this logical resource by a stack of this name, in this incarnation or an earlier."""
        theirs, ours = self.parse(tag_value), self.fields()
        return len(theirs) == 4 and (theirs[0], theirs[2]) == (ours[0], ours[2])

    def this_request(self, tag_value: str | None) -> bool:
        return self.parse(tag_value) == self.fields()


@dataclass(frozen=True)
class ResourceEvent:
    request_type: RequestType
    resource_type: str
    logical_id: str
    request_id: str
    physical_id: str | None
    properties: Properties
    old_properties: Properties
    owner: Owner | None = None
    wait_until: float | None = None  # epoch seconds; from on_event's answer
    started: Mapping[str, Any] | None = None  # on_event's Data, which is_complete's event carries too

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ResourceEvent:
        request_type = next(
            (known for known in contract.REQUEST_TYPES if known == raw.get("RequestType")), None
        )
        if request_type is None:
            raise InvalidEventError(
                f"RequestType is {raw.get('RequestType')!r}; "
                f"expected one of {', '.join(contract.REQUEST_TYPES)}"
            )
        resource_type = str(raw.get("ResourceType", ""))
        logical_id = str(raw.get("LogicalResourceId", ""))
        owner = f"{resource_type} {logical_id}"
        physical_id = raw.get("PhysicalResourceId")
        return cls(
            request_type=request_type,
            resource_type=resource_type,
            logical_id=logical_id,
            request_id=str(raw.get("RequestId", "")),
            physical_id=str(physical_id) if physical_id else None,
            properties=Properties(raw.get("ResourceProperties") or {}, owner),
            old_properties=Properties(raw.get("OldResourceProperties") or {}, owner),
            owner=Owner.of(str(raw.get("StackId", "")), logical_id, str(raw.get("RequestId", ""))),
            wait_until=_number(raw.get(WAIT_UNTIL)),
            started=raw.get("Data") if isinstance(raw.get("Data"), Mapping) else None,
        )

    def changed_properties(self) -> frozenset[str]:
        new, old = self.properties.raw, self.old_properties.raw
        return frozenset(key for key in new.keys() | old.keys() if new.get(key) != old.get(key))


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def log_decision(event: ResourceEvent, phase: str, decision: str, **details: Any) -> None:
    """One JSON line per decision. Built from chosen fields only, so the ResponseURL never appears."""
    record: dict[str, Any] = {
        "phase": phase,
        "resource_type": event.resource_type,
        "logical_id": event.logical_id,
        "request_type": event.request_type,
        "request_id": event.request_id,
        "decision": decision,
        "arn": details.pop("arn", event.physical_id),
        **{key: value for key, value in details.items() if value is not None},
    }
    LOGGER.info(json.dumps(record, default=str))


# --- the shared mechanics --------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where a create left the resource: its ARN, and its description when one was at hand."""

    arn: str
    description: Mapping[str, Any] | None = None


class PersonalizeResource(ABC):
    """Base of every resource type: subclasses describe their API names and override the hooks.

    Create and replacement go through `find_or_create` (describe or list before create, so a
    replayed event adopts instead of duplicating). `is_complete` describes and, when the resource
    is missing during a create, calls `ensure` again: that is how deferred creates are retried.
    """

    resource_type: ClassVar[ResourceType]
    kind: ClassVar[ResourceKind]  # its API names, ARN segment, label and statuses
    name_property: ClassVar[str] = "Name"
    replacing_properties: ClassVar[frozenset[str]] = frozenset()
    tagged: ClassVar[bool] = True
    has_removal_policy: ClassVar[bool] = True

    def __init__(self, event: ResourceEvent, phase: str) -> None:
        self.event = event
        self.props = event.properties
        self.phase = phase
        self.last_description: Mapping[str, Any] | None = None
        self.personalize = clients.personalize()

    # --- hooks -------------------------------------------------------------------------------

    def validate(self) -> None:
        """Check the properties a Create or Update needs, before any API call."""
        self.props.check_known(self.resource_type)
        self.props.name(self.name_property)
        self.props.tags()
        if self.has_removal_policy:
            self.props.check_removal_policy()

    @abstractmethod
    def find_or_create(self) -> Placement:
        """Adopt the resource the properties describe if it exists, else create it."""

    def ensure(self) -> None:
        """Called by is_complete while the resource is missing during a create: create it (again)."""
        self.find_or_create()

    @abstractmethod
    def data(self, arn: str, description: Mapping[str, Any] | None) -> dict[str, str]:
        """The attributes Fn::GetAtt reads; `description` is None right after a create."""

    def update_in_place(self, arn: str, changed: frozenset[str]) -> None:
        self.log("updated-in-place" if self.sync_tags(arn, changed) else "no-op", changed=sorted(changed))

    def settled(self, arn: str, description: Mapping[str, Any]) -> bool:
        """True once the create or update is done; raises when Personalize reports a failure."""
        if not self.kind.has_status:
            return True
        status = description.get("status")
        if status == kinds.ACTIVE:
            return True
        if status in kinds.FAILED_STATUSES:
            reason = (
                description.get("failureReason") or f"{status} (Personalize gives no failureReason for it)"
            )
            raise ResourceFailedError(
                self.kind.label,
                self.display_name(description),
                arn,
                reason + self.discard_failed(arn, status),
            )
        if status in DELETING_STATUSES:
            raise CustomResourceError(
                f"{self.kind.label} {self.display_name(description)} ({arn}) is {status} while the stack "
                "waits for it to become ACTIVE; something outside this stack is deleting it"
            )
        self.log("waiting", arn=arn, status=status)
        return False

    def discard_failed(self, arn: str, status: object) -> str:
        """Delete a resource this very request created that ended CREATE FAILED; what to add to the error.

        The rollback's Delete (or an update's cleanup) would reach it too, since the FAILED response of a
        failed is_complete carries its ARN; but it holds nothing, so it goes now, which frees its name and,
        for a recommender, its dataset's delete sooner (docs/custom-resources.md#timeouts).
        """
        owner = self.event.owner
        if (
            status != kinds.CREATE_FAILED
            or self.kind.delete_method is None
            or not self.tagged
            or owner is None
        ):
            return ""
        if not owner.this_request(self.owner_tag(arn)):
            return ""
        self.request_delete(arn)
        return f" (the failed {self.kind.label} is being deleted, so that its name can be used again)"

    def locate(self) -> tuple[str, Mapping[str, Any] | None]:
        """The resource is_complete waits for and its current description (None: not there)."""
        arn = self.physical_arn()
        return arn, self.describe(arn)

    def ready_to_delete(self, arn: str) -> bool:
        """Checks before a delete; False defers it to the next is_complete poll."""
        return True

    def busy_reason(self, arn: str, description: Mapping[str, Any]) -> str | None:
        """Why Personalize refuses a delete for now, when waiting will cure it."""
        status = description.get("status")
        return f"it is {status}" if status in BUSY_STATUSES else None

    def delete_refused(self, arn: str, error: ClientError) -> CustomResourceError:
        return ResourceInUseError(
            f"{self.kind.label} {self.name} ({arn}) cannot be deleted: {error_message(error).rstrip('.')}. "
            "Delete what depends on it first, or set removal_policy: retain."
        )

    # --- entry points --------------------------------------------------------------------------

    def on_event(self) -> dict[str, Any]:
        if self.event.request_type == DELETE:
            return self.delete()
        self.validate()
        if self.event.request_type == CREATE:
            return self.respond(self.find_or_create())
        return self.update()

    def is_complete(self) -> dict[str, Any]:
        try:
            if self.event.request_type == DELETE:
                answer = self.deletion_progress()
            else:
                answer = self.creation_progress()
        except ClientError as error:
            if not is_transient(error):
                raise
            self.log("transient-error", error=error_code(error) or "HTTP 5xx", message=error_message(error))
            answer = NOT_COMPLETE
        if not answer.get("IsComplete"):
            self.check_deadline()
        return answer

    def check_deadline(self) -> None:
        """Past the deadline on_event set: say which resource, its last status and what to do, before
        the Provider's waiter (and then CloudFormation) times out with a message that says neither."""
        deadline = self.event.wait_until
        if deadline is None or time.time() < deadline:
            return
        seen = self.last_description or {}
        status = seen.get("status") or ("not created yet" if self.event.request_type != DELETE else "unknown")
        arn = str(seen.get(self.kind.arn_member) or self.event.physical_id or "")
        if self.event.request_type == DELETE:
            todo = (
                "Personalize goes on deleting it (or refuses while something depends on it): once it is "
                "gone, delete the stack again (or continue the rollback)."
            )
        else:
            todo = (
                "Personalize goes on working on it and this stack rolls back. Deploy again once it is ACTIVE "
                f"(aws personalize {self.kind.describe_method.replace('_', '-')}); if it takes longer than "
                "an hour by nature (recommender training), set wait_for_active: false."
            )
        started = int(time.time() - deadline + self.waited_seconds())
        if self.event.request_type != DELETE and arn and self.mark_abandoned(arn):
            todo += (
                " The rollback deletes it once Personalize lets it (removal_policy destroy); if it stays, "
                "the next deploy of this stack takes it over."
            )
        raise WaitTimedOutError(
            f"{self.kind.label} {self.display_name(seen)} ({arn}) was still {status} when this stack stopped "
            f"waiting ({self.event.request_type} started {started} s ago; provider total_timeout_seconds). "
            f"{todo}"
        )

    @staticmethod
    def waited_seconds() -> float:
        return float(os.environ.get(domain.WAIT_SECONDS_ENV) or 0)

    # --- create and update ---------------------------------------------------------------------

    def update(self) -> dict[str, Any]:
        changed = self.event.changed_properties()
        replacing = changed & self.replacing_properties
        if replacing:
            self.log("replace", changed=sorted(replacing))
            return self.respond(self.find_or_create())
        arn = self.physical_arn()
        self.update_in_place(arn, changed)
        return self.respond(Placement(arn))

    def creation_progress(self) -> dict[str, Any]:
        arn, description = self.locate()
        if description is not None and self.leftover(description):
            self.clear_leftover(arn, description)
            return NOT_COMPLETE
        if description is None:
            self.ensure()
            return NOT_COMPLETE
        if not self.settled(arn, description):
            return NOT_COMPLETE
        self.log("complete", arn=arn, status=description.get("status"))
        response: dict[str, Any] = {"IsComplete": True, "Data": self.data(arn, description)}
        if arn != self.event.physical_id:
            response["PhysicalResourceId"] = arn
        return response

    def adopt_or_create(
        self,
        find: Callable[[], Mapping[str, Any] | None],
        create: Callable[[], str],
        check: Callable[[Mapping[str, Any]], None],
    ) -> Placement:
        """Find first; create only when nothing is found; `check` that a found one is really ours.

        A create that loses a race with a concurrent attempt (ResourceAlreadyExists) adopts the winner.
        """
        existing = find()
        if existing is not None and self.leftover(existing):
            arn = str(existing[self.kind.arn_member])
            self.clear_leftover(arn, existing)  # is_complete waits until it is gone, then creates anew
            return Placement(arn)
        if existing is None:
            try:
                arn = create()
            except ClientError as error:
                existing = find() if error_code(error) == ALREADY_EXISTS else None
                if existing is None:
                    raise
            else:
                self.log("created", arn=arn)
                return Placement(arn)
        check(existing)
        arn = str(existing[self.kind.arn_member])
        self.log("adopted", arn=arn, status=existing.get("status"))
        self.claim_abandoned(arn)
        return Placement(arn, existing)

    def find_named(self, name: str) -> dict[str, Any] | None:
        """For ARNs the handler cannot derive (they need the account): list, match the name, describe."""
        for summary in self.paginate(self.kind.list_method, self.kind.list_key):
            if summary[self.kind.name_member] == name:
                return self.describe(summary[self.kind.arn_member])
        return None

    def respond(self, placement: Placement) -> dict[str, Any]:
        return {"PhysicalResourceId": placement.arn, "Data": self.data(placement.arn, placement.description)}

    def sync_tags(self, arn: str, changed: frozenset[str]) -> bool:
        """Apply the template's tag changes in place; tags added outside the stack are left alone."""
        if self.resource_type not in contract.TAGS_UPDATED_IN_PLACE or "Tags" not in changed:
            return False
        new, old = self.props.tags(), self.event.old_properties.tags()
        removed = sorted(old.keys() - new.keys())
        added = {key: value for key, value in new.items() if old.get(key) != value}
        if removed:
            self.personalize.untag_resource(resourceArn=arn, tagKeys=removed)
        if added:
            self.personalize.tag_resource(resourceArn=arn, tags=personalize_tags(added))
        self.log("tags-updated", arn=arn, tags_set=sorted(added), tags_removed=removed)
        return True

    def create_tags(self) -> dict[str, Any]:
        """The template's tags plus the owner tag: what later proves this stack may delete the resource."""
        if not self.tagged:
            return {}
        tags = self.props.tags()
        if self.event.owner is not None:
            tags[domain.OWNER_TAG_KEY] = self.event.owner.tag_value
        return {"tags": personalize_tags(tags)} if tags else {}

    # --- ownership -----------------------------------------------------------------------------

    def owner_tag(self, arn: str) -> str | None:
        """The owner tag's value; None when there is none or the resource is gone; UNREADABLE_OWNER when
        the handler role may not list its tags (someone else's: never deleted, never adopted as ours)."""
        try:
            tags = self.personalize.list_tags_for_resource(resourceArn=arn).get("tags", [])
        except ClientError as error:
            if error_code(error) == NOT_FOUND:
                return None
            if error_code(error) == ACCESS_DENIED:
                self.log("owner-unreadable", arn=arn, message=error_message(error))
                return UNREADABLE_OWNER
            raise
        return next((str(tag["tagValue"]) for tag in tags if tag.get("tagKey") == domain.OWNER_TAG_KEY), None)

    def mark_abandoned(self, arn: str) -> bool:
        """A Create that times out leaves its resource still being created. The rollback's Delete reaches
        the handler with its ARN (docs/custom-resources.md#timeouts) and waits until Personalize lets it go,
        but it may run out of time, and removal_policy retain keeps it. Mark the owner tag so that the next
        deploy of this stack takes the resource over instead of treating it as someone else's. True when
        marked."""
        owner = self.event.owner
        if owner is None or not self.tagged or not self.is_own_arn(arn) or self.event.request_type != CREATE:
            return False
        try:
            if not owner.this_request(self.owner_tag(arn)):
                return False  # adopted, not created by this request: whoever made it keeps it
            self.personalize.tag_resource(
                resourceArn=arn,
                tags=personalize_tags({domain.OWNER_TAG_KEY: owner.abandoned_tag_value}),
            )
        except ClientError as error:
            self.log("abandon-mark-failed", arn=arn, error=error_code(error), message=error_message(error))
            return False
        self.log("abandoned", arn=arn)
        return True

    def claim_abandoned(self, arn: str) -> None:
        """Take over what an earlier attempt at this resource (this stack name and logical id) abandoned
        when its Create timed out: from now on this stack's removal policy decides its fate."""
        owner = self.event.owner
        if owner is None or not self.tagged:
            return
        tag = self.owner_tag(arn)
        if not (Owner.abandoned(tag) and owner.same_resource(tag)):
            return
        self.personalize.tag_resource(
            resourceArn=arn, tags=personalize_tags({domain.OWNER_TAG_KEY: owner.tag_value})
        )
        self.log("claimed-abandoned", arn=arn, was=tag)

    def created_here(self, arn: str) -> bool:
        """True only when the owner tag names this stack incarnation and this logical resource."""
        owner = self.event.owner
        return owner is not None and owner.created(self.owner_tag(arn))

    def leftover(self, existing: Mapping[str, Any]) -> bool:
        """A CREATE FAILED resource (or one being deleted) that an earlier attempt at this very resource
        left behind: it holds nothing and only blocks the name, so it is deleted and created again
        instead of being adopted and failing forever. A failure of this request is not a leftover."""
        status = existing.get("status")
        if status not in DELETING_STATUSES | {kinds.CREATE_FAILED} or not self.tagged:
            return False
        owner, tag = self.event.owner, self.owner_tag(str(existing[self.kind.arn_member]))
        return owner is not None and owner.same_resource(tag) and not owner.this_request(tag)

    def clear_leftover(self, arn: str, existing: Mapping[str, Any]) -> None:
        if existing.get("status") not in DELETING_STATUSES:
            self.request_delete(arn)
        self.log("replacing-failed-leftover", arn=arn, status=existing.get("status"))

    # --- delete --------------------------------------------------------------------------------

    def delete_skip_reason(self) -> str | None:
        """Reasons to leave the resource alone that need no API call."""
        if self.kind.delete_method is None:
            return "not-deletable"
        if not self.is_own_arn(self.event.physical_id):
            return "not-an-arn"  # e.g. a failed Create that never got as far as an ARN
        return None

    def keep_reason(self, arn: str, description: Mapping[str, Any]) -> str | None:
        """Why an existing resource outlives this Delete (None: delete it). The ownership rule of
        docs/custom-resources.md: only what this stack created is ever deleted; a CREATE FAILED one always
        is, because it holds no data; anything else only when its removal policy says destroy."""
        if self.tagged:
            tag = self.owner_tag(arn)
            if tag == UNREADABLE_OWNER:
                # Unreadable means someone else's only for what the stack might adopt or find in a group:
                # this is the stack's own resource, so the grant is missing (SCP, boundary, propagation).
                raise OwnerUnreadableError(
                    f"{self.kind.label} {self.name} ({arn}): the handler role may not read its tags "
                    "(personalize:ListTagsForResource was denied), so this Delete cannot tell whether the "
                    "stack created it and deletes nothing; grant personalize:ListTagsForResource on it to "
                    "the handler role (check SCPs and permission boundaries) and delete again"
                )
            owner = self.event.owner
            if owner is None or not owner.created(tag):
                return "adopted-kept"
        if self.kind.has_status and description.get("status") == kinds.CREATE_FAILED:
            return None
        if self.has_removal_policy and self.props.removal_policy() == RETAIN:
            return "retained"
        return None

    def try_delete(self, arn: str, description: Mapping[str, Any] | None) -> str | None:
        """Request the delete unless the resource stays; the reason it stays (then the Delete is done)."""
        if description is None:
            return "already-gone"
        reason = self.keep_reason(arn, description)
        if reason is None:
            self.request_delete(arn, description)
        return reason

    def delete(self) -> dict[str, Any]:
        arn = self.event.physical_id or ""
        reason = self.delete_skip_reason() or self.try_delete(arn, self.describe(arn))
        if reason is not None:
            self.log(reason, arn=arn)
        return {"PhysicalResourceId": arn, "Data": {}}

    def deletion_progress(self) -> dict[str, Any]:
        reason = self.delete_skip_reason()
        if reason is not None:
            self.log("complete", reason=reason)
            return {"IsComplete": True}
        arn = self.physical_arn()
        description = self.describe(arn)
        if description is None:
            self.log("deleted")
            return {"IsComplete": True}
        status = description.get("status")
        if status in DELETING_STATUSES:
            self.log("waiting", status=status)
            return NOT_COMPLETE
        reason = self.try_delete(arn, description)  # refused or deferred earlier: try again
        if reason is not None:
            self.log("complete", reason=reason)
            return {"IsComplete": True}
        return NOT_COMPLETE

    def request_delete(self, arn: str, seen: Mapping[str, Any] | None = None) -> None:
        """Delete; a refusal that waiting cures (by the status `seen` before the call, or now) is deferred."""
        method = self.kind.delete_method
        if method is None or not self.ready_to_delete(arn):
            return
        try:
            getattr(self.personalize, method)(**{self.kind.arn_member: arn})
        except ClientError as error:
            code = error_code(error)
            if code == NOT_FOUND:
                self.log("already-gone", arn=arn)
                return
            if code != IN_USE:
                raise
            description = self.describe(arn)
            if description is None:
                self.log("already-gone", arn=arn)
                return
            waiting_for = self.busy_reason(arn, description) or (
                self.busy_reason(arn, seen) if seen is not None else None
            )
            if waiting_for is None:
                raise self.delete_refused(arn, error) from error
            self.log("delete-deferred", arn=arn, waiting_for=waiting_for)
            return
        self.log("delete-requested", arn=arn)

    # --- helpers -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.props.get(self.name_property) or self.event.old_properties.get(self.name_property) or "?"

    def display_name(self, description: Mapping[str, Any] | None) -> str:
        return str((description or {}).get(self.kind.name_member) or self.name)

    def physical_arn(self) -> str:
        arn = self.event.physical_id
        if not self.is_own_arn(arn):
            raise InvalidEventError(
                f"{self.event.resource_type} {self.event.logical_id}: PhysicalResourceId {arn!r} is not a "
                f"{self.kind.label} ARN, so there is nothing to {self.event.request_type.lower()}"
            )
        return str(arn)

    @classmethod
    def is_own_arn(cls, arn: str | None) -> bool:
        return bool(arn) and bool(
            domain.PERSONALIZE_ARN_PATTERN.fullmatch(str(arn)) and f":{cls.kind.arn_resource}/" in str(arn)
        )

    def describe(self, arn: str) -> dict[str, Any] | None:
        try:
            response = getattr(self.personalize, self.kind.describe_method)(**{self.kind.arn_member: arn})
        except ClientError as error:
            if error_code(error) == NOT_FOUND:
                return None
            raise
        description: dict[str, Any] = response[self.kind.describe_key]
        self.last_description = description
        return description

    def paginate(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        for page in self.personalize.get_paginator(operation).paginate(**params):
            yield from page.get(key, [])

    def log(self, decision: str, **details: Any) -> None:
        log_decision(self.event, self.phase, decision, **details)
