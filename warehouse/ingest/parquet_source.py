"""The rows of a Parquet landing file as a DuckDB relation with a row number and an encoding flag.

DuckDB's own reader (parallel, typed) serves every file it can: one whose name is valid UTF-8 and
that has no column named like the row-number column it adds. The others, and a file with a string
value that is not valid UTF-8 (which DuckDB refuses for the whole file), are read through pyarrow
from an open handle, batch by batch: string columns arrive as bytes and are decoded per value, so
only the rows holding a bad value are quarantined (bad_encoding) and the rest load.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

if TYPE_CHECKING:  # pyarrow.parquet (and the ssl it pulls in) loads only for Parquet files
    import pyarrow.parquet as pq

DUCKDB_ROW_COLUMN = "file_row_number"  # what read_parquet(file_row_number=true) adds (0-based)
ARROW_ROW_COLUMN = "__reelloop_row"  # what the pyarrow path adds (0-based), suffixed if taken
BAD_ENCODING_COLUMN = "__reelloop_bad_encoding"  # first column whose value is not UTF-8


@dataclass(frozen=True)
class ParquetSource:
    """A Parquet file's rows: `relation` holds the file's columns (their own names) plus the
    0-based `row_column` and, on the pyarrow path, `bad_encoding_column` (null when every string
    value of the row is valid UTF-8, else the name of the first column that is not)."""

    relation: duckdb.DuckDBPyRelation
    data_columns: tuple[str, ...]
    row_column: str
    bad_encoding_column: str | None = None


def is_encoding_error(exc: BaseException) -> bool:
    """Whether DuckDB refused a Parquet file for a string value that is not valid UTF-8."""
    text = str(exc)
    return isinstance(exc, duckdb.InvalidInputException) and (
        "not valid UTF8" in text or "Invalid string encoding" in text
    )


def duckdb_can_read(path: Path, stack: ExitStack) -> bool:
    """DuckDB's reader takes the file: its name is UTF-8 and no column clashes with its row number."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    import pyarrow.parquet as pq

    handle = stack.enter_context(path.open("rb"))
    return DUCKDB_ROW_COLUMN not in pq.read_schema(handle).names


def parquet_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    stack: ExitStack,
    *,
    via_arrow: bool = False,
    batch_rows: int = 65_536,
) -> ParquetSource:
    """The file's rows by DuckDB's reader when it can take them and `via_arrow` is off, else by
    pyarrow from a handle kept open on `stack` until the relation has been read."""
    if not via_arrow and duckdb_can_read(path, stack):
        relation = con.read_parquet(str(path), file_row_number=True)
        columns = tuple(c for c in relation.columns if c != DUCKDB_ROW_COLUMN)
        return ParquetSource(relation, columns, DUCKDB_ROW_COLUMN)
    import pyarrow.parquet as pq

    return _arrow_source(con, pq.ParquetFile(stack.enter_context(path.open("rb"))), batch_rows)


def _arrow_source(
    con: duckdb.DuckDBPyConnection, parquet: pq.ParquetFile, batch_rows: int
) -> ParquetSource:
    """The pyarrow path: batches with a row number, strings as bytes, decoded in DuckDB."""
    schema = parquet.schema_arrow
    columns = tuple(schema.names)
    row_column = ARROW_ROW_COLUMN
    while row_column in columns:
        row_column += "_"
    as_bytes = pa.schema(
        [f.with_type(_bytes_type(f.type)) for f in schema] + [pa.field(row_column, pa.int64())]
    )

    def batches() -> Iterator[pa.RecordBatch]:
        first = 0
        for batch in parquet.iter_batches(batch_size=batch_rows):
            rows = np.arange(first, first + batch.num_rows, dtype=np.int64)
            arrays = [
                batch.column(i).cast(as_bytes.field(i).type) for i in range(batch.num_columns)
            ]
            numbers = pa.Array.from_buffers(pa.int64(), len(rows), [None, pa.py_buffer(rows)])
            yield pa.RecordBatch.from_arrays([*arrays, numbers], schema=as_bytes)
            first += batch.num_rows

    raw = con.from_arrow(pa.RecordBatchReader.from_batches(as_bytes, batches()))
    # DuckDB names an empty column and repeated (case-insensitive) names on its own (`v2`, `a_1`):
    # address the columns by the names the relation holds, matched to the schema by position
    *names, row_column = raw.columns
    texts = [names[i] for i, f in enumerate(schema) if _is_text(f.type)]
    columns = tuple(names)
    column = duckdb.ColumnExpression
    function = duckdb.FunctionExpression
    decoded = {name: function("try", function("decode", column(name))) for name in texts}
    selected = [decoded.get(name, column(name)).alias(name) for name in columns]
    first_bad: duckdb.Expression = duckdb.ConstantExpression(None)
    for name in reversed(texts):
        failed = column(name).isnotnull() & decoded[name].isnull()
        first_bad = duckdb.CaseExpression(failed, duckdb.ConstantExpression(name)).otherwise(
            first_bad
        )
    selected += [column(row_column), first_bad.cast("VARCHAR").alias(BAD_ENCODING_COLUMN)]
    return ParquetSource(raw.select(*selected), columns, row_column, BAD_ENCODING_COLUMN)


def _is_text(value_type: pa.DataType) -> bool:
    return pa.types.is_string(value_type) or pa.types.is_large_string(value_type)


def _bytes_type(value_type: pa.DataType) -> pa.DataType:
    """The bytes type a string column is read as (other types unchanged)."""
    if pa.types.is_string(value_type):
        return pa.binary()
    if pa.types.is_large_string(value_type):
        return pa.large_binary()
    return value_type
