"""64-bit hashes of whole rows and of single values, for duplicate rows and per-user counts.

pyarrow has no hash kernel. A numpy polynomial hash over Arrow's data buffers (the first
version of this module) cost 4-5 ns per byte and made hashing the largest part of a run; polars'
hash kernels do a record batch in a fraction of that and share Arrow's memory layout, so they
are used here (docs/validate-data.md has the numbers). Hashes are compared only within one run.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    import polars as pl

_preload: threading.Thread | None = None


def preload_polars() -> None:
    """Import polars on a thread of its own; the first hashing waits for it only if it is not done.

    Importing polars is the largest start-up cost (a third of a 1M-row run); pyarrow parses the
    first blocks meanwhile, on the other core.
    """
    global _preload  # noqa: PLW0603 - one preload per process
    if _preload is None:
        _preload = threading.Thread(target=_import_polars, name="validate-data-import", daemon=True)
        _preload.start()


def _import_polars() -> None:
    """The preload's import, quiet when it fails: the first use imports polars again and raises there.

    A Ctrl-C can end the process while this daemon thread is still importing (synth checks unseen data
    while CDK's engine starts); polars' import then fails in the interpreter's shutdown, and an error
    printed from this thread would also turn the exit status 130 into 1.
    """
    with contextlib.suppress(BaseException):
        importlib.import_module("polars")


def polars_ready() -> bool:
    """Whether hashing can start without waiting for polars' import (no preload: it imports on use)."""
    return _preload is None or not _preload.is_alive()


def _as_view(values: pa.Array) -> pa.Array:
    """Binary values in polars' own layout (binary view), so that handing them over copies nothing.

    pyarrow's cast to binary_view cost half of polars' conversion of the same binary column
    (0.021 against 0.044 CPU-seconds for 1M rows of four columns); the hashes are the same.
    """
    return values.cast(pa.binary_view()) if values.type == pa.binary() else values


def row_hashes(columns: list[pa.Array]) -> np.ndarray:
    """One uint64 per row over the raw bytes of COLUMNS, in the order given."""
    import polars as pl  # noqa: PLC0415 - see preload_polars

    frame = pl.from_arrow(
        pa.RecordBatch.from_arrays(
            [_as_view(column) for column in columns], names=[f"c{index}" for index in range(len(columns))]
        )
    )
    assert isinstance(frame, pl.DataFrame)
    return frame.hash_rows().to_numpy()


def uint64_series(values: np.ndarray) -> pl.Series:
    """A polars Series over a uint64 array, zero-copy.

    pl.Series(numpy_array) imports numpy.ma (0.1-0.2 s of start-up, more than hashing 1M rows);
    going through an Arrow array built on the same buffer does not.
    """
    import polars as pl  # noqa: PLC0415 - see preload_polars

    contiguous = np.ascontiguousarray(values, dtype=np.uint64)
    series = pl.from_arrow(
        pa.Array.from_buffers(pa.uint64(), len(contiguous), [None, pa.py_buffer(contiguous)])
    )
    assert isinstance(series, pl.Series)
    return series


def value_hashes(values: pa.Array) -> np.ndarray:
    """One uint64 per value; equal bytes, equal hash."""
    import polars as pl  # noqa: PLC0415 - see preload_polars

    series = pl.from_arrow(_as_view(values))
    assert isinstance(series, pl.Series)
    return series.hash().to_numpy()
