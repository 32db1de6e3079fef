"""The label run on a small synthetic warehouse (no Prefect): corrections end to end, idempotence, increments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import polars as pl
import pytest

from features.label_config import LabelConfig
from features.stable_keys import stable_sample
from pipelines.label import label
from results.label import LabelSummary
from warehouse.connection import connect
from warehouse.resource import Warehouse

T0 = datetime(2026, 10, 1, tzinfo=UTC)
CONFIG = LabelConfig(prior_min_generations=20)


def label_on(con: duckdb.DuckDBPyConnection, config: LabelConfig | None = None) -> LabelSummary:
    """One label run on the in-memory warehouse behind `con`."""
    return label(Warehouse.in_memory(con), config)


def synthetic_world(seed: int = 0, requests: int = 30) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Generations (3 per request) and events: feed impressions by slot, views, likes, watch; studio selects."""
    rng = np.random.default_rng(seed)
    n = requests * 3
    quality = rng.uniform(0.1, 0.9, n)
    generations = pl.DataFrame(
        {
            "generation_id": [f"g{i:03d}" for i in range(n)],
            "request_id": [f"r{i // 3:03d}" for i in range(n)],
            "creator_id": [f"c{i // 3 % 7}" for i in range(n)],
            "prompt": [f"a prompt {i // 3}" for i in range(n)],
            "model_version": ["m1" if i % 2 else "m2" for i in range(n)],
            "created_at": [T0] * n,
            "duration_ms": rng.integers(4000, 30000, n),
        }
    )
    rows: list[tuple] = []
    for g in range(n):
        shown = int(rng.integers(20, 300))
        for _ in range(shown):
            viewer = f"v{rng.integers(0, 500)}"
            slot = int(rng.integers(0, 15))
            minute = int(rng.integers(0, 20_000))
            rows.append(("impression", g, viewer, minute, "feed", slot, None))
            if rng.random() < (1 + slot) ** -0.5 * (0.2 + 0.7 * quality[g]):
                duration = int(generations["duration_ms"][g])
                watch = int(duration * min(rng.beta(1 + 4 * quality[g], 2), 1.0))
                rows.append(("view", g, viewer, minute + 1, "feed", slot, watch))
                if rng.random() < 0.03 + 0.25 * quality[g]:
                    rows.append(("like", g, viewer, minute + 2, "feed", None, None))
    for r in range(requests):
        best = 3 * r + int(np.argmax(quality[3 * r : 3 * r + 3]))
        creator = f"c{r % 7}"
        for g in range(3 * r, 3 * r + 3):
            rows.append(("impression", g, creator, 0, "studio", g - 3 * r, None))
        rows.append(("select", best, creator, 1, "studio", None, None))
    return generations, events_frame(rows)


def events_frame(rows: list[tuple], prefix: str = "e") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [f"{prefix}{i}" for i in range(len(rows))],
            "event_type": [r[0] for r in rows],
            "generation_id": [f"g{r[1]:03d}" for r in rows],
            "viewer_id": [r[2] for r in rows],
            "occurred_at": [T0 + timedelta(minutes=r[3]) for r in rows],
            "surface": [r[4] for r in rows],
            "position": [r[5] for r in rows],
            "watch_ms": [r[6] for r in rows],
        },
        schema_overrides={"position": pl.Int32, "watch_ms": pl.Int64},
    )


INSERTS = {
    "generations": "insert into generations by name select * from incoming",
    "events": "insert into events by name select * from incoming",
}


def load(
    con, generations: pl.DataFrame | None, events: pl.DataFrame | None, ingested_at: datetime
) -> None:
    """Insert rows as ingest would (with source and ingested_at)."""
    for table, frame in (("generations", generations), ("events", events)):
        if frame is None or frame.is_empty():
            continue
        stamped = frame.with_columns(
            source_file=pl.lit("test"),
            source_row=pl.int_range(pl.len()),
            ingested_at=pl.lit(ingested_at),
        )
        con.register("incoming", stamped.to_arrow())
        con.execute(INSERTS[table]).fetchall()
        con.unregister("incoming")


def labels_table(con) -> pl.DataFrame:
    return con.sql("select * from labels order by generation_id").pl()


def labeled(
    generations: pl.DataFrame, events: pl.DataFrame, config: LabelConfig = CONFIG
) -> pl.DataFrame:
    con = connect()
    load(con, generations, events, T0 + timedelta(days=20))
    label_on(con, config)
    return labels_table(con)


@pytest.fixture(scope="module")
def world() -> tuple[pl.DataFrame, pl.DataFrame]:
    return synthetic_world()


def test_labels_follow_the_hidden_quality_and_a_rerun_changes_nothing(world) -> None:
    generations, events = world
    con = connect()
    load(con, generations, events, T0 + timedelta(days=20))
    first = label_on(con, CONFIG)
    assert first.full_rebuild and first.labels_written == generations.height and first.pairs > 0
    before = labels_table(con)
    pairs_before = con.sql("select * from preference_pairs order by pair_id").pl()
    runs = con.execute("select count(*) from label_runs").fetchall()[0][0]
    again = label_on(con, CONFIG)
    assert again.labels_written == 0 and again.pairs_added == 0 and again.pairs_removed == 0
    assert labels_table(con).equals(before)  # labeled_at included
    assert con.sql("select * from preference_pairs order by pair_id").pl().equals(pairs_before)
    assert con.execute("select count(*) from label_runs").fetchall()[0][0] == runs


def test_a_bots_likes_do_not_move_a_label(world) -> None:
    generations, events = world
    bot_rows = []
    for g in range(generations.height):
        for k in range(4):
            bot_rows.append(("impression", g, "bot", 10 * g + k, "feed", 7, None))
            bot_rows.append(("view", g, "bot", 10 * g + k, "feed", 7, 800))
            bot_rows.append(("like", g, "bot", 10 * g + k, "feed", None, None))
    with_bot = pl.concat([events, events_frame(bot_rows, prefix="bot")])
    clean, noisy = labeled(generations, events), labeled(generations, with_bot)
    columns = ["generation_id", "impressions", "views", "likes", "quality_score", "label"]
    assert noisy.select(columns).equals(clean.select(columns))


def test_a_self_like_does_not_move_a_label(world) -> None:
    generations, events = world
    target = 5
    creator = generations["creator_id"][target]
    self_rows = [
        ("impression", target, creator, 50, "feed", 0, None),
        ("view", target, creator, 51, "feed", 0, 30_000),
        ("like", target, creator, 52, "feed", None, None),
    ]
    with_self = pl.concat([events, events_frame(self_rows, prefix="self")])
    columns = ["generation_id", "impressions", "views", "likes", "quality_score", "label"]
    assert (
        labeled(generations, with_self)
        .select(columns)
        .equals(labeled(generations, events).select(columns))
    )


def split_at(events: pl.DataFrame, minute: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    cut = T0 + timedelta(minutes=minute)
    return events.filter(pl.col("occurred_at") < cut), events.filter(pl.col("occurred_at") >= cut)


def test_new_events_relabel_only_the_generations_they_touch_when_the_model_is_kept(world) -> None:
    generations, events = world
    early, late = split_at(events, 19_000)
    late = late.filter(pl.col("generation_id").is_in(["g001", "g002", "g040"]))
    keep_model = LabelConfig(prior_min_generations=20, prior_tolerance=1e9)
    con = connect()
    load(con, generations, early, T0 + timedelta(days=20))
    label_on(con, keep_model)
    before = labels_table(con)
    load(con, None, late, T0 + timedelta(days=21))
    second = label_on(con, keep_model)
    after = labels_table(con)
    assert not second.full_rebuild and not second.model_refit
    assert not second.examination_refit
    assert second.generations_reaggregated == 3
    changed = set(
        after.join(before, on="generation_id", suffix="_before").filter(
            pl.col("labeled_at") != pl.col("labeled_at_before")
        )["generation_id"]
    )
    assert changed == {"g001", "g002", "g040"}
    history = con.sql("select generation_id from labels_history").pl()["generation_id"]
    assert set(history) == changed


def test_incremental_runs_equal_a_full_rebuild_when_the_model_is_refit(world) -> None:
    generations, events = world
    always_refit = LabelConfig(prior_min_generations=20, prior_tolerance=0.0)
    late_records = generations.filter(
        pl.col("request_id") == "r004"
    )  # records arrive after their events
    early, late = split_at(events, 12_000)
    con = connect()
    load(con, generations.filter(pl.col("request_id") != "r004"), early, T0 + timedelta(days=20))
    label_on(con, always_refit)
    assert con.sql("select count(*) from labels where request_id = 'r004'").fetchall() == [(0,)]
    load(con, late_records, late, T0 + timedelta(days=21))
    second = label_on(con, always_refit)
    # the refit examination curve is adopted: every generation's impressions are weighed anew
    assert not second.full_rebuild and second.examination_refit
    assert second.generations_reaggregated == generations.height
    columns = [
        "generation_id",
        "impressions",
        "views",
        "likes",
        "selects",
        "quality_score",
        "quality_low",
        "label",
    ]
    incremental = labels_table(con).select(columns)
    assert incremental.equals(labeled(generations, events, always_refit).select(columns))
    assert incremental.height == generations.height


def test_incremental_runs_keep_the_state_a_rebuild_stores_as_the_temporal_sample_moves(
    world,
) -> None:
    """Generations arriving push others out of the diagnostics' subset (whose events alone are split
    by period): those are summed again, so every stored cell, likes undone later included, is the
    rebuild's."""
    generations, events = world
    likes = events.filter(pl.col("event_type") == "like")
    unlikes = likes.gather_every(3).with_columns(
        event_type=pl.lit("unlike"),
        event_id=pl.col("event_id") + "u",
        occurred_at=pl.col("occurred_at") + timedelta(days=2),
    )
    events = pl.concat([events, unlikes])
    config = LabelConfig(
        prior_min_generations=20, prior_tolerance=1e9, diagnostics_max_generations=20
    )
    ids = generations["generation_id"]
    sample = set(ids.filter(pl.Series(stable_sample(ids.to_list(), 20))))
    before = set(ids[:60].filter(pl.Series(stable_sample(ids[:60].to_list(), 20))))
    left = before - sample
    assert sample - before and left  # new generations push some out of the subset
    first = pl.col("generation_id").is_in(ids[:60].implode())
    con = connect()
    load(con, generations.filter(first), events.filter(first), T0 + timedelta(days=20))
    label_on(con, config)
    load(con, generations.filter(~first), events.filter(~first), T0 + timedelta(days=21))
    second = label_on(con, config)
    assert not second.full_rebuild and second.generations_reaggregated == 30 + len(left)
    rebuilt = connect()
    load(rebuilt, generations, events, T0 + timedelta(days=20))
    label_on(rebuilt, config)

    def cells(connection: duckdb.DuckDBPyConnection) -> pl.DataFrame:
        # effective impressions differ: the incremental run keeps its first examination curve
        return connection.sql(
            "select * exclude (effective_impressions) from label_engagement_cells"
            " order by generation_id, half, period"
        ).pl()

    incremental, rebuild = cells(con), cells(rebuilt)
    assert set(rebuild.filter(pl.col("period") == 1)["generation_id"]) <= sample
    assert incremental.equals(rebuild)
