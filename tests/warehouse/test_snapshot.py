"""Snapshots: what they hold, that they are read-only, the atomic pointer and garbage collection."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from warehouse.connection import connect
from warehouse.snapshot import (
    CURRENT_POINTER,
    PUBLIC_TABLES,
    SnapshotConfig,
    collect_garbage,
    current_snapshot_path,
    open_snapshot,
    publish_snapshot,
    snapshot_dir,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def add_score(con: duckdb.DuckDBPyConnection, generation_id: str, score: float) -> None:
    con.execute(
        "insert into scores (generation_id, model_id, score, scored_at) values (?, 'm1', ?, ?)",
        [generation_id, score, NOW],
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "wh" / "reelloop.duckdb"
    con = connect(db)
    add_score(con, "g1", 0.25)
    add_score(con, "g2", 0.75)
    con.execute("create table scratch_notes as select 1 as n")
    con.execute(
        "create view report_score_summary as "
        "select count(*) as n, avg(score) as mean_score from scores"
    )
    con.close()
    return db


@pytest.mark.parametrize("method", ["file_copy", "table_copy"])
def test_snapshot_holds_public_tables_and_materialised_report_views(
    warehouse: Path, method: str
) -> None:
    published = publish_snapshot(warehouse, config=SnapshotConfig(method=method))
    assert published.path == snapshot_dir(warehouse) / "snapshot-000001.duckdb"
    assert snapshot_dir(warehouse) == warehouse.parent / f"{warehouse.name}.snapshot"
    assert published.row_counts["scores"] == 2
    assert published.row_counts["report_score_summary"] == 1
    assert published.row_counts["events"] == 0
    con = open_snapshot(warehouse)
    try:
        relations = {
            name: kind
            for name, kind in con.execute(
                "select table_name, table_type from information_schema.tables"
            ).fetchall()
        }
        # materialised: it needs no source table in the snapshot
        assert relations["report_score_summary"] == "BASE TABLE"
        assert "scratch_notes" not in relations
        assert "schema_migrations" not in relations
        unprefixed = {name for name in relations if not name.startswith("report_")}
        assert unprefixed == {*PUBLIC_TABLES, "snapshot_info"}
        for table in ("events", "generations", "labels", "preference_pairs", "model_registry"):
            assert table in relations
        assert con.execute("select n, mean_score from report_score_summary").fetchone() == (2, 0.5)
        info = dict(con.execute("select relation, row_count from snapshot_info").fetchall())
        assert info["scores"] == 2
        assert con.execute("select distinct snapshot_number from snapshot_info").fetchall() == [
            (1,)
        ]
        assert con.execute("select current_setting('TimeZone')").fetchone() == ("UTC",)
    finally:
        con.close()


def test_snapshot_is_read_only(warehouse: Path) -> None:
    publish_snapshot(warehouse)
    con = open_snapshot(warehouse)
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("insert into scores select * from scores")
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("create table t (i integer)")
    finally:
        con.close()


def test_publish_from_the_writer_connection_moves_the_pointer(warehouse: Path) -> None:
    con = connect(warehouse)
    try:
        first = publish_snapshot(con)
        add_score(con, "g3", 1.0)
        second = publish_snapshot(con)
    finally:
        con.close()
    assert (first.number, second.number) == (1, 2)
    assert current_snapshot_path(warehouse) == second.path
    pointer = (snapshot_dir(warehouse) / CURRENT_POINTER).read_text(encoding="utf-8")
    assert pointer == "snapshot-000002.duckdb\n"
    reader = open_snapshot(warehouse)
    try:
        assert reader.execute("select count(*) from scores").fetchone() == (3,)
    finally:
        reader.close()
    old = duckdb.connect(str(first.path), read_only=True)
    try:
        assert old.execute("select count(*) from scores").fetchone() == (2,)
    finally:
        old.close()


def test_garbage_collection_keeps_current_previous_and_young_files(warehouse: Path) -> None:
    keep_everything = SnapshotConfig(keep_previous=1, retain_seconds=3600)
    for _ in range(4):
        publish_snapshot(warehouse, config=keep_everything)
    folder = snapshot_dir(warehouse)
    names = sorted(p.name for p in folder.glob("snapshot-*.duckdb"))
    assert names == [f"snapshot-00000{n}.duckdb" for n in (1, 2, 3, 4)]
    # the files are young: nothing goes yet
    assert collect_garbage(folder, config=keep_everything) == []
    later = os.path.getmtime(folder / "snapshot-000004.duckdb") + 3601
    removed = collect_garbage(folder, config=keep_everything, now=later)
    assert sorted(p.name for p in removed) == ["snapshot-000001.duckdb", "snapshot-000002.duckdb"]
    remaining = sorted(p.name for p in folder.glob("snapshot-*.duckdb"))
    assert remaining == ["snapshot-000003.duckdb", "snapshot-000004.duckdb"]
    # numbers are never reused, even after collection
    assert publish_snapshot(warehouse, config=keep_everything).number == 5


def test_a_reader_keeps_reading_a_collected_snapshot(warehouse: Path) -> None:
    publish_snapshot(warehouse)
    reader = open_snapshot(warehouse)
    held = current_snapshot_path(warehouse)
    try:
        con = connect(warehouse)
        add_score(con, "g3", 1.0)
        publish_snapshot(con, config=SnapshotConfig(keep_previous=0, retain_seconds=0))
        con.close()
        assert held is not None and not held.exists()
        assert reader.execute("select count(*) from scores").fetchone() == (2,)
    finally:
        reader.close()
    fresh = open_snapshot(warehouse)
    try:
        assert fresh.execute("select count(*) from scores").fetchone() == (3,)
    finally:
        fresh.close()


def test_a_view_that_no_longer_binds_is_skipped_not_fatal(warehouse: Path) -> None:
    con = connect(warehouse)
    con.execute("create view report_broken as select n from scratch_notes")
    con.execute("drop table scratch_notes")
    published = publish_snapshot(con)
    con.close()
    assert published.skipped == ("report_broken",)
    assert "report_broken" not in published.row_counts
    assert published.row_counts["scores"] == 2


def test_leftovers_of_a_crashed_publish_are_removed(warehouse: Path) -> None:
    folder = snapshot_dir(warehouse)
    folder.mkdir()
    leftover = folder / "snapshot-000001.duckdb.tmp-99999"
    leftover.write_bytes(b"partial")
    published = publish_snapshot(warehouse)
    assert not leftover.exists()
    assert published.number == 1


def test_no_snapshot_yet_and_in_memory_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no snapshot"):
        open_snapshot(tmp_path / "never.duckdb")
    with pytest.raises(FileNotFoundError, match="no warehouse file"):
        publish_snapshot(tmp_path / "never.duckdb")
    memory = connect()
    try:
        with pytest.raises(ValueError, match="in-memory"):
            publish_snapshot(memory)
    finally:
        memory.close()


def test_corrupt_pointer_is_reported(warehouse: Path) -> None:
    publish_snapshot(warehouse)
    (snapshot_dir(warehouse) / CURRENT_POINTER).write_text("../../etc/passwd\n", encoding="utf-8")
    with pytest.raises(ValueError, match="corrupt snapshot pointer"):
        open_snapshot(warehouse)


def test_the_snapshot_holds_every_public_table_the_readme_lists(warehouse: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    listed = readme.split("Public (stable names; columns are only ever added):")[1].split("plus")[0]
    named = {name.strip(" `\n,") for name in listed.split(",") if name.strip(" `\n,")}
    assert named == set(PUBLIC_TABLES)
    published = publish_snapshot(warehouse)
    con = open_snapshot(warehouse)
    try:
        tables = {
            row[0] for row in con.execute("select table_name from duckdb_tables()").fetchall()
        }
    finally:
        con.close()
    assert {"exports", "export_rows", "erasures"} <= tables
    assert set(PUBLIC_TABLES) <= set(published.row_counts)


def test_two_warehouses_of_one_stem_get_their_own_snapshots(tmp_path: Path) -> None:
    for name, score in (("w.duckdb", 0.25), ("w.db", 0.75)):
        con = connect(tmp_path / name)
        add_score(con, "g1", score)
        con.close()
        publish_snapshot(tmp_path / name)
    assert snapshot_dir(tmp_path / "w.duckdb") != snapshot_dir(tmp_path / "w.db")
    for name, score in (("w.duckdb", 0.25), ("w.db", 0.75)):
        con = open_snapshot(tmp_path / name)
        try:
            assert con.execute("select score from scores").fetchall() == [(score,)]
        finally:
            con.close()


def test_a_snapshot_folder_of_the_old_name_goes_once_a_new_one_is_published(
    tmp_path: Path,
) -> None:
    """`<stem>.snapshot` of an older version is removed when it came from this very file (an
    erasure must not leave copies behind), kept when it came from another file of that stem."""
    db, other = tmp_path / "w.duckdb", tmp_path / "w.db"
    for path in (db, other):
        con = connect(path)
        add_score(con, "g1", 0.5)
        con.close()
    old = tmp_path / "w.snapshot"
    publish_snapshot(db)
    snapshot_dir(db).rename(old)  # as an older version named it
    publish_snapshot(other)
    assert old.is_dir()  # taken from w.duckdb: publishing w.db leaves it alone
    publish_snapshot(db)
    assert not old.exists() and current_snapshot_path(db) is not None
