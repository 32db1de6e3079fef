"""Preference pairs across requests, for logs without siblings (a real feed: one video per "request").

Generations alone in their request and never shown in the studio are grouped by creation window
(`cross_window_hours`); within a window they are ordered by a stable hash of their id and each is
compared with its next `cross_partners` in that order (deterministic, bounded, and unrelated to
quality, so every generation meets partners of all levels). A pair is emitted when the posterior
probability that one's quality beats the other's reaches `sibling_min_probability` (source `cross`,
confidence = that probability): cross-prompt pairs, as in SoliReward's recipe for reward models. The
pair belongs to the request of its later-created member, so a time split never sees a test generation
in a training pair.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.special import ndtr

from features.label_config import LabelConfig
from features.pairs import finished_pairs
from features.stable_keys import stable_keys

CROSS_SOURCE: str = "cross"
HOUR_MS: int = 3_600_000


def _candidates(siblings: pl.DataFrame, config: LabelConfig) -> pl.DataFrame:
    """The generations to pair across requests, in (window, hash) order with their rank in the window."""
    alone = siblings.filter(
        (pl.len().over("request_id") == 1) & (pl.col("studio_impressions").fill_null(0) == 0)
    )
    window_ms = int(config.cross_window_hours * HOUR_MS)
    return (
        alone.with_columns(
            window=pl.col("created_at").dt.epoch("ms") // window_ms,
            key=pl.Series(stable_keys(alone["generation_id"].to_list()), dtype=pl.UInt64),
        )
        .sort("window", "key", "generation_id")
        .with_columns(rank=pl.int_range(pl.len()).over("window"), size=pl.len().over("window"))
    )


def cross_pairs(siblings: pl.DataFrame, config: LabelConfig, label_version: str) -> pl.DataFrame:
    """The cross pairs of `siblings` (generation_id, request_id, prompt, created_at, quality_z,
    quality_z_var, studio_impressions; one row per generation) as preference_pairs rows."""
    ordered = _candidates(siblings, config)
    if ordered.height < 2 or config.cross_partners == 0:
        return finished_pairs(_empty(), config, label_version)
    z = ordered["quality_z"].to_numpy()
    var = ordered["quality_z_var"].to_numpy()
    rank, size = ordered["rank"].to_numpy(), ordered["size"].to_numpy()
    start = np.arange(ordered.height) - rank
    first_parts, second_parts = [], []
    for step in range(1, config.cross_partners + 1):
        valid = size > step
        valid &= (size > 2 * step) | (rank + step < size)  # a short window: each pair once
        partner = start + (rank + step) % size
        first_parts.append(np.flatnonzero(valid))
        second_parts.append(partner[valid])
    first, second = np.concatenate(first_parts), np.concatenate(second_parts)
    spread = np.sqrt(np.clip(var[first] + var[second], 1e-24, None))
    ahead = ndtr((z[first] - z[second]) / spread)
    threshold = config.sibling_min_probability
    keep = (ahead >= threshold) | (ahead <= 1.0 - threshold)
    chosen = np.where(ahead >= 0.5, first, second)[keep]
    rejected = np.where(ahead >= 0.5, second, first)[keep]
    later = _later(ordered, chosen, rejected)
    frame = pl.DataFrame(
        {
            "request_id": ordered["request_id"].gather(later),
            "chosen_generation_id": ordered["generation_id"].gather(chosen),
            "rejected_generation_id": ordered["generation_id"].gather(rejected),
            "source": pl.Series([CROSS_SOURCE] * chosen.size, dtype=pl.String),
            "confidence": np.maximum(ahead, 1.0 - ahead)[keep],
            "prompt": ordered["prompt"].gather(later),
        },
        schema_overrides={"confidence": pl.Float64},
    )
    return finished_pairs(frame.unique(maintain_order=True), config, label_version)


def _later(ordered: pl.DataFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair, the member created later (ties: the larger request_id)."""
    created = ordered["created_at"].dt.epoch("ms").to_numpy()
    requests = ordered["request_id"].to_numpy()
    b_later = (created[b] > created[a]) | ((created[b] == created[a]) & (requests[b] > requests[a]))
    return np.where(b_later, b, a)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "request_id": pl.String,
            "chosen_generation_id": pl.String,
            "rejected_generation_id": pl.String,
            "source": pl.String,
            "confidence": pl.Float64,
            "prompt": pl.String,
        }
    )
