"""Getting bytes to the CSV reader: the header line, the rest of the stream, progress, a parser thread."""

from __future__ import annotations

import contextlib
import io
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa

from lambda_handlers.personalize.csv_header import CsvHeader, parse_header
from personalize_tools.validate.errors import SourceError

HEADER_MAX_BYTES = 1 << 20
QUEUED_BATCHES = 2
# The developer guide's words on the format ("Preparing and importing bulk data"), quoted for non-CSV files.
CSV_ONLY = '"Your input data must be in a CSV (comma-separated values) file."'
# Magic numbers of the formats a data export is most often compressed or converted into.
_SIGNATURES = (
    (b"\x1f\x8b", "gzip-compressed"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"BZh", "bzip2-compressed"),
    (b"\xfd7zXZ\x00", "xz-compressed"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"PAR1", "a Parquet file"),
)
_CONTROL = bytes(sorted(set(range(32)) - {9, 10, 13}))  # bytes no CSV header holds; a tab is tolerated


def read_header(stream: BinaryIO, name: str) -> tuple[CsvHeader, bytes, str | None]:
    """The header line (parsed as the handler's preflight and the emulator parse it), the bytes past it,
    and why the file is not CSV text at all (compressed, binary) or None."""
    buffered = b""
    while b"\n" not in buffered and len(buffered) < HEADER_MAX_BYTES:
        chunk = stream.read(64 * 1024)
        if not chunk:
            break
        buffered += chunk
    header = parse_header(buffered)
    problem = not_text(buffered, header.end)
    if problem is None and header.line_ending == "none" and len(buffered) >= HEADER_MAX_BYTES:
        raise SourceError(
            f"{name}: the first line is longer than {HEADER_MAX_BYTES} bytes; not an interactions CSV"
        )
    return header, buffered[header.end :], problem


def not_text(head: bytes, first_line_end: int) -> str | None:
    """What a file starting with HEAD is when it is not CSV text (compressed or binary), else None."""
    first_line = head[:first_line_end]
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return f"{kind} data, not CSV text"
    if len(first_line.translate(None, _CONTROL)) != len(first_line):
        control = next(byte for byte in first_line if byte in _CONTROL)
        return f"binary data, not CSV text (its first line holds the control byte 0x{control:02x})"
    return None


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total_bytes: int) -> None:
        self.total = max(total_bytes, 1)
        self.done = 0
        self._shown = 0.0
        self.enabled = sys.stderr is not None and sys.stderr.isatty()  # None: stderr closed (`2>&-`)

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._shown > 0.2:
            self._shown = now
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            sys.stderr.write(f"\r[{bar:<30}] {share:4.0%} {self.done / 1e6:,.0f}/{self.total / 1e6:,.0f} MB")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


class Replay(io.RawIOBase):
    """The stream after its header line: the bytes already read, then the rest; counts progress."""

    def __init__(self, head: bytes, stream: BinaryIO, progress: Progress | None) -> None:
        super().__init__()
        self._head = head
        self._stream = stream
        self._progress = progress

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._head:
            if size is None or size < 0 or size >= len(self._head):
                chunk, self._head = self._head, b""
            else:
                chunk, self._head = self._head[:size], self._head[size:]
        else:
            chunk = self._stream.read() if size is None or size < 0 else self._stream.read(size)
        if self._progress is not None:
            self._progress.advance(len(chunk))
        return chunk

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


_END = object()


def parsed_batches(reader: Any) -> Iterator[pa.RecordBatch]:
    """READER's batches, parsed on a producer thread so parsing overlaps the caller's checks."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=QUEUED_BATCHES)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in reader:
                while not stop.is_set():
                    try:
                        handoff.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(_END)
        except BaseException as error:  # handed to the consumer, which raises it
            handoff.put(error)

    producer = threading.Thread(target=produce, name="validate-data-parser", daemon=True)
    producer.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while producer.is_alive():
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.1)


@dataclass(frozen=True)
class LongLine:
    line: int  # physical line number, 1-based (the header is line 1)
    line_bytes: int
    field: int  # 0-based index of its longest comma-separated field (quotes are not honoured here)
    field_bytes: int


def longest_line(open_stream: Callable[[], BinaryIO], limit: int) -> LongLine | None:
    """The first line longer than LIMIT bytes, reading the file again in chunks; memory stays one chunk.

    Only runs after pyarrow refused a row longer than its block, to tell the user where and what.
    """
    stream = open_stream()
    try:
        line_number, length, field, field_length = 1, 0, 0, 0
        longest = (0, 0)  # (bytes, field index) of the current line's longest field so far

        def measure(part: bytes) -> None:
            nonlocal field, field_length, longest
            for position, piece in enumerate(part.split(b",")):
                if position:
                    field, field_length = field + 1, 0
                field_length += len(piece)
                longest = max(longest, (field_length, field))

        while chunk := stream.read(1 << 20):
            parts = chunk.split(b"\n")
            for part in parts[:-1]:  # each ends a line
                if length + len(part) > limit:
                    measure(part)
                    return LongLine(line_number, length + len(part), longest[1], longest[0])
                line_number, length, field, field_length, longest = line_number + 1, 0, 0, 0, (0, 0)
            measure(parts[-1])  # a line that goes on in the next chunk
            length += len(parts[-1])
        return LongLine(line_number, length, longest[1], longest[0]) if length > limit else None
    finally:
        stream.close()


class UndecodableRows:
    """Silences pyarrow's "Exception ignored ... UnicodeDecodeError" for a skipped row that is not UTF-8.

    pyarrow decodes a row of the wrong width as UTF-8 before it calls the invalid-row handler; when
    that fails it prints the error through sys.unraisablehook and stops the parse, which the caller
    reports as csv_syntax. This records the event instead of printing it, while parsing runs.
    """

    def __init__(self) -> None:
        self.seen = False
        self._previous: Callable[[Any], object] | None = None

    def _hook(self, unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, UnicodeDecodeError) and "invalid_row" in repr(unraisable.object):
            self.seen = True
        elif self._previous is not None:
            self._previous(unraisable)

    def __enter__(self) -> UndecodableRows:
        self._previous, sys.unraisablehook = sys.unraisablehook, self._hook
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            sys.unraisablehook = self._previous
