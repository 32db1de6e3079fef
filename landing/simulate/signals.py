"""The engagement model of each generation: every signal's logit and examination by feed position.

A signal's logit is its intercept plus its slope times (true_quality - 0.5), the slope scaled by the
signal's quality weight, plus a persistent per-generation shift that is not quality (its own noise,
a nuisance shared across signals, the category's propensity for an action); completion also falls
with duration. Events are drawn from these logits and the truth's long-run rates are computed from
them (`landing.simulate.expected`), so both read one model.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from landing.simulate.config import SimulationConfig
from landing.simulate.draws import STREAM_SIGNALS, stream_rng


def logit_column(signal: str) -> str:
    """The generations column holding a signal's logit (completion: of the mean watched fraction)."""
    return f"logit_{signal}"


def examination(config: SimulationConfig, position: np.ndarray) -> np.ndarray:
    """P(a feed impression at `position` is examined), 1 at the top, by `config.examination_shape`."""
    p = np.maximum(position, 0)
    if config.examination_shape == "exponential":
        return np.exp(-config.examination_decay * p)
    if config.examination_shape == "fold":
        beyond = np.maximum(p - config.examination_fold, 0)
        below = config.examination_below_fold * (1.0 + beyond) ** -config.examination_exponent
        return np.where(p < config.examination_fold, 1.0, below)
    return (1.0 + p) ** -config.examination_exponent


def _quality_parts(config: SimulationConfig, generations: pl.DataFrame) -> dict[str, np.ndarray]:
    """Each signal's intercept + weighted quality slope (+ the duration effect on completion)."""
    quality = generations.get_column("true_quality").to_numpy()
    duration_ms = generations.get_column("duration_ms").to_numpy()
    weight = dict(config.signal_quality_weights)
    parts = {
        "view": config.view_intercept
        + config.view_slope * weight.get("view", 1.0) * (quality - 0.5),
        "completion": config.completion_intercept
        + config.completion_slope * weight.get("completion", 1.0) * (quality - 0.5)
        - config.completion_duration_slope
        * np.log(duration_ms / 1000 / config.completion_reference_s),
    }
    for action in config.actions:
        slope = action.slope * weight.get(action.event_type, 1.0)
        parts[action.event_type] = action.intercept + slope * (quality - 0.5)
    return parts


def _persistent_shifts(config: SimulationConfig, generations: pl.DataFrame) -> np.ndarray:
    """Per generation and signal (columns in `config.signal_names()` order): the logit shift that is
    not quality: own noise, the shared nuisance and the category's action propensity."""
    names = config.signal_names()
    n = generations.height
    rng = stream_rng(config, STREAM_SIGNALS)
    own = rng.normal(0.0, 1.0, (n, len(names)))
    shared = rng.normal(0.0, 1.0, n)
    noise_sd = np.array([dict(config.signal_noise_sd).get(name, 0.0) for name in names])
    loading = np.array([dict(config.signal_nuisance).get(name, 0.0) for name in names])
    category_effect = np.zeros((len(config.categories), len(names)))
    category_index = {name: i for i, name in enumerate(config.category_names())}
    for category, action, effect in config.category_action_effects:
        category_effect[category_index[category], names.index(action)] += effect
    category = generations.get_column("category_code").to_numpy()
    return own * noise_sd + shared[:, None] * loading + category_effect[category]


def signal_logits(config: SimulationConfig, generations: pl.DataFrame) -> pl.DataFrame:
    """`generations` with one `logit_<signal>` column per signal of the world."""
    parts = _quality_parts(config, generations)
    shifts = _persistent_shifts(config, generations)
    return generations.with_columns(
        pl.Series(logit_column(name), parts[name] + shifts[:, k])
        for k, name in enumerate(config.signal_names())
    )
