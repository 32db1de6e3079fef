"""The label model's signals: per generation and signal, successes over trials, and what can be known.

Every signal is a rate on its natural scale (no transform: a transform's small-sample bias would
depend on exposure, and exposure tracks quality):

- view: views per effective impression (impressions weighted by their slot's examination propensity);
- completion: the mean capped watch ratio of the views, over the cap (0..1);
- long_view: views that reach the end of the video or `long_view_ms`, per view;
- like, favorite, share, comment, download, dislike, report: per view (likes net of unlikes).

Unknown is unknown: completion and long view of a generation whose duration is a placeholder
(below `min_known_duration_ms`) are not observable at all, and a signal with no trials contributes
nothing; neither is ever read as a zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from features.label_config import MODEL_SIGNALS, LabelConfig

SIGNAL_COUNTS: dict[str, tuple[str, str]] = {
    "view": ("views", "effective_impressions"),
    "completion": ("ratio_sum", "views"),
    "long_view": ("long_views", "views"),
    "like": ("likes", "views"),
    "favorite": ("favorites", "views"),
    "share": ("shares", "views"),
    "comment": ("comments", "views"),
    "download": ("downloads", "views"),
    "dislike": ("dislikes", "views"),
    "report": ("reports", "views"),
}
"""signal -> (successes column, trials column) of an engagement frame (completion: ratio_sum / cap)."""
DURATION_SIGNALS: frozenset[str] = frozenset({"completion", "long_view"})
"""Signals that depend on the video's duration: unknown with a placeholder duration, centred per duration bucket."""
RATE_FLOOR: float = 1e-6
"""Rates at which sampling variances are evaluated stay this far inside (0, 1)."""
VIEW_VARIANCE_FLOOR: float = 0.02
"""1 - rate x examination, in the variance of the view rate, is at least this (a rate near the cap)."""


@dataclass(frozen=True)
class SignalCounts:
    """Successes and trials per generation (rows, sorted by generation_id) and signal (columns)."""

    signals: tuple[str, ...]
    successes: np.ndarray
    trials: np.ndarray
    """0 where the signal was not observed (no trials, or not observable)."""
    observable: np.ndarray
    """Whether the signal can be observed for the generation at all (False: unknown duration)."""
    examination: np.ndarray
    """Effective over raw impressions per generation: the mean examination of its slots (view variance)."""

    @cached_property
    def observed(self) -> np.ndarray:
        """Where the signal has trials (computed once, read-only)."""
        observed = self.trials > 0
        observed.setflags(write=False)
        return observed

    def rates(self) -> np.ndarray:
        """successes / trials, 0 where unobserved (mask with `observed`); computed once, read-only."""
        return self._rates

    @cached_property
    def _rates(self) -> np.ndarray:
        rates = np.divide(
            self.successes, self.trials, out=np.zeros_like(self.trials), where=self.trials > 0
        )
        rates.setflags(write=False)
        return rates

    def residuals(self, intercept: np.ndarray) -> np.ndarray:
        """Rates less `intercept` (N x K), 0 where the signal is unobserved."""
        return np.where(self.observed, self.rates() - intercept, 0.0)

    def rows(self, keep: np.ndarray) -> SignalCounts:
        """The generations of the `keep` mask."""
        return SignalCounts(
            self.signals,
            self.successes[keep],
            self.trials[keep],
            self.observable[keep],
            self.examination[keep],
        )

    def restricted(self, signals: tuple[str, ...]) -> SignalCounts:
        """The same generations with only `signals` (a subset of these, in the given order)."""
        index = [self.signals.index(s) for s in signals]
        return SignalCounts(
            signals,
            self.successes[:, index],
            self.trials[:, index],
            self.observable[:, index],
            self.examination,
        )


def known_duration(frame: pl.DataFrame, config: LabelConfig) -> np.ndarray:
    """Whether each generation's duration is real (present and at least `min_known_duration_ms`)."""
    duration = frame["duration_ms"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    with np.errstate(invalid="ignore"):
        return np.isfinite(duration) & (duration >= config.min_known_duration_ms)


def signal_counts(
    frame: pl.DataFrame, config: LabelConfig, signals: tuple[str, ...] = MODEL_SIGNALS
) -> SignalCounts:
    """The counts of `signals` in an engagement frame (rows as given; columns of `SIGNAL_COUNTS`)."""

    def column(name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.zeros(frame.height)
        return frame[name].cast(pl.Float64).fill_null(0.0).to_numpy()

    known = known_duration(frame, config)
    successes, trials, observable = [], [], []
    for signal in signals:
        success_column, trial_column = SIGNAL_COUNTS[signal]
        s, n = column(success_column), column(trial_column)
        if signal == "completion":
            s = s / config.watch_ratio_cap
        able = known if signal in DURATION_SIGNALS else np.ones(frame.height, dtype=bool)
        n = np.where(able & (n > 0), n, 0.0)
        successes.append(np.clip(np.where(n > 0, s, 0.0), 0.0, None))
        trials.append(n)
        observable.append(able)
    impressions = column("impressions")
    examination = np.divide(
        column("effective_impressions"),
        impressions,
        out=np.ones(frame.height),
        where=impressions > 0,
    )
    shape = (frame.height, len(signals))
    return SignalCounts(
        signals=signals,
        successes=np.column_stack(successes) if signals else np.zeros(shape),
        trials=np.column_stack(trials) if signals else np.zeros(shape),
        observable=np.column_stack(observable) if signals else np.zeros(shape, dtype=bool),
        examination=np.clip(examination, 1e-6, None),
    )


def present_signals(counts: SignalCounts, config: LabelConfig) -> tuple[str, ...]:
    """The signals the data carries: observed on `min_signal_generations` generations and with
    `min_signal_events` events in all (a log that never records favorites has no favorite signal)."""
    observed = counts.observed
    generations = observed.sum(axis=0)
    events = np.where(observed, counts.successes, 0.0).sum(axis=0)
    return tuple(
        signal
        for k, signal in enumerate(counts.signals)
        if generations[k] >= config.min_signal_generations and events[k] >= config.min_signal_events
    )


def unit_variance(
    signals: tuple[str, ...], rates: np.ndarray, examination: np.ndarray, unit_scale: np.ndarray
) -> np.ndarray:
    """The sampling variance of one trial of each signal at `rates` (N x K): binomial p (1 - p), the
    view rate's p (1 - p e) (e: the mean examination, views are Bernoulli(e p) per impression), times
    `unit_scale` (completion: a view's capped ratio varies less than a yes/no)."""
    variance = np.empty_like(rates)
    for k, signal in enumerate(signals):
        p = np.clip(rates[:, k], RATE_FLOOR, None)
        if signal == "view":
            variance[:, k] = p * np.clip(1.0 - p * examination, VIEW_VARIANCE_FLOOR, None)
        else:
            p = np.clip(p, None, 1.0 - RATE_FLOOR)
            variance[:, k] = p * (1.0 - p)
    return variance * unit_scale[None, :]


def completion_unit_scale(frame: pl.DataFrame, config: LabelConfig) -> float:
    """Within-generation variance of a view's capped ratio / cap, over p (1 - p) at the pooled mean p.

    Pooled over generations of known duration with at least two views; 1 (a yes/no) without them.
    """
    known = known_duration(frame, config)

    def column(name: str) -> np.ndarray:
        return frame[name].cast(pl.Float64).fill_null(0.0).to_numpy()[known]

    views, ratio_sum, ratio_sq = column("views"), column("ratio_sum"), column("ratio_sq_sum")
    several = views >= 2
    if not several.any():
        return 1.0
    cap = config.watch_ratio_cap
    mean = float(ratio_sum[several].sum() / views[several].sum()) / cap
    spread = ratio_sq[several] - ratio_sum[several] ** 2 / views[several]
    within = float(spread.sum() / (views[several] - 1.0).sum()) / cap**2
    if within <= 0 or not 0.0 < mean < 1.0:
        return 1.0
    return float(within / (mean * (1.0 - mean)))
