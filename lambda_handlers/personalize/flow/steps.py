"""The import state machine's Lambda steps: each takes the flow state and returns the next one.

Short, bounded calls only: the state machine's Wait states do the waiting (docs/event-imports.md
shows the state and every field). Bad data and Personalize's verdicts are outcomes, never exceptions;
an exception means a step itself failed, and the state machine reports it as ERROR.

  check_object     the S3 event's detail → IMPORT (with the import request), REJECTED (report written),
                   DELETED, or IGNORED (folder markers, reports, objects outside a dataset's folder)
  start_import     create or adopt the job → WAITING, QUEUED (five imports running), ACTIVE, FAILED,
                   DELETED or SUPERSEDED (the object changed before its import started)
  describe_import  → WAITING, ACTIVE, FAILED
  signal_deploy    a deploy's wait condition learns the outcome
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .. import clients, domain, kinds
from ..data_objects import is_data_object
from ..framework import (
    ALREADY_EXISTS,
    IN_USE,
    LIMIT_EXCEEDED,
    NOT_FOUND,
    ArnParts,
    error_code,
    error_message,
    is_transient,
)
from . import contract, rows, signal

LOGGER = logging.getLogger("personalize.import_flow")
LOGGER.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

JOB_HASH_LENGTH = 16
SUBJECT_MAX_LENGTH = 100  # SNS Publish: "Constraints: ... must be less than 100 characters"
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
State = dict[str, Any]


# --- entry points ---------------------------------------------------------------------------------


def check_object(detail: Mapping[str, Any], context: Any = None) -> State:
    """Validate the object an "Object Created" event names; decide whether it may be imported."""
    bucket = str(detail["bucket"]["name"])
    item = detail["object"]
    key = str(item["key"])
    version_id = item.get("version-id")
    size = int(item.get("size") or 0)
    obj = {"bucket": bucket, "key": key, "versionId": version_id, "size": size, "uri": f"s3://{bucket}/{key}"}
    folder, reason = _dataset_folder(key, size)
    if folder is None:
        _log("ignored", object=obj["uri"], reason=reason)
        return {"outcome": contract.IGNORED, "object": obj, "reason": reason}
    dataset = _datasets()[folder]
    obj["dataset"] = folder
    s3 = clients.s3()
    if _missing(s3, bucket, key, version_id):
        return _finished(contract.DELETED, {"object": obj}, f"{obj['uri']} was deleted before it was checked")
    schema_arn = str(dataset["schemaArn"])
    schema = clients.personalize().describe_schema(schemaArn=schema_arn)["schema"]["schema"]
    report = rows.check_rows(
        s3,
        bucket=bucket,
        key=key,
        version_id=version_id,
        size=size,
        schema=schema,
        dataset_type=_dataset_type(folder),
    )
    checks = report.to_json()
    if report.errors():
        report_key = _report_key(folder, key)
        document = {"object": obj["uri"], "versionId": version_id, "schemaArn": schema_arn, **checks}
        s3.put_object(
            Bucket=bucket,
            Key=report_key,
            Body=json.dumps(document, indent=2).encode(),
            ContentType="application/json",
        )
        rules = ", ".join(
            f"{rule} ({found.examples[0] if rule in rows.FILE_RULES else found.count})"
            for rule, found in report.errors().items()
        )
        sampled = (
            f" (checked the first {report.checked_bytes} of {report.object_bytes} bytes)"
            if report.sampled
            else ""
        )
        return _finished(
            contract.REJECTED,
            {"object": obj, "checks": checks},
            f"{obj['uri']} was not imported: it breaks {rules}{sampled}. "
            f"The report is s3://{bucket}/{report_key}; fix the file and upload it again.",
            report=f"s3://{bucket}/{report_key}",
        )
    request = {
        "jobName": _job_name(
            bucket, key, version_id or str(item.get("etag") or ""), str(dataset["datasetArn"])
        ),
        "datasetArn": dataset["datasetArn"],
        "dataLocation": obj["uri"],
        "importMode": dataset["importMode"],
        "dataset": folder,
    }
    _log("checked", object=obj["uri"], rows=report.rows, sampled=report.sampled, job=request["jobName"])
    return {"outcome": contract.IMPORT, "object": obj, "request": request, "checks": checks}


def start_import(state: Mapping[str, Any], context: Any = None) -> State:
    """Adopt the request's job if it exists (the same object version never imports twice), else create it."""
    request = state["request"]
    arn = ArnParts.parse(str(request["datasetArn"])).sibling(
        f"{kinds.IMPORT_JOB.arn_resource}/{request['jobName']}"
    )
    existing = _describe_job(arn)
    if existing is not None:
        _log("adopted", job=arn, status=existing.get("status"))
        return _job_state(state, existing)
    obj = state.get("object")
    if obj is not None:
        changed = _changed_since_check(obj)
        if changed is not None:
            return changed
    mode = _import_mode(request)
    try:
        clients.personalize_single_attempt().create_dataset_import_job(
            jobName=request["jobName"],
            datasetArn=request["datasetArn"],
            dataSource={"dataLocation": request["dataLocation"]},
            roleArn=request.get("roleArn") or os.environ[contract.ROLE_ENV],
            importMode=mode,
            tags=request.get("tags") or _env_tags(),
        )
    except ClientError as error:
        code = error_code(error)
        if code == ALREADY_EXISTS:
            _log("adopted", job=arn)
        elif code in (LIMIT_EXCEEDED, IN_USE) or is_transient(error):
            attempts = int((state.get("job") or {}).get("attempts") or 0) + 1
            _log("queued", job=arn, error=code, message=error_message(error), attempts=attempts)
            return {
                **state,
                "outcome": contract.QUEUED,
                "job": {"jobArn": arn, "attempts": attempts, "pollSeconds": _poll_seconds(attempts * 60.0)},
            }
        else:
            raise
    else:
        _log("created", job=arn, import_mode=mode)
    return {
        **state,
        "outcome": contract.WAITING,
        "request": {**request, "importMode": mode},
        "job": {"jobArn": arn, "status": kinds.CREATE_PENDING, "pollSeconds": _poll_seconds(0.0)},
    }


def describe_import(state: Mapping[str, Any], context: Any = None) -> State:
    """Where the job is; WAITING comes back with a longer poll the longer the import has run."""
    arn = str(state["job"]["jobArn"])
    description = _describe_job(arn)
    if description is None:  # eventual consistency right after a create: look again shortly
        return {
            **state,
            "outcome": contract.WAITING,
            "job": {**state["job"], "pollSeconds": _poll_seconds(0.0)},
        }
    return _job_state(state, description)


def signal_deploy(state: Mapping[str, Any], context: Any = None) -> State:
    """Tell the deploy's wait condition: SUCCESS once ACTIVE, else FAILURE with the verbatim reason."""
    deploy = state["deploy"]
    notice = state["notice"]
    success = signal.succeeded(notice["outcome"])
    reason = notice.get("failureReason") or notice.get("cause") or notice["message"]
    document = signal.wait_condition_signal(
        outcome=notice["outcome"],
        reason=str(notice["message"] if success else reason),
        unique_id=str(deploy["uniqueId"]),
        job_arn=notice.get("jobArn"),
    )
    status = signal.send(str(deploy["waitHandle"]), document)
    _log("signalled", status=document["Status"], http_status=status, unique_id=deploy["uniqueId"])
    return {**state, "signalled": document["Status"]}


# --- deciding ----------------------------------------------------------------------------------------


def _dataset_folder(key: str, size: int) -> tuple[str | None, str]:
    """The incoming folder a key is data of, or None and why it is not data."""
    if not key.startswith(contract.INCOMING_PREFIX):
        return None, "outside incoming/"
    folder, _, rest = key.removeprefix(contract.INCOMING_PREFIX).partition("/")
    if folder not in _datasets():
        return None, f"incoming/{folder}/ is no dataset's incoming folder"
    if not is_data_object(rest, size):
        return None, "a folder marker, an empty or a hidden object (data_objects: not data)"
    if rest.startswith(contract.REJECTED_FOLDER) or key.endswith(contract.REPORT_SUFFIX):
        return None, "a rejection report"
    return folder, ""


def _report_key(folder: str, key: str) -> str:
    relative = key.removeprefix(f"{contract.INCOMING_PREFIX}{folder}/")
    return f"{contract.INCOMING_PREFIX}{folder}/{contract.REJECTED_FOLDER}{relative}{contract.REPORT_SUFFIX}"


def _job_name(bucket: str, key: str, version: str, dataset_arn: str) -> str:
    """One name per object version and dataset: a replayed event, or a second execution, adopts the job."""
    digest = hashlib.sha256(json.dumps([bucket, key, version, dataset_arn]).encode()).hexdigest()
    prefix = os.environ[contract.NAME_PREFIX_ENV]
    folder = key.removeprefix(contract.INCOMING_PREFIX).partition("/")[0]
    base = f"{prefix}{domain.SCOPE_DELIMITER}incoming-{folder}"[
        : domain.NAME_MAX_LENGTH - JOB_HASH_LENGTH - 1
    ]
    return f"{base}-{digest[:JOB_HASH_LENGTH]}"


def _changed_since_check(obj: Mapping[str, Any]) -> State | None:
    """Personalize reads the key's current version: import only if that is still the checked one."""
    try:
        head = clients.s3().head_object(Bucket=obj["bucket"], Key=obj["key"])
    except ClientError as error:
        if error_code(error) in MISSING_OBJECT_CODES:
            return _finished(
                contract.DELETED, {"object": obj}, f"{obj['uri']} was deleted before its import started"
            )
        raise
    current = head.get("VersionId")
    if obj.get("versionId") and current and current != obj["versionId"]:
        return _finished(
            contract.SUPERSEDED,
            {"object": obj},
            f"{obj['uri']} version {obj['versionId']} was replaced by version {current} before its import "
            "started; that upload has its own check and import",
        )
    return None


def _import_mode(request: Mapping[str, Any]) -> str:
    """INCREMENTAL needs an earlier ACTIVE import of the dataset; the first import is FULL (our choice)."""
    mode = str(request.get("importMode") or "FULL")
    if mode != "INCREMENTAL":
        return mode
    personalize = clients.personalize()
    for page in personalize.get_paginator(kinds.IMPORT_JOB.list_method).paginate(
        datasetArn=request["datasetArn"]
    ):
        if any(job.get("status") == kinds.ACTIVE for job in page.get(kinds.IMPORT_JOB.list_key, [])):
            return mode
    return "FULL"


def _job_state(state: Mapping[str, Any], description: Mapping[str, Any]) -> State:
    arn = str(description.get(kinds.IMPORT_JOB.arn_member))
    status = description.get("status")
    job = {"jobArn": arn, "status": status, "importMode": description.get("importMode")}
    location = (description.get("dataSource") or {}).get("dataLocation")
    if status == kinds.ACTIVE:
        return _finished(
            contract.ACTIVE, {**state, "job": job}, f"{location} was imported ({arn})", job=description
        )
    if status in kinds.FAILED_STATUSES:
        reason = str(description.get("failureReason") or f"{status} (Personalize gives no failureReason)")
        return _finished(
            contract.FAILED,
            {**state, "job": job},
            f"the import of {location} ({arn}) failed: {reason}",
            job=description,
            failureReason=reason,
        )
    created = description.get("creationDateTime")
    elapsed = time.time() - created.timestamp() if isinstance(created, datetime) else 0.0
    return {**state, "outcome": contract.WAITING, "job": {**job, "pollSeconds": _poll_seconds(elapsed)}}


def _finished(outcome: str, state: Mapping[str, Any], message: str, **details: Any) -> State:
    """The state with its notice: what the topic, the event bus and a waiting deploy are told."""
    obj = state.get("object") or {}
    request = state.get("request") or {}
    job = details.pop("job", None) or state.get("job") or {}
    notice: dict[str, Any] = {
        "outcome": outcome,
        "subject": _subject(outcome, str(obj.get("key") or request.get("dataLocation") or "")),
        "message": message,
        "dataset": obj.get("dataset") or request.get("dataset"),
        "object": obj.get("uri") or request.get("dataLocation"),
        "versionId": obj.get("versionId"),
        "jobArn": job.get(kinds.IMPORT_JOB.arn_member) or job.get("jobArn"),
        "importMode": job.get("importMode") or request.get("importMode"),
        **details,
    }
    if "checks" in state:
        notice["checks"] = state["checks"]
    notice = {key: value for key, value in notice.items() if value is not None}
    _log("finished", outcome=outcome, message=message)
    return {**state, "outcome": outcome, "notice": notice}


def _subject(outcome: str, what: str) -> str:
    subject = f"Personalize import {outcome}: {what}"
    printable = "".join(char if 32 <= ord(char) < 127 else "?" for char in subject)
    return printable[: SUBJECT_MAX_LENGTH - 1]


def _poll_seconds(elapsed: float) -> int:
    """A tenth of the time the import has taken, between the configured bounds: prompt for short imports,
    few transitions for imports of days (an execution holds at most 25,000 history events)."""
    low = int(os.environ.get(contract.MIN_POLL_ENV) or contract.DEFAULT_MIN_POLL_SECONDS)
    high = int(os.environ.get(contract.MAX_POLL_ENV) or contract.DEFAULT_MAX_POLL_SECONDS)
    return max(low, min(high, int(elapsed / 10)))


# --- AWS ---------------------------------------------------------------------------------------------


def _missing(s3: Any, bucket: str, key: str, version_id: str | None) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
    except ClientError as error:
        if error_code(error) in MISSING_OBJECT_CODES:
            return True
        raise
    return False


def _describe_job(arn: str) -> dict[str, Any] | None:
    try:
        return dict(
            clients.personalize().describe_dataset_import_job(datasetImportJobArn=arn)[
                kinds.IMPORT_JOB.describe_key
            ]
        )
    except ClientError as error:
        if error_code(error) == NOT_FOUND:
            return None
        raise


def _datasets() -> dict[str, dict[str, str]]:
    raw = json.loads(os.environ.get(contract.DATASETS_ENV) or "{}")
    return {str(folder): dict(settings) for folder, settings in raw.items()}


def _dataset_type(folder: str) -> str:
    return next(kind for kind, name in contract.INCOMING_FOLDERS.items() if name == folder)


def _env_tags() -> list[dict[str, str]]:
    tags = json.loads(os.environ.get(contract.TAGS_ENV) or "{}")
    return [{"tagKey": key, "tagValue": value} for key, value in sorted(tags.items())]


def _log(decision: str, **details: Any) -> None:
    LOGGER.info(json.dumps({"decision": decision, **details}, default=str))
