"""One column of one record batch, classified once and then read by every rule.

Columns arrive as raw binary (the CSV reader never converts, so it never fails on a bad value).
The common case costs one or two vectorized calls per column: a UTF-8 cast for strings; a
byte-range test plus one cast for numbers. Only a batch that fails its fast path is diagnosed
value by value, with a vectorized regex per Avro type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lambda_handlers.personalize import domain

# What each Avro primitive accepts in CSV is domain.VALUE_PATTERNS. The fast path (pyarrow casts)
# accepts the same values on the inputs it is used for: integers only when every byte is a digit, so
# that neither a sign nor pyarrow's hex ("0x1f") reaches the cast; floats only when finite.
_ARROW_TYPES = {
    "long": pa.int64(),
    "int": pa.int32(),
    "float": pa.float64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}
_ASCII_ZERO, _ASCII_NINE, _NEWLINE, _FIRST_NON_ASCII = 48, 57, 10, 0x80


@dataclass(frozen=True)
class FieldSpec:
    """A schema field: its base Avro primitive, whether it is a union with null, whether it is categorical."""

    name: str
    avro_type: str
    nullable: bool
    categorical: bool = False

    @property
    def is_string(self) -> bool:
        return self.avro_type == "string"


@dataclass
class Column:
    name: str
    spec: FieldSpec | None  # None: a column the schema does not define
    raw: pa.Array
    empty: np.ndarray | None = None  # rows whose value is empty; None when there are none
    bad_utf8: np.ndarray | None = None
    extra_lines: np.ndarray | None = None  # line breaks inside quoted values
    values: np.ndarray | None = None  # typed columns: parsed values, meaningful where parsed
    unparsed: np.ndarray | None = None  # non-empty, valid UTF-8, not of the field's type
    text: pa.Array | None = None  # typed columns on the slow path: values as strings
    nul: np.ndarray | None = None  # string columns: values holding a NUL byte; None when there are none

    @property
    def byte_lengths(self) -> np.ndarray:
        return np.diff(offsets(self.raw))

    def parsed(self) -> np.ndarray:
        """Rows whose value parsed as the field's type."""
        mask = np.ones(len(self.raw), dtype=bool)
        for excluded in (self.empty, self.unparsed, self.bad_utf8):
            if excluded is not None:
                mask &= ~excluded
        return mask


_NUMPY_TYPES = {
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.float64(): np.float64,
    pa.uint8(): np.uint8,
}


def as_numpy(array: pa.Array) -> np.ndarray:
    """A null-free numeric or boolean array as numpy, zero-copy where Arrow's layout allows.

    pyarrow's own to_numpy(zero_copy_only=False) imports pandas, which costs a short run 0.15 s.
    """
    if array.type == pa.bool_():
        return as_numpy(array.cast(pa.uint8())).view(np.bool_)
    values = np.frombuffer(array.buffers()[1], dtype=_NUMPY_TYPES[array.type])
    return values[array.offset : array.offset + len(array)]


def arrow_mask(mask: np.ndarray) -> pa.Array:
    """A numpy bool mask as an Arrow boolean array.

    pa.array(numpy_array) imports pandas (0.1-0.3 s of start-up) to check for pandas input; building
    the array from its bit buffer does not.
    """
    bits = np.packbits(mask, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


def _constant(value: bytes, value_type: pa.DataType) -> pa.Scalar:
    """A binary or string scalar; pa.scalar(python_value) imports pandas, like pa.array (above)."""
    bounds = np.array([0, len(value)], dtype=np.int32)
    array = pa.Array.from_buffers(value_type, 1, [None, pa.py_buffer(bounds), pa.py_buffer(value)])
    return array[0]


def offsets(array: pa.Array) -> np.ndarray:
    return np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]


def data(array: pa.Array) -> np.ndarray:
    buffer = array.buffers()[2]
    if buffer is None:
        return np.zeros(0, dtype=np.uint8)
    bounds = offsets(array)
    return np.frombuffer(buffer, dtype=np.uint8)[bounds[0] : bounds[-1]]


def invalid_utf8(values: pa.Array) -> np.ndarray | None:
    """Mask of values that are not UTF-8, or None when all are.

    ASCII bytes (all below 0x80, the common case for ids and event types) are UTF-8: one max over
    the bytes, a fraction of the validating cast (one SIMD-validated cast) the rest need.
    """
    if _ascii(values):
        return None
    try:
        values.cast(pa.string())
        return None
    except pa.ArrowInvalid:
        pass
    mask = np.zeros(len(values), dtype=bool)
    for index, value in enumerate(values.to_pylist()):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            mask[index] = True
    return mask


def _ascii(values: pa.Array) -> bool:
    bytes_ = data(values)
    return not len(bytes_) or int(bytes_.max()) < _FIRST_NON_ASCII


def _empty_mask(raw: pa.Array) -> np.ndarray | None:
    empty = np.diff(offsets(raw)) == 0
    return empty if empty.any() else None


def _line_breaks(raw: pa.Array, lowest_byte: int = 0) -> np.ndarray | None:
    """Line breaks per value, or None when there are none; LOWEST_BYTE > LF proves there are none."""
    if lowest_byte > _NEWLINE or not np.any(data(raw) == _NEWLINE):
        return None
    return as_numpy(pc.count_substring(raw, "\n")).astype(np.int64)


def string_column(name: str, spec: FieldSpec | None, raw: pa.Array) -> Column:
    """Strings (and columns outside the schema): UTF-8, emptiness, line breaks and NUL bytes.

    One pass finds the lowest byte of the batch's values: text without control bytes (the common
    case) holds neither a NUL nor a line break, so neither needs a pass (and a mask) of its own.
    """
    values = data(raw)
    lowest = int(values.min()) if len(values) else 255
    return Column(
        name,
        spec,
        raw,
        empty=_empty_mask(raw),
        bad_utf8=invalid_utf8(raw),
        extra_lines=_line_breaks(raw, lowest),
        nul=None if lowest else as_numpy(pc.match_substring(raw, "\x00")),
    )


def typed_column(name: str, spec: FieldSpec, raw: pa.Array) -> Column:
    """Numbers, booleans and null: parse the whole batch at once, or diagnose every value."""
    fast = _fast_parse(spec.avro_type, raw)
    if fast is not None:
        return Column(name, spec, raw, values=fast)
    return _diagnose(name, spec, raw)


def _fast_parse(avro_type: str, raw: pa.Array) -> np.ndarray | None:
    """Parsed values when every value of the batch is valid, else None."""
    if avro_type not in _ARROW_TYPES or len(raw) == 0:
        return None
    if np.any(np.diff(offsets(raw)) == 0):
        return None  # empty values need the null rules
    try:
        if avro_type in domain.INTEGER_BOUNDS:
            digits = data(raw)
            if digits.min() < _ASCII_ZERO or digits.max() > _ASCII_NINE:
                return None
            return as_numpy(raw.cast(_ARROW_TYPES[avro_type]))
        values = as_numpy(raw.cast(_ARROW_TYPES[avro_type]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if values.dtype == np.float64 and not np.isfinite(values).all():
        return None
    return values


def _diagnose(name: str, spec: FieldSpec, raw: pa.Array) -> Column:
    empty = np.diff(offsets(raw)) == 0
    bad_utf8 = invalid_utf8(raw)
    usable = ~empty if bad_utf8 is None else ~empty & ~bad_utf8
    cleaned = raw if bad_utf8 is None else pc.if_else(arrow_mask(bad_utf8), _constant(b"", pa.binary()), raw)
    text = cleaned.cast(pa.string())
    matches = as_numpy(pc.match_substring_regex(text, domain.VALUE_PATTERNS[spec.avro_type]))
    parseable = matches & usable
    values = None
    if spec.avro_type in _ARROW_TYPES:
        parseable, values = _parse_where(text, parseable, spec.avro_type)
    unparsed = usable & ~parseable
    return Column(
        name,
        spec,
        raw,
        empty=empty if empty.any() else None,
        bad_utf8=bad_utf8,
        extra_lines=_line_breaks(raw),
        values=values,
        unparsed=unparsed if unparsed.any() else None,
        text=text,
    )


def _parse_where(text: pa.Array, parseable: np.ndarray, avro_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Cast the values the pattern accepts; integers outside the type's range become unparseable."""
    target = _ARROW_TYPES[avro_type]

    def cast(mask: np.ndarray) -> np.ndarray:
        candidates = pc.if_else(arrow_mask(mask), text, _constant(b"0", pa.string()))
        return as_numpy(candidates.cast(target))

    try:
        values = cast(parseable)
    except pa.ArrowInvalid:
        low, high = domain.INTEGER_BOUNDS[avro_type]
        parseable = parseable.copy()
        for index in np.flatnonzero(parseable):
            if not low <= int(text[int(index)].as_py()) <= high:
                parseable[index] = False
        values = cast(parseable)
    if values.dtype == np.float64:
        parseable = parseable & np.isfinite(values)
    return parseable, values
