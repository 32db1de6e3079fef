"""Property tests: junk JSONL / CSV input never crashes ingest, and every line is accounted for."""

from __future__ import annotations

import gzip
import io
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landing.contract import EVENT_FIELDS, GENERATION_FIELDS
from warehouse.ingest import (
    REASON_CODES,
    IngestRules,
    ingest_file,
    iter_record_batches,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
RULES = IngestRules(memory_limit=None, max_line_bytes=4096, raw_preview_chars=256)
NAMES = itertools.count()
# each example ingests one file (~40-60 ms of fixed per-file work: planning the judging query dominates)
JSONL_EXAMPLES = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
CSV_EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SPLIT_EXAMPLES = settings(max_examples=200, deadline=None)
SLOW = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
event_keys = st.sampled_from([f.name for f in EVENT_FIELDS] + ["extra_key"])
generation_keys = st.sampled_from([f.name for f in GENERATION_FIELDS] + ["extra_key"])


def mutated(valid: dict[str, object], keys: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid record with some fields dropped or replaced by arbitrary JSON values."""
    return st.builds(
        lambda changes, drops: json.dumps(
            {**{k: v for k, v in valid.items() if k not in drops}, **changes}
        ),
        st.dictionaries(keys, json_values, max_size=3),
        st.sets(keys, max_size=2),
    )


VALID_EVENT = {
    "event_id": "e1",
    "event_type": "view",
    "generation_id": "g1",
    "viewer_id": "v1",
    "occurred_at": "2024-05-01T12:00:00Z",
    "watch_ms": 100,
    "surface": "feed",
    "position": 0,
}
VALID_GENERATION = {
    "generation_id": "g1",
    "request_id": "r1",
    "creator_id": "c1",
    "prompt": "p",
    "model_version": "m1",
    "created_at": 1_714_564_800_000,
    "duration_ms": 5000,
    "output_embedding": [0.1, 0.2],
    "reference_inputs": [{"kind": "image", "uri": "u"}],
    "content_flags": ["x"],
}
deep_json = st.integers(min_value=1, max_value=5000).map(lambda depth: "[" * depth + "]" * depth)
huge_number = st.integers(min_value=300, max_value=400).map(
    lambda digits: '{"event_id": ' + "9" * digits + "}"
)


def one_line(text: bytes) -> bytes:
    return text.replace(b"\n", b" ")


jsonl_lines = st.lists(
    st.one_of(
        st.text(max_size=40).map(str.encode),
        st.binary(max_size=40),
        json_values.map(lambda v: json.dumps(v).encode()),
        mutated(VALID_EVENT, event_keys).map(str.encode),
        mutated(VALID_GENERATION, generation_keys).map(str.encode),
        deep_json.map(str.encode),
        huge_number.map(str.encode),
        st.sampled_from(
            [b"", b"\r", b"\x1e", b'{"a":1}\x1e{"b":2}', b"\xef\xbb\xbf{}", b"x" * 5000]
        ),
    ).map(one_line),
    max_size=25,
)


def check_every_line_accounted(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    kind: str,
    rows: int,
    row_range: range,
    *,
    exact: bool = True,
) -> None:
    """Ingest never raises; rows_read = loaded + duplicate + quarantined; the rows are distinct and in range."""
    source = f"fuzz/{next(NAMES)}/{path.name}"
    accounting = ingest_file(con, path, kind, RULES, source_file=source, ingested_at=NOW)
    assert accounting.status in ("loaded", "empty", "duplicate_content", "no_csv_header"), (
        accounting
    )
    assert (
        accounting.rows_read
        == accounting.rows_loaded + accounting.rows_duplicate + accounting.rows_quarantined
    )
    if accounting.status == "duplicate_content":
        # the shared warehouse already holds an earlier example's file with these exact bytes: its
        # rows, as that file counted them, are all duplicates and nothing loads
        assert accounting.rows_loaded == accounting.rows_quarantined == 0, accounting
        assert accounting.rows_duplicate == accounting.rows_read, accounting
        assert accounting.detail and accounting.detail.startswith("same content as "), accounting
        return
    if exact:
        assert accounting.rows_read == rows, accounting
    else:
        assert accounting.rows_read <= rows, accounting
    if accounting.status != "loaded":
        return
    loaded_sql = {
        "events": "select source_row from events where source_file = ?",
        "generations": "select source_row from generations where source_file = ?",
    }[kind]
    loaded_rows = [r for (r,) in con.execute(loaded_sql, [source]).fetchall()]
    quarantine = con.execute(
        "select row_number, reason_code from quarantine where source_file = ?", [source]
    ).fetchall()
    assert len(loaded_rows) == accounting.rows_loaded
    assert len(quarantine) == accounting.rows_quarantined
    numbers = loaded_rows + [r for r, _ in quarantine]
    assert len(set(numbers)) == len(numbers)
    assert all(r in row_range for r in numbers), (numbers, row_range)
    assert {reason for _, reason in quarantine} <= set(REASON_CODES)


def jsonl_case(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    lines: list[bytes],
    kind: str,
    gz: bool,
    trailing_newline: bool,
) -> None:
    payload = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    path = folder / f"{next(NAMES)}.jsonl{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    # lines are newline-terminated; a last line without its newline still counts (if not empty,
    # once the byte-order mark a file may start with is dropped)
    text = payload.removeprefix(b"\xef\xbb\xbf")
    expected = text.count(b"\n") + (0 if text.endswith(b"\n") or not text else 1)
    check_every_line_accounted(con, path, kind, expected, range(1, expected + 1))


@JSONL_EXAMPLES
@given(
    lines=jsonl_lines,
    kind=st.sampled_from(["events", "generations"]),
    gz=st.booleans(),
    trailing_newline=st.booleans(),
)
def test_junk_jsonl_never_crashes_and_every_line_is_accounted(
    fuzz_warehouse, lines, kind, gz, trailing_newline
):
    con, folder = fuzz_warehouse
    jsonl_case(con, folder, lines, kind, gz, trailing_newline)


@pytest.mark.slow
@SLOW
@given(
    lines=jsonl_lines,
    kind=st.sampled_from(["events", "generations"]),
    gz=st.booleans(),
    trailing_newline=st.booleans(),
)
def test_junk_jsonl_never_crashes_many_examples(fuzz_warehouse, lines, kind, gz, trailing_newline):
    con, folder = fuzz_warehouse
    jsonl_case(con, folder, lines, kind, gz, trailing_newline)


# cells without quotes or newlines: one CSV row per line, so rows can be counted exactly
plain_cell = st.one_of(
    st.text(alphabet=st.characters(exclude_characters='"\n\r,'), max_size=12),
    st.sampled_from(
        ["2024-05-01T12:00:00Z", "1714564800000", "view", "like", "-5", "[1,2]", "true", ""]
    ),
)
any_cell = st.one_of(plain_cell, st.text(max_size=12), st.just('"'), st.just('"a""b"'))


def csv_case(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    kind: str,
    header: list[str],
    rows: list[list[str]],
    exact: bool,
) -> None:
    text = "\n".join([",".join(header), *(",".join(row) for row in rows)]) + "\n"
    path = folder / f"{next(NAMES)}.csv"
    path.write_bytes(text.encode("utf-8", errors="replace"))
    names = {f.name for f in (EVENT_FIELDS if kind == "events" else GENERATION_FIELDS)}
    has_header = bool(set(header) & names)
    lines = text.count("\n")
    # without a contract name in the header, the header line itself is a (quarantined) row; with stray
    # quotes and line breaks in cells a record spans one or more lines, so the lines bound the rows
    expected = len(rows) + (0 if has_header else 1) if exact else lines - (1 if has_header else 0)
    check_every_line_accounted(
        con, path, kind, expected, range(2 if has_header else 1, lines + 1), exact=exact
    )


csv_headers = st.lists(
    st.one_of(event_keys, generation_keys, st.text(alphabet="abc_", max_size=6)),
    min_size=1,
    max_size=8,
    unique=True,
)


@CSV_EXAMPLES
@given(
    kind=st.sampled_from(["events", "generations"]),
    header=csv_headers,
    rows=st.lists(st.lists(plain_cell, max_size=9), max_size=15),
)
def test_junk_csv_rows_never_crash_and_every_row_is_accounted(fuzz_warehouse, kind, header, rows):
    con, folder = fuzz_warehouse
    csv_case(con, folder, kind, header, rows, exact=True)


@CSV_EXAMPLES
@given(
    kind=st.sampled_from(["events", "generations"]),
    header=csv_headers,
    rows=st.lists(st.lists(any_cell, max_size=9), max_size=15),
)
def test_csv_with_stray_quotes_never_crashes(fuzz_warehouse, kind, header, rows):
    con, folder = fuzz_warehouse
    csv_case(con, folder, kind, header, rows, exact=False)


@pytest.mark.slow
@SLOW
@given(
    kind=st.sampled_from(["events", "generations"]),
    header=csv_headers,
    rows=st.lists(st.lists(any_cell, max_size=9), max_size=15),
)
def test_csv_with_stray_quotes_never_crashes_many_examples(fuzz_warehouse, kind, header, rows):
    con, folder = fuzz_warehouse
    csv_case(con, folder, kind, header, rows, exact=False)


@SPLIT_EXAMPLES
@given(
    data=st.binary(max_size=300),
    chunk_bytes=st.integers(min_value=1, max_value=64),
    quoted=st.booleans(),
    max_record_bytes=st.integers(min_value=1, max_value=80),
)
def test_record_splitting_is_exact_for_any_bytes_and_chunking(
    data, chunk_bytes, quoted, max_record_bytes
):
    records, start, line, start_line, in_quotes = [], 0, 1, 1, False
    for i, byte in enumerate(data):
        in_quotes ^= quoted and byte == ord('"')
        if byte == ord("\n"):
            if not in_quotes:
                records.append((start_line, data[start:i]))
                start, start_line = i + 1, line + 1
            line += 1
    if start < len(data):
        records.append((start_line, data[start:]))
    batches = iter_record_batches(
        io.BytesIO(data),
        quoted=quoted,
        chunk_bytes=chunk_bytes,
        max_record_bytes=max_record_bytes,
        max_batch_rows=4,
    )
    got = [row for batch in batches for row in batch.to_pylist()]
    assert [row["row_number"] for row in got] == [number for number, _ in records]
    for row, (_, raw) in zip(got, records, strict=True):
        if len(row["record"]) < row["record_bytes"]:
            # a record spanning chunks beyond max_record_bytes keeps only its prefix, and its true length
            assert (row["record"], row["record_bytes"]) == (raw[:max_record_bytes], len(raw))
        else:
            stripped = raw.removesuffix(b"\r")
            assert (row["record"], row["record_bytes"]) == (stripped, len(stripped))
