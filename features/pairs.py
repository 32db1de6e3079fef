"""Preference pairs between siblings (candidates of one request), from three sources.

- sibling: the posterior probability that one sibling's quality z beats the other's,
  Phi((z_a - z_b) / sqrt(var_a + var_b)), reaches `sibling_min_probability`; confidence = that probability.
- select: in the studio the creator kept a candidate over a sibling shown with it.
- regenerate: the creator regenerated a candidate and not a sibling shown with it (the sibling wins).
(Generations without siblings are paired across requests by features.cross_pairs.)
A studio pair's confidence combines the vote with the feed posterior of the same pair through a
probit choice model: the studio picks the truly better side unless noise of sd s (in quality-z
units, fitted per source by maximum likelihood on all its votes) flips a small gap. Close pairs thus
gain little from a vote and clear ones a lot, matching how a softmax choice behaves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
import pyarrow as pa
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


PAIR_KEY_SEPARATOR: str = "\x1f"


PAIR_ID_BYTES: int = 16
"""A pair id is the hex of this many leading bytes of the sha256 of its key."""


def pair_id(request_id: str, chosen: str, rejected: str, source: str) -> str:
    """Deterministic id of a pair: sha256 of its request, chosen, rejected and source."""
    key = PAIR_KEY_SEPARATOR.join((request_id, chosen, rejected, source))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[: 2 * PAIR_ID_BYTES]


SIBLING_COLUMNS: tuple[str, ...] = (
    "generation_id",
    "request_id",
    "quality_z",
    "quality_z_var",
    "studio_impressions",
    "selects",
    "regenerates",
)


@dataclass(frozen=True)
class SiblingPairs:
    """Every unordered pair of siblings (first < second by generation_id), as row indices of `siblings`.

    `siblings` is sorted by generation_id; the arrays are its columns needed to compare siblings.
    """

    siblings: pl.DataFrame
    first: np.ndarray
    second: np.ndarray
    request_head: np.ndarray
    """Per sibling: the row of its request's first sibling (by generation_id)."""
    z: np.ndarray
    z_var: np.ndarray
    studio_impressions: np.ndarray
    selects: np.ndarray
    regenerates: np.ndarray

    @cached_property
    def votes(self) -> StudioVotes:
        """The `studio_votes` among these pairs (computed once: the reliability fit and the pairs both need them)."""
        return studio_votes(self)


def sibling_pairs(siblings: pl.DataFrame) -> SiblingPairs:
    """The sibling pairs of `siblings` (generation_id, request_id, quality_z, quality_z_var and studio counts)."""
    if not siblings["generation_id"].is_sorted():
        siblings = siblings.sort("generation_id")
    members = (
        siblings.select("request_id")
        .with_row_index("row")
        .group_by("request_id")
        .agg("row")
        .select(size=pl.col("row").list.len(), row=pl.col("row"))
    )
    request_head = np.zeros(siblings.height, dtype=np.int64)
    first_parts, second_parts = [], []
    for size in np.unique(members["size"].to_numpy()):
        rows = members.filter(pl.col("size") == size)["row"].explode().to_numpy()
        by_request = np.sort(rows.astype(np.int64).reshape(-1, int(size)), axis=1)
        request_head[by_request] = by_request[:, :1]
        first, second = np.triu_indices(int(size), k=1)
        first_parts.append(by_request[:, first].ravel())
        second_parts.append(by_request[:, second].ravel())

    def numbers(column: str) -> np.ndarray:
        return siblings[column].cast(pl.Float64).fill_null(0.0).to_numpy()

    return SiblingPairs(
        siblings=siblings,
        first=np.concatenate(first_parts) if first_parts else np.empty(0, np.int64),
        second=np.concatenate(second_parts) if second_parts else np.empty(0, np.int64),
        request_head=request_head,
        z=numbers("quality_z"),
        z_var=numbers("quality_z_var"),
        studio_impressions=numbers("studio_impressions"),
        selects=numbers("selects"),
        regenerates=numbers("regenerates"),
    )


def _feed_probability(pairs: SiblingPairs, winner: np.ndarray, loser: np.ndarray) -> np.ndarray:
    """Posterior probability that the winner's quality z beats the loser's."""
    spread = np.clip(np.sqrt(pairs.z_var[winner] + pairs.z_var[loser]), 1e-12, None)
    return ndtr((pairs.z[winner] - pairs.z[loser]) / spread)


@dataclass(frozen=True)
class StudioVotes:
    """Ordered studio pairs: winner beat loser (row indices of the siblings) by `source`."""

    source: np.ndarray
    """Index into STUDIO_SOURCES."""
    winner: np.ndarray
    loser: np.ndarray
    feed_probability: np.ndarray
    """Posterior probability from the feed that the winner is better."""
    gap: np.ndarray
    """Feed posterior mean of the quality-z gap winner - loser."""
    gap_sd: np.ndarray


def studio_votes(pairs: SiblingPairs) -> StudioVotes:
    """The studio votes among sibling pairs.

    select: the winner was selected, the loser shown in the studio and not selected. regenerate:
    the loser was regenerated, the winner shown and not regenerated.
    """
    a, b = pairs.first, pairs.second
    shown, selects, regenerates = pairs.studio_impressions, pairs.selects, pairs.regenerates
    parts = []
    for index, source in enumerate(STUDIO_SOURCES):
        for winner, loser in ((a, b), (b, a)):
            if source == "select":
                vote = (selects[winner] > 0) & (selects[loser] == 0) & (shown[loser] > 0)
            else:
                vote = (regenerates[loser] > 0) & (regenerates[winner] == 0) & (shown[winner] > 0)
            parts.append((np.full(int(vote.sum()), index), winner[vote], loser[vote]))
    source = np.concatenate([p[0] for p in parts])
    winner = np.concatenate([p[1] for p in parts])
    loser = np.concatenate([p[2] for p in parts])
    return StudioVotes(
        source=source,
        winner=winner,
        loser=loser,
        feed_probability=_feed_probability(pairs, winner, loser),
        gap=pairs.z[winner] - pairs.z[loser],
        gap_sd=np.sqrt(pairs.z_var[winner] + pairs.z_var[loser]),
    )


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


def source_reliability(votes: StudioVotes, config: LabelConfig) -> pl.DataFrame:
    """Per studio source: votes the feed leans with / against, and the fitted noise sd of its votes."""
    rows = []
    for index, source in enumerate(STUDIO_SOURCES):
        of_source = votes.source == index
        p = votes.feed_probability[of_source]
        rows.append(
            {
                "source": source,
                "votes": int(of_source.sum()),
                "agreements": int(np.sum(p > 0.5)),
                "disagreements": int(np.sum(p < 0.5)),
                "noise_sd": fit_studio_noise(
                    votes.gap[of_source], votes.gap_sd[of_source], config.studio_noise_bounds
                ),
            }
        )
    return pl.DataFrame(rows, schema=RELIABILITY_SCHEMA)


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


def fit_source_reliability(
    siblings: pl.DataFrame, config: LabelConfig, pairs: SiblingPairs | None = None
) -> pl.DataFrame:
    """Calibrated reliability of each studio source from the studio votes the feed orders confidently.

    `pairs` (the `sibling_pairs` of `siblings`) saves recomputing them.
    """
    if pairs is None:
        pairs = sibling_pairs(siblings.select(SIBLING_COLUMNS))
    return source_reliability(pairs.votes, config)


def preference_pairs(
    siblings: pl.DataFrame,
    reliability: pl.DataFrame,
    config: LabelConfig,
    label_version: str,
    pairs: SiblingPairs | None = None,
) -> pl.DataFrame:
    """The preference pairs of the requests in `siblings`.

    `siblings`: generation_id, request_id, prompt, quality_z, quality_z_var, studio_impressions,
    selects, regenerates, one row per known generation. Ties (sibling probability below the
    threshold either way, both or neither selected) give no pair. `pairs` (the `sibling_pairs` of
    `siblings`) saves recomputing them.
    """
    if pairs is None:
        pairs = sibling_pairs(siblings)
    a, b = pairs.first, pairs.second
    threshold = config.sibling_min_probability
    by_feed = _feed_probability(pairs, a, b)
    ahead, behind = by_feed >= threshold, by_feed <= 1.0 - threshold

    votes = pairs.votes
    noise = dict(reliability.select("source", "noise_sd").iter_rows())
    confidence = np.zeros(votes.source.size)
    for index, source in enumerate(STUDIO_SOURCES):
        of_source = votes.source == index
        confidence[of_source] = studio_vote_confidence(
            votes.gap[of_source],
            votes.gap_sd[of_source],
            noise.get(source, config.studio_noise_bounds[1]),
        )
    kept = confidence >= config.studio_min_confidence

    chosen = np.concatenate([a[ahead], b[behind], votes.winner[kept]])
    rejected = np.concatenate([b[ahead], a[behind], votes.loser[kept]])
    sources = np.concatenate(
        [np.zeros(int(ahead.sum() + behind.sum()), np.int64), 1 + votes.source[kept]]
    )
    table = pairs.siblings
    ids = table["generation_id"]
    frame = pl.DataFrame(
        {
            "request_id": table["request_id"].gather(chosen),
            "chosen_generation_id": ids.gather(chosen),
            "rejected_generation_id": ids.gather(rejected),
            "source": pl.Series(("sibling", *STUDIO_SOURCES)).gather(sources),
            "confidence": np.concatenate([by_feed[ahead], 1.0 - by_feed[behind], confidence[kept]]),
            # the prompt of a request is that of its first sibling by generation_id
            "prompt": table["prompt"].gather(pairs.request_head[chosen]),
        },
        schema_overrides={"confidence": pl.Float64},
    )
    return finished_pairs(frame, config, label_version)


def finished_pairs(frame: pl.DataFrame, config: LabelConfig, label_version: str) -> pl.DataFrame:
    """Pair rows (request_id, chosen/rejected_generation_id, source, confidence, prompt) with their
    capped, rounded confidence, label_version and pair_id, in pair_id order (PAIR_COLUMNS)."""
    frame = frame.with_columns(
        pl.col("confidence").clip(upper_bound=config.confidence_cap).round(CONFIDENCE_DECIMALS),
        label_version=pl.lit(label_version, dtype=pl.String),
    )
    digests = _pair_digests(frame)
    return (
        frame.with_columns(pair_id=_hex(digests))
        .select(PAIR_COLUMNS)
        .select(pl.all().gather(_lexicographic_order(digests)))
    )


def _pair_digests(pairs: pl.DataFrame) -> np.ndarray:
    """The leading PAIR_ID_BYTES bytes of the sha256 of each row's pair key (see `pair_id`), one row each."""
    separator = PAIR_KEY_SEPARATOR
    keys = (
        pairs.select(
            pl.format(
                separator.join(["{}"] * 4),
                "request_id",
                "chosen_generation_id",
                "rejected_generation_id",
                "source",
            ).cast(pl.Binary)
        )
        .to_series()
        .to_list()
    )
    sha256 = hashlib.sha256
    digests = b"".join([sha256(key).digest() for key in keys])
    width = sha256().digest_size
    return np.frombuffer(digests, dtype=np.uint8).reshape(-1, width)[:, :PAIR_ID_BYTES]


def _hex(digests: np.ndarray) -> pl.Series:
    """Lowercase hex of each digest row (as `hashlib`'s hexdigest writes it)."""
    rows, width = digests.shape
    buffer = pa.py_buffer(np.ascontiguousarray(digests).tobytes())
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), rows, [None, buffer])
    return pl.Series("pair_id", fixed).cast(pl.Binary).bin.encode("hex")


def _lexicographic_order(digests: np.ndarray) -> np.ndarray:
    """Row order that sorts the digests (hence their hex ids): by the leading 8 bytes, ties by all."""
    leading = np.ascontiguousarray(digests[:, :8]).view(">u8").ravel()
    order = np.argsort(leading)
    if np.any(leading[order][1:] == leading[order][:-1]):
        order = np.lexsort(digests.T[::-1])
    return order
