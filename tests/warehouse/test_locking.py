"""The writer lock: concurrent writers take turns, finish, and leave what one run leaves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from warehouse.connection import connect
from warehouse.locking import WriterLockConfig, lock_path_for, warehouse_writer
from warehouse.resource import Warehouse
from warehouse.snapshot import open_snapshot

# A writing stage in its own process: the real, idempotent ingest of a landing zone, under the lock.
INGEST_STAGE = """
import logging, sys, time
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
from warehouse.resource import Warehouse
from warehouse.ingest import ingest_landing_zone

db, landing, hold_seconds, holding_marker = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
with Warehouse(db).writer(timeout_seconds=60) as con:
    Path(holding_marker).touch()
    ingest_landing_zone(con, landing)
    time.sleep(hold_seconds)
print("done")
"""

HOLD_LOCK = """
import sys, time
from warehouse.locking import warehouse_writer
with warehouse_writer(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""

GENERATIONS = [
    {"generation_id": f"g{n}", "request_id": "r1", "creator_id": "c1", "prompt": "a cat surfing",
     "model_version": "m1", "created_at": "2025-03-01T10:00:00Z", "duration_ms": 4000}
    for n in (1, 2)
]  # fmt: skip
EVENTS = [
    {"event_id": "e1", "event_type": "impression", "generation_id": "g1", "viewer_id": "v1",
     "occurred_at": "2025-03-01T10:05:00Z", "surface": "feed", "position": 0},
    {"event_id": "e2", "event_type": "view", "generation_id": "g1", "viewer_id": "v1",
     "occurred_at": "2025-03-01T10:05:02Z", "watch_ms": 3500},
    {"event_id": "e2", "event_type": "view", "generation_id": "g1", "viewer_id": "v1",
     "occurred_at": "2025-03-01T10:05:02Z", "watch_ms": 3500},
    {"event_id": "e3", "event_type": "like", "generation_id": "g2", "viewer_id": "v2",
     "occurred_at": "2025-03-01T10:06:00Z"},
    {"event_id": "e4", "event_type": "teleport", "generation_id": "g2", "viewer_id": "v2",
     "occurred_at": "2025-03-01T10:06:00Z"},
]  # fmt: skip


def write_landing_zone(root: Path) -> Path:
    for kind, records in (("generations", GENERATIONS), ("events", EVENTS)):
        (root / kind).mkdir(parents=True)
        (root / kind / "part-0.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
        )
    return root


def write_script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


WAREHOUSE_CONTENT = {
    "events": "select event_id, event_type, generation_id, source_file, source_row from events",
    "generations": "select generation_id, request_id, source_file, source_row from generations",
    "quarantine": "select source_file, row_number, reason_code from quarantine",
    "ingest_files": (
        "select source_file, sha256, rows_read, rows_loaded, rows_duplicate, rows_quarantined "
        "from ingest_files"
    ),
}


def warehouse_content(db: Path) -> dict[str, list[tuple]]:
    """Every public ingest table, without its timestamps, sorted."""
    con = connect(db, read_only=True)
    try:
        return {
            table: sorted(con.execute(sql).fetchall()) for table, sql in WAREHOUSE_CONTENT.items()
        }
    finally:
        con.close()


def test_two_concurrent_writers_both_finish_with_the_result_of_one(tmp_path: Path) -> None:
    landing = write_landing_zone(tmp_path / "landing")
    stage = write_script(tmp_path, "ingest_stage.py", INGEST_STAGE)
    db = tmp_path / "both" / "reelloop.duckdb"
    first_holding = tmp_path / "first.holding"

    first = subprocess.Popen(
        [sys.executable, str(stage), str(db), str(landing), "1.5", str(first_holding)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(first_holding.exists, 30, "the first writer to hold the lock")
    second = subprocess.Popen(
        [sys.executable, str(stage), str(db), str(landing), "0", str(tmp_path / "second.holding")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_out, first_err = first.communicate(timeout=60)
    second_out, second_err = second.communicate(timeout=60)
    assert (first.returncode, second.returncode) == (0, 0), first_err + second_err
    assert first_out.strip() == second_out.strip() == "done"
    assert "waiting for writer lock" in second_err

    one_run = tmp_path / "one" / "reelloop.duckdb"
    alone = subprocess.run(
        [
            sys.executable,
            str(stage),
            str(one_run),
            str(landing),
            "0",
            str(tmp_path / "one.holding"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alone.returncode == 0, alone.stderr
    both, alone_content = warehouse_content(db), warehouse_content(one_run)
    assert both == alone_content
    assert [row[0] for row in both["events"]] == ["e1", "e2", "e3"]
    assert [row[0] for row in both["generations"]] == ["g1", "g2"]
    assert len(both["ingest_files"]) == 2 and len(both["quarantine"]) == 1
    snapshot = open_snapshot(db)
    try:
        assert snapshot.execute("select count(*) from events").fetchone() == (3,)
    finally:
        snapshot.close()


def test_waiting_writer_times_out_with_the_holder_named(tmp_path: Path) -> None:
    db = tmp_path / "reelloop.duckdb"
    holder = subprocess.Popen(
        [sys.executable, str(write_script(tmp_path, "hold.py", HOLD_LOCK)), str(db), "30"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with (
            pytest.raises(TimeoutError, match=f"pid {holder.pid}"),
            warehouse_writer(db, config=WriterLockConfig(timeout_seconds=0.5)),
        ):
            pass
        assert 0.4 < time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_writer_is_free_at_once(tmp_path: Path) -> None:
    db = tmp_path / "reelloop.duckdb"
    holder = subprocess.Popen(
        [sys.executable, str(write_script(tmp_path, "hold.py", HOLD_LOCK)), str(db), "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with warehouse_writer(db, timeout_seconds=5) as lease:
        assert lease.outermost
        assert f"pid {os.getpid()}" in lock_path_for(db).read_text(encoding="utf-8")


def test_threads_of_one_process_take_turns_and_nesting_does_not_deadlock(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "reelloop.duckdb"))
    inside: list[int] = []
    overlaps: list[bool] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with warehouse.writer(timeout_seconds=30) as con:
                overlaps.append(bool(inside))
                inside.append(n)
                con.execute(
                    "insert into scores (generation_id, model_id, score, scored_at) "
                    "values (?, 'm', 0.5, current_timestamp)",
                    [f"g{n}"],
                )
                time.sleep(0.2)
                inside.remove(n)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert overlaps == [False, False, False]

    with warehouse_writer(warehouse.path) as outer, warehouse_writer(warehouse.path) as inner:
        assert (outer.outermost, inner.outermost) == (True, False)
    with warehouse.snapshot() as con:
        assert con.execute("select count(*) from scores").fetchone() == (3,)


def test_nested_writers_publish_once_at_the_outermost(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "reelloop.duckdb"))
    with warehouse.writer(publish=False) as con:
        con.execute(
            "insert into scores (generation_id, model_id, score, scored_at) "
            "values ('g1', 'm', 0.5, current_timestamp)"
        )
        with warehouse.writer() as inner:
            inner.execute(
                "insert into scores (generation_id, model_id, score, scored_at) "
                "values ('g2', 'm', 0.5, current_timestamp)"
            )
        snapshots = list((tmp_path / "reelloop.duckdb.snapshot").glob("snapshot-*.duckdb"))
        assert snapshots == []  # the inner writer left publishing to the outer one
    assert sorted(
        p.name for p in (tmp_path / "reelloop.duckdb.snapshot").glob("snapshot-*.duckdb")
    ) == ["snapshot-000001.duckdb"]
    with warehouse.snapshot() as snap:
        assert snap.execute("select count(*) from scores").fetchone() == (2,)
