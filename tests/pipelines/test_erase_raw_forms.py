"""Erasure reaches every raw form a quarantined record can hold an id in, and keeps it out after:
no byte of the id stays in the warehouse file, its WAL or any snapshot, also after the same lines
are delivered again; an id that held no rows is recorded without rewriting the file."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.erase import erase
from pipelines.ingest import ingest
from warehouse.connection import connect
from warehouse.ingest import IngestRules
from warehouse.resource import Warehouse
from warehouse.snapshot import snapshot_dir

SECRET = "u_secret-7"
RULES = IngestRules(memory_limit=None, max_line_bytes=2_000, raw_preview_chars=1_000)
STAMP = "2024-05-01T12:00:00Z"


def raw_lines() -> list[bytes]:
    """Lines naming SECRET in ways the parser does not map to viewer_id, each quarantined."""
    duplicate_key = (
        '{"event_id":"q1","event_type":"zap","generation_id":"g1","viewer_id":"someone",'
        f'"viewer_id":"{SECRET}","occurred_at":"{STAMP}"}}'
    )
    misspelled = (
        f'{{"event_id":"q2","event_type":"like","generation_id":"g1","viewerId":"{SECRET}"}}'
    )
    escaped = SECRET.replace("_", "\\u005f").replace("-", "\\u002d")
    oversized = (
        f'{{"event_id":"q3","viewer_id":"{escaped}","note":"'
        + "x" * 3_000
        + '","event_type":"like"}'
    )
    not_json = f"viewer={SECRET}; broken"
    valid = json.dumps(
        {
            "event_id": "q4",
            "event_type": "like",
            "generation_id": "g1",
            "viewer_id": SECRET,
            "occurred_at": STAMP,
        }
    )
    return [line.encode() for line in (duplicate_key, misspelled, oversized, not_json, valid)]


def bytes_of_id_anywhere(db: Path) -> list[str]:
    """Files of the warehouse (file, WAL, snapshots) holding the id raw or JSON-escaped."""
    needles = (SECRET.encode(), b"u\\u005fsecret")
    files = [db, db.with_name(db.name + ".wal"), *snapshot_dir(db).rglob("*")]
    return [
        str(path)
        for path in files
        if path.is_file() and any(needle in path.read_bytes() for needle in needles)
    ]


def test_erasure_redacts_every_raw_form_and_keeps_the_id_out_on_redelivery(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    csv = b"event_id,event_type,generation_id,viewer_id,occurred_at\n"
    csv += f'c1,like,g1,"{SECRET}",{STAMP},extra cell\n'.encode()
    (landing / "events" / "a.jsonl").write_bytes(b"\n".join(raw_lines()) + b"\n")
    (landing / "events" / "b.csv").write_bytes(csv)
    warehouse = Warehouse.at(db)
    first = ingest(warehouse, str(landing), RULES)
    assert (first.total.rows_read, first.total.rows_loaded) == (6, 1)
    assert bytes_of_id_anywhere(db)  # the test would prove nothing otherwise

    summary = erase(warehouse, "viewer", SECRET)
    assert summary.deleted_rows["events"] == 1
    assert summary.redacted_quarantine_rows == 5
    assert bytes_of_id_anywhere(db) == []

    other = raw_lines()[-1].replace(SECRET.encode(), b"v_other").replace(b"q4", b"q5")
    (landing / "events" / "again.jsonl").write_bytes(b"\n".join([*raw_lines(), other]) + b"\n")
    (landing / "events" / "again.csv").write_bytes(csv + f"c2,like,g1,v2,{STAMP}\n".encode())
    again = ingest(warehouse, str(landing), RULES)
    counts = (again.total.rows_read, again.total.rows_loaded, again.total.rows_quarantined)
    assert counts == (8, 2, 6)
    assert again.quarantined_by_reason["erased_subject"] == 2  # q4, and q1 (its last viewer_id)
    assert bytes_of_id_anywhere(db) == []
    con = connect(db, read_only=True)
    kept = con.execute(
        "select count(*) from quarantine where source_file like 'events/again%' and raw is not null"
    ).fetchone()
    con.close()
    assert kept == (0,)


def test_erasing_an_id_that_holds_no_rows_records_it_without_rewriting(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "a.jsonl").write_bytes(raw_lines()[-1] + b"\n")
    warehouse = Warehouse.at(db)
    ingest(warehouse, str(landing), RULES)
    inode = db.stat().st_ino
    summary = erase(warehouse, "viewer", "nobody-here")
    assert summary.total_deleted == 0 and summary.compaction is None
    assert db.stat().st_ino == inode  # the file was not rewritten into a new one
    (landing / "events" / "late.jsonl").write_bytes(
        json.dumps(
            {
                "event_id": "late",
                "event_type": "like",
                "generation_id": "g1",
                "viewer_id": "nobody-here",
                "occurred_at": STAMP,
            }
        ).encode()
    )
    late = ingest(warehouse, str(landing), RULES)
    assert late.quarantined_by_reason == {"erased_subject": 1}
