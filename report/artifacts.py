"""The content of the Prefect artifacts summarising each run: markdown and tables built from the
stages' typed results.

Pure (result in, text or rows out); `flows.artifacts` creates the artifacts in the flow run.
Artifacts are keyed, so the Prefect UI (Artifacts page) and `prefect artifact ls` show the latest
of each key and its history across runs.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from report.markdown import markdown_table, percent_text, share
from results.export import ExportSummary
from results.ingest import IngestSummary, RowCounts
from results.label import LabelEvaluation, LabelSummary
from results.model import ScoreSummary, TrainSummary

INGEST_SUMMARY = "ingest-summary"
INGEST_ROWS = "ingest-rows"
INGEST_QUARANTINE = "ingest-quarantine"
LABEL_SUMMARY = "label-summary"
LABEL_COUNTS = "label-counts"
LABEL_DIAGNOSTICS = "label-diagnostics"
LABEL_EVALUATION = "label-evaluation"
LABEL_SPEARMAN = "label-spearman"
LABEL_PAIR_AGREEMENT = "label-pair-agreement"
TRAIN_SUMMARY = "train-summary"
TRAIN_MODELS = "train-models"
TRAIN_METRICS = "train-metrics"
SCORE_SUMMARY = "score-summary"
EXPORT_SUMMARY = "export-summary"
EXPORT_COUNTS = "export-counts"
EXPORT_EXCLUSIONS = "export-exclusions"


Artifact = tuple[str, str, str | list[dict[str, Any]]]  # (key, description, markdown or table)


# ---------------------------------------------------------------- ingest


def row_counts(counts: RowCounts) -> dict[str, int]:
    """Files and rows of a kind (or of the run) as table cells."""
    return asdict(counts)


def ingest_rows_table(summary: IngestSummary) -> list[dict[str, object]]:
    """One row per record kind: files and rows read / loaded / duplicate / quarantined."""
    return [
        {"kind": kind, **row_counts(counts)} for kind, counts in sorted(summary.by_kind.items())
    ]


def quarantine_table(summary: IngestSummary) -> list[dict[str, object]]:
    """One row per quarantine reason code with its rows and share of the quarantined rows,
    most frequent first (ties by reason)."""
    by_reason = summary.quarantined_by_reason
    total = sum(by_reason.values())
    return [
        {"reason": reason, "rows": rows, "share": share(rows, total)}
        for reason, rows in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
    ]


def ingest_markdown(summary: IngestSummary) -> str:
    """The ingest run: headline figures, rows per kind (with a total), files by status, quarantine."""
    total = summary.total
    totals = {"kind": "**total**", **row_counts(total)}
    statuses = [
        {"status": status, "files": n} for status, n in sorted(summary.files_by_status.items())
    ]
    quarantined = total.rows_quarantined
    return "\n".join(
        [
            "# Ingest run",
            "",
            f"- **{total.files:,}** new files, **{total.rows_read:,}** rows read "
            f"in {summary.seconds:.1f} s ({summary.rows_per_second:,} rows/s)",
            f"- loaded **{total.rows_loaded:,}**, duplicate **{total.rows_duplicate:,}**, "
            f"quarantined **{quarantined:,}** "
            f"({percent_text(share(quarantined, total.rows_read))} of rows read)",
            "",
            "## Rows per kind",
            "",
            markdown_table([*ingest_rows_table(summary), totals]),
            "",
            "## Files by status",
            "",
            markdown_table(statuses),
            "",
            "## Quarantine by reason",
            "",
            markdown_table(quarantine_table(summary)),
            "",
        ]
    )


def ingest_artifacts(summary: IngestSummary) -> list[Artifact]:
    return [
        (INGEST_SUMMARY, "ingest: files and rows of the run", ingest_markdown(summary)),
        (INGEST_ROWS, "ingest: rows per record kind", ingest_rows_table(summary)),
        (INGEST_QUARANTINE, "ingest: quarantined rows per reason", quarantine_table(summary)),
    ]


# ---------------------------------------------------------------- label


def label_counts_table(summary: LabelSummary) -> list[dict[str, object]]:
    """One row per label (good / bad / uncertain): generations and share; empty when not computed."""
    counts = summary.label_counts
    total = sum(counts.values())
    return [
        {"label": label, "generations": n, "share": share(n, total)}
        for label, n in sorted(counts.items())
    ]


def label_markdown(summary: LabelSummary) -> str:
    """The label run: version, incremental or full, labels and pairs written, the label mix."""
    if summary.up_to_date:
        mode = "labels were current: nothing written"
    else:
        mode = "full rebuild" if summary.full_rebuild else "incremental"
    figures = [
        {"figure": "generations re-aggregated", "value": summary.generations_reaggregated},
        {"figure": "abnormal viewers excluded", "value": summary.abnormal_viewers},
        {"figure": "labels written", "value": summary.labels_written},
        {"figure": "pairs added", "value": summary.pairs_added},
        {"figure": "pairs removed", "value": summary.pairs_removed},
        {"figure": "label model refit", "value": summary.model_refit},
    ]
    for value, figure in ((summary.labels, "current labels"), (summary.pairs, "current pairs")):
        if value is not None:
            figures.append({"figure": figure, "value": value})
    return "\n".join(
        [
            f"# Label run: label_version `{summary.label_version}`",
            "",
            f"- {mode}; **{summary.labels_written:,}** labels written, pairs "
            f"**+{summary.pairs_added:,} / -{summary.pairs_removed:,}**",
            "",
            markdown_table(figures),
            "",
            "## Labels",
            "",
            markdown_table(label_counts_table(summary)),
            "",
            *diagnostics_markdown(summary),
        ]
    )


def diagnostics_table(summary: LabelSummary) -> list[dict[str, object]]:
    """One row per score (the label first, then every raw rate): the run's truth-free checks."""
    if summary.diagnostics is None:
        return []
    columns = ["score", "kind", "split_half", "temporal", "studio_agreement", "weight"]
    return [
        {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
        for row in summary.diagnostics.select(columns).iter_rows(named=True)
    ]


def diagnostics_markdown(summary: LabelSummary) -> list[str]:
    """The diagnostics section: the verdict first (a warning when a raw rate does better), the table."""
    table = diagnostics_table(summary)
    if not table:
        return []
    verdict = (
        f"**Warning: {summary.warning}**"
        if summary.warning
        else "The label beats every raw rate on every check it could be computed on."
    )
    return [
        "## Diagnostics (no truth needed)",
        "",
        verdict,
        "",
        "split_half: Spearman between the score from one viewer half and from the other; temporal: "
        "between each generation's early and later engagement; studio_agreement: share of studio "
        "choices ordered the same way; weight: the signal's share of the label.",
        "",
        markdown_table(table),
        "",
    ]


def label_artifacts(summary: LabelSummary) -> list[Artifact]:
    artifacts: list[Artifact] = [
        (LABEL_SUMMARY, "label: labels and pairs of the run", label_markdown(summary)),
        (LABEL_COUNTS, "label: current labels per class", label_counts_table(summary)),
    ]
    if summary.diagnostics is not None:
        artifacts.append(
            (
                LABEL_DIAGNOSTICS,
                "label: truth-free checks of the label beside every raw rate",
                diagnostics_table(summary),
            )
        )
    return artifacts


def spearman_table(evaluation: LabelEvaluation) -> list[dict[str, object]]:
    """Spearman of each score with true_quality, per scope (rows of `rank_agreement`)."""
    return evaluation.ranks.to_dicts()


def pair_agreement_table(evaluation: LabelEvaluation) -> list[dict[str, object]]:
    """Share of pairs whose chosen side is truly better, per source and confidence band."""
    return evaluation.pairs.to_dicts()


def label_evaluation_markdown(evaluation: LabelEvaluation) -> str:
    """Labels vs the simulator's truth: Spearman per score and scope, then pair agreement."""
    pairs = pair_agreement_table(evaluation)
    overall = [row for row in pairs if row["source"] == "all"]
    judged = sum(row["pairs"] for row in overall)
    better = sum(row["pairs"] * (row["truly_better"] or 0.0) for row in overall)
    return "\n".join(
        [
            "# Labels vs ground truth",
            "",
            f"- {judged:,} pairs judged; chosen side truly better in "
            f"**{percent_text(share(better, judged))}** of them",
            "",
            "## Spearman rank correlation with true_quality",
            "",
            markdown_table(spearman_table(evaluation)),
            "",
            "## Pairs whose chosen side is truly better",
            "",
            markdown_table(pairs),
            "",
        ]
    )


def label_evaluation_artifacts(evaluation: LabelEvaluation) -> list[Artifact]:
    return [
        (
            LABEL_EVALUATION,
            "evaluate-labels: labels vs truth",
            label_evaluation_markdown(evaluation),
        ),
        (LABEL_SPEARMAN, "evaluate-labels: Spearman with truth", spearman_table(evaluation)),
        (LABEL_PAIR_AGREEMENT, "evaluate-labels: pair agreement", pair_agreement_table(evaluation)),
    ]


# ---------------------------------------------------------------- train / score


def train_models_table(summary: TrainSummary) -> list[dict[str, object]]:
    """One row per candidate model: its promotion decision and held-out metrics (none if it was
    not trained again because the same inputs already produced it)."""
    metrics = summary.metrics
    names = list(next(iter(metrics.values()), {}))
    return [
        {
            "model_id": model.model_id,
            "kind": model.kind,
            "promoted": model.promoted,
            "champion": model.model_id == summary.champion_id,
            "previous_champion_id": model.previous_champion_id,
            "reason": model.reason,
            **{
                name: metrics.get(model.kind, {}).get(name) if model.artifact_path else None
                for name in names
            },
        }
        for model in summary.models
    ]


def train_metrics_table(summary: TrainSummary) -> list[dict[str, object]]:
    """Held-out metrics of every scorer: trained candidates and the baselines they must beat."""
    candidates = {m.kind for m in summary.models}
    return [
        {"scorer": scorer, "role": "candidate" if scorer in candidates else "baseline", **values}
        for scorer, values in summary.metrics.items()
    ]


def train_markdown(summary: TrainSummary) -> str:
    """The train run: the champion after it, each candidate's decision, metrics beside baselines."""
    decisions = [
        f"- `{m.model_id}`: **{'promoted' if m.promoted else 'not promoted'}** ({m.reason})"
        for m in summary.models
    ] or ["- no candidate model"]
    return "\n".join(
        [
            "# Train run",
            "",
            f"- champion: **`{summary.champion_id or 'none'}`**",
            *decisions,
            "",
            "## Held-out metrics",
            "",
            markdown_table(train_metrics_table(summary)),
            "",
            "## Evaluation counts",
            "",
            markdown_table([{"count": k, "value": v} for k, v in summary.counts.items()]),
            "",
        ]
    )


def train_artifacts(summary: TrainSummary) -> list[Artifact]:
    return [
        (TRAIN_SUMMARY, "train: champion and promotion decisions", train_markdown(summary)),
        (TRAIN_MODELS, "train: candidates, decisions and metrics", train_models_table(summary)),
        (TRAIN_METRICS, "train: held-out metrics of every scorer", train_metrics_table(summary)),
    ]


def score_markdown(summary: ScoreSummary) -> str:
    """The score run: which champion scored how many new generations."""
    return "\n".join(
        [
            "# Score run",
            "",
            f"- champion `{summary.model_id}` scored **{summary.scored:,}** new generations",
            "",
            markdown_table([{"model_id": summary.model_id, "rows_scored": summary.scored}]),
            "",
        ]
    )


def score_artifacts(summary: ScoreSummary) -> list[Artifact]:
    return [(SCORE_SUMMARY, "score: rows scored by the champion", score_markdown(summary))]


# ---------------------------------------------------------------- export


def export_counts_table(summary: ExportSummary) -> list[dict[str, object]]:
    """One row per dataset: rows per split (0 for a split it does not have, e.g. the prompt
    curriculum's test), their total and the rows excluded."""
    split_names = list(
        dict.fromkeys(split for splits in summary.counts.values() for split in splits)
    )
    return [
        {
            "dataset": dataset,
            **{split: splits.get(split, 0) for split in split_names},
            "total": sum(splits.values()),
            "excluded": sum(summary.excluded.get(dataset, {}).values()),
        }
        for dataset, splits in summary.counts.items()
    ]


def export_exclusions_table(summary: ExportSummary) -> list[dict[str, object]]:
    """One row per dataset and exclusion reason with its excluded rows (by dataset, most first)."""
    return [
        {"dataset": dataset, "reason": reason, "rows": rows}
        for dataset, reasons in summary.excluded.items()
        for reason, rows in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    ]


def merging_lines(merging: dict[str, object]) -> list[str]:
    """How DPO evidence rows became one row per pair (nothing when the export has no DPO)."""
    if not merging:
        return []
    return [
        f"- DPO: **{merging['evidence_rows']:,}** evidence rows, "
        f"**{merging['evidence_rows_merged']:,}** merged into **{merging['merged_pairs']:,}** "
        f"unordered pairs, **{merging['exported_pairs']:,}** exported"
    ]


def export_markdown(summary: ExportSummary) -> str:
    """The export run: id, path, provenance, rows per dataset and split, exclusions by reason."""
    counts = export_counts_table(summary)
    return "\n".join(
        [
            f"# Export `{summary.export_id}`",
            "",
            f"- written to `{summary.path}`"
            f"{' (newly recorded)' if summary.newly_recorded else ' (same as a recorded export)'}",
            f"- label_version `{summary.label_version}`, warehouse as of {summary.as_of}",
            f"- **{sum(int(r['total']) for r in counts):,}** rows exported, "
            f"**{sum(int(r['excluded']) for r in counts):,}** excluded",
            *merging_lines(summary.pair_merging),
            "",
            "## Rows per dataset",
            "",
            markdown_table(counts),
            "",
            "## Excluded rows by reason",
            "",
            markdown_table(export_exclusions_table(summary)),
            "",
        ]
    )


def export_artifacts(summary: ExportSummary) -> list[Artifact]:
    return [
        (EXPORT_SUMMARY, "export: datasets written", export_markdown(summary)),
        (EXPORT_COUNTS, "export: rows per dataset and split", export_counts_table(summary)),
        (EXPORT_EXCLUSIONS, "export: excluded rows per reason", export_exclusions_table(summary)),
    ]


def stage_artifacts(result: object) -> list[Artifact]:
    """The artifacts of any stage's typed result (none for a stage that has none, or for a label
    run that found its labels current)."""
    if isinstance(result, IngestSummary):
        return ingest_artifacts(result)
    if isinstance(result, LabelSummary):
        return [] if result.up_to_date else label_artifacts(result)
    if isinstance(result, LabelEvaluation):
        return label_evaluation_artifacts(result)
    if isinstance(result, TrainSummary):
        return train_artifacts(result)
    if isinstance(result, ScoreSummary):
        return score_artifacts(result)
    if isinstance(result, ExportSummary):
        return export_artifacts(result)
    return []
