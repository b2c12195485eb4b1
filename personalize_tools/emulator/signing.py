"""The region a request was signed for, read from its SigV4 Authorization header.

AWS answers in the region whose endpoint it reached, and a SigV4 signature binds the request to that
region through the credential scope (`Credential=AKID/YYYYMMDD/REGION/personalize/aws4_request`;
AWS General Reference, "Signature Version 4 signing process", credential scope). One emulator
endpoint serves every region, so the scope is what tells it which region's resources a call means.
"""

from __future__ import annotations

import re

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


def signing_region(authorization: str | None) -> str | None:
    """The credential scope's region, or None for an unsigned request or another scheme."""
    if not authorization or not authorization.startswith("AWS4-HMAC-SHA256"):
        return None
    match = _CREDENTIAL_SCOPE.search(authorization)
    return match.group(1) if match else None
