"""Errors the emulator answers with, named after the service's wire codes.

Each class carries the `__type` code and HTTP status a real Personalize endpoint would send, so
the server turns any of them into the JSON 1.1 error body botocore parses into a ClientError.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar


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


def parse_json_object(raw_body: bytes) -> dict[str, Any]:
    """A request body as the JSON object every Personalize API takes; an empty body is `{}`.

    Shared by the control plane, the data plane and the admin endpoints, so all three answer a bad or too
    deeply nested body the same way: SerializationException, never a 500.
    """
    if not raw_body.strip():
        return {}
    try:
        parsed = json.loads(raw_body)
    except ValueError as error:
        raise SerializationError(f"The request body is not JSON: {error}") from error
    except RecursionError as error:
        raise SerializationError(
            f"The request body nests JSON too deeply to parse ({error}); "
            "Personalize requests nest a few levels"
        ) from error
    if not isinstance(parsed, dict):
        raise SerializationError("The request body must be a JSON object")
    return parsed
