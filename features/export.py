"""Preference datasets (DPO, KTO, reward) from labels and pairs: KTO and reward rows, the split by
request, and `build_export`, which assembles every dataset's rows and exclusions.

Pure polars: the stage reads the warehouse (`warehouse.export`), calls `build_export`, and writes the
frames in Hugging Face layout (`pipelines.dataset_files`). Every candidate row is either exported or
counted under one exclusion reason, never silently lost. DPO rows (one per unordered pair) come from
`features.export_pairs`; the options are `features.export_config.ExportConfig`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from features.export_config import ExportConfig
from features.export_filters import (
    completion_uri,
    exclusion_counts,
    first_reason,
    in_window,
    is_flagged,
    version_selected,
)
from features.export_pairs import dpo_evidence, dpo_rows, merge_statistics, merged_pairs
from features.export_schema import (
    CONDITIONING,
    DATASET_SCHEMAS,
    DATASETS,
    FLAGGED,
    FLAGGED_POSITIVE,
    MISSING_GENERATION,
    NAMES_CREATOR,
    NO_CONSENT,
    OTHER_MODEL_VERSION,
    OUTSIDE_WINDOW,
    SPLITS,
    STALE_LABEL_VERSION,
    UNCERTAIN_LABEL,
    UNKNOWN_LABEL,
)

__all__ = [
    "ExportConfig",
    "ExportTables",
    "build_export",
    "export_membership",
    "labeled_candidates",
]

SORT_KEYS: dict[str, str] = {"dpo": "pair_id", "kto": "generation_id", "reward": "generation_id"}
KTO_LABELS: dict[str, bool] = {"good": True, "bad": False}
UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class ExportTables:
    """The rows of each dataset (with a `split` column), exclusions per dataset and reason, and how the
    DPO evidence rows merged into pairs."""

    label_version: str
    rows: dict[str, pl.DataFrame]
    exclusions: pl.DataFrame  # dataset, reason, rows
    # per dataset: generator model_version -> how many exported generations it made
    model_versions: dict[str, dict[str, int]]
    # per dataset: earliest and latest created_at of the exported generations
    created_range: dict[str, tuple[datetime | None, datetime | None]]
    pair_merging: dict[str, Any] = field(default_factory=dict)
    datasets: tuple[str, ...] = DATASETS  # the ones the export writes (--datasets)

    def split_rows(self, dataset: str, split: str) -> pl.DataFrame:
        """The rows of one dataset split, in the dataset's columns and sort order."""
        frame = self.rows[dataset]
        return frame.filter(pl.col("split") == split).select(list(DATASET_SCHEMAS[dataset]))

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per dataset and split."""
        return {
            dataset: {split: self.split_rows(dataset, split).height for split in SPLITS}
            for dataset in self.datasets
        }

    def exclusion_counts(self) -> dict[str, dict[str, int]]:
        """Excluded rows per dataset and reason (reasons with zero rows left out)."""
        out: dict[str, dict[str, int]] = {dataset: {} for dataset in self.datasets}
        for dataset, reason, rows in self.exclusions.iter_rows():
            if dataset in out:
                out[dataset][reason] = int(rows)
        return out


def request_test_bucket(request_ids: pl.Series, salt: str) -> pl.DataFrame:
    """Each distinct request_id with a stable bucket in [0, 1): sha256(salt, request_id) as a fraction.

    sha256 (not polars' hash, which may change across versions) keeps the split stable across
    releases; it runs once per request, not per row.
    """
    unique = request_ids.drop_nulls().unique().sort()
    buckets = [
        int.from_bytes(hashlib.sha256(f"{salt}\x1f{rid}".encode()).digest()[:8], "big") / 2**64
        for rid in unique.to_list()
    ]
    return pl.DataFrame(
        {"request_id": unique, "test_bucket": pl.Series(buckets, dtype=pl.Float64)},
        schema={"request_id": pl.String, "test_bucket": pl.Float64},
    )


def with_split(frame: pl.DataFrame, test_fraction: float, salt: str) -> pl.DataFrame:
    """`frame` with a `split` column: `test` when its request's bucket < test_fraction; siblings share it."""
    buckets = request_test_bucket(frame.get_column("request_id"), salt)
    return (
        frame.join(buckets, on="request_id", how="left")
        .with_columns(
            pl.when(pl.col("test_bucket") < test_fraction)
            .then(pl.lit("test"))
            .otherwise(pl.lit("train"))
            .alias("split")
        )
        .drop("test_bucket")
    )


def labeled_candidates(
    facts: pl.DataFrame, config: ExportConfig, label_version: str, dataset: str
) -> pl.DataFrame:
    """Every labeled generation with its exclusion_reason for `dataset` (kto or reward)."""
    labeled = facts.filter(pl.col("label").is_not_null())
    flagged = is_flagged(config.report_threshold)
    if dataset == "kto":
        governance = [(FLAGGED_POSITIVE, flagged & (pl.col("label") == "good"))]
        content = [
            (UNCERTAIN_LABEL, pl.col("label") == UNCERTAIN),
            (UNKNOWN_LABEL, ~pl.col("label").is_in(list(KTO_LABELS))),
        ]
    elif dataset in ("reward", "prompts"):
        governance = [(FLAGGED, flagged)]
        content = []
    else:
        raise ValueError(f"labeled_candidates builds kto, reward or prompts, not {dataset!r}")
    checks = [
        (MISSING_GENERATION, ~pl.col("has_generation")),
        (NO_CONSENT, ~pl.col("training_consent")),
        *governance,
        (NAMES_CREATOR, pl.col("names_creator")),
        (STALE_LABEL_VERSION, pl.col("label_version") != label_version),
        (OUTSIDE_WINDOW, ~in_window(config, "created_at")),
        (OTHER_MODEL_VERSION, ~version_selected(config, "model_version")),
        *content,
    ]
    return labeled.with_columns(first_reason(checks))


def kto_rows(candidates: pl.DataFrame) -> pl.DataFrame:
    """Exported KTO rows: prompt/completion/label (True = good, False = bad), ids, conditioning, quality."""
    return candidates.filter(pl.col("exclusion_reason").is_null()).select(
        "request_id",
        "prompt",
        completion_uri().alias("completion"),
        pl.col("label").replace_strict(KTO_LABELS, return_dtype=pl.Boolean).alias("label"),
        "generation_id",
        *CONDITIONING,
        "quality_score",
        "label_version",
        "created_at",
    )


def reward_rows(candidates: pl.DataFrame) -> pl.DataFrame:
    """Exported reward rows: prompt/completion/score (the quality_score), ids and conditioning."""
    return candidates.filter(pl.col("exclusion_reason").is_null()).select(
        "request_id",
        "prompt",
        completion_uri().alias("completion"),
        pl.col("quality_score").alias("score"),
        "generation_id",
        *CONDITIONING,
        "label_version",
        "created_at",
    )


def finalized(dataset: str, rows: pl.DataFrame, config: ExportConfig) -> pl.DataFrame:
    """Rows in the dataset's schema plus `split`, sorted by split then the dataset's (unique) key."""
    schema = DATASET_SCHEMAS[dataset]
    split = with_split(rows, config.test_fraction, config.split_salt)
    return split.select(
        [pl.col(name).cast(dtype) for name, dtype in schema.items()] + [pl.col("split")]
    ).sort(["split", SORT_KEYS[dataset]], nulls_last=True)


def model_version_counts(rows: pl.DataFrame, columns: list[str]) -> dict[str, int]:
    """How many exported generations each generator model_version contributed, by version name."""
    versions = pl.concat([rows.get_column(c).alias("model_version") for c in columns]).drop_nulls()
    counts = versions.value_counts(name="n").sort("model_version")
    return {version: int(n) for version, n in counts.iter_rows()}


def created_range(
    rows: pl.DataFrame, columns: list[str]
) -> tuple[datetime | None, datetime | None]:
    """Earliest and latest created_at of the exported generations (None, None when there are none)."""
    moments = pl.concat([rows.get_column(c).alias("created_at") for c in columns]).drop_nulls()
    if moments.is_empty():
        return None, None
    return moments.min(), moments.max()


PROVENANCE_COLUMNS: dict[str, tuple[list[str], list[str]]] = {
    "dpo": (
        ["chosen_model_version", "rejected_model_version"],
        ["chosen_created_at", "rejected_created_at"],
    ),
    "kto": (["model_version"], ["created_at"]),
    "reward": (["model_version"], ["created_at"]),
}


def export_label_version(config: ExportConfig, latest_label_version: str | None) -> str:
    """The label_version an export is built from: the requested one, else the warehouse's newest."""
    chosen = config.label_version or latest_label_version
    if chosen is None:
        raise ValueError(
            "nothing to export: the warehouse has no labels or preference pairs (run `reelloop label` first)"
        )
    return chosen


def build_export(
    pairs: pl.DataFrame,
    facts: pl.DataFrame,
    config: ExportConfig,
    latest_label_version: str | None,
) -> ExportTables:
    """DPO rows from merged pairs, KTO and reward rows from labels, each split by request and filtered."""
    label_version = export_label_version(config, latest_label_version)
    evidence = dpo_evidence(pairs, facts, config, label_version)
    dpo = merged_pairs(evidence, facts, config)
    kto = labeled_candidates(facts, config, label_version, "kto")
    reward = labeled_candidates(facts, config, label_version, "reward")
    unsplit = {"dpo": dpo_rows(dpo), "kto": kto_rows(kto), "reward": reward_rows(reward)}
    rows = {dataset: finalized(dataset, frame, config) for dataset, frame in unsplit.items()}
    exclusions = pl.concat(
        [
            exclusion_counts("dpo", evidence),
            exclusion_counts("dpo", dpo),
            exclusion_counts("kto", kto),
            exclusion_counts("reward", reward),
        ]
    ).sort(["dataset", "reason"])
    return ExportTables(
        label_version=label_version,
        rows=rows,
        exclusions=exclusions,
        model_versions={
            dataset: model_version_counts(frame, PROVENANCE_COLUMNS[dataset][0])
            for dataset, frame in unsplit.items()
        },
        created_range={
            dataset: created_range(frame, PROVENANCE_COLUMNS[dataset][1])
            for dataset, frame in unsplit.items()
        },
        pair_merging=merge_statistics(evidence, dpo),
        datasets=tuple(d for d in DATASETS if d in config.datasets),
    )


MEMBERSHIP_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "split": pl.String(),
    "row_index": pl.Int64(),
    "role": pl.String(),
    "generation_id": pl.String(),
    "pair_id": pl.String(),
    "label_version": pl.String(),
}


def export_membership(tables: ExportTables) -> pl.DataFrame:
    """One row per generation per exported row (DPO: per side and per merged evidence row): dataset,
    split, row_index (in its split), role, generation_id, pair_id (preference_pairs), label_version."""
    parts = []
    for dataset in tables.datasets:
        for split in SPLITS:
            frame = (
                tables.split_rows(dataset, split)
                .with_row_index("row_index")
                .with_columns(pl.col("row_index").cast(pl.Int64))
            )
            if dataset == "dpo":
                frame = frame.explode("source_pair_ids").rename({"pair_id": "merged_pair_id"})
                roles = [("chosen", "chosen_generation_id"), ("rejected", "rejected_generation_id")]
                pair_id = pl.col("source_pair_ids")
            else:
                roles = [("completion", "generation_id")]
                pair_id = pl.lit(None, dtype=pl.String)
            for role, id_column in roles:
                parts.append(
                    frame.select(
                        pl.lit(dataset).alias("dataset"),
                        pl.lit(split).alias("split"),
                        "row_index",
                        pl.lit(role).alias("role"),
                        pl.col(id_column).alias("generation_id"),
                        pair_id.alias("pair_id"),
                        "label_version",
                    )
                )
    if not parts:
        return pl.DataFrame(schema=MEMBERSHIP_SCHEMA)
    return pl.concat(parts).sort(["dataset", "split", "row_index", "role", "pair_id"])
