"""CDK's own custom resources, done locally: BucketDeployment's upload and the buckets' auto-delete.

In AWS their handlers are Lambda functions (with an AWS CLI layer) that read the assets the CDK CLI
published. Locally the assets are read straight from cdk.out and the same effects are applied to moto:
the semantics follow aws-cdk-lib's handlers (property names, defaults, "true"/"false" strings).
"""

from __future__ import annotations

import fnmatch
import io
import mimetypes
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from personalize_tools.localdeploy.cdk_internals import (
    AUTO_DELETE_OBJECTS_TYPE,
    AUTO_DELETE_TAG,
    BUCKET_DEPLOYMENT_PROPERTIES,
    BUCKET_DEPLOYMENT_TYPE,
    CR_OWNED_TAG,
)
from personalize_tools.localdeploy.errors import ResourceFailedError
from personalize_tools.localdeploy.resources import (
    DeployContext,
    Operation,
    Outcome,
    ResourceType,
    aws_call,
    error_code,
)
from personalize_tools.localdeploy.state import ResourceRecord

DELETE_BATCH = 1000


def _flag(properties: Mapping[str, Any], name: str, default: bool) -> bool:
    return str(properties.get(name, "true" if default else "false")).lower() == "true"


def _archive_files(path: Path) -> Iterator[tuple[str, bytes]]:
    """(relative key, content) of a source: a staged folder (the CLI zips it on publish) or a zip."""
    if path.is_dir():
        for file in sorted(item for item in path.rglob("*") if item.is_file()):
            yield file.relative_to(path).as_posix(), file.read_bytes()
        return
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not name.endswith("/"):
                yield name, archive.read(name)


def _zipped(folder: Path) -> bytes:
    """A staged folder as the zip the CDK CLI would have published."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, body in _archive_files(folder):
            archive.writestr(key, body)
    return buffer.getvalue()


def _included(key: str, exclude: list[str], include: list[str]) -> bool:
    """`aws s3 sync` filters: later patterns win, and a path is included unless excluded."""
    decision = True
    for pattern, verdict in [*((p, False) for p in exclude), *((p, True) for p in include)]:
        if fnmatch.fnmatch(key, pattern):
            decision = verdict
    return decision


def _key_prefix(properties: Mapping[str, Any]) -> str:
    """DestinationBucketKeyPrefix as a folder: empty for none or "/", else ending in "/"."""
    prefix = str(properties.get("DestinationBucketKeyPrefix", ""))
    if prefix == "/":
        return ""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


class BucketDeployment(ResourceType):
    """Custom::CDKBucketDeployment: unpack each source asset found in cdk.out and sync it to the bucket."""

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        physical_id = f"aws.cdk.s3deployment.{uuid.uuid4()}"
        return self._deploy(context, operation, physical_id)

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        new, old = operation.properties, operation.old_properties
        old_destination = (old.get("DestinationBucketName"), old.get("DestinationBucketKeyPrefix", ""))
        new_destination = (new.get("DestinationBucketName"), new.get("DestinationBucketKeyPrefix", ""))
        if not _flag(new, "RetainOnDelete", True) and old_destination != new_destination:
            self._remove(context, str(old_destination[0]), str(old_destination[1]))
        return self._deploy(context, operation, operation.old.physical_id)

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        properties = record.properties
        if _flag(properties, "RetainOnDelete", True):
            return
        bucket, prefix = properties["DestinationBucketName"], properties.get("DestinationBucketKeyPrefix", "")
        if not self._owned_by_another(context, bucket, prefix):
            self._remove(context, bucket, prefix)

    def _deploy(self, context: DeployContext, operation: Operation, physical_id: str) -> Outcome:
        """Plan the files (sources merged, filters applied), put them, prune what the sources lack."""
        properties = operation.properties
        if properties.get("DistributionId"):
            raise ResourceFailedError("DistributionId: CloudFront invalidation is not emulated locally")
        bucket, prefix = properties["DestinationBucketName"], _key_prefix(properties)
        exclude, include = list(properties.get("Exclude", [])), list(properties.get("Include", []))
        contents = self._contents(context, properties)
        wanted = {key: body for key, body in contents.items() if _included(key, exclude, include)}
        self._put(context, bucket, prefix, wanted, properties)
        if _flag(properties, "Prune", True):
            s3 = context.client("s3")
            for key in self._keys(context, bucket, prefix):
                relative = key[len(prefix) :]
                if relative not in contents and _included(relative, exclude, include):
                    aws_call(f"DeleteObject s3://{bucket}/{key}", s3.delete_object, Bucket=bucket, Key=key)
        unknown = sorted(set(properties) - BUCKET_DEPLOYMENT_PROPERTIES)
        data = {
            "DestinationBucketArn": properties.get("DestinationBucketArn"),
            "SourceObjectKeys": properties["SourceObjectKeys"]
            if _flag(properties, "OutputObjectKeys", True)
            else [],
        }
        note = f"{len(wanted)} file(s) to s3://{bucket}/{prefix}"
        return Outcome(physical_id, data, note + (f"; not emulated: {', '.join(unknown)}" if unknown else ""))

    @staticmethod
    def _put(
        context: DeployContext,
        bucket: str,
        prefix: str,
        files: Mapping[str, bytes],
        properties: Mapping[str, Any],
    ) -> None:
        """PutObject each file with the deployment's user metadata, content type and cache control."""
        s3 = context.client("s3")
        metadata = {key.lower(): value for key, value in properties.get("UserMetadata", {}).items()}
        system = {key.lower(): value for key, value in properties.get("SystemMetadata", {}).items()}
        for key, body in sorted(files.items()):
            extra: dict[str, Any] = {"Metadata": metadata} if metadata else {}
            content_type = system.get("content-type") or mimetypes.guess_type(key)[0]
            if content_type:
                extra["ContentType"] = content_type
            if "cache-control" in system:
                extra["CacheControl"] = system["cache-control"]
            aws_call(
                f"PutObject s3://{bucket}/{prefix}{key}",
                s3.put_object,
                Bucket=bucket,
                Key=prefix + key,
                Body=body,
                **extra,
            )

    @staticmethod
    def _contents(context: DeployContext, properties: Mapping[str, Any]) -> dict[str, bytes]:
        """The merged files of all sources, with deploy-time markers (Source.data/jsonData) replaced."""
        keys = properties["SourceObjectKeys"]
        markers = properties.get("SourceMarkers") or [{} for _ in keys]
        extract = _flag(properties, "Extract", True)
        contents: dict[str, bytes] = {}
        for object_key, source_markers in zip(keys, markers, strict=True):
            source = context.assets.get(context.artifact, object_key)
            if source is None:
                raise ResourceFailedError(
                    f"source asset {object_key} is neither in cdk.out nor published before; synthesize again"
                )
            if not extract:
                contents[Path(object_key).name] = _zipped(source) if source.is_dir() else source.read_bytes()
                continue
            for key, original in _archive_files(source):
                body = original
                for marker, value in source_markers.items():
                    body = body.replace(marker.encode(), str(value).encode())
                contents[key] = body
        return contents

    @staticmethod
    def _keys(context: DeployContext, bucket: str, prefix: str) -> list[str]:
        paginator = context.client("s3").get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    def _remove(self, context: DeployContext, bucket: str, prefix: str) -> None:
        s3 = context.client("s3")
        try:
            keys = self._keys(context, bucket, prefix)
        except ClientError as error:
            if error_code(error) == "NoSuchBucket":
                return
            raise
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
            aws_call(
                f"DeleteObjects in {bucket}", s3.delete_objects, Bucket=bucket, Delete={"Objects": batch}
            )

    @staticmethod
    def _owned_by_another(context: DeployContext, bucket: str, prefix: str) -> bool:
        tag = f"{CR_OWNED_TAG}:{prefix}" if prefix else CR_OWNED_TAG
        try:
            tags = context.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
        except ClientError:
            return False
        return any(item["Key"].startswith(tag) for item in tags)


class AutoDeleteObjects(ResourceType):
    """Custom::S3AutoDeleteObjects: on delete, empty the bucket (every version) so it can be deleted.

    Like CDK's handler it only empties buckets tagged aws-cdk:auto-delete-objects=true, and when a
    bucket is replaced it empties the old one.
    """

    def create(self, context: DeployContext, operation: Operation) -> Outcome:
        return Outcome(str(uuid.uuid4()))  # CDK's provider answers with the request id

    def update(self, context: DeployContext, operation: Operation) -> Outcome:
        assert operation.old is not None and operation.old.physical_id is not None
        old_bucket = operation.old_properties.get("BucketName")
        if old_bucket and old_bucket != operation.properties["BucketName"]:
            empty_auto_delete_bucket(context, old_bucket)
        return Outcome(operation.old.physical_id)

    def delete(self, context: DeployContext, record: ResourceRecord) -> None:
        empty_auto_delete_bucket(context, record.properties["BucketName"])


def empty_auto_delete_bucket(context: DeployContext, bucket: str) -> bool:
    """Delete every object version and delete marker of a bucket tagged for auto-delete.

    Returns whether the bucket carries the tag. The bucket's own delete calls this again when it finds
    the bucket refilled: moto delivers access logs synchronously, so the logs bucket can receive records
    of the data bucket's emptying after its own auto-delete ran (in AWS delivery lags and then fails).
    """
    s3 = context.client("s3")
    try:
        tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as error:
        if error_code(error) in ("NoSuchBucket", "NoSuchTagSet"):
            return False
        raise ResourceFailedError(f"GetBucketTagging {bucket}: {error}") from error
    if not any(tag["Key"] == AUTO_DELETE_TAG and tag["Value"] == "true" for tag in tags):
        return False
    while True:
        page = aws_call(
            f"ListObjectVersions {bucket}", s3.list_object_versions, Bucket=bucket, MaxKeys=DELETE_BATCH
        )
        versions = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        if not versions:
            return True
        aws_call(
            f"DeleteObjects in {bucket}",
            s3.delete_objects,
            Bucket=bucket,
            Delete={
                "Objects": [{"Key": item["Key"], "VersionId": item["VersionId"]} for item in versions],
                "Quiet": True,
            },
        )


CDK_CUSTOM_TYPES: dict[str, ResourceType] = {
    BUCKET_DEPLOYMENT_TYPE: BucketDeployment(),
    AUTO_DELETE_OBJECTS_TYPE: AutoDeleteObjects(),
}
