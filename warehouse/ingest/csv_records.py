"""Records of a CSV byte stream: newline-separated, except inside a quoted cell (RFC 4180), with
recovery from broken quotes so one stray quote never swallows the rest of the file.

A double quote opens a quoted cell only at the start of a cell (after a comma or at the start of a
line) and the cell closes at the next quote that is not doubled. A quote anywhere else is a stray
quote: it quotes nothing (its row fails the cell check in SQL and is quarantined alone). A quoted
cell that spans lines must close within `max_record_bytes` and be followed by a comma or the end of
the line; otherwise its opening quote was stray too, and splitting resumes right after it, so the
rows after a broken quote are split at their own line ends. A well-formed buffer is split with
numpy (quote parity, checked); only a buffer with a suspect quote is walked quote by quote.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from warehouse.ingest.record_batches import CARRIAGE_RETURN, NEWLINE, QUOTE, record_batch

COMMA = ord(",")


@dataclass(frozen=True)
class QuoteScan:
    """The quoted cells of a buffer: their (open, close) quote offsets, and the offset of a quoted
    cell still open at the end of the buffer (None: the buffer ends outside quotes)."""

    opens: np.ndarray
    closes: np.ndarray
    unclosed: int | None


def scan_quotes(data: np.ndarray, start: int, at_eof: bool, max_span: int) -> QuoteScan:
    """The quoted cells of `data[start:]`, `start` being outside quotes."""
    quotes = np.flatnonzero(data[start:] == QUOTE) + start
    checked = _parity_scan(data, quotes, at_eof, max_span)
    return checked if checked is not None else _walk_quotes(data, quotes, at_eof, max_span)


def _parity_scan(
    data: np.ndarray, quotes: np.ndarray, at_eof: bool, max_span: int
) -> QuoteScan | None:
    """Quote parity, if every quote is where a well-formed file has it (else None): opening quotes
    at a cell start (or right after a closing quote: a doubled quote), closing quotes before a
    comma, a line end, another quote or the end, every cell within `max_span`."""
    opens, closes = quotes[0::2], quotes[1::2]
    unclosed = None
    if len(closes) and not at_eof and closes[-1] == len(data) - 1:
        closes = closes[:-1]  # the next byte decides whether it closes or is doubled
    if len(opens) > len(closes):
        unclosed, opens = int(opens[-1]), opens[: len(closes)]
        if at_eof or len(data) - unclosed > max_span or not _at_cell_start(data, unclosed):
            return None
    before = data[np.maximum(opens - 1, 0)]
    starts_ok = (opens == 0) | (before == COMMA) | (before == NEWLINE) | (before == QUOTE)
    after = data[np.minimum(closes + 1, len(data) - 1)]
    ends_ok = (
        (closes + 1 == len(data))
        | (after == COMMA)
        | (after == NEWLINE)
        | (after == CARRIAGE_RETURN)
        | (after == QUOTE)
    )
    if not (starts_ok.all() and ends_ok.all() and ((closes - opens) <= max_span).all()):
        return None
    return QuoteScan(opens, closes, unclosed)


def _at_cell_start(data: np.ndarray, offset: int) -> bool:
    return offset == 0 or int(data[offset - 1]) in (COMMA, NEWLINE)


def _walk_quotes(data: np.ndarray, quotes: np.ndarray, at_eof: bool, max_span: int) -> QuoteScan:
    """The quoted cells found quote by quote, stray quotes skipped (see the module docstring)."""
    positions = quotes.tolist()
    newlines = np.flatnonzero(data == NEWLINE)
    opens: list[int] = []
    closes: list[int] = []
    i, count = 0, len(positions)
    while i < count:
        opening = positions[i]
        if not _at_cell_start(data, opening):
            i += 1  # stray: quotes nothing
            continue
        j = i + 1
        while j + 1 < count and positions[j + 1] == positions[j] + 1:
            j += 2  # a doubled quote inside the cell
        closing = positions[j] if j < count else None
        following = closing + 1 if closing is not None else len(data)
        if closing is None or (following == len(data) and not at_eof):
            if at_eof or len(data) - opening > max_span:
                i += 1  # never closes: the opening quote was stray
                continue
            return QuoteScan(np.array(opens), np.array(closes), opening)
        spans_lines = _newline_between(newlines, opening, closing)
        well_ended = following == len(data) or int(data[following]) in (
            COMMA,
            NEWLINE,
            CARRIAGE_RETURN,
        )
        if spans_lines and (not well_ended or closing - opening > max_span):
            i += 1  # recover: resume right after the opening quote
            continue
        opens.append(opening)
        closes.append(closing)
        i = j + 1
    return QuoteScan(np.array(opens, dtype=np.int64), np.array(closes, dtype=np.int64), None)


def _newline_between(newlines: np.ndarray, first: int, last: int) -> bool:
    at = int(np.searchsorted(newlines, first))
    return at < len(newlines) and int(newlines[at]) < last


def record_ends(data: np.ndarray, scan: QuoteScan, start: int) -> np.ndarray:
    """Offsets of the newlines at or after `start` that end a record: outside every quoted cell
    and before a cell still open."""
    newlines = np.flatnonzero(data[start:] == NEWLINE) + start
    if scan.unclosed is not None:
        newlines = newlines[newlines < scan.unclosed]
    if len(scan.opens):
        cell = np.searchsorted(scan.opens, newlines, side="right") - 1
        inside = (cell >= 0) & (newlines < scan.closes[np.maximum(cell, 0)])
        newlines = newlines[~inside]
    return newlines


@dataclass
class _Carry:
    """The unfinished record at the end of what was read: its bytes from its start (capped once
    it is oversized), where scanning resumes in them, its true length and starting line."""

    data: bytes = b""
    scan_from: int = 0
    line: int = 1
    oversized_bytes: int | None = None  # true length once capped: it ends at the next newline
    oversized_lines: int = 0  # newlines inside it (in quoted cells) before it was capped


def iter_csv_record_batches(
    stream: BinaryIO,
    *,
    chunk_bytes: int = 8 << 20,
    max_record_bytes: int = 1 << 20,
    max_batch_rows: int = 16_384,
) -> Iterator[pa.RecordBatch]:
    """(row_number, record, record_bytes) batches of a CSV stream, split as the module says; a
    record over max_record_bytes keeps its first max_record_bytes bytes and ends at the next
    newline (record_bytes has its true length)."""
    carry = _Carry()
    while True:
        chunk = stream.read(chunk_bytes)
        at_eof = not chunk
        if carry.oversized_bytes is not None:
            carry, done = _continue_oversized(carry, chunk, at_eof, max_record_bytes)
            yield from _sliced(done, max_batch_rows)
            if carry.oversized_bytes is not None:
                if at_eof:
                    return
                continue
            chunk, carry = carry.data, _Carry(line=carry.line)
        buffer = carry.data + chunk
        batch, carry = _split_buffer(buffer, carry, at_eof, max_record_bytes)
        yield from _sliced(batch, max_batch_rows)
        if at_eof:
            if carry.data:
                yield _single(carry.line, carry.data, len(carry.data))
            return


def _split_buffer(
    buffer: bytes, carry: _Carry, at_eof: bool, max_record_bytes: int
) -> tuple[pa.RecordBatch | None, _Carry]:
    """The records `buffer` (the carried record + a new chunk) completes, and the new carry."""
    data = np.frombuffer(buffer, dtype=np.uint8)
    scan = scan_quotes(data, carry.scan_from, at_eof, max_record_bytes)
    ends = record_ends(data, scan, carry.scan_from)
    all_newlines = np.flatnonzero(data == NEWLINE)
    batch = None
    tail_start = 0
    if len(ends):
        batch = _records_between(data, ends, carry.line, all_newlines)
        tail_start = int(ends[-1]) + 1
    tail = buffer[tail_start:]
    line = carry.line + int(np.searchsorted(all_newlines, tail_start))
    scan_from = len(tail) if scan.unclosed is None else scan.unclosed - tail_start
    if len(tail) > max_record_bytes and (scan.unclosed is None or scan_from > max_record_bytes):
        return batch, _Carry(tail[:max_record_bytes], 0, line, len(tail), tail.count(b"\n"))
    return batch, _Carry(tail, scan_from, line)


def _continue_oversized(
    carry: _Carry, chunk: bytes, at_eof: bool, max_record_bytes: int
) -> tuple[_Carry, pa.RecordBatch | None]:
    """An oversized record runs to the next newline: (the carry after it, the record if ended)."""
    assert carry.oversized_bytes is not None
    end = chunk.find(b"\n")
    if end < 0 and not at_eof:
        more = carry.oversized_bytes + len(chunk)
        return _Carry(carry.data, 0, carry.line, more, carry.oversized_lines), None
    end = len(chunk) if end < 0 else end
    kept = (carry.data + chunk[: max(max_record_bytes - len(carry.data), 0)])[:max_record_bytes]
    true_bytes = carry.oversized_bytes + end
    if end > 0 and chunk[end - 1] == CARRIAGE_RETURN:
        true_bytes -= 1
    record = _single(carry.line, kept, true_bytes)
    next_line = carry.line + carry.oversized_lines + 1
    rest = chunk[end + 1 :] if end < len(chunk) else b""
    if at_eof and end == len(chunk):
        return _Carry(b"", 0, next_line, 0), record
    return _Carry(rest, 0, next_line), record


def _records_between(
    data: np.ndarray, ends: np.ndarray, first_line: int, newlines: np.ndarray
) -> pa.RecordBatch:
    """The records ending at `ends` (the first starting at offset 0), without their CR LF."""
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    stops = ends.astype(np.int64).copy()
    has_cr = (stops > starts) & (data[np.maximum(stops - 1, 0)] == CARRIAGE_RETURN)
    stops -= has_cr
    lengths = stops - starts
    region = data[: int(ends[-1])]
    keep = np.ones(len(region), dtype=bool)
    keep[ends[:-1]] = False
    keep[stops[has_cr]] = False
    offsets = np.zeros(len(ends) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    lines = first_line + np.searchsorted(newlines, starts).astype(np.int64)
    return record_batch(lines, offsets, region[keep], lengths)


def _single(line: int, record: bytes, true_bytes: int) -> pa.RecordBatch:
    """A batch of one record (its CR dropped when it is whole)."""
    if true_bytes == len(record) and record.endswith(b"\r"):
        record, true_bytes = record[:-1], true_bytes - 1
    return record_batch(
        np.array([line], dtype=np.int64),
        np.array([0, len(record)], dtype=np.int64),
        np.frombuffer(record, dtype=np.uint8),
        np.array([true_bytes], dtype=np.int64),
    )


def _sliced(batch: pa.RecordBatch | None, max_rows: int) -> Iterator[pa.RecordBatch]:
    if batch is None:
        return
    for offset in range(0, batch.num_rows, max_rows):
        yield batch.slice(offset, max_rows)
