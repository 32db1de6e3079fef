"""One preference row per unordered pair of generations: the evidence rows of `preference_pairs` about
the same two siblings (from `sibling`, `select`, `regenerate`) merged into one direction and confidence.

How confidences combine (log-odds, the feed counted once). The label stage's `sibling` confidence is
the feed posterior P(x beats y | engagement); a studio source's confidence (`select`, `regenerate`) is
already a posterior given that same feed posterior and the creator's vote. Adding all log-odds would
count the feed once per source, so the feed enters once and each studio vote adds what it moved:

    L = L_feed + sum over studio rows k of (L_k - L_feed),  L = signed log-odds toward a fixed side,

where L_feed is the sibling row's log-odds when the feed ordered the pair confidently (the label stage
emits a sibling row only then), else 0 (the feed left the pair undecided). A single source keeps its
own confidence. |L| is capped at logit(confidence_cap); the sign picks `chosen`, sigmoid(|L|) is the
combined `confidence`. A pair is contradictory, and dropped, when one of its evidence rows points the
other way with confidence >= `max_contradiction`, or when the evidence cancels out exactly (L = 0).
Pure polars.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    "pair_id": pl.String(),
    "request_id": pl.String(),
    "prompt": pl.String(),
    "chosen_generation_id": pl.String(),
    "rejected_generation_id": pl.String(),
    "source": pl.String(),
    "confidence": pl.Float64(),
    "label_version": pl.String(),
}
"""The preference_pairs columns the merge reads (one evidence row each)."""
FEED_SOURCE: str = "sibling"
"""The source whose confidence is the feed posterior itself; every other source's already includes it."""
CONFIDENCE_DECIMALS: int = 9
MERGED_PAIR_ID_HEX: int = 32
LOGIT_CLIP: float = 1e-12


@dataclass(frozen=True)
class MergeRule:
    """How evidence rows about one pair combine (see the module docstring)."""

    max_contradiction: float = 0.75
    """Drop a pair when evidence against its combined direction has at least this confidence."""
    confidence_cap: float = 0.999
    """The combined confidence never exceeds this (no pair is certain)."""

    def __post_init__(self) -> None:
        if not 0.5 <= self.max_contradiction <= 1.0:
            raise ValueError(
                f"--max-contradiction must be in [0.5, 1], got {self.max_contradiction}"
            )
        if not 0.5 < self.confidence_cap < 1.0:
            raise ValueError(f"confidence_cap must be in (0.5, 1), got {self.confidence_cap}")


def signed_log_odds(confidence: pl.Expr, toward_first: pl.Expr) -> pl.Expr:
    """log(c / (1 - c)), positive when the row prefers the pair's first generation (by id)."""
    c = confidence.clip(LOGIT_CLIP, 1.0 - LOGIT_CLIP)
    log_odds = (c / (1.0 - c)).log()
    return pl.when(toward_first).then(log_odds).otherwise(-log_odds)


def oriented_evidence(evidence: pl.DataFrame) -> pl.DataFrame:
    """Each evidence row with its unordered pair (first_id < second_id) and its signed log-odds."""
    chosen, rejected = pl.col("chosen_generation_id"), pl.col("rejected_generation_id")
    toward_first = chosen < rejected
    return evidence.with_columns(
        first_id=pl.min_horizontal(chosen, rejected),
        second_id=pl.max_horizontal(chosen, rejected),
        toward_first=toward_first,
        log_odds=signed_log_odds(pl.col("confidence"), toward_first),
        is_feed=pl.col("source") == FEED_SOURCE,
    )


def combined_log_odds() -> pl.Expr:
    """L_feed + sum(L_k - L_feed) over the studio rows, within one unordered pair (an aggregation)."""
    feed = pl.col("log_odds").filter(pl.col("is_feed")).sum()
    studio = pl.col("log_odds").filter(~pl.col("is_feed"))
    studio_rows = (~pl.col("is_feed")).sum()
    return pl.when(studio_rows == 0).then(feed).otherwise(studio.sum() - (studio_rows - 1) * feed)


PAIR_KEY: list[str] = ["request_id", "first_id", "second_id"]


def merge_evidence(evidence: pl.DataFrame, rule: MergeRule) -> pl.DataFrame:
    """One row per (request_id, unordered pair): chosen/rejected by the combined evidence, `confidence`,
    `sources` (sorted, distinct), `source_pair_ids` (sorted), `evidence_rows`, `contradiction` (the
    highest confidence of a row against the combined direction, 0 when none) and `contradictory`.

    `evidence`: the `EVIDENCE_SCHEMA` columns (rows already past the per-row filters).
    """
    cap = float(np.log(rule.confidence_cap / (1.0 - rule.confidence_cap)))
    rows = oriented_evidence(evidence).sort("pair_id")
    totals = rows.group_by(PAIR_KEY, maintain_order=True).agg(
        combined_log_odds().clip(-cap, cap).alias("total")
    )
    against = (pl.col("log_odds") * pl.col("total") < 0) | (pl.col("total") == 0)
    merged = (
        rows.join(totals, on=PAIR_KEY, how="left", maintain_order="left")
        .group_by(PAIR_KEY, maintain_order=True)
        .agg(
            pl.col("prompt").first(),
            pl.col("label_version").first(),
            pl.col("total").first(),
            pl.col("source").unique().sort().alias("sources"),
            pl.col("pair_id").sort().alias("source_pair_ids"),
            pl.len().cast(pl.Int64).alias("evidence_rows"),
            pl.col("confidence").filter(against).max().fill_null(0.0).alias("contradiction"),
        )
    )
    first_wins = pl.col("total") > 0
    return merged.with_columns(
        chosen_generation_id=pl.when(first_wins).then("first_id").otherwise("second_id"),
        rejected_generation_id=pl.when(first_wins).then("second_id").otherwise("first_id"),
        confidence=(1.0 / (1.0 + (-pl.col("total").abs()).exp())).round(CONFIDENCE_DECIMALS),
        contradictory=(pl.col("contradiction") >= rule.max_contradiction) | (pl.col("total") == 0),
        pair_id=merged_pair_ids(merged),
    ).drop("total")


def merged_pair_ids(grouped: pl.DataFrame) -> pl.Series:
    """A stable id per unordered pair: sha256 of request_id and both ids (direction-free)."""
    keys = grouped.select("request_id", "first_id", "second_id").iter_rows()
    return pl.Series(
        "pair_id",
        [
            hashlib.sha256("\x1f".join(key).encode("utf-8")).hexdigest()[:MERGED_PAIR_ID_HEX]
            for key in keys
        ],
        dtype=pl.String,
    )
