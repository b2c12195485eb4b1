"""The one parser of `s3://bucket/key` locations: handlers, emulator, validator and stacks read it."""

from __future__ import annotations

from dataclasses import dataclass

SCHEME = "s3://"


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key; a key that is empty or ends in "/" names a folder (every object under it).

    The key is everything after the bucket's "/", verbatim: S3 keys may hold "?", "#" and "%" (S3 user
    guide, "Naming Amazon S3 objects"), so a URL parser, which would cut them off, is not used.
    """

    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str, what: str = "data location") -> S3Location:
        """ValueError naming `what`, the value and the allowed form when `uri` is not one."""
        bucket, _, key = uri.removeprefix(SCHEME).partition("/")
        if not uri.startswith(SCHEME) or not bucket:
            raise ValueError(f"{what} {uri!r} must be s3://bucket/key or s3://bucket/prefix/")
        return cls(bucket, key)

    @property
    def is_folder(self) -> bool:
        return self.key == "" or self.key.endswith("/")

    def uri(self, key: str | None = None) -> str:
        return f"{SCHEME}{self.bucket}/{self.key if key is None else key}"
