"""Errors the emulator answers with, named after the service's wire codes.

Each class carries the `__type` code and HTTP status a real Personalize endpoint would send, so
the server turns any of them into the JSON 1.1 error body botocore parses into a ClientError.
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    """An error a client sees as `{"__type": code, "message": ...}` with `status`."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, str]:
        return {"__type": self.code, "message": self.message}


class InvalidInputError(ServiceError):
    code = "InvalidInputException"


class ResourceNotFoundError(ServiceError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsError(ServiceError):
    code = "ResourceAlreadyExistsException"


class ResourceInUseError(ServiceError):
    code = "ResourceInUseException"


class LimitExceededError(ServiceError):
    code = "LimitExceededException"


class TooManyTagsError(ServiceError):
    code = "TooManyTagsException"


class TooManyTagKeysError(ServiceError):
    code = "TooManyTagKeysException"


class AccessDeniedError(ServiceError):
    """IAM refused the call (the emulator's authorizer, docs/emulator.md "Permission model")."""

    code = "AccessDeniedException"


class InvalidNextTokenError(ServiceError):
    code = "InvalidNextTokenException"


class ThrottlingError(ServiceError):
    code = "ThrottlingException"


class SerializationError(ServiceError):
    """The body is not JSON or a member has the wrong JSON type."""

    code = "SerializationException"


class UnknownOperationError(ServiceError):
    """The X-Amz-Target names no Personalize operation."""

    code = "UnknownOperationException"


class UnsupportedOperationError(ServiceError):
    """A real Personalize operation the emulator does not implement (solutions, campaigns, ...)."""

    code = "UnsupportedOperationException"


class InternalFailureError(ServiceError):
    code = "InternalFailure"
    status = 500


class ServiceUnavailableError(ServiceError):
    code = "ServiceUnavailableException"
    status = 503


class EmulatorConfigError(ValueError):
    """A pace, fault setting or state file the emulator cannot work with."""


class IncompleteSignatureError(ServiceError):
    """A SigV4 Authorization header or presigned query that lacks a part AWS requires."""

    code = "IncompleteSignatureException"


class InvalidSignatureError(ServiceError):
    """A SigV4 credential scope that names another service or a region the service is not in."""

    code = "InvalidSignatureException"
    status = 403
