"""Event-level label aggregation in DuckDB: bots, self-engagement, unlikes, slots, late records, writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from features.debias import CURVE_SCHEMA
from features.engagement import engagement_cells, generation_engagement
from warehouse import engagement, label_store
from warehouse.connection import connect

T0 = datetime(2026, 10, 1, tzinfo=UTC)
BATCH_1 = datetime(2026, 10, 2, tzinfo=UTC)
BATCH_2 = datetime(2026, 10, 3, tzinfo=UTC)


def add_generations(
    con, rows: list[tuple[str, str, str, int]], ingested_at: datetime = BATCH_1
) -> None:
    """(generation_id, request_id, creator_id, duration_ms) rows."""
    frame = pl.DataFrame(
        {
            "generation_id": [r[0] for r in rows],
            "request_id": [r[1] for r in rows],
            "creator_id": [r[2] for r in rows],
            "prompt": [f"prompt {r[1]}" for r in rows],
            "model_version": ["m1"] * len(rows),
            "created_at": [T0] * len(rows),
            "duration_ms": [r[3] for r in rows],
            "source_file": ["test"] * len(rows),
            "source_row": list(range(len(rows))),
            "ingested_at": [ingested_at] * len(rows),
        }
    )
    con.register("new_generations", frame.to_arrow())
    con.execute("insert into generations by name select * from new_generations").fetchall()
    con.unregister("new_generations")


def add_events(con, rows: list[tuple], ingested_at: datetime = BATCH_1) -> None:
    """(event_type, generation_id, viewer_id, minute, surface, position, watch_ms) rows."""
    start = con.execute("select count(*) from events").fetchall()[0][0]
    frame = pl.DataFrame(
        {
            "event_id": [f"e{start + i}" for i in range(len(rows))],
            "event_type": [r[0] for r in rows],
            "generation_id": [r[1] for r in rows],
            "viewer_id": [r[2] for r in rows],
            "occurred_at": [T0 + timedelta(minutes=r[3]) for r in rows],
            "surface": [r[4] for r in rows],
            "position": [r[5] for r in rows],
            "watch_ms": [r[6] for r in rows],
            "source_file": ["test"] * len(rows),
            "source_row": list(range(len(rows))),
            "ingested_at": [ingested_at] * len(rows),
        },
        schema_overrides={"position": pl.Int32, "watch_ms": pl.Int64, "surface": pl.String},
    )
    con.register("new_events", frame.to_arrow())
    con.execute("insert into events by name select * from new_events").fetchall()
    con.unregister("new_events")


NO_CURVE = pl.DataFrame(schema=CURVE_SCHEMA)
RULES = engagement.EngagementRules(
    max_position=10,
    ratio_cap=2.0,
    long_view_ms=18_000,
    min_known_duration_ms=100,
    period_split_ms=24 * 3600 * 1000,
)


def touched_frame(generation_ids: list[str], temporal_sample: bool = True) -> pl.DataFrame:
    """Touched generations, all in the temporal sample or none."""
    return pl.DataFrame(
        {
            "generation_id": generation_ids,
            "temporal_sample": [temporal_sample] * len(generation_ids),
        }
    )


def aggregate(con, generation_ids: list[str], examination: pl.DataFrame = NO_CURVE) -> pl.DataFrame:
    """Engagement rows (with a `slots` list: every generation sampled) of the generations: max_position 10,
    watch ratios capped at 2, impressions weighted by `examination` (none: every slot weighs 1)."""
    mark = engagement.ingest_mark(con)
    touched = touched_frame(generation_ids)
    exposure = engagement.touched_slots(con, touched, mark, max_position=10, sample_buckets=1)
    sums, net_likes = engagement.touched_engagement(con, touched, examination, mark, RULES)
    slots = exposure.group_by("generation_id").agg(
        pl.struct("surface", "position", "impressions", "views").alias("slots")
    )
    cells = engagement_cells(sums, net_likes)
    return generation_engagement(touched["generation_id"], cells).join(
        slots, on="generation_id", how="left"
    )


def row(frame: pl.DataFrame, generation_id: str) -> dict:
    return frame.filter(pl.col("generation_id") == generation_id).row(0, named=True)


def slots(engagement_row: dict) -> list[tuple]:
    """(surface, position, impressions, views) of each exposure slot, sorted."""
    return sorted(
        (s["surface"], s["position"], s["impressions"], s["views"])
        for s in engagement_row["slots"] or []
    )


@pytest.fixture
def con():
    connection = connect()
    add_generations(connection, [("g1", "r1", "creator", 10_000), ("g2", "r1", "creator", 10_000)])
    yield connection
    connection.close()


def test_self_engagement_is_left_out_of_feed_counts_but_studio_actions_stay(con) -> None:
    add_events(
        con,
        [
            ("impression", "g1", "creator", 1, "feed", 0, None),
            ("view", "g1", "creator", 2, "feed", 0, 9000),
            ("like", "g1", "creator", 3, "feed", None, None),
            ("impression", "g1", "creator", 4, "studio", 0, None),
            ("select", "g1", "creator", 5, "studio", None, None),
            ("impression", "g1", "fan", 6, "feed", 2, None),
            ("view", "g1", "fan", 7, "feed", 2, 5000),
        ],
    )
    g1 = row(aggregate(con, ["g1"]), "g1")
    assert (g1["impressions"], g1["views"], g1["likes"], g1["watch_ms"]) == (1, 1, 0, 5000)
    assert (g1["studio_impressions"], g1["selects"]) == (1, 1)
    assert slots(g1) == [("feed", 2, 1, 1)]


def test_only_generations_in_the_temporal_sample_are_split_by_period(con) -> None:
    day = 24 * 60
    rows = [
        ("impression", g, v, minute, "feed", 0, None)
        for g in ("g1", "g2")
        for v, minute in (("a", 5), ("b", day + 5), ("c", day + 6))
    ]
    # a likes early and unlikes late; b likes late
    rows += [
        ("like", g, v, minute, "feed", None, None)
        for g in ("g1", "g2")
        for v, minute in (("a", 6), ("b", day + 7))
    ]
    rows += [("unlike", g, "a", day + 8, "feed", None, None) for g in ("g1", "g2")]
    add_events(con, rows)
    mark = engagement.ingest_mark(con)
    touched = pl.concat([touched_frame(["g1"], True), touched_frame(["g2"], False)])
    sums, net_likes = engagement.touched_engagement(con, touched, NO_CURVE, mark, RULES)
    cells = engagement_cells(sums, net_likes)
    by_period = cells.group_by("generation_id", "period").agg(
        pl.col("impressions", "likes", "net_likes").sum()
    )
    counts = {
        (r["generation_id"], r["period"]): (r["impressions"], r["likes"], r["net_likes"])
        for r in by_period.iter_rows(named=True)
    }
    # g1: one early impression and like (a's, later undone: no net like), two late impressions and
    # b's like; g2 is not in the sample: everything in period 0 (net: b's like only)
    assert counts == {("g1", 0): (1, 1, 0), ("g1", 1): (2, 1, 1), ("g2", 0): (3, 1, 1)}
    whole = generation_engagement(touched["generation_id"], cells)
    assert whole["impressions"].to_list() == [3, 3] and whole["likes"].to_list() == [1, 1]


def test_viewer_activity_leaves_out_engagement_with_ones_own_generations_only(con) -> None:
    add_events(
        con,
        [
            ("impression", "g1", "creator", 1, "feed", 0, None),
            ("like", "g1", "creator", 2, "feed", None, None),
            ("select", "g2", "creator", 3, "studio", None, None),
            ("impression", "g9", "creator", 4, "feed", 1, None),  # record not arrived: counts
            ("like", "g9", "creator", 5, "feed", None, None),
            ("impression", "g1", "fan", 6, "feed", 2, None),
            ("view", "g1", "fan", 7, "feed", 2, 5000),
            ("like", "g1", "fan", 8, "feed", None, None),
        ],
    )
    through = engagement.ingest_mark(con).events_through
    activity = engagement.new_viewer_activity(con, None, through, position_bands=2)
    # feed position bands: 0 -> 0, 1-2 -> 1 (the last band), no position -> -1
    assert sorted(activity.iter_rows()) == [
        ("creator", -1, 1, 0, 0, 1),
        ("creator", 1, 1, 1, 0, 0),
        ("fan", -1, 1, 0, 0, 1),
        ("fan", 1, 2, 1, 1, 0),
    ]
    assert activity.columns == [
        "viewer_id",
        "position_band",
        "events",
        "impressions",
        "views",
        "likes",
    ]


def test_an_unlike_cancels_the_same_viewers_earlier_like_only(con) -> None:
    add_events(
        con,
        [
            ("like", "g1", "a", 1, "feed", None, None),
            ("unlike", "g1", "a", 2, "feed", None, None),  # a: like then unlike -> 0
            ("like", "g1", "b", 1, "feed", None, None),
            ("unlike", "g1", "b", 2, "feed", None, None),
            ("like", "g1", "b", 3, "feed", None, None),  # b: liked again -> 1
            ("unlike", "g1", "c", 5, "feed", None, None),  # c: unlike without a like -> 0
            ("like", "g1", "d", 1, "feed", None, None),
            ("unlike", "g1", "e", 2, "feed", None, None),  # leaves d's like: d -> 1
            ("like", "g1", "f", 9, "feed", None, None),
            ("unlike", "g1", "f", 4, "feed", None, None),  # f unliked before liking -> 1
            ("unlike", "g1", "g", 6, "feed", None, None),
            ("like", "g1", "g", 6, "feed", None, None),  # g: a tie, the unlike wins -> 0
        ],
    )
    g1 = row(aggregate(con, ["g1"]), "g1")
    assert g1["likes"] == 3
    assert g1["unlikes"] == 6


def test_abnormal_viewers_are_left_out_entirely(con) -> None:
    add_events(
        con,
        [
            ("impression", "g1", "bot", 1, "feed", 5, None),
            ("view", "g1", "bot", 2, "feed", 5, 500),
            ("like", "g1", "bot", 3, "feed", None, None),
            ("impression", "g1", "human", 1, "feed", 0, None),
        ],
    )
    before = row(aggregate(con, ["g1"]), "g1")
    flagged = pl.DataFrame(
        {"viewer_id": ["bot"], "reason": ["likes_everything"], "events": [3], "like_share": [1.0]}
    )
    label_store.replace_abnormal_viewers(con, flagged, "lv-test", BATCH_1)
    after = row(aggregate(con, ["g1"]), "g1")
    assert (before["impressions"], before["views"], before["likes"]) == (2, 1, 1)
    assert (after["impressions"], after["views"], after["likes"]) == (1, 0, 0)
    assert slots(after) == [("feed", 0, 1, 0)]


def test_exposure_slots_and_capped_watch_ratios(con) -> None:
    add_events(
        con,
        [
            ("impression", "g1", "a", 1, "feed", 3, None),
            ("view", "g1", "a", 2, "feed", 3, 2_000),  # ratio 0.2
            ("impression", "g1", "b", 1, "feed", 40, None),  # slot capped at max_position = 10
            ("view", "g1", "b", 2, "feed", 40, 35_000),  # ratio 3.5 capped at 2
            ("impression", "g1", "c", 1, "profile", None, None),
            ("view", "g1", "c", 2, "profile", None, 12_000),  # ratio 1.2
            ("impression", "g1", "d", 1, None, None, None),
            ("impression", "g1", "e", 1, "feed", None, None),
        ],
    )
    g1 = row(aggregate(con, ["g1"]), "g1")
    assert slots(g1) == [
        ("feed", -1, 1, 0),
        ("feed", 3, 1, 1),
        ("feed", 10, 1, 1),
        ("other", -1, 1, 0),
        ("profile", -1, 1, 1),
    ]
    assert (g1["impressions"], g1["views"]) == (5, 3)
    assert g1["effective_impressions"] == pytest.approx(5.0)  # no curve: every slot weighs 1
    assert g1["ratio_sum"] == pytest.approx(0.2 + 2.0 + 1.2)
    assert g1["ratio_sq_sum"] == pytest.approx(0.04 + 4.0 + 1.44)


def test_impressions_are_weighted_by_the_examination_propensity_of_their_slot(con) -> None:
    add_events(
        con,
        [
            ("impression", "g1", "a", 1, "feed", 0, None),
            ("impression", "g1", "b", 1, "feed", 3, None),
            ("impression", "g1", "c", 1, "feed", 40, None),  # pooled into slot 10
            ("impression", "g1", "d", 1, "profile", None, None),
            ("impression", "g1", "e", 1, "search", None, None),  # a slot the curve lacks: 1
            ("impression", "g1", "creator", 1, "feed", 3, None),  # self-engagement: left out
            ("impression", "g1", "f", 1, "studio", 0, None),  # studio: not organic
        ],
    )
    curve = pl.DataFrame(
        {
            "surface": ["feed", "feed", "feed", "profile"],
            "position": [0, 3, 10, -1],
            "impressions": [1, 1, 1, 1],
            "views": [0, 0, 0, 0],
            "propensity": [1.0, 0.5, 0.25, 0.8],
        },
        schema=CURVE_SCHEMA,
    )
    g1 = row(aggregate(con, ["g1"], curve), "g1")
    assert (g1["impressions"], g1["studio_impressions"]) == (5, 1)
    assert g1["effective_impressions"] == pytest.approx(1.0 + 0.5 + 0.25 + 0.8 + 1.0)


def test_the_examination_sample_is_a_stable_share_of_generations(con) -> None:
    ids = [f"s{i}" for i in range(400)]
    add_generations(con, [(g, "r9", "creator", 10_000) for g in ids])
    add_events(con, [("impression", g, "fan", 1, "feed", 0, None) for g in ids])
    mark = engagement.ingest_mark(con)
    touched = pl.DataFrame({"generation_id": ids})
    sampled = engagement.touched_slots(con, touched, mark, max_position=10, sample_buckets=4)
    again = engagement.touched_slots(
        con, touched.reverse(), mark, max_position=10, sample_buckets=4
    )
    assert 60 <= sampled.height <= 140  # about a quarter of 400
    assert sorted(sampled["generation_id"]) == sorted(again["generation_id"])
    everyone = engagement.touched_slots(con, touched, mark, max_position=10, sample_buckets=1)
    assert everyone.height == 400


def test_touched_generations_follow_new_events_new_records_and_reclassified_viewers(con) -> None:
    add_events(
        con,
        [
            ("impression", "g1", "a", 1, "feed", 0, None),
            ("impression", "g2", "b", 1, "feed", 0, None),
        ],
    )
    first = engagement.ingest_mark(con)
    add_events(
        con,
        [
            ("impression", "g2", "c", 2, "feed", 0, None),
            ("impression", "g3", "c", 2, "feed", 0, None),
        ],
        BATCH_2,
    )
    second = engagement.ingest_mark(con)
    nobody = pl.DataFrame({"viewer_id": []}, schema={"viewer_id": pl.String})
    assert engagement.touched_generations(con, first, second, nobody)[
        "generation_id"
    ].to_list() == ["g2"]
    # g3's record arrives late: its earlier events make it touched now
    add_generations(con, [("g3", "r2", "someone", 5000)], BATCH_2 + timedelta(hours=1))
    third = engagement.ingest_mark(con)
    assert sorted(engagement.touched_generations(con, second, third, nobody)["generation_id"]) == [
        "g3"
    ]
    assert row(aggregate(con, ["g3"]), "g3")["impressions"] == 1
    reclassified = pl.DataFrame({"viewer_id": ["a"]})
    assert engagement.touched_generations(con, third, third, reclassified)[
        "generation_id"
    ].to_list() == ["g1"]


def test_events_of_an_unknown_generation_wait_for_its_record(con) -> None:
    add_events(con, [("impression", "ghost", "a", 1, "feed", 0, None)])
    mark = engagement.ingest_mark(con)
    nobody = pl.DataFrame({"viewer_id": []}, schema={"viewer_id": pl.String})
    assert engagement.touched_generations(con, None, mark, nobody)[
        "generation_id"
    ].sort().to_list() == ["g1", "g2"]
    sums, net_likes = engagement.touched_engagement(
        con,
        touched_frame(["ghost"]),
        NO_CURVE,
        mark,
        RULES,
    )
    assert sums.is_empty() and net_likes.is_empty()


def test_write_labels_rewrites_only_changed_rows_and_keeps_history(con) -> None:
    columns = con.table("labels").columns
    base = {c: 0 for c in columns if c not in ("labeled_at",)}
    base.update(
        generation_id="g1",
        request_id="r1",
        model_version="m1",
        label_version="lv-1",
        completion_score=0.5,
        quality_score=0.7,
        quality_low=0.6,
        quality_high=0.8,
        label="good",
        effective_impressions=10.0,
    )
    other = {
        **base,
        "generation_id": "g2",
        "quality_score": 0.2,
        "quality_low": 0.1,
        "quality_high": 0.3,
        "label": "bad",
    }
    frame = pl.DataFrame([base, other]).select([c for c in columns if c != "labeled_at"])
    assert label_store.write_labels(con, frame, BATCH_1) == 2
    assert label_store.write_labels(con, frame, BATCH_2) == 0
    changed = frame.with_columns(
        quality_score=pl.when(pl.col("generation_id") == "g1")
        .then(0.75)
        .otherwise(pl.col("quality_score"))
    )
    assert label_store.write_labels(con, changed, BATCH_2) == 1
    stamps = dict(con.execute("select generation_id, labeled_at from labels").fetchall())
    assert stamps["g1"] == BATCH_2 and stamps["g2"] == BATCH_1
    history = con.execute(
        "select generation_id, quality_score, superseded_at from labels_history"
    ).fetchall()
    assert history == [("g1", 0.7, BATCH_2)]
