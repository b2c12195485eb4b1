"""The first line of a dataset CSV, read one way by the handler's preflight, the emulator and validate-data.

Three readers that split and trim the header each their own way once disagreed: with
`USER_ID, ITEM_ID,...` the preflight and the emulator stripped the space and accepted the file,
validate-data refused it, so synth refused data the deploy took. They now all call parse_header.

The developer guide ("Preparing and importing bulk data") says: "The first row of your CSV file
must contain your column headers. Don't enclose headers in quotation marks", and that the header
names must map to the schema's fields. It says nothing of white space around a name. Our choice:
a name is the text between the commas, unchanged, and must equal a schema field name exactly, so
" ITEM_ID" is an unknown column and ITEM_ID is missing. Guessing that Personalize trims would let a
deploy start an import the service may fail an hour later; refusing costs the user one edit.

A UTF-8 byte-order mark is refused by all three through bom_refusal (see there why).

Standard library only: this module ships in the Lambda asset, and the tools import it from here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

BOM = b"\xef\xbb\xbf"
# How much of a file the header checks read: a header row longer than this is refused (header_refusal).
HEADER_BYTES = 64 * 1024
LF, CR = b"\n", b"\r"


@dataclass(frozen=True)
class CsvHeader:
    names: tuple[str, ...]  # as written between the commas; a byte-order mark is not part of the first
    bom: bool  # the file starts with a UTF-8 byte-order mark
    quoted: bool  # a name is in double quotes (the guide says not to)
    line_ending: str  # "LF", "CRLF", "CR" (old Mac: no LF at all), or "none" (no line break seen)
    utf8_error: str | None  # why the line is not UTF-8 (names then show U+FFFD), else None
    end: int  # offset in the bytes given of the first byte after the header line and its break

    @property
    def cr_only(self) -> bool:
        return self.line_ending == "CR"


def parse_header(head: bytes) -> CsvHeader:
    """The header of a CSV whose first bytes are HEAD (its whole first line, when the file has one).

    A line ends at the first LF; CRLF is one break. A CR not followed by LF before any LF means the
    file uses CR alone (old Mac line endings): the header ends there and `line_ending` is "CR".
    """
    newline = head.find(LF)
    lone_cr = head.find(CR)
    while lone_cr >= 0 and head[lone_cr + 1 : lone_cr + 2] == LF:
        lone_cr = head.find(CR, lone_cr + 1)
    if lone_cr >= 0 and (newline < 0 or lone_cr < newline) and lone_cr + 1 < len(head):
        line, end, line_ending = head[:lone_cr], lone_cr + 1, "CR"
    elif newline >= 0:
        line, end = head[:newline], newline + 1
        line_ending = "CRLF" if line.endswith(CR) else "LF"
        line = line.removesuffix(CR)
    else:
        line, end, line_ending = head.removesuffix(CR), len(head), "none"
    bom = line.startswith(BOM)
    line = line.removeprefix(BOM)
    utf8_error = None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        utf8_error = f"the header has invalid UTF-8 at byte {error.start}: {error.reason}"
        text = line.decode("utf-8", errors="replace")
    return CsvHeader(
        names=tuple(_split(text)) if text else (),
        bom=bom,
        quoted=any(part.strip().startswith('"') for part in text.split(",")),
        line_ending=line_ending,
        utf8_error=utf8_error,
        end=end,
    )


def bom_refusal(header: CsvHeader) -> str | None:
    """Why a file that starts with a UTF-8 byte-order mark is refused, or None when it does not.

    The developer guide ("Preparing and importing bulk data") asks for a CSV file whose first row holds
    the column headers, encoded in UTF-8 when it has non-ASCII characters; it does not say whether the
    import reads a byte-order mark as part of the first column name (which would then not match the
    schema) or drops it. Our choice: refuse it, as for white space around a name. Refusing costs one
    re-save; accepting would let a deploy start an import the service may fail an hour later.
    """
    if not header.bom:
        return None
    return (
        "the file starts with a UTF-8 byte-order mark (bytes EF BB BF), which the developer guide does not "
        "say Personalize reads as anything but part of the first column name; save it as UTF-8 without BOM"
    )


def _split(text: str) -> list[str]:
    """CSV fields of one line; a stray CR or NUL that the csv module refuses falls back to plain commas."""
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return text.split(",")


def header_refusal(header: CsvHeader, size: int) -> str | None:
    """Why no CSV reader could take this header (text to follow the file's name), or None. One rule for the
    deploy-time check and the synth-time header check (constructs_lib.preflight)."""
    if header.line_ending == "none" and size > HEADER_BYTES:
        return (
            f": no line break in its first {HEADER_BYTES} bytes, so it has no CSV header row Personalize "
            "could read. The file must start with a header naming the schema's fields."
        )
    if header.cr_only:
        return (
            ": its lines end in a carriage return (CR) alone, not LF or CRLF, so its first line is the "
            "whole file to a CSV reader. Save it with LF or CRLF line endings."
        )
    if header.utf8_error:
        return f": {header.utf8_error}; Personalize reads UTF-8 CSV"
    refusal = bom_refusal(header)
    if refusal:
        return f": {refusal}"
    if not any(header.names):
        return " is empty or starts with a blank line; its first row must be the CSV header"
    return None
