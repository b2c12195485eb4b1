"""Getting bytes to the CSV reader: the header line, the rest of the stream, progress, a parser thread."""

from __future__ import annotations

import contextlib
import csv
import io
import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa

from personalize_tools.validate.errors import SourceError

HEADER_MAX_BYTES = 1 << 20
QUEUED_BATCHES = 2
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Header:
    names: list[str]
    bom: bool
    quoted: bool
    line_ending: str  # "LF", "CRLF", or "none" when the file is a single line without a break
    utf8_error: str | None


def read_header(stream: BinaryIO, name: str) -> tuple[Header, bytes]:
    """The header line, parsed by the csv module, and the bytes already read past it."""
    buffered = b""
    while b"\n" not in buffered and len(buffered) < HEADER_MAX_BYTES:
        chunk = stream.read(64 * 1024)
        if not chunk:
            break
        buffered += chunk
    line, newline, rest = buffered.partition(b"\n")
    if not newline and len(buffered) >= HEADER_MAX_BYTES:
        raise SourceError(
            f"{name}: the first line is longer than {HEADER_MAX_BYTES} bytes; not an interactions CSV"
        )
    line_ending = "CRLF" if line.endswith(b"\r") else ("LF" if newline else "none")
    line = line.removesuffix(b"\r")
    bom = line.startswith(BOM)
    line = line.removeprefix(BOM)
    utf8_error = None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        utf8_error = f"header has invalid UTF-8 at byte {error.start}"
        text = line.decode("utf-8", errors="replace")
    names = next(csv.reader([text]), []) if text else []
    quoted = any(part.strip().startswith('"') for part in text.split(","))
    return Header(names, bom, quoted, line_ending, utf8_error), rest


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total_bytes: int) -> None:
        self.total = max(total_bytes, 1)
        self.done = 0
        self._shown = 0.0
        self.enabled = sys.stderr.isatty()

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
