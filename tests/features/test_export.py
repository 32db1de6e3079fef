"""Pure export logic: governance filters, exclusion reasons, rows, and the request-level split."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import polars as pl
import pytest

from features.export import (
    DATASET_SCHEMAS,
    DATASETS,
    SPLITS,
    ExportConfig,
    build_export,
    export_membership,
    request_test_bucket,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)
FACT_SCHEMA = {
    "generation_id": pl.String,
    "has_generation": pl.Boolean,
    "request_id": pl.String,
    "prompt": pl.String,
    "model_version": pl.String,
    "created_at": pl.Datetime("us", "UTC"),
    "output_uri": pl.String,
    "training_consent": pl.Boolean,
    "content_flag_count": pl.Int64,
    "names_creator": pl.Boolean,
    "label": pl.String,
    "label_version": pl.String,
    "quality_score": pl.Float64,
    "reports": pl.Int64,
}
PAIR_SCHEMA = {
    "pair_id": pl.String,
    "request_id": pl.String,
    "prompt": pl.String,
    "chosen_generation_id": pl.String,
    "rejected_generation_id": pl.String,
    "source": pl.String,
    "confidence": pl.Float64,
    "label_version": pl.String,
}


def fact(
    generation_id: str,
    request_id: str,
    label: str | None,
    quality: float = 0.5,
    **overrides: object,
) -> dict:
    row = {
        "generation_id": generation_id,
        "has_generation": True,
        "request_id": request_id,
        "prompt": f"prompt of {request_id}",
        "model_version": "m1",
        "created_at": T0,
        "output_uri": f"s3://v/{generation_id}.mp4",
        "training_consent": True,
        "content_flag_count": 0,
        "names_creator": False,
        "label": label,
        "label_version": "lv1" if label is not None else None,
        "quality_score": quality if label is not None else None,
        "reports": 0,
    }
    row.update(overrides)
    return row


def pair(
    pair_id: str,
    chosen: str,
    rejected: str,
    request_id: str,
    confidence: float = 0.9,
    label_version: str = "lv1",
) -> dict:
    return {
        "pair_id": pair_id,
        "request_id": request_id,
        "prompt": f"prompt of {request_id}",
        "chosen_generation_id": chosen,
        "rejected_generation_id": rejected,
        "source": "select",
        "confidence": confidence,
        "label_version": label_version,
    }


def frames(facts: list[dict], pairs: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.DataFrame(pairs, schema=PAIR_SCHEMA), pl.DataFrame(facts, schema=FACT_SCHEMA)


def exported_ids(tables, dataset: str, column: str) -> set[str]:
    return set(tables.rows[dataset].get_column(column).to_list())


def test_kto_maps_good_to_true_bad_to_false_and_leaves_out_uncertain() -> None:
    pairs, facts = frames(
        [
            fact("a", "r1", "good", 0.9),
            fact("b", "r1", "bad", 0.1),
            fact("c", "r1", "uncertain", 0.5),
        ],
        [],
    )
    tables = build_export(pairs, facts, ExportConfig(test_fraction=0.0), "lv1")
    kto = tables.rows["kto"]
    assert dict(zip(kto["generation_id"], kto["label"], strict=True)) == {"a": True, "b": False}
    assert tables.exclusion_counts()["kto"] == {"uncertain_label": 1}
    # reward keeps the uncertain one: its score is still a regression target
    assert sorted(tables.rows["reward"]["score"].to_list()) == [0.1, 0.5, 0.9]
    assert list(kto.columns) == [*DATASET_SCHEMAS["kto"], "split"]


def test_consent_false_removes_the_generation_everywhere_and_every_pair_touching_it() -> None:
    pairs, facts = frames(
        [
            fact("a", "r1", "good", 0.9),
            fact("b", "r1", "bad", 0.2, training_consent=False),
            fact("c", "r1", "bad", 0.3),
        ],
        [pair("p_ab", "a", "b", "r1"), pair("p_ac", "a", "c", "r1"), pair("p_cb", "c", "b", "r1")],
    )
    tables = build_export(pairs, facts, ExportConfig(test_fraction=0.0), "lv1")
    assert exported_ids(tables, "dpo", "pair_id") == {"p_ac"}
    assert "b" not in exported_ids(tables, "kto", "generation_id")
    assert "b" not in exported_ids(tables, "reward", "generation_id")
    assert tables.exclusion_counts() == {
        "dpo": {"no_consent": 2},
        "kto": {"no_consent": 1},
        "reward": {"no_consent": 1},
    }


def test_flagged_generation_is_never_a_training_target_but_may_be_a_negative() -> None:
    config = ExportConfig(test_fraction=0.0, report_threshold=3)
    pairs, facts = frames(
        [
            fact("flag_good", "r1", "good", 0.9, content_flag_count=1),
            fact("reported_good", "r1", "good", 0.8, reports=3),
            fact("few_reports", "r1", "good", 0.7, reports=2),
            fact("flag_bad", "r1", "bad", 0.1, content_flag_count=2),
        ],
        [
            pair("p1", "flag_good", "flag_bad", "r1"),
            pair("p2", "reported_good", "flag_bad", "r1"),
            pair("p3", "few_reports", "flag_bad", "r1"),
            pair("p4", "flag_bad", "few_reports", "r1"),
        ],
    )
    tables = build_export(pairs, facts, config, "lv1")
    assert exported_ids(tables, "dpo", "pair_id") == {"p3"}
    assert exported_ids(tables, "dpo", "chosen_generation_id") == {"few_reports"}
    assert exported_ids(tables, "dpo", "rejected_generation_id") == {
        "flag_bad"
    }  # flagged as rejected is allowed
    kto = tables.rows["kto"]
    assert dict(zip(kto["generation_id"], kto["label"], strict=True)) == {
        "few_reports": True,
        "flag_bad": False,
    }
    assert exported_ids(tables, "reward", "generation_id") == {"few_reports"}
    assert tables.exclusion_counts() == {
        "dpo": {"flagged_chosen": 3},
        "kto": {"flagged_positive": 2},
        "reward": {"flagged": 3},
    }


def test_confidence_window_version_creator_and_missing_generation_are_counted_not_lost() -> None:
    config = ExportConfig(
        since=datetime(2024, 4, 1, tzinfo=UTC),
        until=datetime(2024, 6, 1, tzinfo=UTC),
        min_confidence=0.5,
        test_fraction=0.0,
    )
    facts_rows = [
        fact("a", "r1", "good", 0.9),
        fact("b", "r1", "bad", 0.2),
        fact("old", "r2", "good", 0.9, created_at=datetime(2024, 3, 31, 23, 59, tzinfo=UTC)),
        fact(
            "edge", "r2", "bad", 0.1, created_at=datetime(2024, 6, 1, tzinfo=UTC)
        ),  # until is exclusive
        fact("stale", "r3", "good", 0.9, label_version="lv0"),
        fact("leak", "r4", "good", 0.9, names_creator=True),
        fact(
            "ghost",
            None,
            "good",
            0.9,
            has_generation=False,
            prompt=None,
            created_at=None,
            training_consent=None,
        ),
    ]
    pairs_rows = [
        pair("keep", "a", "b", "r1", confidence=0.5),
        pair("weak", "a", "b", "r1", confidence=0.49),
        pair("window", "old", "b", "r2"),
        pair("version", "a", "b", "r1", label_version="lv0"),
        pair("unknown", "ghost", "b", "r1"),
        pair("named", "a", "leak", "r1"),
    ]
    pairs, facts = frames(facts_rows, pairs_rows)
    tables = build_export(pairs, facts, config, "lv1")
    assert exported_ids(tables, "dpo", "pair_id") == {"keep"}
    assert exported_ids(tables, "kto", "generation_id") == {"a", "b"}
    expected_labeled = {
        "outside_window": 2,
        "stale_label_version": 1,
        "names_creator": 1,
        "missing_generation": 1,
    }
    assert tables.exclusion_counts() == {
        "dpo": {
            "low_confidence": 1,
            "outside_window": 1,
            "stale_label_version": 1,
            "missing_generation": 1,
            "names_creator": 1,
        },
        "kto": expected_labeled,
        "reward": expected_labeled,
    }
    counts = tables.counts()
    for dataset, candidates in (
        ("dpo", len(pairs_rows)),
        ("kto", len(facts_rows)),
        ("reward", len(facts_rows)),
    ):
        exported = sum(counts[dataset].values())
        assert exported + sum(tables.exclusion_counts()[dataset].values()) == candidates


def test_dpo_rows_carry_uris_ids_versions_and_quality_margin() -> None:
    pairs, facts = frames(
        [
            fact("a", "r1", "good", 0.9, model_version="m2"),
            fact("b", "r1", "bad", 0.25, output_uri=None),
        ],
        [pair("p", "a", "b", "r1", confidence=0.8)],
    )
    tables = build_export(pairs, facts, ExportConfig(test_fraction=0.0), "lv1")
    row = tables.rows["dpo"].row(0, named=True)
    assert tables.model_versions["dpo"] == {"m1": 1, "m2": 1}
    assert tables.created_range["dpo"] == (T0, T0)
    assert row["chosen"] == "s3://v/a.mp4"
    assert row["rejected"] == "b"  # no output_uri: the generation_id stands in
    assert row["chosen_model_version"] == "m2" and row["rejected_model_version"] == "m1"
    assert row["margin"] == pytest.approx(0.65)
    assert (row["confidence"], row["source"], row["label_version"], row["split"]) == (
        0.8,
        "select",
        "lv1",
        "train",
    )


def test_split_is_by_request_stable_and_close_to_the_fraction() -> None:
    facts_rows, pairs_rows = [], []
    for r in range(600):
        rid = f"req-{r}"
        facts_rows += [
            fact(f"{rid}-a", rid, "good", 0.8),
            fact(f"{rid}-b", rid, "bad", 0.2),
            fact(f"{rid}-c", rid, "bad", 0.3),
        ]
        pairs_rows += [
            pair(f"{rid}-ab", f"{rid}-a", f"{rid}-b", rid),
            pair(f"{rid}-ac", f"{rid}-a", f"{rid}-c", rid),
        ]
    pairs, facts = frames(facts_rows, pairs_rows)
    config = ExportConfig(test_fraction=0.2)
    tables = build_export(pairs, facts, config, "lv1")
    request_of = dict(zip(facts["generation_id"], facts["request_id"], strict=True))
    split_of_request: dict[str, str] = {}
    for dataset, id_columns in (
        ("dpo", ["chosen_generation_id", "rejected_generation_id"]),
        ("kto", ["generation_id"]),
        ("reward", ["generation_id"]),
    ):
        frame = tables.rows[dataset]
        for column in id_columns:
            for gid, split in zip(frame[column], frame["split"], strict=True):
                assert (
                    split_of_request.setdefault(request_of[gid], split) == split
                )  # one split per request, everywhere
    test_share = sum(split == "test" for split in split_of_request.values()) / len(split_of_request)
    assert 0.15 < test_share < 0.25
    # the bucket is sha256(salt, request_id): reproducible outside polars
    buckets = request_test_bucket(pl.Series(["req-7"]), config.split_salt)
    digest = hashlib.sha256(f"{config.split_salt}\x1freq-7".encode()).digest()
    assert buckets["test_bucket"][0] == int.from_bytes(digest[:8], "big") / 2**64
    again = build_export(pairs, facts, config, "lv1")
    for dataset in DATASETS:
        assert again.rows[dataset].equals(tables.rows[dataset])
    assert (
        build_export(pairs, facts, ExportConfig(test_fraction=0.0), "lv1").counts()["kto"]["test"]
        == 0
    )


def test_membership_lists_both_sides_of_each_pair_with_row_index() -> None:
    pairs, facts = frames(
        [fact("a", "r1", "good", 0.9), fact("b", "r1", "bad", 0.2)], [pair("p", "a", "b", "r1")]
    )
    tables = build_export(pairs, facts, ExportConfig(test_fraction=0.0), "lv1")
    members = export_membership(tables)
    dpo = (
        members.filter(pl.col("dataset") == "dpo")
        .select("role", "generation_id", "pair_id", "row_index")
        .rows()
    )
    assert dpo == [("chosen", "a", "p", 0), ("rejected", "b", "p", 0)]
    assert members.filter(pl.col("dataset") == "kto").height == 2
    assert set(members["split"]) <= set(SPLITS)


def test_requested_label_version_is_used_and_an_empty_warehouse_is_a_clear_error() -> None:
    pairs, facts = frames([fact("a", "r1", "good", 0.9, label_version="lv0")], [])
    tables = build_export(pairs, facts, ExportConfig(label_version="lv0", test_fraction=0.0), "lv1")
    assert tables.label_version == "lv0" and tables.counts()["kto"]["train"] == 1
    with pytest.raises(ValueError, match="nothing to export"):
        build_export(*frames([], []), ExportConfig(), None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_fraction": 1.0}, "test-fraction"),
        ({"min_confidence": 1.5}, "min-confidence"),
        ({"report_threshold": 0}, "report-threshold"),
        ({"since": datetime(2024, 2, 1), "until": datetime(2024, 1, 1)}, "before"),
    ],
)
def test_config_rejects_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExportConfig(**kwargs)


def test_naive_window_bounds_are_utc_in_the_recorded_parameters() -> None:
    params = ExportConfig(since=datetime(2024, 1, 2)).as_parameters()
    assert params["since"] == "2024-01-02T00:00:00+00:00" and params["until"] is None
