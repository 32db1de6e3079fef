"""The Arrow batches text records travel in to DuckDB: (row_number, record, record_bytes), built
from numpy buffers without copying them again (and without pyarrow's pandas shim)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

NEWLINE = ord("\n")
CARRIAGE_RETURN = ord("\r")
QUOTE = ord('"')
BOM = b"\xef\xbb\xbf"

RECORD_SCHEMA = pa.schema(
    [
        ("row_number", pa.int64()),
        ("record", pa.large_binary()),
        ("record_bytes", pa.int64()),
    ]
)


def int64_array(values: np.ndarray) -> pa.Array:
    """An Arrow int64 array over a numpy array's buffer."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def record_batch(
    row_numbers: np.ndarray, offsets: np.ndarray, values: np.ndarray, record_bytes: np.ndarray
) -> pa.RecordBatch:
    """One batch: record i is values[offsets[i]:offsets[i + 1]], starting on line row_numbers[i]."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    values = np.ascontiguousarray(values, dtype=np.uint8)
    records = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(row_numbers), [None, pa.py_buffer(offsets), pa.py_buffer(values)]
    )
    return pa.RecordBatch.from_arrays(
        [int64_array(row_numbers), records, int64_array(record_bytes)], schema=RECORD_SCHEMA
    )
