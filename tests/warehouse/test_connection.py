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
    assert columns(con, "ingest_files")[-4:] == [
        ("ingested_at", "TIMESTAMP WITH TIME ZONE", None),
        ("status", "VARCHAR", "'loaded'"),
        ("detail", "VARCHAR", None),
        ("file_mtime_ns", "BIGINT", None),
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
