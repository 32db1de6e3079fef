"""Pure export logic: governance filters, exclusion reasons, one DPO row per unordered pair, the options
an ML engineer picks, conditioning columns, rows, and the request-level split."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import polars as pl
import pytest

from features.export import ExportConfig, build_export, export_membership, request_test_bucket
from features.export_schema import DATASET_SCHEMAS, DATASETS, SPLITS
from features.pair_merging import EVIDENCE_SCHEMA

T0 = datetime(2024, 5, 1, tzinfo=UTC)
FACT_SCHEMA = {
    "generation_id": pl.String,
    "has_generation": pl.Boolean,
    "request_id": pl.String,
    "prompt": pl.String,
    "model_version": pl.String,
    "created_at": pl.Datetime("us", "UTC"),
    "duration_ms": pl.Int64,
    "width": pl.Int32,
    "height": pl.Int32,
    "fps": pl.Float64,
    "seed": pl.Int64,
    "reference_inputs": pl.List(pl.Struct({"kind": pl.String, "uri": pl.String})),
    "output_uri": pl.String,
    "training_consent": pl.Boolean,
    "content_flag_count": pl.Int64,
    "names_creator": pl.Boolean,
    "label": pl.String,
    "label_version": pl.String,
    "quality_score": pl.Float64,
    "reports": pl.Int64,
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
        "duration_ms": 5000,
        "width": 1280,
        "height": 720,
        "fps": 24.0,
        "seed": None,
        "reference_inputs": None,
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
    source: str = "select",
) -> dict:
    return {
        "pair_id": pair_id,
        "request_id": request_id,
        "prompt": f"prompt of {request_id}",
        "chosen_generation_id": chosen,
        "rejected_generation_id": rejected,
        "source": source,
        "confidence": confidence,
        "label_version": label_version,
    }


def frames(facts: list[dict], pairs: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.DataFrame(pairs, schema=EVIDENCE_SCHEMA), pl.DataFrame(facts, schema=FACT_SCHEMA)


def exported_ids(tables, dataset: str, column: str) -> set[str]:
    return set(tables.rows[dataset].get_column(column).to_list())


def exported_evidence(tables) -> set[str]:
    """The preference_pairs ids behind the exported DPO rows."""
    return {pid for ids in tables.rows["dpo"]["source_pair_ids"].to_list() for pid in ids}


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
    assert exported_evidence(tables) == {"p_ac"}
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
            fact("plain_bad", "r1", "bad", 0.05),
        ],
        [
            pair("p1", "flag_good", "flag_bad", "r1"),
            pair("p2", "reported_good", "flag_bad", "r1"),
            pair("p3", "few_reports", "flag_bad", "r1"),
            pair("p4", "flag_bad", "plain_bad", "r1"),
        ],
    )
    tables = build_export(pairs, facts, config, "lv1")
    assert exported_evidence(tables) == {"p3"}
    assert exported_ids(tables, "dpo", "chosen_generation_id") == {"few_reports"}
    assert exported_ids(tables, "dpo", "rejected_generation_id") == {
        "flag_bad"
    }  # flagged as rejected is allowed
    kto = tables.rows["kto"]
    assert dict(zip(kto["generation_id"], kto["label"], strict=True)) == {
        "few_reports": True,
        "flag_bad": False,
        "plain_bad": False,
    }
    assert exported_ids(tables, "reward", "generation_id") == {"few_reports", "plain_bad"}
    assert tables.exclusion_counts() == {
        "dpo": {"flagged_chosen": 3},
        "kto": {"flagged_positive": 2},
        "reward": {"flagged": 3},
    }


def test_confidence_window_version_creator_and_missing_generation_are_counted_not_lost() -> None:
    config = ExportConfig(
        since=datetime(2024, 4, 1, tzinfo=UTC),
        until=datetime(2024, 6, 1, tzinfo=UTC),
        min_confidence=0.58,
        test_fraction=0.0,
    )
    facts_rows = [
        fact("a", "r1", "good", 0.9),
        fact("b", "r1", "bad", 0.2),
        fact("c", "r5", "good", 0.7),
        fact("d", "r5", "bad", 0.3),
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
        pair("keep", "a", "b", "r1", confidence=0.6),
        pair("weak", "c", "d", "r5", confidence=0.55),
        pair("window", "old", "b", "r2"),
        pair("version", "a", "b", "r1", label_version="lv0"),
        pair("unknown", "ghost", "b", "r1"),
        pair("named", "a", "leak", "r1"),
    ]
    pairs, facts = frames(facts_rows, pairs_rows)
    tables = build_export(pairs, facts, config, "lv1")
    assert exported_evidence(tables) == {"keep"}
    assert exported_ids(tables, "kto", "generation_id") == {"a", "b", "c", "d"}
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
    assert tables.pair_merging["evidence_rows_folded"] == 0  # no two rows about one pair passed


def test_rows_carry_uris_ids_and_the_generation_records_conditioning() -> None:
    references = [{"kind": "image", "uri": "s3://refs/cat.png"}]
    pairs, facts = frames(
        [
            fact(
                "a",
                "r1",
                "good",
                0.9,
                model_version="m2",
                duration_ms=8000,
                width=720,
                height=1280,
                fps=30.0,
                seed=42,
                reference_inputs=references,
            ),
            fact("b", "r1", "bad", 0.25, output_uri=None, width=None, height=None, fps=None),
        ],
        [pair("p", "a", "b", "r1", confidence=0.8)],
    )
    tables = build_export(pairs, facts, ExportConfig(test_fraction=0.0), "lv1")
    row = tables.rows["dpo"].row(0, named=True)
    assert tables.model_versions["dpo"] == {"m1": 1, "m2": 1}
    assert tables.created_range["dpo"] == (T0, T0)
    assert row["chosen"] == "s3://v/a.mp4"
    assert row["rejected"] == "b"  # no output_uri: the generation_id stands in
    chosen = {k: row[f"chosen_{k}"] for k in ("model_version", "duration_ms", "width", "height")}
    assert chosen == {"model_version": "m2", "duration_ms": 8000, "width": 720, "height": 1280}
    assert (row["chosen_fps"], row["chosen_seed"], row["chosen_reference_inputs"]) == (
        30.0,
        42,
        references,
    )
    rejected = [
        row[f"rejected_{k}"] for k in ("width", "height", "fps", "seed", "reference_inputs")
    ]
    assert rejected == [None] * 5  # absent in the record: null, never a made-up default
    assert row["rejected_model_version"] == "m1" and row["rejected_duration_ms"] == 5000
    assert row["margin"] == pytest.approx(0.65)
    assert (row["confidence"], row["sources"], row["label_version"], row["split"]) == (
        0.8,
        ["select"],
        "lv1",
        "train",
    )
    kto = tables.rows["kto"].filter(pl.col("generation_id") == "a").row(0, named=True)
    reward = tables.rows["reward"].filter(pl.col("generation_id") == "a").row(0, named=True)
    for completion in (kto, reward):
        assert (completion["seed"], completion["fps"], completion["reference_inputs"]) == (
            42,
            30.0,
            references,
        )


def test_evidence_about_one_pair_becomes_one_row_never_twice_nor_in_both_directions() -> None:
    pairs, facts = frames(
        [
            fact("a", "r1", "good", 0.9),
            fact("b", "r1", "bad", 0.2),
            fact("c", "r1", "uncertain", 0.5),
        ],
        [
            pair("ab-select", "a", "b", "r1", confidence=0.97),
            pair("ab-sibling", "a", "b", "r1", confidence=0.95, source="sibling"),
            pair("ba-regenerate", "b", "a", "r1", confidence=0.55, source="regenerate"),
            pair("ac-select", "a", "c", "r1", confidence=0.8),
            pair("ca-sibling", "c", "a", "r1", confidence=0.93, source="sibling"),
            pair("cb-regenerate", "c", "b", "r1", confidence=0.7, source="regenerate"),
        ],
    )
    tables = build_export(pairs, facts, ExportConfig(test_fraction=0.0), "lv1")
    dpo = tables.rows["dpo"]
    unordered = [
        frozenset(p) for p in dpo.select("chosen_generation_id", "rejected_generation_id").rows()
    ]
    assert len(unordered) == len(set(unordered)) == 2  # a-c contradicts itself and is dropped
    ab = dpo.filter(pl.col("chosen_generation_id") == "a").row(0, named=True)
    assert ab["sources"] == ["regenerate", "select", "sibling"] and ab["evidence_rows"] == 3
    assert sorted(ab["source_pair_ids"]) == ["ab-select", "ab-sibling", "ba-regenerate"]
    assert tables.exclusion_counts()["dpo"] == {"contradictory_evidence": 1}
    merging = tables.pair_merging
    assert (merging["evidence_rows"], merging["merged_pairs"], merging["exported_pairs"]) == (
        6,
        3,
        2,
    )
    assert merging["evidence_rows_folded"] == 3 and merging["pairs_with_opposing_evidence"] == 2
    assert merging["exported_by_sources"] == {"regenerate": 1, "regenerate+select+sibling": 1}


def option_fixture() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two prompts: r1/r2 share one (two requests), r3 has another; versions m1 and m2."""
    facts_rows = [
        fact("r1-a", "r1", "good", 0.9, model_version="m1", prompt="A red fox, running"),
        fact("r1-b", "r1", "bad", 0.2, model_version="m2", prompt="A red fox, running"),
        fact("r1-c", "r1", "bad", 0.3, model_version="m1", prompt="A red fox, running"),
        fact("r2-a", "r2", "good", 0.7, model_version="m1", prompt="a red fox running"),
        fact("r2-b", "r2", "good", 0.75, model_version="m1", prompt="a red fox running"),
        fact("r3-a", "r3", "good", 0.8, model_version="m2", prompt="a blue whale"),
        fact("r3-b", "r3", "bad", 0.1, model_version="m2", prompt="a blue whale"),
    ]
    pairs_rows = [
        pair("p1", "r1-a", "r1-b", "r1", confidence=0.95, source="sibling"),  # m1 > m2
        pair("p2", "r1-a", "r1-c", "r1", confidence=0.9),  # m1 > m1
        pair("p3", "r2-a", "r2-b", "r2", confidence=0.8),  # select against the higher label
        pair("p4", "r3-a", "r3-b", "r3", confidence=0.99, source="sibling"),  # m2 > m2
    ]
    for row in pairs_rows:
        row["prompt"] = next(
            f["prompt"] for f in facts_rows if f["request_id"] == row["request_id"]
        )
    return frames(facts_rows, pairs_rows)


def dpo_evidence_of(**options: object) -> tuple[set[str], dict[str, int]]:
    pairs, facts = option_fixture()
    tables = build_export(pairs, facts, ExportConfig(test_fraction=0.0, **options), "lv1")
    return exported_evidence(tables), tables.exclusion_counts()["dpo"]


def test_each_option_changes_the_dpo_rows_as_documented() -> None:
    assert dpo_evidence_of() == ({"p1", "p2", "p3", "p4"}, {})
    assert dpo_evidence_of(same_model_version=True) == (
        {"p2", "p3", "p4"},
        {"cross_model_version": 1},
    )
    assert dpo_evidence_of(model_versions=("m2",)) == ({"p4"}, {"other_model_version": 3})
    assert dpo_evidence_of(sources=("sibling",)) == ({"p1", "p4"}, {"source_not_selected": 2})
    assert dpo_evidence_of(min_margin=0.65) == ({"p1", "p4"}, {"below_min_margin": 2})
    assert dpo_evidence_of(negative_margin="drop") == ({"p1", "p2", "p4"}, {"negative_margin": 1})
    # r1 and r2 are one prompt cluster (case, commas and articles aside): 2 of its 3 pairs stay,
    # the most confident first
    assert dpo_evidence_of(max_pairs_per_prompt=2) == ({"p1", "p2", "p4"}, {"prompt_cap": 1})
    assert dpo_evidence_of(max_pairs_per_prompt=1) == ({"p1", "p4"}, {"prompt_cap": 2})


def test_model_version_option_filters_kto_and_reward_too() -> None:
    pairs, facts = option_fixture()
    tables = build_export(
        pairs, facts, ExportConfig(test_fraction=0.0, model_versions=("m2",)), "lv1"
    )
    assert exported_ids(tables, "reward", "generation_id") == {"r1-b", "r3-a", "r3-b"}
    assert tables.exclusion_counts()["reward"] == {"other_model_version": 4}


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
    merged = build_export(
        *frames(
            [fact("a", "r1", "good", 0.9), fact("b", "r1", "bad", 0.2)],
            [pair("p", "a", "b", "r1"), pair("q", "a", "b", "r1", source="sibling")],
        ),
        ExportConfig(test_fraction=0.0),
        "lv1",
    )
    rows = export_membership(merged).filter(pl.col("dataset") == "dpo")
    assert rows.select("role", "pair_id", "row_index").rows() == [
        ("chosen", "p", 0),
        ("chosen", "q", 0),
        ("rejected", "p", 0),
        ("rejected", "q", 0),
    ]
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
        ({"min_margin": 2.0}, "min-margin"),
        ({"max_pairs_per_prompt": 0}, "max-pairs-per-prompt"),
        ({"max_contradiction": 0.2}, "max-contradiction"),
        ({"negative_margin": "flip"}, "negative-margin"),
        ({"datasets": ("dpo", "images")}, "datasets"),
        ({"license": " "}, "license"),
        ({"sources": ("select", "selct")}, "unknown source.s. selct"),
        ({"priority_min_generations": 0}, "min_generations"),
    ],
)
def test_config_rejects_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExportConfig(**kwargs)


def test_naive_window_bounds_are_utc_in_the_recorded_parameters() -> None:
    params = ExportConfig(since=datetime(2024, 1, 2)).as_parameters()
    assert params["since"] == "2024-01-02T00:00:00+00:00" and params["until"] is None
