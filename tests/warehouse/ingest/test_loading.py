"""Ingest: contract validation, quarantine reasons, dedup, idempotence, accounting, transactions, kill safety."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import warehouse.ingest.loading as loading
from warehouse.connection import connect
from warehouse.ingest import (
    REASON_CODES,
    FileAccounting,
    IngestRules,
    ingest_file,
    ingest_landing_zone,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
NOON_MS = 1_714_564_800_000  # 2024-05-01T12:00:00Z
NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RULES = IngestRules(memory_limit=None, max_line_bytes=30_000)


def event(n: int | str, **fields: object) -> dict[str, object]:
    """A contract-valid event (a like), with overrides; a field set to ... is removed."""
    record: dict[str, object] = {
        "event_id": f"e{n}",
        "event_type": "like",
        "generation_id": "g1",
        "viewer_id": "v1",
        "occurred_at": "2024-05-01T12:00:00Z",
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not ...}


def generation(n: int | str, **fields: object) -> dict[str, object]:
    """A contract-valid generation record, with overrides; a field set to ... is removed."""
    record: dict[str, object] = {
        "generation_id": f"g{n}",
        "request_id": "r1",
        "creator_id": "c1",
        "prompt": "a red fox, watercolor",
        "model_version": "m1",
        "created_at": "2024-05-01T11:00:00Z",
        "duration_ms": 5000,
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not ...}


def write_jsonl(path: Path, lines: list[object], *, gz: bool = False) -> Path:
    """One line per item: dicts as JSON, str and bytes as they are."""
    payload = b"".join(
        (
            item
            if isinstance(item, bytes)
            else (item if isinstance(item, str) else json.dumps(item)).encode()
        )
        + b"\n"
        for item in lines
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def write_text(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def write_parquet(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def run(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    *,
    now: datetime = NOW,
    rules: IngestRules = RULES,
) -> list[FileAccounting]:
    """Ingest the landing zone and check the accounting of every file ever recorded."""
    files = ingest_landing_zone(con, landing, rules, ingested_at=now)
    assert_accounting(con, files)
    return files


def assert_accounting(con: duckdb.DuckDBPyConnection, files: list[FileAccounting]) -> None:
    """rows_read = loaded + duplicate + quarantined for every file, and the tables hold exactly those rows."""
    for f in files:
        assert f.rows_read == f.rows_loaded + f.rows_duplicate + f.rows_quarantined, f
        assert sum(f.quarantined_by_reason.values()) == f.rows_quarantined, f
    recorded = con.execute(
        """
        select
            f.source_file, f.status, f.rows_read, f.rows_loaded, f.rows_duplicate, f.rows_quarantined,
            (select count(*) from quarantine q
             where q.source_file = f.source_file and q.quarantined_at = f.ingested_at and q.row_number > 0),
            (select count(*) from events e where e.source_file = f.source_file and e.ingested_at = f.ingested_at)
            + (select count(*) from generations g
               where g.source_file = f.source_file and g.ingested_at = f.ingested_at)
        from ingest_files f
        """
    ).fetchall()
    for (
        source,
        status,
        read,
        loaded,
        duplicate,
        quarantined,
        quarantine_rows,
        loaded_rows,
    ) in recorded:
        assert read == loaded + duplicate + quarantined, source
        assert quarantine_rows == quarantined, source
        assert loaded_rows == loaded, source
        if status == "duplicate_content":
            assert (loaded, duplicate) == (0, read), source


def by_file(files: list[FileAccounting]) -> dict[str, FileAccounting]:
    return {f.source_file: f for f in files}


def quarantined(
    con: duckdb.DuckDBPyConnection, source_file: str
) -> dict[int, tuple[str, str, str]]:
    """row_number -> (reason_code, detail, raw) of a file's quarantined rows."""
    rows = con.execute(
        "select row_number, reason_code, detail, raw from quarantine where source_file = ? order by row_number",
        [source_file],
    ).fetchall()
    return {row: (reason, detail, raw) for row, reason, detail, raw in rows}


def table_rows(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every row of the ingest tables, without the ingest timestamps, sorted."""
    queries = {
        "events": "select * exclude (ingested_at) from events",
        "generations": "select * exclude (ingested_at) from generations",
        "quarantine": "select * exclude (quarantined_at) from quarantine",
        "ingest_files": "select * exclude (ingested_at) from ingest_files",
    }
    return {name: sorted(con.execute(sql).fetchall(), key=repr) for name, sql in queries.items()}


# ---------------------------------------------------------------------------------------------------------------
# formats and types


def test_all_formats_and_both_timestamp_forms_load_as_utc(con, tmp_path):
    rows = [
        event("a", occurred_at="2024-05-01T14:00:00+02:00", app_version="5.1", campaign="spring"),
        event(
            "b", occurred_at=NOON_MS, event_type="view", watch_ms=1200, surface="feed", position=3
        ),
    ]
    write_jsonl(
        tmp_path / "events/j/part.jsonl", [{**r, "event_id": f"j{r['event_id']}"} for r in rows]
    )
    write_jsonl(
        tmp_path / "events/z.jsonl.gz",
        [{**r, "event_id": f"z{r['event_id']}"} for r in rows],
        gz=True,
    )
    write_text(
        tmp_path / "events/c.csv",
        "event_id,event_type,generation_id,viewer_id,occurred_at,watch_ms,surface,position,app_version,campaign\r\n"
        "cea,like,g1,v1,2024-05-01T14:00:00+02:00,,,,5.1,spring\r\n"
        f"ceb,view,g1,v1,{NOON_MS},1200,feed,3,,\r\n",
    )
    base = {
        "event_type": ["like", "view"],
        "generation_id": ["g1", "g1"],
        "viewer_id": ["v1", "v1"],
        "watch_ms": [None, 1200],
        "surface": [None, "feed"],
        "position": pa.array([None, 3], pa.int32()),
    }
    write_parquet(
        tmp_path / "events/p_text.parquet",
        pa.table(
            {
                "event_id": ["ptea", "pteb"],
                **base,
                "occurred_at": ["2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00Z"],
            }
        ),
    )
    write_parquet(
        tmp_path / "events/p_ms.parquet",
        pa.table(
            {
                "event_id": ["pmea", "pmeb"],
                **base,
                "occurred_at": pa.array([NOON_MS, NOON_MS], pa.int64()),
                "campaign": ["spring", None],
            }
        ),
    )
    write_parquet(
        tmp_path / "events/p_tz.parquet",
        pa.table(
            {
                "event_id": ["pzea", "pzeb"],
                **base,
                "occurred_at": pa.array([NOON_MS, NOON_MS], pa.timestamp("ms", tz="Europe/Paris")),
            }
        ),
    )

    files = run(con, tmp_path)

    assert {f.file_format for f in files} == {"jsonl", "jsonl.gz", "csv", "parquet"}
    assert all((f.status, f.rows_read, f.rows_loaded) == ("loaded", 2, 2) for f in files), files
    loaded = con.execute(
        "select event_id, occurred_at, event_type, watch_ms, surface, position, source_row from events"
    ).fetchall()
    assert len(loaded) == 12
    assert {row[1] for row in loaded} == {NOON}
    views = {row[0]: row[2:] for row in loaded if row[2] == "view"}
    assert set(views) == {"jeb", "zeb", "ceb", "pteb", "pmeb", "pzeb"}
    assert {view[:4] for view in views.values()} == {("view", 1200, "feed", 3)}
    assert {view[4] for name, view in views.items() if name != "ceb"} == {2}
    assert views["ceb"][4] == 3  # CSV row numbers are line numbers: the header is line 1
    extras = dict(
        con.execute(
            "select event_id, extra::varchar from events where extra is not null"
        ).fetchall()
    )
    assert json.loads(extras["jea"]) == {"campaign": "spring"}
    assert json.loads(extras["zea"]) == {"campaign": "spring"}
    assert json.loads(extras["cea"]) == {"campaign": "spring"}
    assert json.loads(extras["pmea"]) == {"campaign": "spring"}


def test_generation_fields_are_typed_in_every_format(con, tmp_path):
    full = generation(
        1,
        width=720,
        height=1280,
        fps=24.0,
        seed=42,
        output_uri="s3://out/g1.mp4",
        reference_inputs=[{"kind": "image", "uri": "s3://ref/1.png"}],
        output_embedding=[0.5, -1.0, 2.0],
        training_consent=False,
        content_flags=["real_person"],
        studio="north",
    )
    write_jsonl(tmp_path / "generations/a.jsonl", [full, generation(2)])
    csv_cells = {
        **{k: str(v) for k, v in full.items()},
        "generation_id": "g3",
        "fps": "24",
        "training_consent": "false",
        "reference_inputs": json.dumps(full["reference_inputs"]),
        "output_embedding": json.dumps(full["output_embedding"]),
        "content_flags": json.dumps(full["content_flags"]),
    }
    header = list(csv_cells)
    quoted = ['"' + csv_cells[h].replace('"', '""') + '"' for h in header]
    write_text(tmp_path / "generations/b.csv", ",".join(header) + "\n" + ",".join(quoted) + "\n")
    write_parquet(
        tmp_path / "generations/c.parquet",
        pa.table(
            {
                **{k: [v] for k, v in full.items() if k not in ("created_at", "generation_id")},
                "generation_id": ["g4"],
                "created_at": pa.array(
                    [datetime(2024, 5, 1, 11, tzinfo=UTC)], pa.timestamp("us", tz="UTC")
                ),
            }
        ),
    )

    files = run(con, tmp_path)

    assert [f.rows_loaded for f in files] == [2, 1, 1]
    typed = con.execute(
        """select generation_id, width, height, fps, seed, reference_inputs, output_uri, output_embedding,
                  training_consent, content_flags, extra::varchar, created_at
           from generations order by generation_id"""
    ).fetchall()
    expected = (
        720,
        1280,
        24.0,
        42,
        [{"kind": "image", "uri": "s3://ref/1.png"}],
        "s3://out/g1.mp4",
        [0.5, -1.0, 2.0],
        False,
        ["real_person"],
    )
    for row in (typed[0], typed[2], typed[3]):
        assert row[1:10] == expected, row
        assert json.loads(row[10]) == {"studio": "north"}
        assert row[11] == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert typed[1][0] == "g2"
    assert typed[1][8] is True  # training_consent defaults to true
    assert typed[1][5] is None and typed[1][7] is None


# ---------------------------------------------------------------------------------------------------------------
# reason codes


EVENT_CASES: list[tuple[object, str, str]] = [
    # (line, reason_code, fragment of detail)
    (b'{"event_id":"x1","note":"caf\xe9"}', "bad_encoding", "UTF-8"),
    ("x" * 31_000, "oversized_field", "over the 30000-byte limit"),
    ("", "malformed_record", "empty line"),
    ("not json at all", "malformed_record", "not valid JSON"),
    ("[1, 2]", "malformed_record", "array"),
    ('{"event_id":"x2",' + "\x1e" + '"event_type":"like"}', "malformed_record", "not valid JSON"),
    (event(3, viewer_id=...), "missing_field", "viewer_id"),
    (event(4, occurred_at=None), "missing_field", "occurred_at"),
    (event(5, event_type="view"), "missing_field", "watch_ms: required for event_type view"),
    (event(6, event_id=6), "bad_type", "event_id"),
    (event(7, position=1.5), "bad_type", "position"),
    (event(8, watch_ms="120"), "bad_type", "watch_ms"),
    (event(9, occurred_at=True), "bad_type", "occurred_at"),
    (event(10, position=2**40), "bad_type", "position"),
    (event("", event_id=""), "empty_id", "event_id"),
    (event(11, viewer_id="   "), "empty_id", "viewer_id"),
    (event(12, generation_id="g" * 129), "oversized_field", "generation_id: over 128"),
    (event(13, event_type="superlike"), "unknown_event_type", "superlike"),
    (event(14, surface="tv"), "bad_enum", "surface"),
    (event(15, occurred_at="2024-05-01T12:00:00"), "bad_timestamp", "occurred_at"),
    (event(16, occurred_at="yesterday"), "bad_timestamp", "occurred_at"),
    (event(17, occurred_at="1999-12-31T23:59:59Z"), "bad_timestamp", "before 2000-01-01"),
    (event(18, occurred_at=946_684_799_000), "bad_timestamp", "before 2000-01-01"),
    (event(19, occurred_at="2024-06-02T12:00:01Z"), "future_timestamp", "occurred_at"),
    (
        event(20, occurred_at=int((NOW + timedelta(days=3)).timestamp() * 1000)),
        "future_timestamp",
        "occurred_at",
    ),
    (event(21, event_type="view", watch_ms=-1), "negative_value", "watch_ms"),
    (event(22, event_type="impression", position=-2), "negative_value", "position"),
]

GENERATION_CASES: list[tuple[object, str, str]] = [
    (generation(1, output_embedding=[0.1, 0.2]), "", ""),
    (generation(2, prompt=...), "missing_field", "prompt"),
    (generation(3, duration_ms=None), "missing_field", "duration_ms"),
    (generation(4, duration_ms="5s"), "bad_type", "duration_ms"),
    (generation(5, reference_inputs=[{"kind": "image"}]), "bad_type", "reference_inputs"),
    (generation(6, output_embedding=[0.1, "x"]), "bad_type", "output_embedding"),
    (generation(7, content_flags="unsafe"), "bad_type", "content_flags"),
    (generation(8, training_consent="yes"), "bad_type", "training_consent"),
    (generation(9, fps=1e400), "bad_type", "fps"),
    (generation(10, request_id=""), "empty_id", "request_id"),
    (generation(11, prompt="p" * 10_001), "oversized_field", "prompt: over 10000"),
    (
        generation(12, reference_inputs=[{"kind": "hologram", "uri": "s3://x"}]),
        "bad_enum",
        "reference_inputs",
    ),
    (generation(13, created_at="2024-05-01 11:00:00+0200"), "bad_timestamp", "created_at"),
    (generation(14, duration_ms=0), "negative_value", "duration_ms"),
    (generation(15, width=-720), "negative_value", "width"),
    (
        generation(16, output_embedding=[0.1, 0.2, 0.3]),
        "embedding_dim_mismatch",
        'model_version "m1" has 2',
    ),
]


def test_every_reason_code_quarantines_the_row_with_detail_and_raw(con, tmp_path):
    event_lines = [event(0)] + [line for line, _, _ in EVENT_CASES]
    write_jsonl(tmp_path / "events/bad.jsonl", event_lines)
    write_jsonl(tmp_path / "generations/bad.jsonl", [line for line, _, _ in GENERATION_CASES])

    files = by_file(run(con, tmp_path))

    events_file = files["events/bad.jsonl"]
    assert (events_file.rows_read, events_file.rows_loaded) == (len(event_lines), 1)
    got = quarantined(con, "events/bad.jsonl")
    for row_number, (line, reason, fragment) in enumerate(EVENT_CASES, start=2):
        code, detail, raw = got[row_number]
        assert (code, fragment in detail) == (reason, True), (row_number, line, code, detail)
        if isinstance(line, dict):
            assert json.loads(raw) == line
    assert got[2][2] == '{"event_id":"x1","note":"caf\\xE9"}'  # invalid UTF-8 kept readable
    assert got[3][2] == "x" * RULES.raw_preview_chars  # oversized line: a bounded prefix
    assert got[7][2] == event_lines[6]  # the whole line, record separator included

    generations_file = files["generations/bad.jsonl"]
    assert generations_file.rows_loaded == 1
    got = quarantined(con, "generations/bad.jsonl")
    for row_number, (_, reason, fragment) in enumerate(GENERATION_CASES, start=1):
        if reason:
            assert (got[row_number][0], fragment in got[row_number][1]) == (reason, True), got[
                row_number
            ]
    codes = {code for code, _, _ in quarantined(con, "events/bad.jsonl").values()} | {
        code for code, _, _ in got.values()
    }
    assert codes == set(REASON_CODES)


def test_a_row_breaking_several_rules_gets_the_first_by_precedence(con, tmp_path):
    write_jsonl(
        tmp_path / "events/multi.jsonl",
        [
            event(
                1, viewer_id=..., surface="tv", watch_ms=-1
            ),  # missing_field before bad_enum, negative_value
            event(
                2, event_id=2, occurred_at="2099-01-01T00:00:00Z"
            ),  # bad_type before future_timestamp
            event(3, event_type="superlike", surface="tv"),  # unknown_event_type before bad_enum
            event("", event_id="", generation_id="g" * 200),  # empty_id before oversized_field
            event(
                5, surface="tv", occurred_at="never", position=-1
            ),  # bad_enum, bad_timestamp, negative_value
            event(
                6, occurred_at="2099-01-01T00:00:00Z", watch_ms=-1
            ),  # future_timestamp before negative_value
            event(7, event_type=..., generation_id=...),  # missing: first in contract order
        ],
    )
    run(con, tmp_path)
    got = {
        row: (code, detail)
        for row, (code, detail, _) in quarantined(con, "events/multi.jsonl").items()
    }
    assert got == {
        1: ("missing_field", "viewer_id: required field is missing"),
        2: ("bad_type", "event_id: expected a string"),
        3: ("unknown_event_type", 'event_type: "superlike" is not a known event type'),
        4: ("empty_id", "event_id: empty or blank"),
        5: ("bad_enum", 'surface: "tv" is not one of feed, studio, profile, search, share'),
        6: ("future_timestamp", got[6][1]),
        7: ("missing_field", "event_type: required field is missing"),
    }


def test_csv_rows_quotes_line_numbers_and_broken_rows(con, tmp_path):
    header = "generation_id,request_id,creator_id,prompt,model_version,created_at,duration_ms"
    write_text(
        tmp_path / "generations/g.csv",
        "\ufeff" + header + "\n"
        'g1,r1,c1,"a fox, in the snow\nsecond line of the prompt",m1,2024-05-01T11:00:00Z,5000\n'
        "g2,r1,c1,too few cells\n"
        'g3,r1,c1,"unclosed quote,m1,2024-05-01T11:00:00Z,5000\n'
        "g4,r1,c1,p,m1,2024-05-01T11:00:00Z,5000\n",
    )
    write_text(
        tmp_path / "events/no_header.csv",
        "e1,like,g1,v1,2024-05-01T12:00:00Z\ne2,like,g1,v1,1714564800000\n",
    )
    write_text(
        tmp_path / "events/header_only.csv",
        "event_id,event_type,generation_id,viewer_id,occurred_at\n",
    )

    files = by_file(run(con, tmp_path))

    assert (files["generations/g.csv"].rows_read, files["generations/g.csv"].rows_loaded) == (4, 2)
    loaded = "select generation_id, prompt, source_row from generations order by source_row"
    assert con.execute(loaded).fetchall() == [
        ("g1", "a fox, in the snow\nsecond line of the prompt", 2),
        ("g4", "p", 6),
    ]
    got = quarantined(con, "generations/g.csv")
    assert got[4][:2] == ("malformed_record", "row has 4 cells, the header has 7")
    assert got[4][2] == "g2,r1,c1,too few cells"
    # an unclosed quote costs its own row only: the next row loads
    assert got[5][2] == 'g3,r1,c1,"unclosed quote,m1,2024-05-01T11:00:00Z,5000'
    assert got[5][:2] == (
        "malformed_record",
        "unbalanced quotes or a quote inside an unquoted cell",
    )
    assert (
        files["events/no_header.csv"].rows_read,
        files["events/no_header.csv"].rows_quarantined,
    ) == (2, 2)
    assert {code for code, _, _ in quarantined(con, "events/no_header.csv").values()} == {
        "malformed_record"
    }
    assert (files["events/header_only.csv"].status, files["events/header_only.csv"].rows_read) == (
        "loaded",
        0,
    )


def test_parquet_schema_variants_are_judged_per_column(con, tmp_path):
    write_parquet(
        tmp_path / "events/typed_wrong.parquet",
        pa.table(
            {
                "event_id": pa.array([1, 2], pa.int64()),  # ids must be strings
                "event_type": ["like", "like"],
                "generation_id": ["g1", "g1"],
                "viewer_id": ["v1", "v1"],
                "occurred_at": ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"],
            }
        ),
    )
    write_parquet(
        tmp_path / "events/naive_time.parquet",
        pa.table(
            {
                "event_id": ["n1", "n2"],
                "event_type": ["like", "like"],
                "generation_id": ["g1", "g1"],
                "viewer_id": ["v1", None],
                "occurred_at": pa.array([NOON_MS, NOON_MS], pa.timestamp("ms")),
            }
        ),
    )
    write_parquet(
        tmp_path / "events/no_viewer.parquet",
        pa.table(
            {
                "event_id": ["m1"],
                "event_type": ["like"],
                "generation_id": ["g1"],
                "occurred_at": pa.array([NOON_MS], pa.int64()),
                "device": ["ios"],
            }
        ),
    )

    run(con, tmp_path)

    assert [v[0] for v in quarantined(con, "events/typed_wrong.parquet").values()] == [
        "bad_type",
        "bad_type",
    ]
    naive = quarantined(con, "events/naive_time.parquet")
    assert [naive[1][0], naive[2][0]] == ["bad_timestamp", "missing_field"]
    assert json.loads(naive[2][2])["event_id"] == "n2"  # raw: the Parquet row as JSON
    no_viewer = quarantined(con, "events/no_viewer.parquet")
    assert no_viewer[1][:2] == ("missing_field", "viewer_id: required field is missing")
    assert json.loads(no_viewer[1][2]) == {
        "event_id": "m1",
        "event_type": "like",
        "generation_id": "g1",
        "occurred_at": NOON_MS,
        "device": "ios",
    }


# ---------------------------------------------------------------------------------------------------------------
# duplicates, re-runs, changed and copied files, late events


def test_duplicates_are_dropped_within_a_file_across_files_and_across_runs(con, tmp_path):
    write_jsonl(
        tmp_path / "events/a.jsonl",
        [event(1, viewer_id="first"), event(2), event(1, viewer_id="again")],
    )
    write_jsonl(tmp_path / "events/b.jsonl", [event(2), event(3)])
    write_jsonl(
        tmp_path / "generations/a.jsonl", [generation(1), generation(1, prompt="second delivery")]
    )
    first = by_file(run(con, tmp_path))
    write_jsonl(tmp_path / "events/c.jsonl", [event(3), event(4), event(4)])
    write_jsonl(
        tmp_path / "generations/b.jsonl", [generation(1, prompt="third delivery"), generation(2)]
    )
    second = by_file(run(con, tmp_path, now=LATER))

    counts = {name: (f.rows_loaded, f.rows_duplicate) for name, f in {**first, **second}.items()}
    assert counts == {
        "events/a.jsonl": (2, 1),
        "events/b.jsonl": (1, 1),
        "events/c.jsonl": (1, 2),
        "generations/a.jsonl": (1, 1),
        "generations/b.jsonl": (1, 1),
    }
    assert con.execute("select count(*), count(distinct event_id) from events").fetchone() == (4, 4)
    assert con.execute(
        "select viewer_id, source_file, source_row from events where event_id = 'e1'"
    ).fetchone() == (
        "first",
        "events/a.jsonl",
        1,
    )
    assert con.execute("select prompt from generations where generation_id = 'g1'").fetchone() == (
        "a red fox, watercolor",
    )


def test_rerun_is_a_no_op(con, tmp_path):
    write_jsonl(tmp_path / "events/a.jsonl", [event(1), event(2), "junk"])
    write_text(tmp_path / "events/notes.txt", "not data")
    run(con, tmp_path)
    before = table_rows(con)
    assert run(con, tmp_path, now=LATER) == []
    assert table_rows(con) == before
    assert ingest_file(
        con, tmp_path / "events/a.jsonl", "events", RULES, source_file="events/a.jsonl"
    ).status == ("already_ingested")
    assert table_rows(con) == before


def test_a_changed_file_is_ingested_again_without_duplicating_events(con, tmp_path):
    path = write_jsonl(tmp_path / "events/a.jsonl", [event(1), event(2)])
    run(con, tmp_path)
    write_jsonl(path, [event(1), event(2), event(3), "junk"])
    (changed,) = run(con, tmp_path, now=LATER)
    assert (
        changed.rows_read,
        changed.rows_loaded,
        changed.rows_duplicate,
        changed.rows_quarantined,
    ) == (4, 1, 2, 1)
    assert con.execute(
        "select count(*) from ingest_files where source_file = 'events/a.jsonl'"
    ).fetchone() == (2,)
    assert con.execute("select count(*), count(distinct event_id) from events").fetchone() == (3, 3)


def test_identical_content_under_a_second_name_is_recorded_as_duplicate_content(con, tmp_path):
    write_jsonl(tmp_path / "events/a.jsonl", [event(1), event(2), "junk"])
    run(con, tmp_path)
    shutil.copy(tmp_path / "events/a.jsonl", tmp_path / "events/copy_of_a.jsonl")
    (copy,) = run(con, tmp_path, now=LATER)
    assert (
        copy.status,
        copy.rows_read,
        copy.rows_duplicate,
        copy.rows_loaded,
        copy.rows_quarantined,
    ) == (
        "duplicate_content",
        3,
        3,
        0,
        0,
    )
    assert copy.detail == "same content as events/a.jsonl"
    assert con.execute("select count(*) from events").fetchone() == (2,)
    assert con.execute("select count(*) from quarantine").fetchone() == (1,)


def test_events_whose_generation_has_not_arrived_are_loaded(con, tmp_path):
    write_jsonl(
        tmp_path / "events/a.jsonl", [event(1, generation_id="g9"), event(2, generation_id="g9")]
    )
    (events_file,) = run(con, tmp_path)
    assert events_file.rows_loaded == 2
    write_jsonl(tmp_path / "generations/late.jsonl", [generation(9)])
    run(con, tmp_path, now=LATER)
    joined = con.execute(
        "select count(*) from events join generations using (generation_id) where generation_id = 'g9'"
    ).fetchone()
    assert joined == (2,)


# ---------------------------------------------------------------------------------------------------------------
# files that cannot be read row by row


def test_unreadable_empty_and_unknown_files_are_recorded_never_lost(con, tmp_path):
    write_text(tmp_path / "events/zero.parquet", b"")
    write_text(tmp_path / "events/corrupt.parquet", b"PAR1 this is not parquet at all")
    write_text(tmp_path / "events/empty.jsonl", b"")
    write_text(tmp_path / "events/notes.txt", "hello")
    whole = gzip.compress(b"".join(json.dumps(event(n)).encode() + b"\n" for n in range(2000)))
    write_text(tmp_path / "events/truncated.jsonl.gz", whole[: len(whole) // 2])
    write_text(tmp_path / "events/.in_progress.jsonl", json.dumps(event(1)))
    write_jsonl(tmp_path / "events/good.jsonl", [event(1)])

    files = by_file(run(con, tmp_path))

    statuses = {name: f.status for name, f in files.items()}
    assert statuses == {
        "events/zero.parquet": "empty",
        "events/corrupt.parquet": "unreadable",
        "events/empty.jsonl": "empty",
        "events/notes.txt": "unsupported_format",
        "events/truncated.jsonl.gz": "unreadable",
        "events/good.jsonl": "loaded",
    }
    file_rows = con.execute(
        "select source_file, reason_code from quarantine where row_number = 0 order by source_file"
    ).fetchall()
    assert file_rows == [
        ("events/corrupt.parquet", "unreadable_file"),
        ("events/notes.txt", "unsupported_format"),
        ("events/truncated.jsonl.gz", "unreadable_file"),
    ]
    assert con.execute("select count(*) from events").fetchone() == (
        1,
    )  # nothing of the truncated file
    assert all(f.rows_read == 0 for name, f in files.items() if name != "events/good.jsonl")


# ---------------------------------------------------------------------------------------------------------------
# row numbers


def test_row_numbers_hold_on_a_large_file(con, tmp_path):
    """1M lines, chunk boundaries every 1 MiB: every loaded event's source_row is the line its id names."""
    lines = 1_000_000
    planted = {17: b"\xff not utf-8", 250_001: b"", 500_000: b"{\x1e}", 999_999: b"[]"}
    template = (
        '{"event_id":"%d","event_type":"like","generation_id":"g","viewer_id":"v","occurred_at":%d}'
    )
    body = "\n".join(template % (n, NOON_MS) for n in range(1, lines + 1)).encode().split(b"\n")
    for line, content in planted.items():
        body[line - 1] = content
    path = write_text(tmp_path / "events/big.jsonl", b"\r\n".join(body) + b"\r\n")
    rules = IngestRules(memory_limit=None, read_chunk_bytes=1 << 20)

    (big,) = run(con, tmp_path, rules=rules)

    assert (big.rows_read, big.rows_loaded, big.rows_quarantined) == (
        lines,
        lines - len(planted),
        len(planted),
    )
    assert con.execute(
        "select count(*), count(*) filter (where source_row = event_id::bigint) from events"
    ).fetchone() == (lines - len(planted), lines - len(planted))
    got = con.execute(
        "select row_number, reason_code from quarantine order by row_number"
    ).fetchall()
    assert got == [
        (17, "bad_encoding"),
        (250_001, "malformed_record"),
        (500_000, "malformed_record"),
        (999_999, "malformed_record"),
    ]
    assert path.stat().st_size > 8 * rules.read_chunk_bytes


# ---------------------------------------------------------------------------------------------------------------
# transactions and kill safety


def test_a_failure_mid_file_leaves_nothing_of_that_file(con, tmp_path, monkeypatch):
    write_jsonl(tmp_path / "events/a.jsonl", [event(1), event(2), "junk"])

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(loading, "_insert_ingest_file", fail)
    with pytest.raises(RuntimeError, match="power cut"):
        ingest_landing_zone(con, tmp_path, RULES, ingested_at=NOW)
    assert table_rows(con) == {
        "events": [],
        "generations": [],
        "quarantine": [],
        "ingest_files": [],
    }
    monkeypatch.undo()
    (loaded,) = run(con, tmp_path)
    assert (loaded.rows_loaded, loaded.rows_quarantined) == (2, 1)


KILL_FILES = 5
KILL_ROWS = 50_000


def write_kill_landing_zone(root: Path) -> None:
    """Five event files of 50k rows (JSONL and Parquet) with duplicates across files and some junk."""
    rng = random.Random(3)
    template = (
        '{"event_id":"e%d","event_type":"view","generation_id":"g%d","viewer_id":"v%d",'
        '"occurred_at":%d,"watch_ms":%d,"position":%d,"surface":"feed"}'
    )
    for part in range(KILL_FILES):
        ids = [part * KILL_ROWS + i for i in range(KILL_ROWS)]
        ids = [rng.randrange(0, n + 1) if rng.random() < 0.02 else n for n in ids]
        if part % 2:
            write_parquet(
                root / f"events/part-{part}.parquet",
                pa.table(
                    {
                        "event_id": [f"e{n}" for n in ids],
                        "event_type": ["view"] * len(ids),
                        "generation_id": [f"g{n % 200}" for n in ids],
                        "viewer_id": [f"v{n % 5000}" for n in ids],
                        "occurred_at": pa.array([NOON_MS + n for n in ids], pa.int64()),
                        "watch_ms": [n % 9000 - (n % 997 == 0) * 10_000 for n in ids],
                        "position": pa.array([n % 40 for n in ids], pa.int32()),
                    }
                ),
            )
        else:
            lines = [template % (n, n % 200, n % 5000, NOON_MS + n, n % 9000, n % 40) for n in ids]
            lines[::499] = ["junk line"] * len(lines[::499])
            write_jsonl(root / f"events/part-{part}.jsonl", lines)
    write_jsonl(root / "generations/g.jsonl", [generation(n) for n in range(200)])


def start_ingest(landing: Path, db_path: Path) -> subprocess.Popen:
    code = (
        "import sys; from warehouse.connection import connect; "
        "from warehouse.ingest import IngestRules, ingest_landing_zone; "
        "con = connect(sys.argv[2]); ingest_landing_zone(con, sys.argv[1], IngestRules(memory_limit='1GB')); "
        "con.close()"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(landing), str(db_path)])


def test_killed_ingest_reruns_to_the_same_tables_as_an_uninterrupted_run(tmp_path):
    landing = tmp_path / "landing"
    write_kill_landing_zone(landing)
    reference_db, killed_db = tmp_path / "reference.duckdb", tmp_path / "killed.duckdb"
    started = time.perf_counter()
    assert start_ingest(landing, reference_db).wait(timeout=120) == 0
    full_seconds = time.perf_counter() - started

    rng = random.Random(11)
    kills = 0
    # each run resumes the last one's work: kills at most 30% of a full run apart leave every run
    # work to be killed in (at 15-75% a second run could finish first: one kill, seen under load);
    # a few more tries cover a reference run that a busy machine slowed
    for _ in range(6):
        process = start_ingest(landing, killed_db)
        time.sleep(full_seconds * rng.uniform(0.1, 0.3))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
        if kills == 3:
            break
    assert kills >= 2
    assert start_ingest(landing, killed_db).wait(timeout=120) == 0

    reference, resumed = connect(reference_db), connect(killed_db)
    try:
        expected = table_rows(reference)
        assert len(expected["events"]) > 0.9 * KILL_FILES * KILL_ROWS
        assert table_rows(resumed) == expected
        assert resumed.execute("select count(*) from ingest_files").fetchone() == (KILL_FILES + 1,)
        assert_accounting(resumed, [])
    finally:
        reference.close()
        resumed.close()


def test_a_truncated_gzip_is_recorded_with_its_error_and_no_traceback(con, tmp_path):
    whole = gzip.compress(b"".join(json.dumps(event(n)).encode() + b"\n" for n in range(200)))
    write_text(tmp_path / "events/truncated.jsonl.gz", whole[:-30])
    run(con, tmp_path)
    (detail,) = con.execute("select detail from ingest_files").fetchone()
    assert "end-of-stream marker" in detail
    assert "Traceback" not in detail and ".py" not in detail
