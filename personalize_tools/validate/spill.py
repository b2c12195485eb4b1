"""Bounded-memory exact counting over 64-bit hashes: duplicate rows and users with repeat interactions.

Each item is a (hash, payload) pair of uint64s. Items are buffered in memory; once the buffer
holds FLUSH_ITEMS it is split by the hash's top bits into partitions that are appended to files in
a temporary directory. At the end each partition is loaded and searched on its own, so peak memory
is one buffer plus a few partitions whatever the input size; the partition count is chosen from
the input's byte size so that a partition stays near TARGET_PARTITION_ITEMS. Inputs that fit in
one buffer never touch the disk. Partitions are independent, so they are processed on a thread
pool (numpy and polars release the GIL).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from personalize_tools.validate.hashing import uint64_series

FLUSH_ITEMS = 1 << 20  # 16 MiB of pairs in memory before a spill
TARGET_PARTITION_ITEMS = 1 << 21
MAX_PARTITIONS = 4096
_PAIR = np.dtype([("hash", "<u8"), ("payload", "<u8")])

Result = TypeVar("Result")


def partitions_for(expected_items: int) -> int:
    """A power of two near expected_items / TARGET_PARTITION_ITEMS, between 1 and MAX_PARTITIONS."""
    wanted = max(1, -(-expected_items // TARGET_PARTITION_ITEMS))
    return min(MAX_PARTITIONS, 1 << (wanted - 1).bit_length())


class HashSpill:
    """Append-only (hash, payload) pairs, read back one hash partition at a time."""

    def __init__(self, expected_items: int, *, flush_items: int | None = None) -> None:
        self.partitions = partitions_for(expected_items)
        self._shift = np.uint64(64 - (self.partitions.bit_length() - 1))
        self._flush_items = flush_items or FLUSH_ITEMS
        self._pending: list[np.ndarray] = []
        self._pending_items = 0
        self._directory: str | None = None
        self.items = 0

    def add(self, hashes: np.ndarray, payloads: np.ndarray) -> None:
        if len(hashes) == 0:
            return
        pairs = np.empty(len(hashes), dtype=_PAIR)
        pairs["hash"] = hashes
        pairs["payload"] = payloads
        self._pending.append(pairs)
        self._pending_items += len(pairs)
        self.items += len(pairs)
        if self._pending_items >= self._flush_items:
            self._flush()

    def _flush(self) -> None:
        pairs = np.concatenate(self._pending)
        self._pending, self._pending_items = [], 0
        if self._directory is None:
            self._directory = tempfile.mkdtemp(prefix="validate-data-")
        if self.partitions == 1:
            with open(self._path(0), "ab") as out:
                pairs.tofile(out)
            return
        keys = (pairs["hash"] >> self._shift).astype(np.uint16)
        order = np.argsort(keys, kind="stable")  # a radix sort for 16-bit keys; keeps payload order
        pairs = pairs[order]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=self.partitions))])
        for partition in range(self.partitions):
            if bounds[partition + 1] > bounds[partition]:
                with open(self._path(partition), "ab") as out:
                    pairs[bounds[partition] : bounds[partition + 1]].tofile(out)

    def _path(self, partition: int) -> str:
        assert self._directory is not None
        return os.path.join(self._directory, f"{partition:04d}.bin")

    def _partitions(self) -> Iterator[np.ndarray]:
        if self._directory is None:
            if self._pending:
                yield np.concatenate(self._pending)
            return
        if self._pending:
            self._flush()
        for partition in range(self.partitions):
            path = self._path(partition)
            if os.path.exists(path):
                yield np.fromfile(path, dtype=_PAIR)

    def map_partitions(self, work: Callable[[np.ndarray, np.ndarray], Result], threads: int) -> list[Result]:
        """WORK(hashes, payloads) per partition, in payload order within each; results in partition order."""
        if threads <= 1:
            return [work(pairs["hash"], pairs["payload"]) for pairs in self._partitions()]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            # A bounded window of loaded partitions keeps memory at a few partitions, not all.
            results: list[Result] = []
            window = []
            for pairs in self._partitions():
                window.append(pool.submit(work, pairs["hash"], pairs["payload"]))
                if len(window) >= threads * 2:
                    results.append(window.pop(0).result())
            results.extend(future.result() for future in window)
            return results

    def close(self) -> None:
        self._pending = []
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def __enter__(self) -> HashSpill:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def later_duplicates(
    hashes: np.ndarray, payloads: np.ndarray, limit: int
) -> tuple[int, np.ndarray, np.ndarray]:
    """(how many items repeat the hash of an earlier item, the smallest LIMIT of their payloads, and
    for each of those the payload of the first item with its hash).

    "Earlier" is insertion order, which a partition keeps; polars finds first occurrences with a
    hash table on both cores, where a sort would cost about three times as much. Originals are
    looked up only for the LIMIT repeats shown, so a clean input pays nothing for them.
    """
    first = uint64_series(hashes).is_first_distinct().to_numpy()
    later = ~first
    count = int(np.count_nonzero(later))
    if not count or not limit:
        empty = np.zeros(0, dtype=np.uint64)
        return count, empty, empty
    repeats, repeat_hashes = payloads[later], hashes[later]
    shown = np.argsort(repeats, kind="stable")[:limit]
    first_hashes = hashes[first]
    wanted = np.isin(first_hashes, repeat_hashes[shown])
    original_of = dict(zip(first_hashes[wanted].tolist(), payloads[first][wanted].tolist(), strict=True))
    originals = np.array([original_of[value] for value in repeat_hashes[shown].tolist()], dtype=np.uint64)
    return count, repeats[shown], originals


def qualified_count(hashes: np.ndarray, counts: np.ndarray, minimum: int) -> int:
    """How many distinct hashes have counts adding up to at least MINIMUM."""
    import polars as pl  # noqa: PLC0415 - loaded by hashing.preload_polars

    frame = pl.DataFrame({"hash": uint64_series(hashes), "count": uint64_series(counts)})
    totals = frame.group_by("hash").agg(pl.col("count").sum())
    return int((totals["count"] >= minimum).sum())
