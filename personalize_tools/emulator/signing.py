"""The region a request was signed for, read from its SigV4 credential scope.

AWS answers in the region whose endpoint it reached, and a SigV4 signature binds the request to that
region through the credential scope (`Credential=AKID/YYYYMMDD/REGION/personalize/aws4_request`;
AWS General Reference, "Signature Version 4 signing process", credential scope), carried either in the
`Authorization` header or, for a presigned request, in the `X-Amz-Credential` query parameter. One
emulator endpoint serves every region, so the scope is what tells it which region's resources a call
means. What AWS refuses before any operation runs is refused here too: an Authorization header or
presigned query missing a SigV4 part (`IncompleteSignatureException`), and a scope for another
service or for a region Personalize is not offered in (`InvalidSignatureException`, 403: no such
endpoint exists to accept it). Signatures themselves are not verified.
"""

from __future__ import annotations

import functools
from urllib.parse import parse_qs

import botocore.session

from personalize_tools.emulator import model
from personalize_tools.emulator.errors import IncompleteSignatureError, InvalidSignatureError

ALGORITHM = "AWS4-HMAC-SHA256"
HEADER_PARTS = ("Credential", "Signature", "SignedHeaders")
QUERY_PARTS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")


@functools.cache
def service_regions() -> frozenset[str]:
    """The regions of botocore's endpoint data where Personalize has an endpoint (partition aws)."""
    return frozenset(botocore.session.get_session().get_available_regions(model.SERVICE_NAME))


def signing_name() -> str:
    metadata = model.service_model().metadata
    return str(metadata.get("signingName") or metadata["endpointPrefix"])


def signing_region(authorization: str | None, query: str = "") -> str | None:
    """The credential scope's region; None for an unsigned request. Raises what AWS would answer."""
    if authorization is not None:
        return _scope_region(_header_credential(authorization))
    presigned = parse_qs(query, keep_blank_values=True)
    if not any(part in presigned for part in QUERY_PARTS):
        return None
    missing = [part for part in QUERY_PARTS if not presigned.get(part, [""])[0]]
    if missing:
        raise IncompleteSignatureError(
            " ".join(f"AWS query-string parameters must include '{part}'." for part in missing)
        )
    if presigned["X-Amz-Algorithm"][0] != ALGORITHM:
        raise IncompleteSignatureError(f"X-Amz-Algorithm must be {ALGORITHM}.")
    return _scope_region(presigned["X-Amz-Credential"][0])


def _header_credential(authorization: str) -> str:
    scheme, _, rest = authorization.strip().partition(" ")
    parts = {}
    if scheme == ALGORITHM:
        for item in rest.split(","):
            key, equals, value = item.strip().partition("=")
            if equals and value:
                parts[key] = value
    missing = [part for part in HEADER_PARTS if part not in parts]
    if missing:
        raise IncompleteSignatureError(
            " ".join(f"Authorization header requires '{part}' parameter." for part in missing)
        )
    return parts["Credential"]


def _scope_region(credential: str) -> str:
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope) or len(credential.split()) != 1:
        raise IncompleteSignatureError(
            f"Credential {credential!r} is not AKID/YYYYMMDD/REGION/SERVICE/aws4_request."
        )
    region, service = scope[2], scope[3]
    if service != signing_name():
        raise InvalidSignatureError(f"Credential should be scoped to correct service: '{signing_name()}'. ")
    if region not in service_regions():
        raise InvalidSignatureError(f"Credential should be scoped to a valid region, not '{region}'. ")
    return region
