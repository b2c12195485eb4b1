"""Signal a CloudFormation wait condition: an HTTP PUT of a small JSON document to its handle's URL.

The user guide ("Create wait conditions in a CloudFormation template", wait condition signal JSON
syntax) gives the document: {"Status": "SUCCESS" | "FAILURE", "Reason": ..., "UniqueId": ...,
"Data": ...}; the handle's Ref is a presigned S3 URL, so no credentials are needed. The presigned
request carries no Content-Type, so the PUT sends an empty one (as the guide's curl example does).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from . import contract

TIMEOUT_SECONDS = 30
REASON_MAX_CHARACTERS = 4000  # our choice: the signal's reason reaches the stack event, keep it readable


def succeeded(outcome: str) -> bool:
    """Whether a wait condition is signalled SUCCESS for this outcome: the one rule for both senders."""
    return outcome in contract.SIGNAL_SUCCEEDING


def wait_condition_signal(
    *, outcome: str, reason: str, unique_id: str, job_arn: str | None
) -> dict[str, str]:
    """The signal document for how the import ended; FAILURE carries Personalize's failureReason in Reason,
    verbatim."""
    return {
        "Status": contract.SIGNAL_SUCCESS if succeeded(outcome) else contract.SIGNAL_FAILURE,
        "Reason": reason[:REASON_MAX_CHARACTERS],
        "UniqueId": unique_id,
        "Data": outcome_data(job_arn, outcome),
    }


def outcome_data(job_arn: str | None, outcome: str) -> str:
    """The signal's Data, whoever sends it (the state machine's SignalDeploy step or the import handler):
    the job and how it ended, which the wait condition's Data attribute shows as {UniqueId: Data}."""
    return json.dumps({"jobArn": job_arn, "outcome": outcome})


def send(url: str, document: dict[str, Any]) -> int:
    """PUT the document to the handle's URL; the HTTP status (raises on a refusal: Step Functions retries)."""
    body = json.dumps(document).encode()
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        return int(response.status)
