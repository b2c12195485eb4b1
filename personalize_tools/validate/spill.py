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

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np

from personalize_tools.validate.errors import ScratchError
from personalize_tools.validate.hashing import uint64_series

FLUSH_ITEMS = 1 << 20  # 16 MiB of pairs in memory before a spill
TARGET_PARTITION_ITEMS = 1 << 21
MAX_PARTITIONS = 4096
_FEW_WANTED = 16  # see _members

Result = TypeVar("Result")


def partitions_for(expected_items: int) -> int:
    """A power of two near expected_items / TARGET_PARTITION_ITEMS, between 1 and MAX_PARTITIONS."""
    wanted = max(1, -(-expected_items // TARGET_PARTITION_ITEMS))
    return min(MAX_PARTITIONS, 1 << (wanted - 1).bit_length())


class HashSpill:
    """Append-only (hash, payload) pairs, read back one hash partition at a time.

    The pending pairs and their partitioned copy live in buffers allocated once and reused by
    every flush: fresh arrays per batch and per flush cost a page fault per 4 KiB, which on a
    10M-row run was a third of the duplicate check's CPU (docs/validate-data.md). Hashes and
    payloads are kept and written apart, so a partition is read back as two contiguous arrays.
    """

    def __init__(self, expected_items: int, *, flush_items: int | None = None) -> None:
        self.partitions = partitions_for(expected_items)
        self._shift = np.uint64(64 - (self.partitions.bit_length() - 1))
        self._key_type = np.uint8 if self.partitions <= 256 else np.uint16  # radix sort passes
        self._flush_items = flush_items or FLUSH_ITEMS
        self._buffers: tuple[np.ndarray, np.ndarray] | None = None  # pending hashes, payloads
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None  # the same, by partition
        self._filled = 0
        self._directory: str | None = None
        self.items = 0

    def add(self, hashes: np.ndarray, payloads: np.ndarray) -> None:
        if self._buffers is None:
            self._buffers = (np.empty(self._flush_items, np.uint64), np.empty(self._flush_items, np.uint64))
        pending_hashes, pending_payloads = self._buffers
        self.items += len(hashes)
        start = 0
        while start < len(hashes):
            taken = min(len(hashes) - start, self._flush_items - self._filled)
            pending_hashes[self._filled : self._filled + taken] = hashes[start : start + taken]
            pending_payloads[self._filled : self._filled + taken] = payloads[start : start + taken]
            self._filled += taken
            start += taken
            if self._filled == self._flush_items:
                self._flush()

    def _pending(self) -> tuple[np.ndarray, np.ndarray]:
        assert self._buffers is not None
        return self._buffers[0][: self._filled], self._buffers[1][: self._filled]

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[None]:
        """OSError from the temporary files as a ScratchError naming the directory, not the input."""
        try:
            yield
        except OSError as error:
            import tempfile  # noqa: PLC0415 - see _flush_pending

            where = self._directory or tempfile.gettempdir()
            raise ScratchError(
                f"cannot use the temporary directory {where} for the exact duplicate counts: "
                f"{error.strerror or error}; free space there, or set TMPDIR to a writable directory"
            ) from error

    def _flush(self) -> None:
        with self._scratch():
            self._flush_pending()

    def _flush_pending(self) -> None:
        hashes, payloads = self._pending()
        self._filled = 0
        if self._directory is None:
            # tempfile and shutil (with random, bz2, lzma) and concurrent.futures (with logging) are
            # not imported at start: polars loads them on its preload thread, off the critical path.
            import tempfile  # noqa: PLC0415

            self._directory = tempfile.mkdtemp(prefix="validate-data-")
        if self.partitions == 1:
            self._append(0, hashes, payloads)
            return
        keys = (hashes >> self._shift).astype(self._key_type)
        order = np.argsort(keys, kind="stable")  # a radix sort for 8- or 16-bit keys; keeps payload order
        if self._sorted is None:
            self._sorted = (np.empty(self._flush_items, np.uint64), np.empty(self._flush_items, np.uint64))
        sorted_hashes = np.take(hashes, order, out=self._sorted[0][: len(order)])
        sorted_payloads = np.take(payloads, order, out=self._sorted[1][: len(order)])
        bounds = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=self.partitions))])
        for partition in range(self.partitions):
            low, high = int(bounds[partition]), int(bounds[partition + 1])
            if high > low:
                self._append(partition, sorted_hashes[low:high], sorted_payloads[low:high])

    def _append(self, partition: int, hashes: np.ndarray, payloads: np.ndarray) -> None:
        for suffix, values in (("hash", hashes), ("payload", payloads)):
            with open(self._path(partition, suffix), "ab") as out:
                values.tofile(out)

    def _path(self, partition: int, suffix: str) -> str:
        assert self._directory is not None
        return os.path.join(self._directory, f"{partition:04d}.{suffix}")

    def _partitions(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self._directory is None:
            if self._filled:
                yield self._pending()
            return
        if self._filled:
            self._flush()
        self._buffers = self._sorted = None  # the partitions read back take their place
        for partition in range(self.partitions):
            path = self._path(partition, "hash")
            if os.path.exists(path):
                with self._scratch():
                    loaded = (
                        np.fromfile(path, dtype=np.uint64),
                        np.fromfile(self._path(partition, "payload"), dtype=np.uint64),
                    )
                yield loaded

    def map_partitions(self, work: Callable[[np.ndarray, np.ndarray], Result], threads: int) -> list[Result]:
        """WORK(hashes, payloads) per partition, in payload order within each; results in partition order."""
        if threads <= 1 or self._directory is None:  # nothing spilled: one partition at most, in memory
            return [work(hashes, payloads) for hashes, payloads in self._partitions()]
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - see _flush_pending

        with ThreadPoolExecutor(max_workers=threads) as pool:
            # A bounded window of loaded partitions keeps memory at a few partitions, not all.
            results: list[Result] = []
            window = []
            for hashes, payloads in self._partitions():
                window.append(pool.submit(work, hashes, payloads))
                if len(window) >= threads * 2:
                    results.append(window.pop(0).result())
            results.extend(future.result() for future in window)
            return results

    def close(self) -> None:
        self._buffers = self._sorted = None
        self._filled = 0
        if self._directory is not None:
            import shutil  # noqa: PLC0415 - see _flush_pending

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

    "Earlier" is payload order, which is insertion order (file index, then line). Counting needs
    only a sort of the hashes: numpy's vectorized sort of 2.5M uint64 took 0.02 CPU-seconds where
    polars' is_first_distinct took 0.24. Only items whose hash repeats are then ordered by
    (hash, payload) to name each repeat's original, so a clean input pays for the sort alone.
    """
    ordered = np.sort(hashes)
    repeats_sorted = ordered[1:] == ordered[:-1]
    count = int(np.count_nonzero(repeats_sorted))
    empty = np.zeros(0, dtype=np.uint64)
    if not count or not limit:
        return count, empty, empty
    repeats = ordered[1:][repeats_sorted]  # sorted, so distinct values are where a neighbour differs
    repeated = repeats[np.concatenate(([True], repeats[1:] != repeats[:-1]))]  # np.unique imports numpy.ma
    involved = np.flatnonzero(_members(hashes, repeated))
    group_hashes, group_payloads = hashes[involved], payloads[involved]
    order = np.lexsort((group_payloads, group_hashes))
    group_hashes, group_payloads = group_hashes[order], group_payloads[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = group_hashes[1:] != group_hashes[:-1]
    original = group_payloads[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
    later, originals = group_payloads[~first], original[~first]
    shown = np.argsort(later, kind="stable")[:limit]
    return count, later[shown], originals[shown]


def _members(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Mask of VALUES found in WANTED (sorted, distinct).

    A data file repeats few rows, so WANTED is short: a comparison per wanted value (0.1 ms per 330k
    values each) beats a binary search of every value (1.8 ms, plus the gather that checks it).
    """
    if len(wanted) <= _FEW_WANTED:
        found: np.ndarray = values == wanted[0]
        for value in wanted[1:]:
            found |= values == value
        return found
    slots = np.minimum(np.searchsorted(wanted, values), len(wanted) - 1)
    matched: np.ndarray = wanted[slots] == values
    return matched


def qualified_count(hashes: np.ndarray, counts: np.ndarray, minimum: int) -> int:
    """How many distinct hashes have counts adding up to at least MINIMUM."""
    import polars as pl  # noqa: PLC0415 - loaded by hashing.preload_polars

    frame = pl.DataFrame({"hash": uint64_series(hashes), "count": uint64_series(counts)})
    totals = frame.group_by("hash").agg(pl.col("count").sum())
    return int((totals["count"] >= minimum).sum())
