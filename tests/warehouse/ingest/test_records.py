"""Record splitting: bounded chunks split into records with exact line numbers, CRLF and CSV quotes;
CSV header names."""

from __future__ import annotations

import io

import pytest

from warehouse.ingest.records import csv_header_names, iter_record_batches


def reference_records(data: bytes, quoted: bool) -> list[tuple[int, bytes]]:
    """(line, record) pairs by a plain byte-by-byte scan: the oracle for iter_record_batches.

    CSV: a quote opens a cell only at a cell start, closes at the next undoubled quote; a cell
    spanning lines that does not close, or closes before anything but a comma or line end, had a
    stray opening quote: the scan restarts right after it."""
    records, start, line_of = [], 0, lambda at: data.count(b"\n", 0, at) + 1
    i = 0
    while i <= len(data):
        if i == len(data) or data[i] == ord("\n"):
            if start < i or i < len(data):
                records.append((line_of(start), data[start:i].removesuffix(b"\r")))
            start, i = i + 1, i + 1
            continue
        if quoted and data[i] == ord('"') and (i == start or data[i - 1] in b",\n"):
            close = quoted_cell_end(data, i)
            if close is not None:
                i = close + 1
                continue
        i += 1
    return records


def quoted_cell_end(data: bytes, opening: int) -> int | None:
    """The closing quote of the cell opened at `opening`, or None if the opening quote is stray."""
    j = opening + 1
    while j < len(data):
        if data[j] == ord('"'):
            if j + 1 < len(data) and data[j + 1] == ord('"'):
                j += 2
                continue
            spans_lines = b"\n" in data[opening:j]
            if spans_lines and j + 1 < len(data) and data[j + 1] not in b",\r\n":
                return None
            return j
        j += 1
    return None


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


@pytest.mark.parametrize("chunk_bytes", [1, 3, 7, 64, 4096])
def test_a_broken_quote_costs_only_its_own_rows(chunk_bytes):
    rows = [f"e{i},v{i}".encode() for i in range(40)]
    rows[3] = b'e3,v"3'  # a stray quote inside an unquoted cell
    rows[10] = b'e10,"never closed'  # an opening quote that never closes
    rows[20] = b'e20,"x\ny"z'  # a quoted cell spanning lines, text after its closing quote
    rows[30] = b'e30,"multi\nline",ok'  # a well-formed quoted newline
    data = b"\n".join(rows) + b"\n"
    got = split(data, quoted=True, chunk_bytes=chunk_bytes)
    expected = [(line, record, len(record)) for line, record in reference_records(data, True)]
    assert got == expected
    assert len(got) == data.count(b"\n") - 1  # every physical line but the quoted newline
    assert (32, b'e30,"multi\nline",ok', 19) in got
    assert (4, b'e3,v"3', 6) in got and (11, b'e10,"never closed', 17) in got


def test_an_unterminated_quote_never_swallows_more_than_max_record_bytes():
    data = b'e0,"open\n' + b"".join(f"e{i},v{i}\n".encode() for i in range(1, 5000))
    got = split(data, quoted=True, chunk_bytes=1000, max_record_bytes=500)
    assert len(got) == 5000
    assert got[0] == (1, b'e0,"open', 8) and got[-1] == (5000, b"e4999,v4999", 11)


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
