"""Hostile landing files: a file-level problem never blocks another file, a row-level problem costs
that row only, identity is the content, and every file's rows add up (one test per class)."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import warehouse.ingest.discovery as discovery
import warehouse.ingest.loading as loading
from tests.warehouse.ingest.test_loading import NOW, RULES, event
from warehouse.ingest import FileAccounting, discover_new_files, ingest_landing_zone
from warehouse.ingest.loading import ingest_landing_file


def jsonl(*records: object) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records
    )


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def run(con: duckdb.DuckDBPyConnection, landing: Path) -> dict[str, FileAccounting]:
    """Ingest, check every recorded file adds up, and return this run's files by source_file."""
    files = ingest_landing_zone(con, landing, RULES, ingested_at=NOW)
    for f in files:
        assert f.rows_read == f.rows_loaded + f.rows_duplicate + f.rows_quarantined, f
    recorded = con.execute(
        "select count(*) from ingest_files "
        "where rows_read <> rows_loaded + rows_duplicate + rows_quarantined"
    ).fetchone()
    assert recorded == (0,)
    return {f.source_file: f for f in files}


def loaded_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0] for row in con.execute("select event_id from events order by event_id").fetchall()
    ]


def quarantined(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select source_file, row_number, reason_code from quarantine order by source_file, row_number"
    ).fetchall()


def test_1_a_file_name_that_is_not_utf8_is_loaded_under_an_escaped_name(con, tmp_path):
    events = tmp_path / "events"
    write(Path(os.fsdecode(bytes(events) + b"/bad\xff.jsonl")), jsonl(event(1)))
    table = pa.table(
        {
            "event_id": ["e2"],
            "event_type": ["like"],
            "generation_id": ["g1"],
            "viewer_id": ["v1"],
            "occurred_at": ["2024-05-01T12:00:00Z"],
        }
    )
    pq.write_table(table, events / "tmp.parquet")
    os.rename(bytes(events / "tmp.parquet"), bytes(events) + b"/bad\xfe.parquet")
    write(events / "good.jsonl", jsonl(event(3)))
    files = run(con, tmp_path)
    assert {name: f.status for name, f in files.items()} == {
        "events/bad\\xfe.parquet": "loaded",
        "events/bad\\xff.jsonl": "loaded",
        "events/good.jsonl": "loaded",
    }
    assert loaded_ids(con) == ["e1", "e2", "e3"]
    assert run(con, tmp_path) == {}  # recorded under the escaped name: a rerun is a no-op


def test_2_a_parquet_column_named_like_an_internal_one_is_kept_in_extra(con, tmp_path):
    table = pa.table(
        {
            "event_id": ["e1", "e2"],
            "event_type": ["like", "view"],
            "generation_id": ["g1", "g1"],
            "viewer_id": ["v1", "v2"],
            "occurred_at": ["2024-05-01T12:00:00Z"] * 2,
            "watch_ms": [None, 5],
            "file_row_number": [7, 8],
            "row_number": [1, 2],
            "a.b": ["x", "y"],
        }
    )
    pq.write_table(table, write(tmp_path / "events" / "a.parquet", b""))
    write(tmp_path / "events" / "b.jsonl", jsonl(event(3)))
    files = run(con, tmp_path)
    assert files["events/a.parquet"].rows_loaded == 2 and files["events/b.jsonl"].rows_loaded == 1
    extra = con.execute("select extra from events where event_id = 'e2'").fetchone()[0]
    assert json.loads(extra) == {"file_row_number": 8, "row_number": 2, "a.b": "y"}
    rows = con.execute("select source_row from events order by event_id").fetchall()
    assert rows == [(1,), (2,), (1,)]


def test_3_one_stray_quote_in_a_csv_costs_one_row(con, tmp_path):
    header = b"event_id,event_type,generation_id,viewer_id,occurred_at\n"
    rows = [f"e{i},like,g1,v{i},2024-05-01T12:00:00Z".encode() for i in range(3000)]
    rows[100] = b'e100,like,g1,v"100,2024-05-01T12:00:00Z'
    write(tmp_path / "events" / "a.csv", header + b"\n".join(rows) + b"\n")
    files = run(con, tmp_path)
    a = files["events/a.csv"]
    assert (a.rows_read, a.rows_loaded, a.rows_quarantined) == (3000, 2999, 1)
    assert quarantined(con) == [("events/a.csv", 102, "malformed_record")]
    assert "e100" not in loaded_ids(con) and len(loaded_ids(con)) == 2999


def test_4_a_file_that_cannot_be_read_is_recorded_and_the_others_load(con, tmp_path, monkeypatch):
    locked = write(tmp_path / "events" / "a.jsonl", jsonl(event(1)))
    write(tmp_path / "events" / "b.jsonl", jsonl(event(2)))
    real_hash = discovery.file_sha256

    def denied(path: Path, chunk: int) -> str:  # root reads any file: deny one as a mount would
        if path == locked:
            raise PermissionError(13, "Permission denied")
        return real_hash(path, chunk)

    monkeypatch.setattr(discovery, "file_sha256", denied)
    files = run(con, tmp_path)
    assert files["events/a.jsonl"].status == "unreadable"
    assert "Permission denied" in (files["events/a.jsonl"].detail or "")
    assert loaded_ids(con) == ["e2"]
    assert quarantined(con) == [("events/a.jsonl", 0, "unreadable_file")]
    assert run(con, tmp_path) == {}  # unchanged: recorded once
    monkeypatch.setattr(discovery, "file_sha256", real_hash)
    os.chmod(locked, 0o644)  # the operator fixes it: its ctime changes, so it is tried again
    assert run(con, tmp_path)["events/a.jsonl"].status == "loaded"
    assert loaded_ids(con) == ["e1", "e2"]


def test_5_two_runs_that_discovered_the_same_files_record_each_once(con, tmp_path):
    for n in range(3):
        write(tmp_path / "events" / f"{n}.jsonl", jsonl(event(n), event(n + 10)))
    discovered_by_slow_run = discover_new_files(con, tmp_path, RULES)
    first = run(con, tmp_path)
    assert len(first) == 3
    late = [ingest_landing_file(con, f, RULES, ingested_at=NOW) for f in discovered_by_slow_run]
    assert {f.status for f in late} == {"already_ingested"}
    assert con.execute("select count(*), sum(rows_read) from ingest_files").fetchone() == (3, 6)


def test_6_a_file_rewritten_with_its_size_and_mtime_restored_is_ingested_again(con, tmp_path):
    path = write(tmp_path / "events" / "a.jsonl", jsonl(event(1, viewer_id="vA")))
    run(con, tmp_path)
    stat = path.stat()
    path.write_bytes(jsonl(event(2, viewer_id="vB")))  # same length, new content
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as cp -p / rsync -t leave it
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert run(con, tmp_path)["events/a.jsonl"].rows_loaded == 1
    assert loaded_ids(con) == ["e1", "e2"]


@pytest.mark.parametrize("blank", ["\t", "\n", "\r", "\v", "\u2028", " \u00a0", "\u200b"])
def test_8_an_id_without_a_visible_character_is_empty(con, tmp_path, blank):
    write(tmp_path / "events" / "a.jsonl", jsonl(event(1, viewer_id=blank), event(2)))
    run(con, tmp_path)
    assert loaded_ids(con) == ["e2"]
    assert quarantined(con) == [("events/a.jsonl", 1, "empty_id")]


@pytest.mark.parametrize("bad", ["v\x001", "v\t1", "v\x851", "v\u20281", "v\x7f"])
def test_8_an_id_with_a_control_character_is_a_bad_type(con, tmp_path, bad):
    write(tmp_path / "events" / "a.jsonl", jsonl(event(1, viewer_id=bad), event(2)))
    run(con, tmp_path)
    assert loaded_ids(con) == ["e2"]
    assert quarantined(con) == [("events/a.jsonl", 1, "bad_type")]


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-05-01T12:00:00+24:00",
        "2024-05-01T12:00:00+25:00",
        "2024-05-01T12:00:00+99:99",
        "2024-05-01T12:00:00+00:60",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:60:00Z",
        "2024-02-30T12:00:00Z",
    ],
)
def test_9_timestamps_outside_rfc3339_are_rejected(con, tmp_path, stamp):
    write(tmp_path / "events" / "a.jsonl", jsonl(event(1, occurred_at=stamp), event(2)))
    run(con, tmp_path)
    assert loaded_ids(con) == ["e2"]
    assert quarantined(con) == [("events/a.jsonl", 1, "bad_timestamp")]


def test_9_a_leap_second_is_accepted_as_the_next_second(con, tmp_path):
    write(
        tmp_path / "events" / "a.jsonl",
        jsonl(
            event(1, occurred_at="2016-12-31T23:59:60Z"),
            event(2, occurred_at="2024-05-01T12:00:00-23:59"),
        ),
    )
    run(con, tmp_path)
    times = con.execute("select occurred_at from events order by event_id").fetchall()
    assert times == [
        (datetime(2017, 1, 1, 0, 0, tzinfo=UTC),),
        (datetime(2024, 5, 2, 11, 59, tzinfo=UTC),),
    ]


@pytest.mark.parametrize(
    "line",
    [
        b'{"event_id":"e1","event_type":"like","generation_id":"g1","viewer_id":"v1",'
        b'"occurred_at":"2024-05-01T12:00:00Z",}',
        b'{"event_id":"e1","event_type":"like","generation_id":"g1","viewer_id":"v1",'
        b'"occurred_at":"2024-05-01T12:00:00Z","x":NaN}',
        b'{"event_id":"e1","event_type":"like","generation_id":"g1","viewer_id":"v1",'
        b'"occurred_at":"2024-05-01T12:00:00Z","x":[1, -Infinity]}',
        b'{"event_id":"e1","event_type":"like","generation_id":"g1","viewer_id":"v1",'
        b'"occurred_at":"2024-05-01T12:00:00Z","x":[1,2 ,]}',
    ],
)
def test_10_lines_that_are_not_strict_json_are_malformed(con, tmp_path, line):
    write(
        tmp_path / "events" / "a.jsonl",
        jsonl(line, event(2, note="NaN, Infinity,]", session_id=None)),
    )
    run(con, tmp_path)
    assert loaded_ids(con) == ["e2"]
    assert quarantined(con) == [("events/a.jsonl", 1, "malformed_record")]
    extra = con.execute("select extra from events").fetchone()[0]
    assert json.loads(extra) == {"note": "NaN, Infinity,]"}


def test_12_a_bom_gzip_trailer_and_bad_parquet_value_cost_nothing_more(con, tmp_path):
    write(tmp_path / "events" / "bom.jsonl", b"\xef\xbb\xbf" + jsonl(event(1), event(2)))
    write(tmp_path / "events" / "t.jsonl.gz", gzip.compress(jsonl(event(3))) + b"\x00\x00junk")
    names = pa.array([b"e4", b"e\xff5", b"e6"], pa.binary()).view(pa.string())
    table = pa.table(
        {
            "event_id": names,
            "event_type": ["like"] * 3,
            "generation_id": ["g1"] * 3,
            "viewer_id": ["v1"] * 3,
            "occurred_at": ["2024-05-01T12:00:00Z"] * 3,
        }
    )
    pq.write_table(table, write(tmp_path / "events" / "u.parquet", b""))
    files = run(con, tmp_path)
    assert {name: f.status for name, f in files.items()} == {
        "events/bom.jsonl": "loaded",
        "events/t.jsonl.gz": "loaded",
        "events/u.parquet": "loaded",
    }
    assert loaded_ids(con) == ["e1", "e2", "e3", "e4", "e6"]
    assert quarantined(con) == [("events/u.parquet", 2, "bad_encoding")]


def test_the_gzip_trailer_warning_names_a_non_utf8_file_as_the_warehouse_does(
    con, tmp_path, caplog
):
    name = os.fsdecode(b"t\xff.jsonl.gz")
    write(tmp_path / "events" / name, gzip.compress(jsonl(event(1))) + b"junk")
    with caplog.at_level("WARNING", logger="warehouse.ingest.gzip_stream"):
        files = run(con, tmp_path)
    assert [(n, f.status) for n, f in files.items()] == [("events/t\\xff.jsonl.gz", "loaded")]
    assert caplog.messages == ["t\\xff.jsonl.gz: 4 bytes after the last gzip member ignored"]
    caplog.messages[0].encode("utf-8")  # no lone surrogate for a log handler to choke on


def test_12_links_out_of_the_root_loops_dangling_links_and_fifos_are_recorded(con, tmp_path):
    outside = write(tmp_path / "secret.jsonl", jsonl(event(99, viewer_id="private")))
    landing = tmp_path / "landing"
    write(landing / "events" / "a.jsonl", jsonl(event(1)))
    (landing / "events" / "in.jsonl").symlink_to(landing / "events" / "a.jsonl")
    (landing / "events" / "out.jsonl").symlink_to(outside)
    (landing / "events" / "dangling.jsonl").symlink_to(landing / "missing.jsonl")
    (landing / "events" / "loop.jsonl").symlink_to(landing / "events" / "loop.jsonl")
    os.mkfifo(landing / "events" / "pipe.jsonl")
    files = run(con, landing)
    assert {name: f.status for name, f in files.items()} == {
        "events/a.jsonl": "loaded",
        "events/dangling.jsonl": "not_regular_file",
        "events/in.jsonl": "duplicate_content",
        "events/loop.jsonl": "not_regular_file",
        "events/out.jsonl": "outside_landing_root",
        "events/pipe.jsonl": "not_regular_file",
    }
    assert loaded_ids(con) == ["e1"]
    assert [row[1:] for row in quarantined(con)] == [
        (0, "not_regular_file"),  # dangling
        (0, "not_regular_file"),  # loop
        (0, "outside_landing_root"),
        (0, "not_regular_file"),  # FIFO
    ]
    assert "private" not in str(con.execute("select * from quarantine").fetchall())
    assert run(con, landing) == {}  # each recorded once


def test_a_csv_whose_header_names_no_contract_field_is_not_reported_loaded(con, tmp_path):
    write(tmp_path / "events" / "a.csv", b"e1,like,g1,v1,2024-05-01T12:00:00Z\ne2,like,g1,v1,x\n")
    files = run(con, tmp_path)
    a = files["events/a.csv"]
    assert (a.status, a.rows_read, a.rows_quarantined) == ("no_csv_header", 2, 2)
    assert quarantined(con) == [
        ("events/a.csv", 1, "malformed_record"),
        ("events/a.csv", 2, "malformed_record"),
    ]
    status = con.execute("select status from ingest_files").fetchall()
    assert status == [("no_csv_header",)]


def test_a_touched_file_is_hashed_once_then_skipped_by_its_new_identity(con, tmp_path, monkeypatch):
    path = write(tmp_path / "events" / "a.jsonl", jsonl(event(1)))
    run(con, tmp_path)
    os.utime(path, ns=(1, 1))  # touched: new mtime and ctime, same content
    hashed: list[Path] = []
    real_hash = discovery.file_sha256

    def counting(target: Path, chunk: int) -> str:
        hashed.append(target)
        return real_hash(target, chunk)

    monkeypatch.setattr(discovery, "file_sha256", counting)
    assert run(con, tmp_path) == {} and hashed == [path]
    assert run(con, tmp_path) == {} and hashed == [path]  # its identity was refreshed


def test_2_a_parquet_with_an_empty_and_an_internal_column_name_loads(con, tmp_path):
    """The pyarrow path (taken for `file_row_number`) addresses the columns DuckDB renamed: an
    empty name and names repeated up to case."""
    table = pa.Table.from_arrays(
        [pa.array(v) for v in (["e1"], ["like"], ["g1"], ["v1"], ["2024-05-01T12:00:00Z"])]
        + [pa.array(["blank"]), pa.array([7]), pa.array(["x"]), pa.array(["y"])],
        names=[*event(1), "", "file_row_number", "note", "NOTE"],
    )
    write(tmp_path / "events/e.parquet", b"")
    pq.write_table(table, tmp_path / "events/e.parquet")
    write(tmp_path / "events/good.jsonl", jsonl(event(2)))
    files = run(con, tmp_path)
    assert {name: f.status for name, f in files.items()} == {
        "events/e.parquet": "loaded",
        "events/good.jsonl": "loaded",
    }
    assert loaded_ids(con) == ["e1", "e2"]
    (extra,) = con.execute("select extra from events where event_id = 'e1'").fetchone()
    assert set(json.loads(extra).values()) >= {"blank", 7, "x", "y"}


def test_a_file_written_in_place_while_it_is_read_is_not_recorded_as_loaded(
    con, tmp_path, monkeypatch
):
    """Rewritten in place between hashing and the end of reading: its rows may mix two contents
    and its hash names content that was not loaded. Nothing of it loads; the next run (its
    identity changed) loads what it holds then, every row."""
    path = write(tmp_path / "events/big.jsonl", jsonl(*(event(f"a{n}") for n in range(3))))
    write(tmp_path / "events/other.jsonl", jsonl(event("o1")))
    judge = loading.judge_file

    def judge_then_rewrite(con, landing, *args):
        judge(con, landing, *args)
        if landing.path == path:
            with path.open("r+b") as handle:  # same inode, same size: the b-rows
                handle.write(jsonl(*(event(f"b{n}") for n in range(3))))

    monkeypatch.setattr(loading, "judge_file", judge_then_rewrite)
    files = run(con, tmp_path)
    assert files["events/big.jsonl"].status == "unreadable"
    assert "written to while it was read" in files["events/big.jsonl"].detail
    assert files["events/other.jsonl"].status == "loaded"
    assert loaded_ids(con) == ["eo1"]
    monkeypatch.setattr(loading, "judge_file", judge)
    assert run(con, tmp_path)["events/big.jsonl"].status == "loaded"
    assert loaded_ids(con) == ["eb0", "eb1", "eb2", "eo1"]
