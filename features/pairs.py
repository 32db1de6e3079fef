"""Preference pairs between siblings (candidates of one request), from three sources.

- sibling: the posterior probability that one sibling's quality z beats the other's,
  Phi((z_a - z_b) / sqrt(var_a + var_b)), reaches `sibling_min_probability`; confidence = that probability.
- select: in the studio the creator kept a candidate over a sibling shown with it.
- regenerate: the creator regenerated a candidate and not a sibling shown with it (the sibling wins).
A studio pair's confidence combines the vote with the feed posterior of the same pair through a
probit choice model: the studio picks the truly better side unless noise of sd s (in quality-z
units, fitted per source by maximum likelihood on all its votes) flips a small gap. Close pairs thus
gain little from a vote and clear ones a lot, matching how a softmax choice behaves.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
from scipy.optimize import minimize_scalar
from scipy.special import log_ndtr, ndtr, owens_t

from features.label_config import LabelConfig

PAIR_COLUMNS: tuple[str, ...] = (
    "pair_id",
    "request_id",
    "prompt",
    "chosen_generation_id",
    "rejected_generation_id",
    "source",
    "confidence",
    "label_version",
)
STUDIO_SOURCES: tuple[str, ...] = ("select", "regenerate")
CONFIDENCE_DECIMALS: int = 9

RELIABILITY_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String,
    "votes": pl.Int64,
    "agreements": pl.Int64,
    "disagreements": pl.Int64,
    "noise_sd": pl.Float64,
}


def pair_id(request_id: str, chosen: str, rejected: str, source: str) -> str:
    """Deterministic id of a pair: sha256 of its request, chosen, rejected and source."""
    key = "\x1f".join((request_id, chosen, rejected, source))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _feed_probability(pairs: pl.DataFrame) -> pl.DataFrame:
    """Adds feed_probability: posterior probability that the first side's quality z beats the second's."""
    spread = (pl.col("quality_z_var_a") + pl.col("quality_z_var_b")).sqrt().clip(lower_bound=1e-12)
    standardised = pairs.select(
        ((pl.col("quality_z_a") - pl.col("quality_z_b")) / spread).alias("d")
    )["d"].to_numpy()
    return pairs.with_columns(feed_probability=pl.Series(ndtr(standardised), dtype=pl.Float64))


def sibling_candidates(siblings: pl.DataFrame) -> pl.DataFrame:
    """Every unordered pair of siblings (a < b) with both sides' z, variance and studio counts."""
    left = siblings.rename({c: f"{c}_a" for c in siblings.columns if c != "request_id"})
    right = siblings.rename({c: f"{c}_b" for c in siblings.columns if c != "request_id"})
    return left.join(right, on="request_id").filter(
        pl.col("generation_id_a") < pl.col("generation_id_b")
    )


def studio_votes(candidates: pl.DataFrame) -> pl.DataFrame:
    """Ordered studio pairs (winner side 'a'): source, feed_probability that the winner is better.

    select: a was selected, b shown in the studio and not selected. regenerate: b was regenerated,
    a shown and not regenerated.
    """
    both_orders = pl.concat(
        [candidates, candidates.rename({c: _swap(c) for c in candidates.columns})], how="diagonal"
    )
    selected = both_orders.filter(
        (pl.col("selects_a") > 0)
        & (pl.col("selects_b") == 0)
        & (pl.col("studio_impressions_b") > 0)
    ).with_columns(source=pl.lit("select"))
    regenerated = both_orders.filter(
        (pl.col("regenerates_b") > 0)
        & (pl.col("regenerates_a") == 0)
        & (pl.col("studio_impressions_a") > 0)
    ).with_columns(source=pl.lit("regenerate"))
    return _feed_probability(pl.concat([selected, regenerated]))


def _swap(column: str) -> str:
    """Name of the column of the other side (x_a <-> x_b)."""
    if column.endswith("_a"):
        return column[:-2] + "_b"
    if column.endswith("_b"):
        return column[:-2] + "_a"
    return column


def studio_vote_confidence(mean_gap: np.ndarray, gap_sd: np.ndarray, noise_sd: float) -> np.ndarray:
    """P(the studio's winner is truly better | the vote, the feed posterior) under a probit choice model.

    The quality gap winner - loser is Delta ~ N(mean_gap, gap_sd^2) from the feed; the studio picks
    the winner when Delta + noise_sd * eps > 0. With h = mean_gap / gap_sd and
    rho = gap_sd / sqrt(gap_sd^2 + noise_sd^2) the answer is Phi2(h, rho h; rho) / Phi(rho h), and
    Phi2(h, rho h; rho) = (Phi(h) + Phi(rho h)) / 2 - T(rho h, sqrt(1 - rho^2) / rho) (Owen's T).
    """
    sd = np.clip(gap_sd, 1e-9, None)
    h = mean_gap / sd
    rho = np.clip(sd / np.sqrt(sd**2 + noise_sd**2), 1e-9, 1.0 - 1e-12)
    joint = 0.5 * (ndtr(h) + ndtr(rho * h)) - owens_t(rho * h, np.sqrt(1.0 - rho**2) / rho)
    return np.clip(joint / np.clip(ndtr(rho * h), 1e-300, None), 0.0, 1.0)


def fit_studio_noise(
    mean_gap: np.ndarray, gap_sd: np.ndarray, bounds: tuple[float, float]
) -> float:
    """Noise sd of studio votes (in quality-z units) by maximum likelihood: P(vote) = Phi(mean_gap / sqrt(gap_sd^2 + noise^2))."""
    if mean_gap.size == 0:
        return float(bounds[1])

    def negative_log_likelihood(log_noise: float) -> float:
        scale = np.sqrt(gap_sd**2 + np.exp(2.0 * log_noise))
        return -float(np.sum(log_ndtr(mean_gap / scale)))

    low, high = np.log(bounds[0]), np.log(bounds[1])
    return float(
        np.exp(minimize_scalar(negative_log_likelihood, bounds=(low, high), method="bounded").x)
    )


def source_reliability(votes: pl.DataFrame, config: LabelConfig) -> pl.DataFrame:
    """Per studio source: votes the feed leans with / against, and the fitted noise sd of its votes."""
    rows = []
    for source in STUDIO_SOURCES:
        of_source = votes.filter(pl.col("source") == source)
        gap, sd = _gap_moments(of_source)
        p = of_source["feed_probability"].to_numpy()
        rows.append(
            {
                "source": source,
                "votes": of_source.height,
                "agreements": int(np.sum(p > 0.5)),
                "disagreements": int(np.sum(p < 0.5)),
                "noise_sd": fit_studio_noise(gap, sd, config.studio_noise_bounds),
            }
        )
    return pl.DataFrame(rows, schema=RELIABILITY_SCHEMA)


def _gap_moments(votes: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Feed posterior mean and sd of the quality-z gap winner ('a') - loser ('b') of each vote."""
    gap = (votes["quality_z_a"] - votes["quality_z_b"]).to_numpy()
    sd = (votes["quality_z_var_a"] + votes["quality_z_var_b"]).sqrt().to_numpy()
    return gap, sd


def reliability_moved(old: pl.DataFrame | None, new: pl.DataFrame, tolerance: float) -> bool:
    """True when a source's fitted noise sd moved by more than `tolerance` (relative) or the sources differ."""
    if old is None or old.is_empty():
        return True
    both = old.select("source", "noise_sd").join(
        new.select("source", "noise_sd"), on="source", suffix="_new"
    )
    if both.height != new.height or both.height != old.height:
        return True
    change = (pl.col("noise_sd_new") - pl.col("noise_sd")).abs() / pl.col("noise_sd").clip(
        lower_bound=1e-12
    )
    return bool(both.select(change.max()).item() > tolerance)


SIBLING_COLUMNS: tuple[str, ...] = (
    "generation_id",
    "request_id",
    "quality_z",
    "quality_z_var",
    "studio_impressions",
    "selects",
    "regenerates",
)


def fit_source_reliability(siblings: pl.DataFrame, config: LabelConfig) -> pl.DataFrame:
    """Calibrated reliability of each studio source from the studio votes the feed orders confidently."""
    return source_reliability(
        studio_votes(sibling_candidates(siblings.select(SIBLING_COLUMNS))), config
    )


def preference_pairs(
    siblings: pl.DataFrame,
    reliability: pl.DataFrame,
    config: LabelConfig,
    label_version: str,
) -> pl.DataFrame:
    """The preference pairs of the requests in `siblings`.

    `siblings`: generation_id, request_id, prompt, quality_z, quality_z_var, studio_impressions,
    selects, regenerates, one row per known generation. Ties (sibling probability below the
    threshold either way, both or neither selected) give no pair.
    """
    candidates = sibling_candidates(siblings.select(SIBLING_COLUMNS))
    prompts = siblings.group_by("request_id").agg(pl.col("prompt").sort_by("generation_id").first())

    threshold = config.sibling_min_probability
    by_feed = _feed_probability(candidates)
    sibling = pl.concat(
        [
            by_feed.filter(pl.col("feed_probability") >= threshold).select(
                "request_id",
                chosen_generation_id="generation_id_a",
                rejected_generation_id="generation_id_b",
                confidence="feed_probability",
            ),
            by_feed.filter(pl.col("feed_probability") <= 1.0 - threshold).select(
                "request_id",
                chosen_generation_id="generation_id_b",
                rejected_generation_id="generation_id_a",
                confidence=1.0 - pl.col("feed_probability"),
            ),
        ]
    ).with_columns(source=pl.lit("sibling"))

    votes = studio_votes(candidates)
    noise = dict(reliability.select("source", "noise_sd").iter_rows())
    confidence = np.zeros(votes.height)
    for source in STUDIO_SOURCES:
        mask = (votes["source"] == source).to_numpy()
        gap, sd = _gap_moments(votes.filter(pl.Series(mask)))
        confidence[mask] = studio_vote_confidence(
            gap, sd, noise.get(source, config.studio_noise_bounds[1])
        )
    studio = (
        votes.with_columns(confidence=pl.Series(confidence, dtype=pl.Float64))
        .filter(pl.col("confidence") >= config.studio_min_confidence)
        .select(
            "request_id",
            chosen_generation_id="generation_id_a",
            rejected_generation_id="generation_id_b",
            confidence="confidence",
            source="source",
        )
    )
    pairs = pl.concat([sibling, studio]).with_columns(
        pl.col("confidence").clip(upper_bound=config.confidence_cap).round(CONFIDENCE_DECIMALS),
        label_version=pl.lit(label_version),
    )
    ids = [
        pair_id(*row)
        for row in pairs.select(
            "request_id", "chosen_generation_id", "rejected_generation_id", "source"
        ).iter_rows()
    ]
    return (
        pairs.with_columns(pair_id=pl.Series(ids, dtype=pl.String))
        .join(prompts, on="request_id", how="left")
        .select(PAIR_COLUMNS)
        .sort("pair_id")
    )
