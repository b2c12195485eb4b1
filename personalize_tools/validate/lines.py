"""Physical line numbers for the rows pyarrow's CSV reader delivers.

pyarrow numbers records, not lines, and delivers only well-formed records: one with the wrong
number of fields reaches the invalid-row handler (with its record number, when parsing is
single-threaded) before the batch around it is delivered. A quoted value may also span lines.
LineTracker folds both in, batch by batch, holding only the skipped rows not yet placed.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SkippedRow:
    record: int  # 1-based record number after the header, as pyarrow counts records
    extra_lines: int  # line breaks inside the row's text (an unterminated quote swallows lines)
    text: str
    fields: int


class LineTracker:
    def __init__(self, first_line: int = 2) -> None:
        self.next_record = 1
        self.next_line = first_line  # line 1 is the header
        self._skipped: deque[SkippedRow] = deque()
        self._lock = threading.Lock()

    def on_invalid_row(self, row: Any) -> str:
        """pyarrow's invalid_row_handler; runs on the parsing thread. Skips the row."""
        text = str(row.text)
        number = row.number if row.number is not None else self.next_record
        with self._lock:
            self._skipped.append(
                SkippedRow(int(number), text.count("\n"), text[:200], int(row.actual_columns))
            )
        return "skip"

    def batch(
        self, rows: int, extra_lines: np.ndarray | None
    ) -> tuple[np.ndarray, list[tuple[int, SkippedRow]]]:
        """Lines of the next ROWS delivered rows, and (line, row) for the skipped rows among them.

        EXTRA_LINES[i] is the number of line breaks inside row i's values (None: none anywhere).
        """
        with self._lock:
            pending = list(self._skipped)
        if not pending and extra_lines is None:
            lines = self.next_line + np.arange(rows, dtype=np.int64)
            self.next_line += rows
            self.next_record += rows
            return lines, []
        skipped_records = np.array([row.record for row in pending], dtype=np.int64)
        nominal = self.next_record + np.arange(rows, dtype=np.int64)
        # The k-th delivered row is the k-th record number that no skipped row took.
        records = nominal + np.searchsorted(skipped_records - np.arange(len(pending)), nominal, side="right")
        last_record = int(records[-1]) if rows else self.next_record - 1
        placed = int(np.searchsorted(skipped_records, last_record, side="right"))
        spans = np.ones(rows + placed, dtype=np.int64)
        row_slots = records - self.next_record
        skipped_slots = skipped_records[:placed] - self.next_record
        if extra_lines is not None:
            spans[row_slots] += extra_lines
        spans[skipped_slots] += np.array([row.extra_lines for row in pending[:placed]], dtype=np.int64)
        starts = self.next_line + np.concatenate([[0], np.cumsum(spans)[:-1]])
        self.next_line += int(spans.sum())
        self.next_record += rows + placed
        with self._lock:
            for _ in range(placed):
                self._skipped.popleft()
        return starts[row_slots], [
            (int(starts[slot]), row) for slot, row in zip(skipped_slots, pending[:placed], strict=True)
        ]

    def finish(self) -> list[tuple[int, SkippedRow]]:
        """(line, row) for the skipped rows after the last delivered row."""
        with self._lock:
            pending, self._skipped = list(self._skipped), deque()
        placed = []
        for row in pending:
            placed.append((self.next_line + (row.record - self.next_record), row))
            self.next_line += 1 + row.extra_lines
            self.next_record = row.record + 1
        return placed
