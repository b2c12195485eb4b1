"""What the import state machine, its Lambda steps and the constructs agree on: names, paths, outcomes.

The construct (constructs_lib/import_flow.py) builds the state machine from these names and the steps
read and write these fields, so neither can drift from the other; docs/event-imports.md shows the shapes.
"""

from __future__ import annotations

from typing import Final, Literal

# Where uploads start an import: s3://BUCKET/incoming/<folder>/NAME, the folder one per dataset type.
INCOMING_PREFIX: Final = "incoming/"
REJECTED_FOLDER: Final = "rejected/"  # incoming/<folder>/rejected/NAME.report.json, never imported
REPORT_SUFFIX: Final = ".report.json"
INCOMING_FOLDERS: Final = {"INTERACTIONS": "interactions", "USERS": "users", "ITEMS": "items"}

# The Lambda steps' configuration, set by the construct on their functions.
DATASETS_ENV: Final = "PERSONALIZE_FLOW_DATASETS"  # JSON {folder: {datasetArn, schemaArn, importMode}}
ROLE_ENV: Final = "PERSONALIZE_FLOW_ROLE_ARN"  # the role Personalize reads the data with
TAGS_ENV: Final = "PERSONALIZE_FLOW_TAGS"  # JSON {key: value}: tags of the jobs the flow creates
NAME_PREFIX_ENV: Final = "PERSONALIZE_FLOW_NAME_PREFIX"  # the environment's Personalize name prefix
MIN_POLL_ENV: Final = "PERSONALIZE_FLOW_MIN_POLL_SECONDS"
MAX_POLL_ENV: Final = "PERSONALIZE_FLOW_MAX_POLL_SECONDS"
DEFAULT_MIN_POLL_SECONDS: Final = 30
DEFAULT_MAX_POLL_SECONDS: Final = 900

# The events the flow puts on the account's default event bus, one per finished object or import.
EVENT_SOURCE: Final = "personalize-cdk.imports"
EVENT_DETAIL_TYPE: Final = "Personalize Import Finished"

# `outcome` of the flow state after each step. The first four route the state machine; the rest end it.
Outcome = Literal[
    "IMPORT",
    "QUEUED",
    "WAITING",
    "IGNORED",
    "ACTIVE",
    "FAILED",
    "REJECTED",
    "DELETED",
    "SUPERSEDED",
    "ERROR",
    "NO DATA",
]
IMPORT: Final = "IMPORT"  # the object passed the checks: start its import
QUEUED: Final = "QUEUED"  # five imports are running (LimitExceededException): wait for a slot, try again
WAITING: Final = "WAITING"  # the job is CREATE PENDING / IN_PROGRESS: wait and describe again
IGNORED: Final = "IGNORED"  # not data: a folder marker, a report, an object outside a dataset's folder
ACTIVE: Final = "ACTIVE"  # the import job is ACTIVE
FAILED: Final = "FAILED"  # the import job is CREATE FAILED; notice.failureReason is Personalize's, verbatim
REJECTED: Final = "REJECTED"  # the object failed the checks: report written, no job
DELETED: Final = "DELETED"  # the object (this version) was deleted before its import started
SUPERSEDED: Final = "SUPERSEDED"  # a newer version was uploaded before the import started: that one imports
ERROR: Final = "ERROR"  # a step failed after its retries; notice.error and notice.cause say why
# Not a flow state: what the import handler signals itself when the location holds no data (no job), a
# success for the deploy's wait (WhenNoData: skip); also that import's Status attribute (GetAtt), not a
# Personalize status: its Message attribute says where the data is expected.
NO_DATA: Final = "NO DATA"

# Terminal outcomes and how the execution ends: Succeed, or Fail with this error name.
FAIL_ERRORS: Final = {
    REJECTED: "ImportRejected",
    FAILED: "ImportFailed",
    DELETED: "ObjectDeleted",
    ERROR: "ImportStepFailed",
}
SUCCEEDING: Final = (ACTIVE, SUPERSEDED)
# The outcomes a deploy's wait condition is signalled SUCCESS for; any other is a FAILURE.
SIGNAL_SUCCEEDING: Final = (ACTIVE, NO_DATA)

# Wait condition signals (CloudFormation user guide, "Wait condition signal JSON syntax").
SIGNAL_SUCCESS: Final = "SUCCESS"
SIGNAL_FAILURE: Final = "FAILURE"
