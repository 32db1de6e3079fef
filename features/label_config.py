"""Every parameter of the labeling method, in one frozen dataclass, and the `label_version` it implies.

`label_version` is a short stable hash of the config and METHOD_VERSION: labels and pairs written
under one version were produced by exactly one method and one set of parameters.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

METHOD_VERSION: str = "labels-13"
"""Bump when the code of the method changes in a way the parameters do not show."""

MODEL_SIGNALS: tuple[str, ...] = (
    "view",
    "completion",
    "long_view",
    "like",
    "favorite",
    "share",
    "comment",
    "download",
    "dislike",
    "report",
)
"""The engagement signals the label model reads (each a rate per generation; see features.label_signals)."""
STUDIO_SOURCES: tuple[str, ...] = ("select", "regenerate")
"""Studio choices: pair sources (a softmax choice among siblings), and held-out evidence for the diagnostics."""
MAX_POSITION_LIMIT: int = 90
"""Feed positions from max_position on share one slot; the bound keeps the curve (one propensity per slot) small."""
DEFAULT_ORIENTATION: tuple[tuple[str, int], ...] = (
    ("view", 1),
    ("completion", 1),
    ("long_view", 1),
    ("like", 1),
    ("favorite", 1),
    ("share", 1),
    ("comment", 1),
    ("download", 1),
    ("dislike", -1),
    ("report", -1),
)


@dataclass(frozen=True)
class LabelConfig:
    """Thresholds and parameters of debiasing, the label model, the diagnostics and pair building."""

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
    bot_position_bands: int = 6
    """Feed positions are counted per viewer in log2 bands (0, 1-2, 3-6, ...), the last pooling the rest."""
    bot_view_z: float = 5.0
    """Flag viewers with more views than the population's view rates at their feed positions
    predict, when that many views are as unlikely as a normal beyond this many sds (given the
    population's spread of view propensity)..."""
    bot_view_min_expected: float = 3.0
    """...that spread measured on the viewers with at least this many predicted views..."""
    bot_view_min_reference: int = 30
    """...and with fewer such viewers than this the view rule flags nobody."""
    bot_view_rounds: int = 3
    """Rounds of re-estimating the population's view rates without the viewers flagged so far."""

    # --- position (examination) bias ---
    max_position: int = 50
    """Feed positions at or beyond this are pooled into one slot (at most 90)."""
    position_em_iterations: int = 20
    """Rounds of the examination/attractiveness fixed point (0 = pooled view rate by slot)."""
    position_em_tolerance: float = 1e-10
    """...fewer once a round moves no propensity by more than this times the largest (converged)."""
    position_smooth_degree: int = 2
    """The smooth shape thin slots shrink toward: a polynomial of this degree in log(1 + position)."""
    position_shrink_passes: int = 5
    """Rounds of the between-slot variance estimate that sets how far a slot may leave the smooth shape."""
    examination_sample_buckets: int = 8
    """The curve is fitted on the generations whose stable id hash divides by this (1 = all of them):
    the per-slot cells it needs are the costliest aggregate, and a sample pins 51 slots just as well."""

    # --- signals ---
    duration_quantile_buckets: int = 8
    """Equal-frequency buckets of known durations: duration-driven signals are centred per bucket."""
    watch_ratio_cap: float = 2.0
    """A view's watch ratio (watch_ms / duration_ms; loops make it exceed 1) counts up to this."""
    min_known_duration_ms: int = 100
    """A shorter duration is a placeholder (an importer's 1 ms for a missing one): completion and long
    view of that generation are unknown, never zero or perfect."""
    long_view_ms: int = 18_000
    """A view is long when it reaches the end of the video or this much watch time (KuaiRand's rule)."""
    min_signal_generations: int = 30
    """A signal observed on fewer generations is left out of the model (it cannot be told from noise)..."""
    min_signal_events: int = 100
    """...and so is one with fewer events in all."""
    completion_quantile_levels: int = 100
    """Resolution of the stored reference distribution of completion per duration bucket (completion_score)."""

    # --- the label model: one latent quality, fitted from split halves every run ---
    signal_orientation: tuple[tuple[str, int], ...] = DEFAULT_ORIENTATION
    """+1 where more of a signal means better, -1 where it means worse: only orients the fitted factor
    (quality, not its opposite); never a weight."""
    max_quality_share: float = 0.98
    """A signal's long-run variance is at most this share quality (no signal is taken as exact)."""
    residual_floor: float = 0.05
    """A signal's persistent non-quality variance is at least this share of its median sampling
    variance (a near-empty signal cannot become a near-exact one)."""
    persistent_se_margin: float = 1.0
    """A signal's Psi_kk is its precision-weighted cross-half variance less b_k^2 plus this many
    standard errors of that variance (one, as the select tilt's one-standard-error rule): where the
    data leave the persistent variance uncertain, the long-run label takes its upper end rather than
    the estimate and leans on the signal less. It applies to every signal; against C_kk - b_k^2 it
    weighs most where quality explains nearly all of a signal's variance."""
    population_floor_share: float = 1.0
    """A binomial count signal's (long view and the actions) b_k^2 + Psi_kk is at least this share of
    its rate's variance over all generations, fitted by beta-binomial maximum likelihood
    (features.label_beta_binomial; 0: no such floor). The precision weights read a rare signal on the
    well-shown generations, where it hardly varies; its spread is largest among the little-shown
    (bad) ones, and without the floor the long-run label would take it as nearly exact everywhere."""
    loading_min_t: float = 2.0
    """A signal whose long-run variance is not this many standard errors above 0 gets no loading."""
    local_dependence_t: float = 3.0
    """A residual covariance this many standard errors from 0 is kept (local dependence: e.g. a signal
    counted twice) and, when also large, left out of the loading fit..."""
    local_dependence_correlation: float = 0.1
    """...large meaning a residual correlation above this."""
    dependent_pairs: tuple[tuple[str, str], ...] = (("completion", "long_view"),)
    """Pairs of signals read from the same events (completion and long view are both the watch time):
    locally dependent by construction, so left out of the loading fit, their residual covariance kept."""
    residual_eigen_floor: float = 0.1
    """Least eigenvalue of the persistent residual correlation matrix (0.1: two signals' residuals
    correlate at most 0.9), so no difference of near-copies is taken as an exact measurement."""
    copy_correlation: float = 0.98
    """A signal whose long-run rates and sampling noise both correlate beyond this with an earlier
    signal repeats it (the same events counted twice) and is left out of the model."""
    max_freed_pairs: int = 6
    """At most this many signal pairs are left out of the loading fit."""
    factor_iterations: int = 500
    """Rounds of the loading fit (alternating least squares on the cross-half covariances)."""
    factor_tolerance: float = 1e-12
    dispersion_bounds: tuple[float, float] = (0.5, 20.0)
    """Bounds on each signal's sampling-variance multiplier, estimated from viewer-half differences."""
    prior_min_generations: int = 30
    """A model_version or exposure group with fewer generations has no prior effect of its own."""
    prior_exposure_groups: int = 8
    """Equal-frequency groups of feed impressions, each with its own prior mean of quality."""
    prior_var_bounds: tuple[float, float] = (0.05, 4.0)
    """Bounds on the within-model-version variance of quality."""
    residual_dof: float = 10.0
    """Degrees of freedom of the Student-t persistent residuals (inf: Gaussian): a rate far from what the
    generation's quality predicts weighs less, so one heavy-tailed signal cannot drag a label."""
    robust_rounds: int = 3
    """Refining rounds per posterior: each re-weighs those residuals and re-evaluates the sampling
    variances and Psi's factors at the rates the current quality predicts (features.label_posterior;
    0: none of them)."""
    fit_passes: int = 3
    """Rounds of (sampling variances, cross-half covariance, loadings, noise, intercepts)."""
    temporal_split_hours: float = 24.0
    """The temporal diagnostic compares a generation's engagement in its first this many hours with the rest."""
    diagnostics_max_generations: int = 10_000
    """Split-half and temporal diagnostics score, and the interval is measured on, at most this many
    generations, a fixed quality-blind subset (by a stable hash of the id): a Spearman over 10,000 has a
    standard error under 0.01."""
    fit_max_generations: int = 30_000
    """The model's signal parameters (loadings, persistent and noise covariance, intercepts) are estimated
    on at most this many generations, a fixed quality-blind subset holding the diagnostics' one; the
    prior, the interval and the labels use every generation. A handful of parameters per signal: the
    cost of the fit stays bounded as a deployment grows, its precision does not need more."""
    select_ridges: tuple[float, ...] = (3000.0, 1000.0, 300.0, 100.0, 30.0, 10.0, 3.0, 1.0)
    """Penalties on the tilt of the quality direction toward the studio's selects
    (features.label_select_direction), per standardized unit: cross-validation picks the strongest
    within a standard error of the best, or no tilt at all."""
    select_folds: int = 5
    """Cross-validation folds of the selects (by request)."""
    select_min_votes: int = 200
    """Fewer studio selects than this leave the fitted direction as it is."""
    select_max_votes: int = 5_000
    """The selects of a fixed, quality-blind sample of requests (stable keys of request_id), at most
    this many votes: a handful of parameters (the worlds fit theirs on 1,500-3,500), a bounded cost
    at any scale."""
    prior_tolerance: float = 0.02
    """Keep the stored model unless a refit moves a parameter by more than this (relative to its scale)."""

    # --- score ---
    interval_probability: float = 0.90
    """Central probability of [quality_low, quality_high] for the generation's long-run label."""
    interval_min_generations: int = 2_000
    """An exposure group widens its interval by its own measured factor (features.label_interval)
    when this many of its generations show every signal in both viewer halves; else the pooled one
    (a group's factor is a mean of heavy-tailed products: fewer make it noisy, and noise widens).
    Measured on the diagnostics' sample (10,000 by default, 8 exposure groups), no group reaches
    it: one pooled factor per run. Across the three simulated families, 500 (per-group factors)
    leaves 3 of 252 coverage cells (overall and by exposure bucket) outside 85-95%, the pooled
    factor 4: no reason yet to trade the pooled factor's steadiness for it."""
    interval_tolerance: float = 0.1
    """Keep the stored model unless a refit moves an interval's width by more than this share."""
    good_min_low: float = 0.6
    """label = good when quality_low reaches this..."""
    bad_max_high: float = 0.4
    """...bad when quality_high is at most this, uncertain otherwise."""

    # --- pairs ---
    sibling_min_probability: float = 0.9
    """A sibling or cross pair is emitted when the posterior probability that one beats the other reaches this."""
    studio_min_confidence: float = 0.5
    """select/regenerate pairs whose combined confidence falls below this are not emitted."""
    studio_noise_bounds: tuple[float, float] = (0.01, 100.0)
    """Bounds on the fitted noise sd (quality-z units) of studio votes (select / regenerate)."""
    confidence_cap: float = 0.999
    """Pair confidences are capped below 1 (no pair is certain)."""
    cross_window_hours: float = 24.0
    """Generations without siblings are paired with others created in the same window of this length..."""
    cross_partners: int = 8
    """...each with this many partners at most, chosen by a stable hash of the pair."""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, float) and math.isnan(value):
                raise ValueError(f"{name} must be a number, got nan")
        if self.fit_passes < 1:
            raise ValueError(f"fit_passes must be at least 1, got {self.fit_passes}")
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
        if self.interval_tolerance < 0:
            raise ValueError(f"interval_tolerance must be >= 0, got {self.interval_tolerance}")
        if self.interval_min_generations < 1:
            raise ValueError(
                f"interval_min_generations must be at least 1, got {self.interval_min_generations}"
            )
        if not 0.0 < self.max_quality_share < 1.0:
            raise ValueError(f"max_quality_share must be in (0, 1), got {self.max_quality_share}")
        if not 0.0 <= self.persistent_se_margin < math.inf:
            raise ValueError(
                f"persistent_se_margin must be finite and >= 0, got {self.persistent_se_margin}"
            )
        if not 0.0 <= self.population_floor_share < math.inf:
            raise ValueError(
                f"population_floor_share must be finite and >= 0, got {self.population_floor_share}"
            )
        for name, hours in (
            ("temporal_split_hours", self.temporal_split_hours),
            ("cross_window_hours", self.cross_window_hours),
        ):
            if hours <= 0:
                raise ValueError(f"{name} must be positive, got {hours}")
        if self.diagnostics_max_generations < 1:
            raise ValueError(
                f"diagnostics_max_generations must be at least 1, got {self.diagnostics_max_generations}"
            )
        if self.fit_max_generations < self.diagnostics_max_generations:
            raise ValueError(
                "fit_max_generations must be at least diagnostics_max_generations, got "
                f"{self.fit_max_generations} < {self.diagnostics_max_generations}"
            )
        if self.select_folds < 2 or not self.select_ridges:
            raise ValueError(
                "select_folds must be at least 2 and select_ridges not empty, got "
                f"{self.select_folds} and {self.select_ridges}"
            )
        if not all(0.0 < ridge < math.inf for ridge in self.select_ridges):
            raise ValueError(f"select_ridges must be finite and positive, got {self.select_ridges}")
        if not 1 <= self.select_min_votes <= self.select_max_votes:
            raise ValueError(
                "need 1 <= select_min_votes <= select_max_votes, got "
                f"{self.select_min_votes} and {self.select_max_votes}"
            )
        if self.cross_partners < 0:
            raise ValueError(f"cross_partners must be at least 0, got {self.cross_partners}")
        if not 1 <= self.bot_position_bands <= 16 or self.bot_view_rounds < 1:
            raise ValueError(
                "bot_position_bands must be in [1, 16] and bot_view_rounds at least 1, got "
                f"{self.bot_position_bands} and {self.bot_view_rounds}"
            )
        self.orientation()

    def orientation(self) -> dict[str, float]:
        """signal -> +1 or -1 for every model signal (+1 where the config names none)."""
        given = dict(self.signal_orientation)
        unknown = sorted(set(given) - set(MODEL_SIGNALS))
        if unknown:
            raise ValueError(f"signal_orientation names unknown signals: {', '.join(unknown)}")
        bad = sorted(name for name, sign in given.items() if sign not in (1, -1))
        if bad:
            raise ValueError(f"signal_orientation must be +1 or -1, not for: {', '.join(bad)}")
        return {name: float(given.get(name, 1)) for name in MODEL_SIGNALS}

    def canonical_json(self) -> str:
        """Sorted-key compact JSON of the parameters plus METHOD_VERSION."""
        payload = {"method_version": METHOD_VERSION, **asdict(self)}
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))

    @property
    def label_version(self) -> str:
        """Short stable hash of the parameters and METHOD_VERSION."""
        return "lv-" + hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()[:12]
