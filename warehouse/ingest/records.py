"""Records of a text landing file (JSON Lines or CSV, optionally gzip): read in bounded chunks,
split with numpy (exact physical line numbers, CRLF tolerated, CSV quotes respected) and handed to
DuckDB as Arrow batches it pulls while it decodes them (`records_from_jsonl` / `records_from_csv`)."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import duckdb
import numpy as np
import pyarrow as pa

from landing.contract import ContractField
from warehouse.ingest.contract import IngestRules
from warehouse.ingest.csv_records import iter_csv_record_batches
from warehouse.ingest.gzip_stream import open_gzip
from warehouse.ingest.record_batches import (
    BOM,
    CARRIAGE_RETURN,
    NEWLINE,
    RECORD_SCHEMA,
    record_batch,
)
from warehouse.sql_files import sql_statement, sql_text

# names the relations of the file being loaded are registered under (session-local, never stored)
BATCH_VIEW = "ingest_batch"  # the record batches of a text file
RECORDS_VIEW = "ingest_records"  # its records, decoded, with line-level problems


@contextmanager
def text_records(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    file_format: str,
    fields: Sequence[ContractField],
    rules: IngestRules,
) -> Iterator[None]:
    """Register the records of a text file as `ingest_records` while the file is open: DuckDB
    pulls its batches as a statement reads them, so the file streams through one statement."""
    is_csv = file_format.startswith("csv")
    with open_text(path, file_format) as stream:
        batches = iter_record_batches(
            skip_bom(stream),
            quoted=is_csv,
            chunk_bytes=rules.read_chunk_bytes,
            max_record_bytes=rules.max_line_bytes,
            max_batch_rows=rules.batch_rows,
        )
        if is_csv:
            batches = after_csv_header(con, batches, fields)
            records_sql = sql_statement("ingest/records_from_csv", "records")
        else:
            records_sql = sql_text("ingest/records_from_jsonl")
        con.register(BATCH_VIEW, pa.RecordBatchReader.from_batches(RECORD_SCHEMA, batches))
        con.register(RECORDS_VIEW, con.sql(records_sql))
        yield


def open_text(path: Path, file_format: str) -> BinaryIO:
    """The file's bytes, gunzipped for the `.gz` formats."""
    if file_format.endswith(".gz"):
        return open_gzip(path)
    return path.open("rb")


@dataclass
class _Pending:
    """The unfinished record that started in an earlier chunk (its bytes capped)."""

    record: bytearray = field(default_factory=bytearray)
    bytes: int = 0  # its true length
    line: int = 1


def skip_bom(stream: BinaryIO) -> BinaryIO:
    """The stream past a UTF-8 byte order mark at its start, if it has one."""
    peek = getattr(stream, "peek", None)
    head = peek(len(BOM))[: len(BOM)] if peek is not None else b""
    if head == BOM:
        stream.read(len(BOM))
    return stream


def iter_record_batches(
    stream: BinaryIO,
    *,
    quoted: bool,
    chunk_bytes: int = 8 << 20,
    max_record_bytes: int = 1 << 20,
    max_batch_rows: int = 16_384,
) -> Iterator[pa.RecordBatch]:
    """Newline-separated records of a byte stream as (row_number, record, record_bytes) batches.

    row_number is the physical line on which the record starts; a trailing CR is dropped (CRLF
    files); with `quoted` (CSV) a newline inside a quoted cell does not end the record
    (`csv_records`). A record longer than max_record_bytes keeps only its first max_record_bytes
    bytes (record_bytes has its true length), so memory stays bounded by the chunk size.
    """
    if quoted:
        yield from iter_csv_record_batches(
            stream,
            chunk_bytes=chunk_bytes,
            max_record_bytes=max_record_bytes,
            max_batch_rows=max_batch_rows,
        )
        return
    line_at_chunk = 1  # physical line of the first byte of the next chunk
    pending = _Pending()
    while chunk := stream.read(chunk_bytes):
        data = np.frombuffer(chunk, dtype=np.uint8)
        ends = np.flatnonzero(data == NEWLINE)
        if len(ends) == 0:
            _extend_capped(pending.record, chunk, max_record_bytes)
            pending.bytes += len(chunk)
            continue
        ends_index = np.arange(len(ends))
        batch = _chunk_records(
            chunk, data, ends, ends_index, pending, line_at_chunk, max_record_bytes
        )
        for offset in range(0, batch.num_rows, max_batch_rows):
            yield batch.slice(offset, max_batch_rows)

        tail = memoryview(chunk)[int(ends[-1]) + 1 :]
        pending = _Pending(line=line_at_chunk + len(ends), bytes=len(tail))
        _extend_capped(pending.record, tail, max_record_bytes)
        line_at_chunk += len(ends)
    if pending.bytes:
        yield _last_record(pending)


def _chunk_records(
    chunk: bytes,
    data: np.ndarray,
    ends: np.ndarray,
    ends_index: np.ndarray,
    pending: _Pending,
    line_at_chunk: int,
    max_record_bytes: int,
) -> pa.RecordBatch:
    """The records a chunk completes: the pending one ended by its head, then those between its
    record ends (`ends`: their offsets, `ends_index`: their rank among the chunk's newlines)."""
    head = int(ends[0])
    first = (
        bytes(pending.record) + chunk[: min(head, max(max_record_bytes - len(pending.record), 0))]
    )
    first_bytes = pending.bytes + head
    if first_bytes == len(first) and first.endswith(b"\r"):
        first, first_bytes = first[:-1], first_bytes - 1

    # the records between the chunk's record ends, copied once without their CR LF terminators
    starts = ends[:-1] + 1
    stops = ends[1:].copy()
    has_cr = (stops > starts) & (data[np.maximum(stops - 1, 0)] == CARRIAGE_RETURN)
    stops -= has_cr
    lengths = stops - starts
    base = int(ends[0]) + 1
    region = data[base : int(ends[-1])]
    keep = np.ones(len(region), dtype=bool)
    keep[ends[1:-1] - base] = False
    keep[stops[has_cr] - base] = False
    values = np.concatenate([np.frombuffer(first, dtype=np.uint8), region[keep]])
    offsets = np.zeros(len(lengths) + 2, dtype=np.int64)
    offsets[1] = len(first)
    np.cumsum(lengths, out=offsets[2:])
    offsets[2:] += len(first)
    row_numbers = np.concatenate([[pending.line], line_at_chunk + ends_index[:-1] + 1]).astype(
        np.int64
    )
    record_bytes = np.concatenate([[first_bytes], lengths]).astype(np.int64)
    return record_batch(row_numbers, offsets, values, record_bytes)


def _last_record(pending: _Pending) -> pa.RecordBatch:
    """The record the stream ends with when its last line has no newline."""
    last, last_bytes = bytes(pending.record), pending.bytes
    if last_bytes == len(last) and last.endswith(b"\r"):
        last, last_bytes = last[:-1], last_bytes - 1
    values = np.frombuffer(last, dtype=np.uint8)
    return record_batch(
        np.array([pending.line], dtype=np.int64),
        np.array([0, len(last)], dtype=np.int64),
        values,
        np.array([last_bytes], dtype=np.int64),
    )


def _extend_capped(buffer: bytearray, more: bytes | memoryview, cap: int) -> None:
    room = cap - len(buffer)
    if room > 0:
        buffer += more[:room]


def after_csv_header(
    con: duckdb.DuckDBPyConnection,
    batches: Iterator[pa.RecordBatch],
    fields: Sequence[ContractField],
) -> Iterator[pa.RecordBatch]:
    """Read a CSV's header (its first record) into `ingest_csv_header`; the data records follow.

    A header naming no contract field means the file has no header: every record, the first
    included, is then quarantined as malformed_record.
    """
    first = next(batches, None)
    names: list[str] = []
    if first is not None and first.num_rows:
        names = csv_header_names(first.column("record")[0].as_py())
    has_header = bool(set(names) & {f.name for f in fields})
    con.execute(
        sql_statement("ingest/records_from_csv", "header"),
        {"names": names or ["_"], "has_header": has_header},
    )
    if first is None:
        return iter(())
    return itertools.chain([first.slice(1) if has_header else first], batches)


def csv_header_names(header: bytes) -> list[str]:
    """Column names of a CSV header line (UTF-8, optional BOM); duplicates renamed name__2, ..."""
    try:
        text = header.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return []
    try:
        cells = next(csv.reader([text], strict=True), [])
    except csv.Error:
        return []
    names: list[str] = []
    for cell in (c.strip() for c in cells):
        name, n = cell, 1
        while name in names:
            n += 1
            name = f"{cell}__{n}"
        names.append(name)
    return names


def staged_csv_is_headless(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the CSV file judged into `ingest_staged` had no header naming a contract field
    (its rows carry the no-header detail, here and when a worker judged them)."""
    row = con.execute(sql_statement("ingest/records_from_csv", "headless")).fetchone()
    return bool(row and row[0])
