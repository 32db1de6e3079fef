"""Erasure of one viewer or creator: every table covered, labels recomputed, re-delivered files keep them out."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from landing.simulate import SimulationConfig, simulate_landing_zone
from pipelines.erase import erase
from pipelines.label import label
from warehouse.connection import connect
from warehouse.erase import (
    ERASED_SUBJECT_DETAIL,
    ERASED_SUBJECT_REASON,
    ERASURE_TABLES,
    check_subject,
    erase_subject,
    erasure_deletes,
    personal_tables,
)
from warehouse.ingest import IngestRules, ingest_file, ingest_landing_zone
from warehouse.resource import Warehouse
from warehouse.snapshot import publish_snapshot, snapshot_dir

RULES = IngestRules(memory_limit=None)
NOW = datetime(2026, 10, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A labelled warehouse file of a small simulation, and its landing zone."""
    root = tmp_path_factory.mktemp("erase")
    simulate_landing_zone(root / "sim", SimulationConfig(requests=40, days=2, seed=3))
    db = root / "base.duckdb"
    con = connect(db)
    ingest_landing_zone(con, root / "sim" / "landing", RULES, ingested_at=NOW)
    label(Warehouse.in_memory(con))
    con.close()
    return db, root / "sim" / "landing"


@pytest.fixture
def con(built: tuple[Path, Path], tmp_path: Path) -> duckdb.DuckDBPyConnection:
    db = tmp_path / "w.duckdb"
    shutil.copy(built[0], db)
    connection = connect(db)
    yield connection
    connection.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> object:
    return con.execute(sql, params or []).fetchone()[0]


def rows_holding(con: duckdb.DuckDBPyConnection, column: str, ids: list[str]) -> dict[str, int]:
    """Rows per personal table whose `column` (or a *_<column>) is one of `ids`."""
    found = {}
    for table, columns in personal_tables(con).items():
        for name in columns:
            if name == column or name.endswith(f"_{column}"):
                held = duckdb.ColumnExpression(name).isin(*map(duckdb.ConstantExpression, ids))
                n = con.table(table).filter(held).count("*").fetchall()[0][0]
                if n:
                    found[f"{table}.{name}"] = n
    return found


def test_the_allowlist_covers_every_table_holding_a_person_or_generation_id() -> None:
    con = connect()
    tables = personal_tables(con)
    # a new table with viewer_id / creator_id / *generation_id must be added to ERASURE_TABLES
    assert set(tables) == set(ERASURE_TABLES), (
        f"not covered: {sorted(set(tables) - set(ERASURE_TABLES))}; "
        f"stale: {sorted(set(ERASURE_TABLES) - set(tables))}"
    )
    assert tables["preference_pairs"] == ["chosen_generation_id", "rejected_generation_id"]
    assert {"events", "generations", "labels", "label_viewer_activity"} <= set(tables)


def test_the_generated_deletes_name_only_allowlisted_personal_columns() -> None:
    tables = personal_tables(connect())
    for table, columns in ERASURE_TABLES.items():
        assert {column for column, _ in columns} <= set(tables[table]), table
    statements = [
        " ".join(line for line in s.splitlines() if not line.startswith("--"))
        for s in erasure_deletes("events")
    ]
    assert statements == [
        'delete from "events" where "viewer_id" = $subject_id',
        'delete from "events" where "generation_id" in'
        " (select generation_id from erase_subject_generations)",
    ]
    with pytest.raises(KeyError):
        erasure_deletes("erasures")


def test_a_viewer_is_erased_everywhere_and_the_labels_they_touched_are_recomputed(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # a normal viewer (not flagged abnormal, not a creator) with feed impressions
    viewer = scalar(
        con,
        """select viewer_id from events
           where surface = 'feed' and event_type = 'impression'
             and viewer_id not in (select viewer_id from label_abnormal_viewers)
             and viewer_id not in (select creator_id from generations)
           group by 1 order by count(*) desc, 1 limit 1""",
    )
    their_events = scalar(con, "select count(*) from events where viewer_id = ?", [viewer])
    their_activity_rows = scalar(
        con, "select count(*) from label_viewer_activity where viewer_id = ?", [viewer]
    )
    touched = [
        r[0]
        for r in con.execute(
            "select distinct generation_id from events where viewer_id = ?",
            [viewer],
        ).fetchall()
    ]
    their_impressions = scalar(
        con,
        # labels count organic impressions: every surface but the studio
        "select count(*) from events where viewer_id = ? and event_type = 'impression'"
        " and coalesce(surface, 'other') <> 'studio'"
        " and generation_id in (select generation_id from labels)",
        [viewer],
    )
    before = scalar(
        con,
        "select sum(impressions) from labels where generation_id in (select unnest(?))",
        [touched],
    )
    assert their_events > 0 and their_impressions > 0

    result = erase_subject(con, "viewer", viewer, reason="user request", requested_at=NOW)
    assert result.deleted_rows["events"] == their_events
    assert their_activity_rows > 1  # one row per feed position band they were shown at
    assert result.deleted_rows["label_viewer_activity"] == their_activity_rows
    assert result.deleted_rows["generations"] == 0
    assert rows_holding(con, "viewer_id", [viewer]) == {}
    # the label state is reset: the next run rebuilds from the remaining events
    assert scalar(con, "select count(*) from label_state") == 0
    summary = label(Warehouse.in_memory(con))
    assert summary.full_rebuild is True
    after = scalar(
        con,
        "select sum(impressions) from labels where generation_id in (select unnest(?))",
        [touched],
    )
    assert before - after == their_impressions

    audit = con.execute(
        "select subject_kind, subject_hash, deleted_rows, reason from erasures"
    ).fetchall()
    salt = scalar(con, "select salt from erasure_salt")
    expected_hash = scalar(con, "select sha256(? || ?)", [viewer, salt])
    assert audit == [
        ("viewer", expected_hash, json.dumps(result.deleted_rows, sort_keys=True), "user request")
    ]
    assert viewer not in json.dumps(audit)
    assert con.execute("select subject_kind, subject_hash from erased_subjects").fetchall() == [
        ("viewer", expected_hash)
    ]


def test_a_creator_loses_generations_events_on_them_pairs_scores_exports_and_raw_quarantine(
    con: duckdb.DuckDBPyConnection,
) -> None:
    creator = scalar(
        con,
        """select creator_id from generations
           where generation_id in (select chosen_generation_id from preference_pairs)
           group by 1 order by count(*) desc, 1 limit 1""",
    )
    generations = [
        r[0]
        for r in con.execute(
            "select generation_id from generations where creator_id = ? order by 1", [creator]
        ).fetchall()
    ]
    on_them = scalar(
        con,
        "select count(*) from events where generation_id in (select unnest(?)) or viewer_id = ?",
        [generations, creator],
    )
    pairs = scalar(
        con,
        "select count(*) from preference_pairs where chosen_generation_id in (select unnest(?))"
        " or rejected_generation_id in (select unnest(?))",
        [generations, generations],
    )
    other = scalar(
        con, "select generation_id from generations where creator_id <> ? limit 1", [creator]
    )
    con.execute("insert into scores select generation_id, 'm1', 0.5, ? from generations", [NOW])
    con.execute(
        "insert into exports values ('x1', ?, null, '{}', 'lv', null, '{}', '{}', '/data/x1', null)",
        [NOW],
    )
    con.executemany(
        "insert into export_rows values ('x1', 'reward', 'train', ?, 'output', ?, null, 'lv')",
        [[0, generations[0]], [1, other]],
    )
    con.executemany(
        "insert into quarantine values ('f.jsonl', ?, 'generations', 'bad_type', 'x', ?, ?)",
        [
            [1, json.dumps({"creator_id": creator, "duration_ms": "x"}), NOW],
            [2, '{"creator_id": "' + creator + '", "broken', NOW],
            [3, json.dumps({"creator_id": "someone else"}), NOW],
        ],
    )

    result = erase_subject(con, "creator", creator)
    assert result.erased_generations == len(generations)
    assert result.deleted_rows["generations"] == len(generations)
    assert result.deleted_rows["events"] == on_them
    assert result.deleted_rows["preference_pairs"] == pairs > 0
    assert result.deleted_rows["scores"] == len(generations)
    assert result.deleted_rows["export_rows"] == 1
    assert result.redacted_quarantine_rows >= 2
    assert [
        (a.export_id, a.paths, a.rows_with_subject_generations) for a in result.affected_exports
    ] == [("x1", ("/data/x1",), 1)]
    assert rows_holding(con, "generation_id", generations) == {}
    assert rows_holding(con, "creator_id", [creator]) == {}
    assert rows_holding(con, "viewer_id", [creator]) == {}
    assert scalar(con, "select count(*) from quarantine where contains(raw, ?)", [creator]) == 0
    assert scalar(con, "select count(*) from quarantine where raw like '%someone else%'") == 1
    assert scalar(con, "select count(*) from export_rows where generation_id = ?", [other]) == 1
    kinds = dict(
        con.execute("select subject_kind, count(*) from erased_subjects group by 1").fetchall()
    )
    assert kinds == {"creator": 1, "viewer": 1, "generation": len(generations)}

    again = erase_subject(con, "creator", creator)
    assert again.total_deleted == 0 and again.subject_hash == result.subject_hash
    assert scalar(con, "select count(*) from erased_subjects") == len(generations) + 2
    assert scalar(con, "select count(*) from erasures") == 2


def test_a_re_delivered_old_file_never_brings_an_erased_person_back(
    con: duckdb.DuckDBPyConnection, built: tuple[Path, Path], tmp_path: Path
) -> None:
    landing = built[1]
    event_file = next(p for p in sorted((landing / "events").iterdir()) if p.suffix == ".jsonl")
    events = pl.read_ndjson(event_file, infer_schema_length=None, ignore_errors=True)
    viewer = events["viewer_id"].drop_nulls().value_counts(sort=True)["viewer_id"][0]
    generation_file = next(
        p for p in sorted((landing / "generations").iterdir()) if p.suffix == ".jsonl"
    )
    creator = pl.read_ndjson(generation_file, infer_schema_length=None, ignore_errors=True)[
        "creator_id"
    ].drop_nulls()[0]
    creator_generations = [
        r[0]
        for r in con.execute(
            "select generation_id from generations where creator_id = ?", [creator]
        ).fetchall()
    ]
    erase_subject(con, "viewer", viewer)
    erase_subject(con, "creator", creator)

    # the same files, changed (one line appended), under new names: a new sha256, so ingested again
    for source, kind in ((event_file, "events"), (generation_file, "generations")):
        copy = tmp_path / f"redelivered-{source.name}"
        copy.write_bytes(source.read_bytes() + b"\n")
        accounting = ingest_file(con, copy, kind, RULES)
        assert accounting.rows_read == (
            accounting.rows_loaded + accounting.rows_duplicate + accounting.rows_quarantined
        )
        assert accounting.quarantined_by_reason.get(ERASED_SUBJECT_REASON, 0) > 0
    assert rows_holding(con, "viewer_id", [viewer, creator]) == {}
    assert rows_holding(con, "creator_id", [creator]) == {}
    assert rows_holding(con, "generation_id", creator_generations) == {}
    erased_rows = con.execute(
        "select count(*), count(raw), min(detail) from quarantine where reason_code = ?",
        [ERASED_SUBJECT_REASON],
    ).fetchone()
    assert erased_rows[0] > 0 and erased_rows[1] == 0 and erased_rows[2] == ERASED_SUBJECT_DETAIL
    for raw in con.execute("select raw from quarantine where raw is not null").fetchall():
        assert viewer not in raw[0] and creator not in raw[0]


def test_erasing_a_warehouse_file_leaves_no_byte_of_the_person_in_it_or_any_snapshot(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copy(built[0], db)
    publish_snapshot(db)
    publish_snapshot(db)
    con = connect(db)
    creator = scalar(con, "select creator_id from generations order by 1 limit 1")
    con.close()
    assert creator.encode() in db.read_bytes()
    summary = erase(Warehouse.at(db), "creator", creator, reason="test")
    assert summary.total_deleted > 0
    assert summary.relabel.full_rebuild is True
    snapshots = sorted(p.name for p in snapshot_dir(db).glob("snapshot-*.duckdb"))
    assert snapshots == [Path(summary.snapshot).name]
    assert len(summary.removed_snapshots) == 2
    for path in (db, Path(summary.snapshot)):
        assert creator.encode() not in path.read_bytes(), path
    con = connect(db, read_only=True)
    assert scalar(con, "select count(*) from generations where creator_id = ?", [creator]) == 0
    assert scalar(con, "select count(*) from labels") > 0
    con.close()


@pytest.mark.parametrize(
    ("kind", "subject", "message"),
    [
        ("viewer", "", "empty"),
        ("viewer", "   ", "empty"),
        ("creator", "x" * 129, "longer than 128"),
        ("viewer", "a\x00b", "control character"),
        ("viewer", "\t", "empty or blank"),
        ("viewer", "\u2028", "empty or blank"),
        ("viewer", "\u00a0\u200b", "empty or blank"),
        ("creator", "c\n1", "control character"),
        ("creator", "c\x851", "control character"),
        ("bot", "x", "unknown subject kind"),
    ],
)
def test_bad_subjects_are_refused_with_one_line(kind: str, subject: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_subject(kind, subject)


def exported_strings(out: Path) -> set[str]:
    """Every string value of every exported Parquet file under `out`."""
    values: set[str] = set()
    for path in sorted(out.rglob("*.parquet")):
        frame = pl.read_parquet(path)
        for name, dtype in frame.schema.items():
            if dtype == pl.String:
                values.update(v for v in frame[name].to_list() if v is not None)
    return values


def test_a_fresh_export_after_erasure_holds_nothing_of_the_erased_creator(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    from features.export import ExportConfig
    from pipelines.export import export_datasets

    db = tmp_path / "w.duckdb"
    shutil.copy(built[0], db)
    with connect(db) as con:
        creator = scalar(
            con,
            """select g.creator_id from generations g
               join preference_pairs p on g.generation_id = p.chosen_generation_id
               where g.training_consent and coalesce(len(g.content_flags), 0) = 0
               group by 1 order by count(*) desc, 1 limit 1""",
        )
        theirs = con.execute(
            "select generation_id, coalesce(output_uri, generation_id) from generations"
            " where creator_id = ?",
            [creator],
        ).fetchall()
    identifiers = {value for row in theirs for value in row}
    before = exported_strings(
        Path(export_datasets(Warehouse.at(db), str(tmp_path / "before"), ExportConfig()).path)
    )
    assert before & identifiers, "the creator's outputs should be exported before the erasure"

    erase(Warehouse.at(db), "creator", creator, reason="test")
    after = exported_strings(
        Path(export_datasets(Warehouse.at(db), str(tmp_path / "after"), ExportConfig()).path)
    )
    assert after, "the export after the erasure still holds the other creators' rows"
    assert not after & identifiers
    assert creator not in after


def test_extra_fields_naming_an_erased_viewer_are_dropped_now_and_on_re_delivery(
    tmp_path: Path,
) -> None:
    """A kept row's `extra` (a misspelled key, an escaped id in a note) named the erased viewer."""
    con = connect()
    base = {"event_type": "like", "generation_id": "g1", "occurred_at": "2026-10-01T00:00:00Z"}
    escaped = "".join(f"\\u{ord(c):04x}" for c in "zq7")
    lines = [
        json.dumps({**base, "event_id": "E1", "viewer_id": "zq7"}),
        json.dumps({**base, "event_id": "E2", "viewer_id": "v1", "viewerId": "zq7"}),
        json.dumps({**base, "event_id": "E3", "viewer_id": "v1"})[:-1] + f', "n": "{escaped}"}}',
        json.dumps({**base, "event_id": "E4", "viewer_id": "v1", "note": "kept"}),
    ]

    def deliver(name: str) -> None:
        path = tmp_path / "events" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(lines).replace('"E', f'"{name[0]}e') + "\n")
        ingest_landing_zone(con, tmp_path, RULES, ingested_at=NOW)

    deliver("a.jsonl")
    result = erase_subject(con, "viewer", "zq7")
    deliver("b.jsonl")
    assert result.redacted_extra_rows == 2
    extras = con.execute("select event_id, extra from events order by event_id").fetchall()
    assert extras == [
        ("ae2", None),
        ("ae3", None),
        ("ae4", '{"note":"kept"}'),
        ("be2", None),
        ("be3", None),
        ("be4", '{"note":"kept"}'),
    ]
    assert scalar(con, "select count(*) from events where extra::varchar like '%zq7%'") == 0
