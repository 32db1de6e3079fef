"""Run-summary artifacts: the pure markdown / table builders of each stage."""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from report.artifacts import (
    export_counts_table,
    export_exclusions_table,
    export_markdown,
    ingest_markdown,
    ingest_rows_table,
    label_counts_table,
    label_evaluation_markdown,
    label_markdown,
    pair_agreement_table,
    quarantine_table,
    score_markdown,
    spearman_table,
    train_markdown,
    train_metrics_table,
    train_models_table,
)
from results.export import ExportSummary
from results.ingest import IngestSummary, RowCounts
from results.label import LabelEvaluation, LabelSummary
from results.model import ModelOutcome, ScoreSummary, TrainSummary

INGEST = IngestSummary(
    total=RowCounts(files=3, rows_read=120, rows_loaded=100, rows_duplicate=8, rows_quarantined=12),
    quarantined_by_reason={"bad_timestamp": 3, "malformed_record": 7, "bad_type": 2},
    files_by_status={"loaded": 2, "unreadable": 1},
    by_kind={
        "generations": RowCounts(
            files=1, rows_read=20, rows_loaded=18, rows_duplicate=0, rows_quarantined=2
        ),
        "events": RowCounts(
            files=2, rows_read=100, rows_loaded=82, rows_duplicate=8, rows_quarantined=10
        ),
    },
    seconds=2.0,
    rows_per_second=60,
)


def test_quarantine_table_has_one_row_per_reason_most_frequent_first() -> None:
    assert quarantine_table(INGEST) == [
        {"reason": "malformed_record", "rows": 7, "share": 7 / 12},
        {"reason": "bad_timestamp", "rows": 3, "share": 3 / 12},
        {"reason": "bad_type", "rows": 2, "share": 2 / 12},
    ]
    assert quarantine_table(replace(INGEST, quarantined_by_reason={})) == []


def test_ingest_rows_table_is_the_per_kind_accounting_sorted_by_kind() -> None:
    assert ingest_rows_table(INGEST) == [
        {
            "kind": "events",
            "files": 2,
            "rows_read": 100,
            "rows_loaded": 82,
            "rows_duplicate": 8,
            "rows_quarantined": 10,
        },
        {
            "kind": "generations",
            "files": 1,
            "rows_read": 20,
            "rows_loaded": 18,
            "rows_duplicate": 0,
            "rows_quarantined": 2,
        },
    ]


def test_ingest_markdown_has_title_figures_total_row_statuses_and_reasons() -> None:
    text = ingest_markdown(INGEST)
    lines = text.splitlines()
    assert lines[0] == "# Ingest run"
    assert "- **3** new files, **120** rows read in 2.0 s (60 rows/s)" in lines
    assert "quarantined **12** (10.0% of rows read)" in text
    assert "| kind | files | rows_read | rows_loaded | rows_duplicate | rows_quarantined |" in lines
    assert "|---|---:|---:|---:|---:|---:|" in lines
    assert "| events | 2 | 100 | 82 | 8 | 10 |" in lines
    assert "| **total** | 3 | 120 | 100 | 8 | 12 |" in lines
    assert "| unreadable | 1 |" in lines
    assert "| malformed_record | 7 | 0.583 |" in lines
    # reasons in the markdown follow the table's order
    assert text.index("malformed_record") < text.index("bad_timestamp") < text.index("| bad_type")


def test_an_empty_ingest_run_says_none_instead_of_an_empty_table() -> None:
    empty = replace(
        INGEST, total=RowCounts(), quarantined_by_reason={}, files_by_status={}, by_kind={}
    )
    text = ingest_markdown(empty)
    assert "(- of rows read)" in text
    assert text.count("_none_") == 2  # files by status, quarantine
    assert "| **total** | 0 | 0 | 0 | 0 | 0 |" in text


LABEL = LabelSummary(
    label_version="v3",
    up_to_date=False,
    full_rebuild=True,
    generations_reaggregated=40,
    abnormal_viewers=2,
    labels_written=39,
    pairs_added=11,
    pairs_removed=1,
    model_refit=True,
    labels=40,
    pairs=25,
    label_counts={"uncertain": 10, "bad": 12, "good": 18},
)


def test_label_counts_table_and_markdown() -> None:
    assert label_counts_table(LABEL) == [
        {"label": "bad", "generations": 12, "share": 0.3},
        {"label": "good", "generations": 18, "share": 0.45},
        {"label": "uncertain", "generations": 10, "share": 0.25},
    ]
    lines = label_markdown(LABEL).splitlines()
    assert lines[0] == "# Label run: label_version `v3`"
    assert "- full rebuild; **39** labels written, pairs **+11 / -1**" in lines
    assert "| label model refit | yes |" in lines
    assert "| current pairs | 25 |" in lines
    assert "| good | 18 | 0.450 |" in lines


def test_an_up_to_date_label_run_has_no_counts() -> None:
    current = replace(
        LABEL,
        labels=None,
        pairs=None,
        label_counts={},
        up_to_date=True,
        labels_written=0,
        pairs_added=0,
        pairs_removed=0,
    )
    assert label_counts_table(current) == []
    text = label_markdown(current)
    assert "labels were current: nothing written" in text
    assert "current labels" not in text


def test_label_evaluation_tables_and_weighted_pair_agreement() -> None:
    evaluation = LabelEvaluation(
        ranks=pl.DataFrame(
            {
                "score": ["quality_score", "naive_like_rate"],
                "scope": ["all generations", "all generations"],
                "generations": [50, 50],
                "spearman": [0.71, 0.42],
            }
        ),
        pairs=pl.DataFrame(
            {
                "source": ["all", "all", "engagement"],
                "band": ["[0.50, 0.75)", "[0.75, 1.00]", "[0.50, 0.75)"],
                "pairs": [10, 30, 10],
                "truly_better": [0.6, 0.9, 0.6],
                "mean_confidence": [0.6, 0.8, 0.6],
            }
        ),
    )
    assert spearman_table(evaluation)[0] == {
        "score": "quality_score",
        "scope": "all generations",
        "generations": 50,
        "spearman": 0.71,
    }
    assert [row["pairs"] for row in pair_agreement_table(evaluation)] == [10, 30, 10]
    text = label_evaluation_markdown(evaluation)
    # (10 * 0.6 + 30 * 0.9) / 40 over the 'all' rows only
    assert "- 40 pairs judged; chosen side truly better in **82.5%** of them" in text
    assert "| quality_score | all generations | 50 | 0.710 |" in text


TRAIN = TrainSummary(
    table="...",
    counts={"train_requests": 70, "test_requests": 30},
    metrics={
        "pairwise": {"pair_accuracy": 0.8, "brier": 0.2},
        "baseline: random": {"pair_accuracy": 0.5, "brier": 0.25},
    },
    models=(
        ModelOutcome(
            model_id="pw-1",
            kind="pairwise",
            promoted=True,
            reason="beats champion",
            previous_champion_id="pw-0",
            artifact_path="/a/pw-1.skops",
        ),
        ModelOutcome(
            model_id="pt-0",
            kind="pointwise",
            promoted=False,
            reason="already trained on these inputs",
            previous_champion_id="pw-0",
            artifact_path=None,
        ),
    ),
    champion_id="pw-1",
)


def test_train_tables_give_each_candidate_its_decision_and_metrics() -> None:
    assert train_models_table(TRAIN) == [
        {
            "model_id": "pw-1",
            "kind": "pairwise",
            "promoted": True,
            "champion": True,
            "previous_champion_id": "pw-0",
            "reason": "beats champion",
            "pair_accuracy": 0.8,
            "brier": 0.2,
        },
        {
            "model_id": "pt-0",
            "kind": "pointwise",
            "promoted": False,
            "champion": False,
            "previous_champion_id": "pw-0",
            "reason": "already trained on these inputs",
            "pair_accuracy": None,  # not retrained, so not evaluated in this run
            "brier": None,
        },
    ]
    assert [(r["scorer"], r["role"]) for r in train_metrics_table(TRAIN)] == [
        ("pairwise", "candidate"),
        ("baseline: random", "baseline"),
    ]
    lines = train_markdown(TRAIN).splitlines()
    assert "- champion: **`pw-1`**" in lines
    assert "- `pw-1`: **promoted** (beats champion)" in lines
    assert "| pairwise | candidate | 0.800 | 0.200 |" in lines
    assert "| test_requests | 30 |" in lines


def test_score_markdown() -> None:
    text = score_markdown(ScoreSummary(model_id="pw-1", scored=1500))
    assert "- champion `pw-1` scored **1,500** new generations" in text
    assert "| pw-1 | 1,500 |" in text


EXPORT = ExportSummary(
    export_id="ex1",
    path="/out",
    label_version="v3",
    as_of="2024-05-01T00:00:00+00:00",
    counts={
        "dpo": {"train": 90, "test": 10},
        "kto": {"train": 45, "test": 5},
        "reward": {"train": 0, "test": 0},
        "prompts": {"train": 12},
    },
    excluded={
        "dpo": {"no_consent": 2, "flagged_chosen": 5},
        "kto": {},
        "reward": {"x": 1},
        "prompts": {},
    },
    newly_recorded=True,
    pair_merging={
        "evidence_rows": 160,
        "evidence_rows_merged": 158,
        "merged_pairs": 105,
        "exported_pairs": 100,
    },
)


def test_export_tables_and_markdown() -> None:
    assert export_counts_table(EXPORT) == [
        {"dataset": "dpo", "train": 90, "test": 10, "total": 100, "excluded": 7},
        {"dataset": "kto", "train": 45, "test": 5, "total": 50, "excluded": 0},
        {"dataset": "reward", "train": 0, "test": 0, "total": 0, "excluded": 1},
        {"dataset": "prompts", "train": 12, "test": 0, "total": 12, "excluded": 0},
    ]
    assert export_exclusions_table(EXPORT) == [
        {"dataset": "dpo", "reason": "flagged_chosen", "rows": 5},
        {"dataset": "dpo", "reason": "no_consent", "rows": 2},
        {"dataset": "reward", "reason": "x", "rows": 1},
    ]
    text = export_markdown(EXPORT)
    assert text.splitlines()[0] == "# Export `ex1`"
    assert "- **162** rows exported, **8** excluded" in text
    assert (
        "- DPO: **160** evidence rows, **158** merged into **105** unordered pairs, **100** exported"
        in text
    )
