"""The report views on a tiny hand-built warehouse, and what `report.derive` makes of them (the pure
statistics are tested in tests/report/)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats

from report.config import ReportConfig
from report.derive import (
    derive_report_data,
    duration_buckets,
    late_event_count,
    position_buckets,
    truth_histogram,
)
from warehouse.connection import connect
from warehouse.report_data import (
    REPORT_VIEWS,
    create_report_views,
    load_truth,
    read_report_views,
    read_view,
    report_view_names,
)

GENERATIONS = [
    # generation_id, request_id, prompt, model_version, created_at, duration_ms
    ("g1", "r1", "A red cat", "v1", "2025-01-01 10:00:00+00", 5000),
    ("g2", "r1", "a red dog", "v2", "2025-01-01 12:00:00+00", 10000),
    ("g3", "r2", "Blue  cat!", "v2", "2025-01-02 09:00:00+00", 10500),
    ("g4", "r3", "Red red fox, café", "v1", "2025-01-02 23:30:00+00", 3000),
]
QUALITY = {"g1": 0.2, "g2": 0.6, "g3": 0.8, "g4": 0.4}
COMPLETION = {"g1": 0.3, "g2": 0.5, "g3": 0.7, "g4": 0.5}
LABEL = {"g1": "bad", "g2": "uncertain", "g3": "good", "g4": "uncertain"}

EVENTS = [
    # event_id, event_type, generation_id, viewer_id, occurred_at, surface, position, watch_ms, source_file
    ("e01", "impression", "g1", "u1", "2025-01-03 10:00:00+00", "feed", 0, None, "ev/a.jsonl"),
    ("e02", "view", "g1", "u1", "2025-01-03 10:00:05+00", "feed", 0, 6000, "ev/a.jsonl"),
    ("e03", "like", "g1", "u1", "2025-01-03 10:00:10+00", "feed", None, None, "ev/a.jsonl"),
    ("e04", "unlike", "g1", "u1", "2025-01-03 10:00:20+00", "feed", None, None, "ev/a.jsonl"),
    ("e05", "impression", "g1", "u2", "2025-01-03 11:00:00+00", "feed", 1, None, "ev/a.jsonl"),
    ("e06", "view", "g1", "u2", "2025-01-03 11:00:05+00", "feed", 1, 1000, "ev/a.jsonl"),
    ("e07", "like", "g1", "u2", "2025-01-03 11:00:09+00", "feed", None, None, "ev/a.jsonl"),
    ("e08", "impression", "g2", "u1", "2025-01-03 12:00:00+00", "feed", 0, None, "ev/a.jsonl"),
    ("e09", "view", "g2", "u1", "2025-01-03 12:00:05+00", "feed", 0, 10000, "ev/a.jsonl"),
    ("e10", "share", "g2", "u1", "2025-01-03 12:00:30+00", "feed", None, None, "ev/a.jsonl"),
    ("e11", "download", "g2", "u1", "2025-01-03 12:00:40+00", "feed", None, None, "ev/a.jsonl"),
    ("e12", "impression", "g2", "u3", "2025-01-01 09:00:00+00", "feed", 2, None, "ev/a.jsonl"),
    ("e13", "view", "g3", "u4", "2025-01-03 13:00:00+00", "share", None, 2000, "ev/b.jsonl"),
    ("e14", "impression", "g3", "u5", "2025-01-03 13:00:00+00", "studio", 0, None, "ev/b.jsonl"),
    ("e15", "impression", "g4", "u1", "2025-01-03 14:00:00+00", "feed", 1, None, "ev/b.jsonl"),
    ("e16", "download", "g4", "u1", "2025-01-03 14:00:30+00", "feed", None, None, "ev/b.jsonl"),
    ("e17", "impression", "gX", "u6", "2025-01-03 15:00:00+00", "feed", 3, None, "ev/b.jsonl"),
    ("e18", "view", "gX", "u6", "2025-01-03 15:00:05+00", "feed", 3, 4000, "ev/b.jsonl"),
]
TRUTH = {"g1": 0.0, "g2": 0.5, "g3": 0.9, "g4": 0.5}
CHAMPION_METRICS = {
    "pair_accuracy": 0.74,
    "baselines": {"baseline: random": {"pair_accuracy": 0.5}},
    "reliability": [{"bin": 0, "n": 10, "mean_predicted": 0.2, "observed": 0.25}],
}


def build_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """The tiny warehouse every test here reads (all public tables, plus label-stage side tables)."""
    for i, (gid, rid, prompt, version, created, duration) in enumerate(GENERATIONS):
        con.execute(
            "insert into generations (generation_id, request_id, creator_id, prompt, model_version, "
            "created_at, duration_ms, source_file, source_row, ingested_at) "
            "values (?, ?, 'c1', ?, ?, ?::timestamptz, ?, 'gen/a.jsonl', ?, '2025-01-04 00:00:00+00')",
            [gid, rid, prompt, version, created, duration, i],
        )
        con.execute(
            "insert into labels (generation_id, request_id, model_version, label_version, impressions, views, "
            "completion_score, likes, favorites, shares, comments, downloads, dislikes, reports, "
            "studio_impressions, selects, regenerates, quality_score, quality_low, quality_high, label, "
            "labeled_at) values (?, ?, ?, 'lv-1', 1, 1, ?, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ?, ?, ?, ?, "
            "'2025-01-04 00:00:00+00')",
            [
                gid,
                rid,
                version,
                COMPLETION[gid],
                QUALITY[gid],
                QUALITY[gid] - 0.15,
                QUALITY[gid] + 0.15,
                LABEL[gid],
            ],
        )
    for i, (eid, etype, gid, viewer, at, surface, position, watch, source) in enumerate(EVENTS):
        con.execute(
            "insert into events (event_id, event_type, generation_id, viewer_id, occurred_at, surface, "
            "position, watch_ms, source_file, source_row, ingested_at) "
            "values (?, ?, ?, ?, ?::timestamptz, ?, ?, ?, ?, ?, '2025-01-04 00:00:00+00')",
            [eid, etype, gid, viewer, at, surface, position, watch, source, i],
        )
    con.execute(
        "insert into ingest_files (source_file, sha256, kind, file_format, bytes, rows_read, rows_loaded, "
        "rows_duplicate, rows_quarantined, ingested_at) values "
        "('ev/a.jsonl', 's1', 'events', 'jsonl', 900, 15, 12, 2, 1, '2025-01-04 00:00:00+00'),"
        "('ev/b.jsonl', 's2', 'events', 'jsonl', 700, 7, 6, 0, 1, '2025-01-04 00:00:00+00'),"
        "('gen/a.jsonl', 's3', 'generations', 'jsonl', 500, 4, 4, 0, 0, '2025-01-04 00:00:00+00')"
    )
    con.execute(
        "insert into quarantine (source_file, row_number, kind, reason_code, detail, raw, quarantined_at) values "
        "('ev/a.jsonl', 3, 'events', 'unknown_event_type', 'x', '{}', '2025-01-04 00:00:00+00'),"
        "('ev/b.jsonl', 5, 'events', 'unknown_event_type', 'x', '{}', '2025-01-04 00:00:00+00')"
    )
    con.execute(
        "insert into model_registry (model_id, created_at, model_kind, label_version, feature_spec_hash, "
        "metrics, is_champion, artifact_path, artifact_sha256) values "
        "('m1', '2025-01-04 01:00:00+00', 'logreg', 'lv-1', 'h', '{\"pair_accuracy\": 0.6}', false, 'a1', 's'),"
        "('m2', '2025-01-04 02:00:00+00', 'logreg', 'lv-1', 'h', ?, true, 'a2', 's')",
        [json.dumps(CHAMPION_METRICS)],
    )
    con.execute(
        "insert into champion_history (model_id, decided_at, promoted, previous_champion_id, challenger_metric, "
        "champion_metric, reason) values "
        "('m1', '2025-01-04 01:00:00+00', true, null, 0.6, null, 'first model'),"
        "('m2', '2025-01-04 02:00:00+00', true, 'm1', 0.74, 0.6, 'beats champion')"
    )
    con.execute(
        "insert into label_abnormal_viewers (viewer_id, reason, events, like_share, label_version, flagged_at) values "
        "('bot1', 'volume_outlier', 900, 0.1, 'lv-1', '2025-01-04 00:00:00+00'),"
        "('bot2', 'likes_everything', 300, 0.9, 'lv-1', '2025-01-04 00:00:00+00'),"
        "('bot3', 'volume_outlier', 500, 0.0, 'lv-1', '2025-01-04 00:00:00+00')"
    )
    con.execute(
        "insert into label_runs (label_version, events_count, generations_count, model_refit, labels_written, "
        "pairs_written, pairs_deleted, started_at, finished_at) "
        "values ('lv-1', 18, 4, true, 4, 0, 0, '2025-01-04 00:00:00+00', '2025-01-04 00:00:01+00')"
    )
    con.execute(
        "insert into label_engagement_slots (generation_id, surface, position, impressions, views) values "
        "('g1', 'feed', 0, 1, 1), ('g2', 'feed', 0, 1, 1), ('g1', 'feed', 1, 1, 1), "
        "('g4', 'feed', 1, 1, 0), ('g2', 'feed', 2, 1, 0), ('g3', 'search', -1, 5, 5)"
    )
    con.execute(
        "insert into label_examination (label_version, surface, position, propensity, impressions, views, "
        "fitted_at) values "
        "('lv-old', 'feed', 1, 0.9, 1, 1, '2025-01-01 00:00:00+00'),"
        "('lv-1', 'feed', 0, 1.0, 2, 2, '2025-01-04 00:00:00+00'),"
        "('lv-1', 'feed', 1, 0.5, 2, 1, '2025-01-04 00:00:00+00'),"
        "('lv-1', 'feed', 2, 0.25, 1, 0, '2025-01-04 00:00:00+00'),"
        "('lv-1', 'search', -1, 0.7, 5, 5, '2025-01-04 00:00:00+00')"
    )


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = connect()
    build_warehouse(connection)
    create_report_views(connection)
    yield connection
    connection.close()


def rows(con: duckdb.DuckDBPyConnection, name: str, order: str) -> list[dict]:
    return read_view(con, name).sort(order).to_dicts()


def test_every_report_sql_file_is_an_allowlisted_view() -> None:
    assert sorted(REPORT_VIEWS) == report_view_names()


def test_read_view_refuses_names_outside_the_allowlist(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="not a report view"):
        read_view(con, "events")


def test_views_are_queryable_by_analysts_and_recreated_idempotently(
    con: duckdb.DuckDBPyConnection,
) -> None:
    create_report_views(con)
    names = {
        r[0]
        for r in con.execute(
            "select view_name from duckdb_views() where view_name like 'report_%'"
        ).fetchall()
    }
    assert names == set(REPORT_VIEWS)


def test_model_version_quality_matches_direct_sql(con: duckdb.DuckDBPyConnection) -> None:
    got = {
        r["model_version"]: r for r in rows(con, "report_model_version_quality", "model_version")
    }
    assert set(got) == {"v1", "v2"}
    assert got["v1"]["generations"] == 2
    assert got["v1"]["mean_quality"] == pytest.approx(0.3)
    assert got["v2"]["mean_quality"] == pytest.approx(0.7)
    assert got["v1"]["sd_quality"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert got["v2"]["se_quality"] == pytest.approx(np.std([0.6, 0.8], ddof=1) / math.sqrt(2))
    assert (got["v1"]["good"], got["v1"]["uncertain"], got["v1"]["bad"]) == (0, 1, 1)
    assert (got["v2"]["good"], got["v2"]["uncertain"], got["v2"]["bad"]) == (1, 1, 0)


def test_model_version_daily_groups_by_utc_creation_day(con: duckdb.DuckDBPyConnection) -> None:
    got = [
        (
            r["model_version"],
            r["created_day"].isoformat(),
            r["generations"],
            round(r["mean_quality"], 9),
        )
        for r in rows(con, "report_model_version_daily", "model_version")
    ]
    assert sorted(got) == [
        ("v1", "2025-01-01", 1, 0.2),
        ("v1", "2025-01-02", 1, 0.4),
        ("v2", "2025-01-01", 1, 0.6),
        ("v2", "2025-01-02", 1, 0.8),
    ]


def test_prompt_ngrams_count_each_ngram_once_per_prompt(con: duckdb.DuckDBPyConnection) -> None:
    got = {
        (r["ngram"], r["ngram_words"]): (r["generations"], r["mean_quality"])
        for r in read_view(con, "report_prompt_ngrams").to_dicts()
    }
    assert got[("red", 1)] == (3, pytest.approx((0.2 + 0.6 + 0.4) / 3))
    assert got[("cat", 1)] == (2, pytest.approx(0.5))
    assert got[("café", 1)] == (1, pytest.approx(0.4))
    assert got[("a red", 2)] == (2, pytest.approx(0.4))
    assert got[("blue cat", 2)] == (1, pytest.approx(0.8))
    assert got[("red red", 2)] == (1, pytest.approx(0.4))
    assert ("cat!", 1) not in got
    assert ("fox café", 2) not in got and ("red fox", 2) in got  # a 2-gram never spans a comma
    unigrams = sorted(k[0] for k in got if k[1] == 1)
    assert unigrams == sorted(["a", "red", "cat", "dog", "blue", "fox", "café"])
    adjusted = {
        r["ngram"]: r["mean_adjusted"]
        for r in read_view(con, "report_prompt_ngrams").to_dicts()
        if r["ngram_words"] == 1
    }
    # quality minus the mean of the serving version (v1: 0.3, v2: 0.7)
    assert adjusted["red"] == pytest.approx((-0.1 - 0.1 + 0.1) / 3)
    assert adjusted["dog"] == pytest.approx(-0.1) and adjusted["blue"] == pytest.approx(0.1)


def test_model_versions_are_compared_within_requests(con: duckdb.DuckDBPyConnection) -> None:
    paired = read_view(con, "report_model_version_paired").to_dicts()
    # only request r1 holds two versions: g1 (v1, 0.2) and g2 (v2, 0.6)
    assert paired == [
        {
            "version_a": "v1",
            "version_b": "v2",
            "requests": 1,
            "mean_difference": pytest.approx(-0.4),
            "sd_difference": None,
        }
    ]


def test_funnel_counts_viewer_generation_pairs_per_stage(con: duckdb.DuckDBPyConnection) -> None:
    funnel = read_view(con, "report_funnel")
    table = {(r["model_version"], r["stage"]): r["pairs"] for r in funnel.to_dicts()}
    stages = ["shown", "viewed", "completed", "liked", "shared", "downloaded"]
    assert [table[("(all)", s)] for s in stages] == [6, 4, 2, 1, 1, 1]
    assert [table[("v1", s)] for s in stages] == [3, 2, 1, 1, 0, 0]
    assert [table[("v2", s)] for s in stages] == [2, 1, 1, 0, 1, 1]
    assert [table[("(unknown)", s)] for s in stages] == [1, 1, 0, 0, 0, 0]
    rate = {(r["model_version"], r["stage"]): r["rate_of_shown"] for r in funnel.to_dicts()}
    assert rate[("(all)", "viewed")] == pytest.approx(4 / 6)
    direct = con.execute(
        "select count(distinct (viewer_id, generation_id)) from events "
        "where event_type = 'impression' and surface is distinct from 'studio'"
    ).fetchall()[0][0]
    assert table[("(all)", "shown")] == direct


def test_position_view_rate_before_and_after(con: duckdb.DuckDBPyConnection) -> None:
    got = {r["position"]: r for r in rows(con, "report_position_view_rate", "position")}
    assert {p: (r["impressions"], r["views"]) for p, r in got.items()} == {
        0: (2, 2),
        1: (2, 1),
        2: (1, 0),
        3: (1, 1),
    }
    assert got[1]["raw_view_rate"] == pytest.approx(0.5)
    assert (got[1]["clean_impressions"], got[1]["clean_views"]) == (2, 1)
    assert got[1]["propensity"] == pytest.approx(0.5)  # lv-1, not the older lv-old fit
    assert got[1]["clean_effective_impressions"] == pytest.approx(1.0)
    assert got[3]["propensity"] is None
    pooled = position_buckets(read_view(con, "report_position_view_rate"), max_position=30)
    after = dict(zip(pooled["position"], pooled["corrected_view_rate"], strict=True))
    assert after == {
        0: pytest.approx(1.0),
        1: pytest.approx(1.0 / 1.0),
        2: pytest.approx(0.0),
        3: None,
    }
    relative = dict(zip(pooled["position"], pooled["raw_vs_top"], strict=True))
    assert relative[0] == pytest.approx(1.0) and relative[1] == pytest.approx(0.5 / 1.0)
    two_slots = position_buckets(read_view(con, "report_position_view_rate"), max_position=1)
    assert two_slots["position"].to_list() == [0, 1]
    assert two_slots.row(1, named=True)["impressions"] == 4  # slots 1, 2 and 3 pooled
    assert two_slots.row(1, named=True)["corrected_view_rate"] is None  # slot 3 has no propensity


def test_duration_completion_raw_and_labeled(con: duckdb.DuckDBPyConnection) -> None:
    got = {r["duration_s"]: r for r in rows(con, "report_duration_completion", "duration_s")}
    assert (got[5]["views"], got[5]["completions"]) == (2, 1)
    assert (got[10]["views"], got[10]["completions"]) == (2, 1)
    assert got[3]["views"] == 0 and got[3]["raw_completion_rate"] is None
    assert got[10]["labeled_generations"] == 2
    assert got[10]["mean_completion_score"] == pytest.approx(0.6)
    pooled = duration_buckets(read_view(con, "report_duration_completion"), buckets=2)
    # labeled generations by second: 3 s -> 1, 5 s -> 1, 10 s -> 2: halves are {3, 5} and {10}
    got = [
        (r["duration_from_s"], r["duration_to_s"], r["views"], r["labeled_generations"])
        for r in pooled.to_dicts()
    ]
    assert got == [(3, 5, 2, 2), (10, 10, 2, 2)]
    assert pooled["raw_completion_rate"].to_list() == [pytest.approx(0.5), pytest.approx(0.5)]
    assert pooled["mean_completion_score"].to_list() == [pytest.approx(0.4), pytest.approx(0.6)]


def test_data_health_views(con: duckdb.DuckDBPyConnection) -> None:
    files = {r["kind"]: r for r in read_view(con, "report_ingest_files").to_dicts()}
    assert files["events"]["files"] == 2
    assert files["events"]["rows_read"] == 22
    assert files["events"]["rows_duplicate"] == 2
    assert files["events"]["rows_unaccounted"] == 0
    reasons = read_view(con, "report_quarantine_reasons").to_dicts()
    assert reasons == [
        {"kind": "events", "reason_code": "unknown_event_type", "rows_quarantined": 2, "files": 2}
    ]
    lateness = read_view(con, "report_event_lateness")
    assert dict(zip(lateness["lag_days"], lateness["events"], strict=True)) == {0: 17, 2: 1}
    assert late_event_count(lateness, 1) == 1
    assert late_event_count(lateness, 3) == 0
    bots = {
        r["reason"]: (r["viewers"], r["events"])
        for r in read_view(con, "report_abnormal_viewers").to_dicts()
    }
    assert bots == {"volume_outlier": (2, 1400), "likes_everything": (1, 300)}
    overview = read_view(con, "report_warehouse_overview").row(0, named=True)
    assert (overview["events"], overview["generations"], overview["labeled_generations"]) == (
        18,
        4,
        4,
    )
    assert (overview["models"], overview["quarantined_rows"], overview["label_runs"]) == (2, 2, 1)


def test_truth_views_and_load_truth(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "truth.parquet"
    pl.DataFrame(
        {"generation_id": list(TRUTH) + ["g-unlabeled"], "true_quality": [*TRUTH.values(), 0.3]}
    ).write_parquet(path)
    assert load_truth(con, path) == 5
    assert load_truth(con, path) == 5  # replaced, not appended
    agreement = read_view(con, "report_truth_agreement").row(0, named=True)
    ids = sorted(TRUTH)
    expected = stats.spearmanr([QUALITY[g] for g in ids], [TRUTH[g] for g in ids]).statistic
    assert agreement["spearman"] == pytest.approx(expected)
    assert agreement["pearson"] == pytest.approx(
        np.corrcoef([QUALITY[g] for g in ids], [TRUTH[g] for g in ids])[0, 1]
    )
    assert (agreement["generations"], agreement["truth_generations"]) == (4, 5)
    assert agreement["interval_coverage"] == pytest.approx(
        0.75
    )  # g1: 0.0 is below its [0.05, 0.35]
    hist = read_view(con, "report_truth_hist2d")
    assert hist["generations"].sum() == 4
    grid = truth_histogram(hist, bins=10)
    assert grid[0, 2] == 1 and grid[9, 8] == 1 and grid.sum() == 4
    by_label = {
        r["label"]: r["mean_true_quality"]
        for r in read_view(con, "report_truth_by_label").to_dicts()
    }
    assert by_label == {
        "good": pytest.approx(0.9),
        "uncertain": pytest.approx(0.5),
        "bad": pytest.approx(0.0),
    }
    by_version = {
        r["model_version"]: r["mean_true_quality"]
        for r in read_view(con, "report_truth_by_model_version").to_dicts()
    }
    assert by_version == {"v1": pytest.approx(0.25), "v2": pytest.approx(0.7)}


def test_load_truth_rejects_missing_file_and_columns(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="truth file not found"):
        load_truth(con, tmp_path / "nope.parquet")
    bad = tmp_path / "bad.parquet"
    pl.DataFrame({"generation_id": ["g1"], "quality": [0.5]}).write_parquet(bad)
    with pytest.raises(ValueError, match="true_quality"):
        load_truth(con, bad)


def test_report_data_of_the_views_picks_champion_and_history(
    con: duckdb.DuckDBPyConnection,
) -> None:
    views = read_report_views(con, with_truth=False)
    data = derive_report_data(views, ReportConfig(ngram_min_generations=2))
    assert data.truth is None
    assert data.champion_metrics == CHAMPION_METRICS
    assert data.champion_history["model_id"].to_list() == ["m2", "m1"]
    assert "metrics" not in data.registry.columns
    # relative to their version's mean (v1 0.3, v2 0.7): red -1/30, cat 0; "a" is filler and so is
    # any 2-gram holding it; "red red" and the others have one generation
    assert data.weakest_unigrams["ngram"].to_list() == ["red", "cat"]
    assert data.weakest_unigrams["mean_adjusted"].to_list() == pytest.approx([-1 / 30, 0.0])
    assert data.weakest_bigrams["ngram"].to_list() == []
    paired = data.version_paired  # one request (r1) holds two versions: too few to test
    assert paired.is_empty() and data.exports.is_empty() and data.previous_run is None
    assert data.late_events == 1
