"""Record splitting: bounded chunks split into records with exact line numbers, CRLF and CSV quotes;
CSV header names."""

from __future__ import annotations

import io

import pytest

from warehouse.ingest.records import csv_header_names, iter_record_batches


def reference_records(data: bytes, quoted: bool) -> list[tuple[int, bytes]]:
    """(line, record) pairs by a plain Python scan: the oracle for iter_record_batches."""
    records, start, line, start_line, in_quotes = [], 0, 1, 1, False
    for i, byte in enumerate(data):
        if quoted and byte == ord('"'):
            in_quotes = not in_quotes
        if byte == ord("\n"):
            if not in_quotes:
                records.append((start_line, data[start:i].removesuffix(b"\r")))
                start, start_line = i + 1, line + 1
            line += 1
    if start < len(data):
        records.append((start_line, data[start:].removesuffix(b"\r")))
    return records


def split(
    data: bytes, *, quoted: bool, chunk_bytes: int, max_record_bytes: int = 1 << 20
) -> list[tuple]:
    batches = iter_record_batches(
        io.BytesIO(data),
        quoted=quoted,
        chunk_bytes=chunk_bytes,
        max_record_bytes=max_record_bytes,
        max_batch_rows=3,
    )
    return [
        (row["row_number"], row["record"], row["record_bytes"])
        for batch in batches
        for row in batch.to_pylist()
    ]


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 8, 64, 4096])
@pytest.mark.parametrize("quoted", [False, True])
def test_record_splitting_matches_a_plain_scan_at_any_chunk_size(chunk_bytes, quoted):
    data = (
        b'first\r\nsecond\n\n"quoted\nnewline",x\r\n\x1e\xff\xfe\n"a""b"\nlast line "odd\nx\n'
        b"no trailing newline"
    )
    expected = [(line, record, len(record)) for line, record in reference_records(data, quoted)]
    assert split(data, quoted=quoted, chunk_bytes=chunk_bytes) == expected


def test_a_long_record_spanning_chunks_keeps_a_bounded_prefix_and_its_true_length():
    data = b"short\n" + b"y" * 1000 + b"\nend\n"
    got = split(data, quoted=False, chunk_bytes=16, max_record_bytes=100)
    assert [(line, length) for line, _, length in got] == [(1, 5), (2, 1000), (3, 3)]
    assert got[1][1] == b"y" * 100


def test_csv_header_names_strip_cells_drop_the_bom_and_number_repeats():
    assert csv_header_names(b'\xef\xbb\xbfevent_id, "viewer_id" ,x,x,x') == [
        "event_id",
        '"viewer_id"',
        "x",
        "x__2",
        "x__3",
    ]
    assert csv_header_names(b'a,"b,c"') == ["a", "b,c"]


def test_csv_header_names_of_a_line_that_is_not_utf8_or_not_csv_are_empty():
    assert csv_header_names(b"\xff\xfe,a") == []
    assert csv_header_names(b'a,"b') == []
