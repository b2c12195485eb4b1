"""Every failure a handler reports, as named exceptions.

CloudFormation shows the message in the stack events, so each one says what happened, to which
resource, and what to do about it. Personalize's own failureReason is always quoted verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence


class CustomResourceError(Exception):
    """A failure the person deploying has to act on; the message is all they will see."""


class InvalidEventError(CustomResourceError):
    """The event is not one the Provider framework sends for our resource types."""


class InvalidPropertyError(CustomResourceError):
    """A resource property is missing or has a value Personalize would reject."""


class ResourceFailedError(CustomResourceError):
    """Personalize gave up on a create or update; its failureReason is the diagnosis."""

    def __init__(self, label: str, name: str, arn: str, reason: str, *, action: str = "") -> None:
        what = f"{label} {name} ({arn})" + (f" {action}" if action else "")
        super().__init__(f"{what} failed: {reason}")
        self.reason = reason


class NameConflictError(CustomResourceError):
    """A resource with this name exists but is not the one the template describes."""


class SchemaImmutableError(CustomResourceError):
    """The schema text changed under an unchanged name; Personalize schemas cannot be edited."""


class SchemaReplacementError(CustomResourceError):
    """Personalize would refuse the dataset's new schema (UpdateDataset); nothing was changed."""


class DatasetGroupNotEmptyError(CustomResourceError):
    """Deleting the group would need a cascade through resources this stack does not own."""

    def __init__(self, name: str, arn: str, contents: Sequence[str]) -> None:
        super().__init__(
            f"dataset group {name} ({arn}) still holds: {'; '.join(contents)}; "
            "delete them or set removal_policy: retain"
        )
        self.contents = tuple(contents)


class OwnerUnreadableError(CustomResourceError):
    """A Delete of the stack's own resource may not read its owner tag: a missing grant, not a foreign
    resource, so the Delete fails instead of keeping it silently."""


class ResourceInUseError(CustomResourceError):
    """Personalize refuses the delete because something else still depends on the resource."""


class IncrementalImportError(CustomResourceError):
    """An INCREMENTAL import was asked for before any import of the dataset became ACTIVE."""


class PreflightError(CustomResourceError):
    """The CSV header does not fit the schema: the import job would fail after running for long."""


class DataLocationError(CustomResourceError):
    """The import's S3 data could not be read for the header check."""


class NoDataYetError(DataLocationError):
    """The import's location holds no data file (yet): nothing to import, nothing to check."""


class WaitTimedOutError(CustomResourceError):
    """The handler's own deadline passed while Personalize was still busy with the resource."""
