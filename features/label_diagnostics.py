"""Truth-free checks of a label run, for the label and beside it every raw rate.

- split_half: the score computed from one viewer half against the same score from the other half
  (Spearman over generations shown in both): how reliable it is;
- temporal: the score from each generation's early engagement against the same score from its later
  engagement (Spearman over generations shown in both periods): whether it predicts what comes next;
- studio_agreement: of the studio choices (a candidate selected over a sibling shown beside it), the share
  the score orders the same way (ties count half): agreement with human choices. They are no label
  signal, but the label's direction may lean on them (features.label_select_direction), so each
  choice is judged by labels whose direction its own request's votes did not shape (the direction
  fitted without their fold; the ridge, prior and intercepts stay the run's).

A raw rate is a signal's successes over trials as the model reads it (oriented: higher is better),
plus the naive per-impression like and view rates; a generation without trials takes the part's
pooled rate. The label's row says whether it beats the best raw rate on every check that could be
computed, and if not a one-line warning names where it does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from features.label_config import LabelConfig
from features.label_evaluation import spearman as columns_spearman
from features.label_model import LabelModel
from features.label_signals import signal_counts
from features.labels import LabelFrames, posterior_of

LABEL_SCORE: str = "label"
NAIVE_RATES: dict[str, tuple[str, str]] = {
    "naive_view_rate": ("views", "impressions"),
    "naive_like_rate": ("likes", "impressions"),
}
"""Per-impression rates that need no model (the baselines evaluate-labels prints)."""
DIAGNOSTIC_SCHEMA: dict[str, pl.DataType] = {
    "score": pl.String,
    "kind": pl.String,
    "split_half": pl.Float64,
    "split_half_generations": pl.Int64,
    "temporal": pl.Float64,
    "temporal_generations": pl.Int64,
    "studio_agreement": pl.Float64,
    "studio_votes": pl.Int64,
    "loading": pl.Float64,
    "quality_share": pl.Float64,
    "weight": pl.Float64,
    "beats_best_raw": pl.Boolean,
    "warning": pl.String,
}
CHECKS: dict[str, str] = {
    "split_half": "split-half reliability",
    "temporal": "temporal validity",
    "studio_agreement": "studio agreement",
}
MIN_GENERATIONS: int = 3
"""A Spearman over fewer generations is not reported."""


@dataclass(frozen=True)
class StudioChoices:
    """Studio votes as row positions of the full frame: `winner` was selected over `loser`."""

    winner: np.ndarray
    loser: np.ndarray


def sampled_frames(frames: LabelFrames, sample: np.ndarray) -> LabelFrames:
    """`frames` restricted to the generations of the `sample` mask (features.stable_keys.stable_sample:
    a fixed subset, blind to quality), rows still aligned."""
    if sample.all():
        return frames
    keep = pl.Series(sample)
    return LabelFrames(
        *(
            part.filter(keep)
            for part in (frames.full, frames.half_a, frames.half_b, frames.early, frames.late)
        )
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman rank correlation (average ranks for ties); None under MIN_GENERATIONS or without spread."""
    if a.size < MIN_GENERATIONS:
        return None
    value = columns_spearman(pl.DataFrame({"a": a, "b": b}), "a", "b")
    return None if value is None or not np.isfinite(value) else value


def raw_rates(frame: pl.DataFrame, model: LabelModel, config: LabelConfig) -> dict[str, np.ndarray]:
    """Every raw rate of a part of the data, oriented, the pooled rate where a generation has no trials."""
    counts = signal_counts(frame, config, model.signals)
    orientation = config.orientation()
    rates = {}
    for k, signal in enumerate(model.signals):
        s, n = counts.successes[:, k], counts.trials[:, k]
        pooled = float(s.sum() / n.sum()) if n.sum() > 0 else 0.0
        rate = np.divide(s, n, out=np.full(n.size, pooled), where=n > 0)
        rates[signal] = orientation[signal] * rate
    for name, (success, trial) in NAIVE_RATES.items():
        s = frame[success].cast(pl.Float64).to_numpy()
        n = frame[trial].cast(pl.Float64).to_numpy()
        pooled = float(s.sum() / n.sum()) if n.sum() > 0 else 0.0
        rates[name] = np.divide(s, n, out=np.full(n.size, pooled), where=n > 0)
    return rates


def _scores(
    frame: pl.DataFrame, model: LabelModel, config: LabelConfig, scale: float
) -> dict[str, np.ndarray]:
    """The label and every raw rate of one part of the data."""
    return {
        LABEL_SCORE: posterior_of(frame, model, config, scale, long_run=False).mean,
        **raw_rates(frame, model, config),
    }


def _agreement(values: np.ndarray, choices: StudioChoices) -> float | None:
    """Share of studio choices the values order the same way (ties count half)."""
    if choices.winner.size == 0:
        return None
    gap = values[choices.winner] - values[choices.loser]
    return float(np.mean(np.where(gap > 0, 1.0, np.where(gap == 0, 0.5, 0.0))))


def _paired(
    first: pl.DataFrame, second: pl.DataFrame, model: LabelModel, config: LabelConfig, total: float
) -> tuple[dict[str, float | None], int]:
    """Spearman of every score between two parts of the data, over generations shown in both."""
    shown = (first["impressions"].to_numpy() > 0) & (second["impressions"].to_numpy() > 0)
    scores = []
    for part in (first, second):
        impressions = float(part["impressions"].sum())
        scores.append(_scores(part, model, config, total / impressions if impressions > 0 else 1.0))
    return {
        name: spearman(scores[0][name][shown], scores[1][name][shown]) for name in scores[0]
    }, int(shown.sum())


def _signal_weights(model: LabelModel) -> np.ndarray:
    """Each signal's share of the long-run label at average quality (Psi's factors at 1): |(Psi^-1
    b)_k| x its long-run sd, normalised to 1."""
    if not model.signals:
        return np.zeros(0)
    raw = np.linalg.pinv(model.persistent) @ model.loading
    weight = np.abs(raw) * np.sqrt(np.clip(model.long_run_variance, 0.0, None))
    total = float(weight.sum())
    return weight / total if total > 0 else weight


def _verdict(rows: list[dict]) -> tuple[bool | None, str | None]:
    """(whether the label beats the best raw rate on every check it has, the warning where it does not)."""
    label = rows[0]
    losses, compared = [], 0
    for check, name in CHECKS.items():
        raw = [(row[check], row["score"]) for row in rows[1:] if row[check] is not None]
        if label[check] is None or not raw:
            continue
        compared += 1
        best, which = max(raw)
        if label[check] <= best:
            losses.append(f"{name} {label[check]:.3f} vs {which} {best:.3f}")
    if compared == 0:
        return None, None
    if not losses:
        return True, None
    return False, "labels do worse than a raw rate on " + "; ".join(losses)


def label_diagnostics(
    frames: LabelFrames,
    model: LabelModel,
    label: np.ndarray,
    choices: StudioChoices,
    config: LabelConfig,
    sample: np.ndarray,
    held_out_label: np.ndarray | None = None,
) -> pl.DataFrame:
    """One row for the label and one per raw rate (see the module docstring), label first; `label` is
    the run's quality_z of the generations of `frames.full`, `held_out_label` the same as the studio
    check sees it (features.labels.held_out_quality; `label` itself without); split-half and temporal
    figures are of the `sample` mask's generations."""
    sample = sampled_frames(frames, sample)
    total = float(sample.full["impressions"].sum())
    halves, split_count = _paired(sample.half_a, sample.half_b, model, config, total)
    periods, temporal_count = _paired(sample.early, sample.late, model, config, total)
    full = {LABEL_SCORE: label, **raw_rates(frames.full, model, config)}
    weights = dict(zip(model.signals, _signal_weights(model), strict=True))
    loadings = dict(zip(model.signals, model.loading, strict=True))
    shares = dict(zip(model.signals, model.quality_share, strict=True))
    rows = []
    for name, values in full.items():
        kind = "label" if name == LABEL_SCORE else "signal" if name in model.signals else "naive"
        rows.append(
            {
                "score": name,
                "kind": kind,
                "split_half": halves[name],
                "split_half_generations": split_count,
                "temporal": periods[name],
                "temporal_generations": temporal_count,
                "studio_agreement": _agreement(
                    held_out_label if kind == "label" and held_out_label is not None else values,
                    choices,
                ),
                "studio_votes": int(choices.winner.size),
                "loading": float(loadings[name]) if name in loadings else None,
                "quality_share": float(shares[name]) if name in shares else None,
                "weight": float(weights[name]) if name in weights else None,
                "beats_best_raw": None,
                "warning": None,
            }
        )
    rows[0]["beats_best_raw"], rows[0]["warning"] = _verdict(rows)
    return pl.DataFrame(rows, schema=DIAGNOSTIC_SCHEMA)
