"""Which objects under an S3 folder an import reads: one rule for the preflight, emulator and validate-data.

They once decided it three ways (the preflight skipped zero-byte objects, validate-data only zero-byte
keys ending in "/", the emulator every key ending in "/"), so a folder could pass one and fail another.

The developer guide (API_DataSource, `dataLocation`) says only: "If your CSV files are in a folder in
your Amazon S3 bucket and you want your import job ... to consider multiple files, you can specify the
path to the folder ... with a / after the folder name", and, for data deletion jobs alone, that
"Amazon Personalize uses all files in the folder and any sub folder". Which objects count as files is
not documented. Our choice, the same as for a local data folder (config.model.is_data_file, whose
hidden files are never uploaded):

- a key ending in "/" is a folder, not a file (the S3 console's "Create folder" writes such a key);
- a zero-byte object holds no header and no row (folder markers of other tools, `_SUCCESS` files);
- a hidden file (a name, or a folder under the prefix, starting with ".") is not data;
- everything else under the prefix, sub folders included, is a data file, read in key order.

Standard library only: this module ships in the Lambda asset, and the tools import it from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

HIDDEN_PREFIX = "."


def is_data_object(relative_key: str, size: int) -> bool:
    """Whether an object is a data file, given its key relative to the folder ("a/b.csv") and its size."""
    if not relative_key or relative_key.endswith("/") or size <= 0:
        return False
    return not any(part.startswith(HIDDEN_PREFIX) for part in relative_key.split("/"))


def is_data_path(path: Path, folder: Path) -> bool:
    """The same rule for a file of a local data folder (config.model.is_data_file, what synth uploads)."""
    return path.is_file() and is_data_object(path.relative_to(folder).as_posix(), path.stat().st_size)


def data_objects(s3: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    """(key, size) of every data file under PREFIX, in S3's key order (UTF-8 bytes), lazily.

    S3 errors (botocore's ClientError) propagate: each caller words them for its own audience.
    """
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key, size = str(item["Key"]), int(item.get("Size", 0))
            if is_data_object(key[len(prefix) :], size):
                yield key, size
