"""Connections and schema migrations: every file applies once, folded tables keep their column order."""

from __future__ import annotations

import pytest

from warehouse.connection import (
    apply_migrations,
    connect,
    schema_migrations,
    schema_version,
    transaction,
)


def columns(con, table: str) -> list[tuple[str, str, str | None]]:
    return con.execute(
        "select column_name, data_type, column_default from information_schema.columns"
        " where table_name = ? and table_schema = 'main' order by ordinal_position",
        [table],
    ).fetchall()


def test_a_fresh_warehouse_applies_every_migration_once_in_order() -> None:
    con = connect()
    names = [name for name, _ in schema_migrations()]
    assert names == sorted(names) and names[0] == "0001_events" and names[-1] == "0502_erasures"
    applied = [
        r[0] for r in con.execute("select name from schema_migrations order by name").fetchall()
    ]
    assert applied == names
    assert schema_version(con) == "0502_erasures"
    assert apply_migrations(con) == []


def test_folded_alter_patches_keep_the_columns_where_they_were_added() -> None:
    con = connect()
    assert columns(con, "ingest_files")[-5:] == [
        ("ingested_at", "TIMESTAMP WITH TIME ZONE", None),
        ("status", "VARCHAR", "'loaded'"),
        ("detail", "VARCHAR", None),
        ("file_mtime_ns", "BIGINT", None),
        ("file_identity", "VARCHAR", None),
    ]
    # 0134 appends the label model's columns after the earlier patches' ones
    assert [c[0] for c in columns(con, "labels")][-6:] == [
        "labeled_at",
        "effective_impressions",
        "watch_ms",
        "long_views",
        "quality_z",
        "long_run_sd",
    ]
    # 0130 appends long_views (default 0, like effective_impressions) after the earlier patch
    assert columns(con, "label_engagement")[-3:] == [
        ("regenerates", "BIGINT", None),
        ("effective_impressions", "DOUBLE", "0"),
        ("long_views", "BIGINT", "0"),
    ]
    # labels_history keeps the labels columns in the same order, then superseded_at
    history = [c[0] for c in columns(con, "labels_history")]
    assert history == [c[0] for c in columns(con, "labels")] + ["superseded_at"]


def test_a_transaction_keeps_all_or_nothing() -> None:
    con = connect()
    with transaction(con):
        con.execute("insert into erasure_salt values ('s1', now())")
    with pytest.raises(RuntimeError), transaction(con):
        con.execute("insert into erasure_salt values ('s2', now())")
        raise RuntimeError("stop")
    assert con.execute("select salt from erasure_salt").fetchall() == [("s1",)]


def hold_read_only(path, seconds: float):
    """Another process holding the file open read-only (as an analyst's DuckDB CLI does)."""
    import subprocess
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
         "print('open', flush=True); time.sleep(float(sys.argv[2]))", str(path), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "open"
    return holder


def test_a_writer_waits_for_a_reader_then_opens(tmp_path, caplog) -> None:
    from warehouse.connection import ReaderWait

    db = tmp_path / "w.duckdb"
    connect(db).close()
    holder = hold_read_only(db, 2.0)
    try:
        with caplog.at_level("WARNING", logger="warehouse.connection"):
            con = connect(db, wait=ReaderWait(timeout_seconds=60, poll_seconds=0.1))
        con.execute("create table t as select 1 as n")
        con.close()
    finally:
        holder.kill()
        holder.wait()
    (said,) = [r.getMessage() for r in caplog.records]
    assert said.startswith(f"waiting for the reader holding the warehouse (pid {holder.pid}, ")


def test_a_writer_gives_up_on_a_reader_that_stays(tmp_path) -> None:
    from warehouse.connection import ReaderWait

    db = tmp_path / "w.duckdb"
    connect(db).close()
    holder = hold_read_only(db, 60.0)
    try:
        with pytest.raises(TimeoutError, match=f"still held open by pid {holder.pid}") as caught:
            connect(db, wait=ReaderWait(timeout_seconds=0.5, poll_seconds=0.1))
    finally:
        holder.kill()
        holder.wait()
    assert "\n" not in str(caught.value) and "reelloop sql" in str(caught.value)
