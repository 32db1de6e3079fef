"""Every parameter of the labeling method, in one frozen dataclass, and the `label_version` it implies.

`label_version` is a short stable hash of the config and METHOD_VERSION: labels and pairs written
under one version were produced by exactly one method and one set of parameters.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

METHOD_VERSION: str = "labels-2"
"""Bump when the code of the method changes in a way the parameters do not show."""

FEED_SIGNALS: tuple[str, ...] = (
    "view",
    "completion",
    "like",
    "favorite",
    "share",
    "comment",
    "download",
    "dislike",
    "report",
)
STUDIO_SIGNALS: tuple[str, ...] = ("select", "regenerate")
SIGNALS: tuple[str, ...] = FEED_SIGNALS + STUDIO_SIGNALS
MAX_POSITION_LIMIT: int = 90
"""Feed positions from max_position on share one slot; the bound keeps the curve (one propensity per slot) small."""


@dataclass(frozen=True)
class LabelConfig:
    """Thresholds and parameters of debiasing, smoothing, scoring and pair building."""

    # --- abnormal viewers (excluded from every feed signal) ---
    bot_min_events: int = 200
    """A viewer with fewer events is never flagged as a volume outlier."""
    bot_volume_robust_z: float = 5.0
    """Flag viewers whose log event count is this many robust (MAD) standard deviations above the median."""
    bot_mad_floor: float = 0.25
    """Lower bound on the MAD of log event counts (a population of near-identical viewers flags nobody)."""
    bot_like_share: float = 0.2
    """Flag viewers whose likes reach this share of their impressions (or views, if more)..."""
    bot_like_z: float = 4.0
    """...which is this many binomial sds above the population's pooled like share..."""
    bot_like_min_impressions: int = 30
    """...once they have at least this many (a creator's engagement with their own videos never counts)."""

    # --- position (examination) bias ---
    max_position: int = 50
    """Feed positions at or beyond this are pooled into one slot (at most 90)."""
    position_min_impressions: int = 200
    """Slots with fewer impressions take the propensity of the slot above (too noisy to estimate)."""
    position_em_iterations: int = 20
    """Rounds of the examination/attractiveness fixed point (0 = pooled view rate by slot)."""
    position_em_tolerance: float = 1e-10
    """...fewer once a round moves no propensity by more than this times the largest (converged)."""
    examination_sample_buckets: int = 8
    """The curve is fitted on the generations whose stable id hash divides by this (1 = all of them):
    the per-slot cells it needs are the costliest aggregate, and a sample pins 51 slots just as well."""

    # --- duration bias of completion (D2Q: completion relative to videos of similar duration) ---
    duration_quantile_buckets: int = 8
    """Equal-frequency duration buckets, fitted from generation durations; completion priors are per bucket."""
    watch_ratio_cap: float = 2.0
    """A view's watch ratio (watch_ms / duration_ms; loops make it exceed 1) counts up to this."""
    completion_quantile_levels: int = 100
    """Resolution of the stored D2Q reference distribution of completion per duration bucket."""

    # --- empirical-Bayes smoothing ---
    prior_min_generations: int = 30
    """A segment (model_version) with fewer observed generations uses the global prior."""
    prior_min_strength: float = 2.0
    prior_max_strength: float = 100_000.0
    """Bounds on alpha + beta of a fitted Beta prior."""
    prior_fit_max_rows: int = 50_000
    """Priors are fitted on at most this many generations per segment (a fixed-seed sample)."""
    prior_newton_steps: int = 40
    """At most this many Newton steps fit the priors (all at once); a prior still moving after them is refitted by L-BFGS-B."""
    prior_warm_start_rows: int = 512
    """The Newton fit of the priors starts from a fit on about this many rows of each (every k-th; 0: none)."""
    prior_step_tolerance: float = 1e-5
    """A prior's fit stops once a Newton step (in logit mean and log strength) is below this: convergence is
    quadratic, so what remains is of the order of its square."""
    prior_tolerance: float = 0.02
    """Keep the stored priors unless a refit moves a prior mean or sd by more than this (relative)."""

    # --- score ---
    signal_weights: tuple[tuple[str, float], ...] = (
        ("view", 1.0),
        ("completion", 1.0),
        ("like", 1.0),
        ("favorite", 0.5),
        ("share", 0.5),
        ("comment", 0.3),
        ("download", 0.5),
        ("dislike", -0.7),
        ("report", -0.7),
        ("select", 0.0),
        ("regenerate", 0.0),
    )
    """Weights of the standardised posterior means in the quality z (negative: a signal of badness)."""
    interval_probability: float = 0.90
    """Central posterior probability of [quality_low, quality_high] (0.90: the 5% and 95% quantiles)."""
    good_min_low: float = 0.6
    """label = good when quality_low reaches this..."""
    bad_max_high: float = 0.4
    """...bad when quality_high is at most this, uncertain otherwise."""

    # --- pairs ---
    sibling_min_probability: float = 0.9
    """A sibling pair is emitted when the posterior probability that one beats the other reaches this."""
    studio_min_confidence: float = 0.5
    """select/regenerate pairs whose combined confidence falls below this are not emitted."""
    studio_noise_bounds: tuple[float, float] = (0.01, 100.0)
    """Bounds on the fitted noise sd (quality-z units) of studio votes (select / regenerate)."""
    confidence_cap: float = 0.999
    """Pair confidences are capped below 1 (no pair is certain)."""

    def __post_init__(self) -> None:
        if not 0 <= self.max_position <= MAX_POSITION_LIMIT:
            raise ValueError(
                f"max_position must be in [0, {MAX_POSITION_LIMIT}], got {self.max_position}"
            )
        if self.examination_sample_buckets < 1:
            raise ValueError(
                f"examination_sample_buckets must be at least 1, got {self.examination_sample_buckets}"
            )
        if self.watch_ratio_cap <= 0:
            raise ValueError(f"watch_ratio_cap must be positive, got {self.watch_ratio_cap}")
        if not 0.0 < self.interval_probability < 1.0:
            raise ValueError(
                f"interval_probability must be in (0, 1), got {self.interval_probability}"
            )
        self.weights()

    def weights(self) -> dict[str, float]:
        """signal -> weight, every known signal present (missing ones weigh 0)."""
        given = dict(self.signal_weights)
        unknown = sorted(set(given) - set(SIGNALS))
        if unknown:
            raise ValueError(f"signal_weights names unknown signals: {', '.join(unknown)}")
        return {name: float(given.get(name, 0.0)) for name in SIGNALS}

    def canonical_json(self) -> str:
        """Sorted-key compact JSON of the parameters plus METHOD_VERSION."""
        payload = {"method_version": METHOD_VERSION, **asdict(self)}
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))

    @property
    def label_version(self) -> str:
        """Short stable hash of the parameters and METHOD_VERSION."""
        return "lv-" + hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()[:12]
