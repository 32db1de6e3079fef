"""DPO rows: every preference_pairs evidence row checked row by row, the survivors merged into one row
per unordered pair (features.pair_merging), each pair checked again (contradictions, flagged chosen,
confidence, margins, the per-prompt cap), and what the merge did, counted."""

from __future__ import annotations

from typing import Any

import polars as pl

from features.export_config import ExportConfig
from features.export_filters import (
    completion_uri,
    first_reason,
    in_window,
    is_flagged,
    side_facts,
    version_selected,
)
from features.export_schema import (
    BELOW_MIN_MARGIN,
    CONDITIONING,
    CONTRADICTORY_EVIDENCE,
    CROSS_MODEL_VERSION,
    FLAGGED_CHOSEN,
    LOW_CONFIDENCE,
    MISSING_GENERATION,
    NAMES_CREATOR,
    NEGATIVE_MARGIN,
    NO_CONSENT,
    OTHER_MODEL_VERSION,
    OUTSIDE_WINDOW,
    PROMPT_CAP,
    SOURCE_NOT_SELECTED,
    STALE_LABEL_VERSION,
)
from features.pair_merging import EVIDENCE_SCHEMA, merge_evidence
from features.prompt_text import prompt_cluster_ids


def dpo_evidence(
    pairs: pl.DataFrame, facts: pl.DataFrame, config: ExportConfig, label_version: str
) -> pl.DataFrame:
    """Every preference_pairs row with its exclusion_reason among the per-row checks (null = it merges)."""
    columns = ["generation_id", "has_generation", "training_consent", "names_creator"]
    columns += ["created_at", "model_version"]
    joined = pairs.join(
        side_facts(facts.select(columns), "chosen"), on="chosen_generation_id", how="left"
    ).join(side_facts(facts.select(columns), "rejected"), on="rejected_generation_id", how="left")
    sides = ("chosen", "rejected")
    both = pl.all_horizontal
    checks = [
        (
            MISSING_GENERATION,
            ~both([pl.col(f"{s}_has_generation").fill_null(False) for s in sides]),
        ),
        (NO_CONSENT, ~both([pl.col(f"{s}_training_consent") for s in sides])),
        (NAMES_CREATOR, pl.any_horizontal([pl.col(f"{s}_names_creator") for s in sides])),
        (STALE_LABEL_VERSION, pl.col("label_version") != label_version),
        (OUTSIDE_WINDOW, ~both([in_window(config, f"{s}_created_at") for s in sides])),
        (
            SOURCE_NOT_SELECTED,
            ~pl.col("source").is_in(list(config.sources)) if config.sources else pl.lit(False),
        ),
        (
            OTHER_MODEL_VERSION,
            ~both([version_selected(config, f"{s}_model_version") for s in sides]),
        ),
        (
            CROSS_MODEL_VERSION,
            pl.col("chosen_model_version") != pl.col("rejected_model_version")
            if config.same_model_version
            else pl.lit(False),
        ),
    ]
    return joined.with_columns(first_reason(checks))


PAIR_SIDE_COLUMNS: tuple[str, ...] = (
    "generation_id",
    "output_uri",
    "created_at",
    "content_flag_count",
    "reports",
    "quality_score",
    *CONDITIONING,
)


def merged_pairs(evidence: pl.DataFrame, facts: pl.DataFrame, config: ExportConfig) -> pl.DataFrame:
    """The evidence rows that passed merged into one row per unordered pair, with both sides' facts,
    the margin, the prompt cluster and the pair-level exclusion_reason (null = exported)."""
    kept = evidence.filter(pl.col("exclusion_reason").is_null()).select(list(EVIDENCE_SCHEMA))
    merged = merge_evidence(kept, config.merge_rule)
    side_columns = list(PAIR_SIDE_COLUMNS)
    merged = (
        merged.join(
            side_facts(facts.select(side_columns), "chosen"), on="chosen_generation_id", how="left"
        )
        .join(
            side_facts(facts.select(side_columns), "rejected"),
            on="rejected_generation_id",
            how="left",
        )
        .with_columns(
            margin=pl.col("chosen_quality_score") - pl.col("rejected_quality_score"),
            prompt_cluster=prompt_cluster_ids(merged["prompt"]),
        )
    )
    checks = [
        (CONTRADICTORY_EVIDENCE, pl.col("contradictory")),
        (FLAGGED_CHOSEN, is_flagged(config.report_threshold, "chosen_")),
        (LOW_CONFIDENCE, pl.col("confidence") < config.min_confidence),
        (
            NEGATIVE_MARGIN,
            (pl.col("margin") < 0).fill_null(False)
            if config.negative_margin == "drop"
            else pl.lit(False),
        ),
        (
            BELOW_MIN_MARGIN,
            pl.col("margin") < config.min_margin
            if config.min_margin is not None
            else pl.lit(False),
        ),
    ]
    return capped_per_prompt(merged.with_columns(first_reason(checks)), config)


def capped_per_prompt(pairs: pl.DataFrame, config: ExportConfig) -> pl.DataFrame:
    """Pairs beyond `max_pairs_per_prompt` of their prompt cluster (the least confident, then the
    smallest margins, then by pair_id) excluded as `prompt_cap`; only still-exported pairs count."""
    if config.max_pairs_per_prompt is None:
        return pairs
    ranked = (
        pairs.filter(pl.col("exclusion_reason").is_null())
        .sort(
            ["prompt_cluster", "confidence", "margin", "pair_id"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
        .with_columns(rank_in_prompt=pl.int_range(pl.len()).over("prompt_cluster"))
        .filter(pl.col("rank_in_prompt") >= config.max_pairs_per_prompt)
        .select("pair_id")
    )
    over_cap = pl.col("pair_id").is_in(ranked["pair_id"].implode())
    return pairs.with_columns(
        exclusion_reason=pl.when(pl.col("exclusion_reason").is_null() & over_cap)
        .then(pl.lit(PROMPT_CAP))
        .otherwise(pl.col("exclusion_reason"))
    )


def side_columns(side: str) -> list[pl.Expr]:
    """A pair side's conditioning columns, named as the DPO schema names them."""
    return [pl.col(f"{side}_{name}") for name in CONDITIONING]


def dpo_rows(pairs: pl.DataFrame) -> pl.DataFrame:
    """Exported DPO rows: TRL's prompt/chosen/rejected, both sides' ids and conditioning, the merged
    confidence, margin and evidence."""
    return pairs.filter(pl.col("exclusion_reason").is_null()).select(
        "request_id",
        "prompt",
        completion_uri("chosen_").alias("chosen"),
        completion_uri("rejected_").alias("rejected"),
        "chosen_generation_id",
        "rejected_generation_id",
        *side_columns("chosen"),
        *side_columns("rejected"),
        "confidence",
        "margin",
        "sources",
        "evidence_rows",
        "source_pair_ids",
        "pair_id",
        "label_version",
        "chosen_created_at",
        "rejected_created_at",
    )


def merge_statistics(evidence: pl.DataFrame, pairs: pl.DataFrame) -> dict[str, Any]:
    """How DPO evidence rows became rows: read, excluded per row, merged into pairs, dropped per pair,
    exported; exported rows by their combination of sources, negative margins and version mixes."""
    exported = pairs.filter(pl.col("exclusion_reason").is_null())
    kept_evidence = int(evidence["exclusion_reason"].is_null().sum())
    by_sources = (
        exported.select(pl.col("sources").list.join("+").alias("sources"))
        .group_by("sources")
        .len()
        .sort("sources")
    )
    return {
        "evidence_rows": evidence.height,
        "evidence_rows_excluded": evidence.height - kept_evidence,
        "evidence_rows_merged": kept_evidence,
        "merged_pairs": pairs.height,
        "evidence_rows_folded": kept_evidence - pairs.height,
        "pairs_with_several_rows": int((pairs["evidence_rows"] > 1).sum()),
        "pairs_with_opposing_evidence": int((pairs["contradiction"] > 0).sum()),
        "pairs_excluded": int(pairs["exclusion_reason"].is_not_null().sum()),
        "exported_pairs": exported.height,
        "exported_by_sources": {name: int(n) for name, n in by_sources.iter_rows()},
        "exported_negative_margin": int((exported["margin"] < 0).sum()),
        "exported_cross_model_version": int(
            (exported["chosen_model_version"] != exported["rejected_model_version"]).sum()
        ),
    }
