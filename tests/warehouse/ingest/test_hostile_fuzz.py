"""Property test: hostile landing zones of every format never raise, every file adds up, and the
events loaded are exactly those an independent oracle, written from the contract, accepts.

Each example writes a few files (random bytes in their names; JSON Lines with BOMs, CRLF, junk and
lenient-JSON lines; CSV with quotes, commas and newlines in cells and stray quotes; gzip with
trailing bytes; Parquet with internal-looking and nested columns) whose records are built valid
or broken by one known rule. The oracle: the first delivery of each event_id among the valid
records loads, in path order; nothing else does.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warehouse.connection import connect
from warehouse.ingest import IngestRules, ingest_landing_zone

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
RULES = IngestRules(memory_limit=None, max_line_bytes=4096, raw_preview_chars=256)
FIELDS = ("event_id", "event_type", "generation_id", "viewer_id", "occurred_at")
FAST = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

# ids: a visible character first (so never blank), then anything but control characters
VISIBLE = st.characters(
    blacklist_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp"), blacklist_characters="\x85"
)
ID_TAIL = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85")
ids = st.builds(lambda head, tail: head + tail, VISIBLE, st.text(ID_TAIL, max_size=12))
valid_stamps = st.one_of(
    st.builds(
        lambda h, m, s, sign, oh, om: f"2024-05-01T{h:02d}:{m:02d}:{s:02d}{sign}{oh:02d}:{om:02d}",
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
        st.sampled_from("+-"),
        st.integers(0, 23),
        st.integers(0, 59),
    ),
    st.integers(1_700_000_000_000, 1_716_000_000_000),
)
# (rule broken, field, bad value): each makes the record invalid on its own
BREAKAGES = st.sampled_from(
    [
        ("viewer_id", "\t"),
        ("viewer_id", "\u2028"),
        ("viewer_id", "v\x00"),
        ("event_id", " "),
        ("event_id", 12),
        ("event_type", "zap"),
        ("occurred_at", "2024-05-01T12:00:00+24:00"),
        ("occurred_at", "2024-05-01T24:00:00Z"),
        ("occurred_at", "2024-05-01 12:00"),
        ("generation_id", None),
    ]
)


@dataclass(frozen=True)
class Record:
    """One record: its fields, and whether the contract accepts it."""

    fields: dict[str, object]
    valid: bool


@st.composite
def records(draw: st.DrawFn, shared_ids: list[str]) -> Record:
    event_id = draw(st.sampled_from(shared_ids) | ids)
    fields: dict[str, object] = {
        "event_id": event_id,
        "event_type": draw(st.sampled_from(["like", "share", "impression"])),
        "generation_id": draw(ids),
        "viewer_id": draw(ids),
        "occurred_at": draw(valid_stamps),
    }
    if draw(st.booleans()):
        field, value = draw(BREAKAGES)
        fields[field] = value
        return Record(fields, valid=False)
    return Record(fields, valid=True)


def jsonl_bytes(rows: list[Record], draw: st.DrawFn) -> tuple[bytes, list[Record]]:
    """JSON Lines: a BOM maybe, CRLF maybe, junk and lenient lines that are never valid."""
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    lines: list[bytes] = []
    kept: list[Record] = []
    for row in rows:
        lines.append(json.dumps(row.fields, ensure_ascii=draw(st.booleans())).encode())
        kept.append(row)
        junk = draw(
            st.sampled_from(
                [None, b"", b"not json", b"[1,2]", b'{"event_id":"x",}', b"\xff\xfe{", None]
            )
        )
        if junk is not None:
            lines.append(junk)
            kept.append(Record({}, valid=False))
        if draw(st.booleans()) and row.valid:  # the same record, lenient: malformed
            lenient = json.dumps({**row.fields, "n": 1})[:-1] + ', "x": NaN}'
            lines.append(lenient.encode())
            kept.append(Record({}, valid=False))
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + eol.join(lines) + eol, kept


def csv_bytes(rows: list[Record], draw: st.DrawFn) -> tuple[bytes, list[Record]]:
    """CSV: quoted cells with commas, quotes and newlines; stray-quote rows that are never valid."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    kept: list[Record] = []
    for row in rows:
        writer.writerow(["" if row.fields[f] is None else str(row.fields[f]) for f in FIELDS])
        kept.append(textual(row))
        if draw(st.booleans()):
            out.write('stray,q"uote\n')  # a quote inside an unquoted cell: costs this row only
            kept.append(Record({}, valid=False))
    if draw(st.booleans()):
        out.write('tail,"never closed\n')  # an opening quote that never closes: this row only
        kept.append(Record({}, valid=False))
    return out.getvalue().encode(), kept


def textual(row: Record) -> Record:
    """A record written as text (CSV, Parquet strings): a number for an id (its one breakage)
    becomes its digits, a valid string id."""
    if isinstance(row.fields["event_id"], int):
        return Record({**row.fields, "event_id": str(row.fields["event_id"])}, valid=True)
    return row


def parquet_bytes(rows: list[Record]) -> tuple[bytes, list[Record]]:
    """Parquet: string columns, plus columns named like internal ones and a nested one."""
    kept = [textual(r) for r in rows]
    table = pa.table(
        {
            **{
                f: [None if r.fields[f] is None else str(r.fields[f]) for r in kept] for f in FIELDS
            },
            "file_row_number": list(range(len(kept))),
            "row_number": [0] * len(kept),
            "a.b": [{"c": [1, 2]}] * len(kept),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    fixed = [_parquet_judged(r) for r in kept]
    return buffer.getvalue(), fixed


def _parquet_judged(row: Record) -> Record:
    """Parquet epoch milliseconds as text are not a timestamp string: invalid there."""
    stamp = row.fields["occurred_at"]
    if row.valid and (isinstance(stamp, int) or str(stamp).lstrip("-").isdigit()):
        return Record(row.fields, valid=False)
    return row


def hostile_name(draw: st.DrawFn, suffix: str) -> bytes:
    raw = draw(
        st.binary(min_size=1, max_size=8).filter(lambda b: b"/" not in b and b"\x00" not in b)
    )
    return b"f" + raw.replace(b".", b"_") + suffix.encode()


@st.composite
def landing_zones(draw: st.DrawFn) -> list[tuple[bytes, bytes, list[Record]]]:
    shared = draw(st.lists(ids, min_size=1, max_size=3))
    files = []
    for index, file_format in enumerate(
        draw(st.lists(st.sampled_from(["jsonl", "csv", "gz", "parquet"]), min_size=1, max_size=4))
    ):
        rows = draw(st.lists(records(shared), min_size=1, max_size=6))
        if file_format == "jsonl":
            data, kept = jsonl_bytes(rows, draw)
        elif file_format == "csv":
            data, kept = csv_bytes(rows, draw)
        elif file_format == "gz":
            plain, kept = jsonl_bytes(rows, draw)
            data = gzip.compress(plain) + draw(st.sampled_from([b"", b"\x00\x00", b"junk"]))
        else:
            data, kept = parquet_bytes(rows)
        suffix = {"gz": ".jsonl.gz"}.get(file_format, f".{file_format}")
        files.append((b"%02d" % index + hostile_name(draw, suffix), data, kept))
    return files


def oracle(files: list[tuple[bytes, bytes, list[Record]]]) -> dict[str, str]:
    """event_id -> viewer_id of the events the contract loads: first valid delivery wins."""
    loaded: dict[str, str] = {}
    for _, _, kept in sorted(files, key=lambda f: f[0]):
        for record in kept:
            if record.valid:
                loaded.setdefault(str(record.fields["event_id"]), str(record.fields["viewer_id"]))
    return loaded


def check_zone(
    con: duckdb.DuckDBPyConnection, folder: Path, files: list[tuple[bytes, bytes, list[Record]]]
) -> None:
    events = folder / "events"
    events.mkdir(parents=True)
    for name, data, _ in files:
        with open(os.fsencode(events) + b"/" + name, "wb") as handle:
            handle.write(data)
    accounted = ingest_landing_zone(con, folder, RULES, ingested_at=NOW)
    assert len(accounted) == len(files)
    for f in accounted:
        assert f.status in ("loaded", "duplicate_content"), f
        assert f.rows_read == f.rows_loaded + f.rows_duplicate + f.rows_quarantined, f
    got = dict(con.execute("select event_id, viewer_id from events").fetchall())
    assert got == oracle(files)


def fresh() -> duckdb.DuckDBPyConnection:
    return connect()


@FAST
@given(zone=landing_zones())
def test_hostile_zones_load_exactly_what_the_oracle_accepts(zone, tmp_path_factory) -> None:
    con = fresh()
    try:
        check_zone(con, tmp_path_factory.mktemp("zone"), zone)
    finally:
        con.close()


@pytest.mark.slow
@SLOW
@given(zone=landing_zones())
def test_hostile_zones_load_exactly_what_the_oracle_accepts_long(zone, tmp_path_factory) -> None:
    con = fresh()
    try:
        check_zone(con, tmp_path_factory.mktemp("zone"), zone)
    finally:
        con.close()
