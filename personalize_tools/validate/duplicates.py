"""Exact repeats (of whole rows, or of one id column): hashed and spilled on a worker thread.

Hashing a batch (polars) and appending it to the spill (a radix partition and a file write) cost
about as much as every other check together; on their own thread they overlap parsing and
checking instead of adding to them.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np
import pyarrow as pa

from personalize_tools.validate import spill
from personalize_tools.validate.hashing import polars_ready, row_hashes

_QUEUED = 2  # 8 absorbed spill flushes no better (same wall time) and held 20-30 MB more at 10M rows
# Batches held while polars is still being imported, so that parsing and checking go on meanwhile
# (about 1M rows, 30-40 MB): with only _QUEUED, the whole pipeline stalled behind the import.
_EARLY = 16
_STOP = object()


class DuplicateFinder:
    def __init__(self, most_rows: int, *, threads: int) -> None:
        self._spill = spill.HashSpill(most_rows)
        self._threads = threads
        self._work: queue.Queue[Any] = queue.Queue(maxsize=_QUEUED)
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._run, name="validate-data-duplicates", daemon=True)
        self._worker.start()

    def submit(self, columns: list[pa.Array], payloads: np.ndarray, keep: np.ndarray | None) -> None:
        """Queue one batch: its columns in a fixed order, a uint64 payload per row, rows to skip."""
        self._raise_worker_error()
        self._work.put((columns, payloads, keep))

    def _run(self) -> None:
        early: list[Any] = []  # in submission order, hashed before anything later
        while True:
            item = self._work.get()
            if item is not _STOP and len(early) < _EARLY and not polars_ready():
                early.append(item)
                continue
            for held in early:
                self._hash(held)
            early.clear()
            if item is _STOP:
                return
            self._hash(item)

    def _hash(self, item: tuple[list[pa.Array], np.ndarray, np.ndarray | None]) -> None:
        if self._error is not None:
            return  # drain, so that submit never blocks on a dead worker
        columns, payloads, keep = item
        try:
            hashes = row_hashes(columns)
            if keep is None:
                self._spill.add(hashes, payloads)
            else:
                self._spill.add(hashes[keep], payloads[keep])
        except BaseException as error:  # re-raised on the checking thread
            self._error = error

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _stop(self) -> None:
        if self._worker.is_alive():
            self._work.put(_STOP)
            self._worker.join()

    def result(self, limit: int) -> tuple[int, np.ndarray, np.ndarray]:
        """(repeats of an earlier item, the smallest LIMIT of their payloads, the payload each repeats)."""
        self._stop()
        self._raise_worker_error()
        parts = self._spill.map_partitions(
            lambda hashes, payloads: spill.later_duplicates(hashes, payloads, limit), self._threads
        )
        count = sum(part[0] for part in parts)
        if not parts:
            empty = np.zeros(0, np.uint64)
            return count, empty, empty
        later = np.concatenate([part[1] for part in parts])
        earlier = np.concatenate([part[2] for part in parts])
        shown = np.argsort(later, kind="stable")[:limit]
        return count, later[shown], earlier[shown]

    def close(self) -> None:
        self._stop()
        self._spill.close()
