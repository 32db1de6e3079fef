"""One label run at generation level: refit the model, keep the stored one unless it moved, score, pair.

Pure: takes the clean aggregates of every generation and the stored model, returns the label rows,
the pairs and the model to store. Scores depend only on a generation's own counts and the model, so
an unchanged model leaves the labels of untouched generations bit-identical.

The examination curve comes first (`adopted_examination`): it is fitted on the exposure slots of a
sample of generations, and the warehouse weights every impression by it before these functions run.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from features.debias import examination_curve
from features.label_config import LabelConfig
from features.labels import (
    LABEL_COLUMNS,
    LabelModel,
    examination_moved,
    fitted_label_model,
    label_data,
    label_model_moved,
    label_rows,
    model_inputs,
    quality_scores,
)
from features.pairs import (
    PAIR_COLUMNS,
    RELIABILITY_SCHEMA,
    fit_source_reliability,
    preference_pairs,
    reliability_moved,
    sibling_pairs,
)


@dataclass(frozen=True)
class LabelOutputs:
    """What a label run writes: labels, pairs, and the model and reliability if they were (re)adopted."""

    labels: pl.DataFrame
    pairs: pl.DataFrame
    model: LabelModel | None
    model_refit: bool
    reliability: pl.DataFrame
    reliability_refit: bool


def adopted_examination(
    slots: pl.DataFrame, stored: pl.DataFrame | None, config: LabelConfig
) -> tuple[pl.DataFrame, bool]:
    """(the examination curve to weigh impressions by, whether it is newly adopted).

    `slots` holds organic impressions and views per (generation_id, surface, position) of the sampled
    generations (optionally with a dense `generation_index`). The refit replaces `stored` only when some
    propensity moved by more than `config.prior_tolerance`; a change re-weights every generation.
    No stored curve weighs every impression 1, as an empty fit does: that is no change.
    """
    fitted = examination_curve(
        slots,
        min_impressions=config.position_min_impressions,
        iterations=config.position_em_iterations,
        tolerance=config.position_em_tolerance,
    )
    if stored is None:
        return fitted, not fitted.is_empty()
    if not examination_moved(stored, fitted, config.prior_tolerance):
        return stored, False
    return fitted, True


def compute_label_outputs(
    engagement: pl.DataFrame,
    stored_model: LabelModel | None,
    stored_reliability: pl.DataFrame | None,
    config: LabelConfig,
) -> LabelOutputs:
    """Labels and pairs of every generation in `engagement` (one row each, with its record fields and prompt,
    and its effective impressions under the adopted examination curve)."""
    version = config.label_version
    if engagement.is_empty():
        return LabelOutputs(
            labels=pl.DataFrame(schema=list(LABEL_COLUMNS)),
            pairs=pl.DataFrame(schema=list(PAIR_COLUMNS)),
            model=stored_model,
            model_refit=False,
            reliability=pl.DataFrame(schema=RELIABILITY_SCHEMA),
            reliability_refit=False,
        )
    data = label_data(engagement)
    fitted, fitted_inputs = fitted_label_model(data, config)
    model_refit = label_model_moved(stored_model, fitted, config.prior_tolerance)
    if model_refit or stored_model is None:
        model, inputs = fitted, fitted_inputs
    else:
        model, inputs = stored_model, model_inputs(data, stored_model, config)
    scores = quality_scores(inputs, model, config)
    siblings = data.engagement.select(
        "generation_id", "request_id", "prompt", "studio_impressions", "selects", "regenerates"
    ).with_columns(scores.select("quality_z", "quality_z_var"))
    pairs = sibling_pairs(siblings)
    reliability = fit_source_reliability(siblings, config, pairs)
    reliability_refit = model_refit or reliability_moved(
        stored_reliability, reliability, config.prior_tolerance
    )
    if not reliability_refit and stored_reliability is not None:
        reliability = stored_reliability
    return LabelOutputs(
        labels=label_rows(inputs, scores, model, version),
        pairs=preference_pairs(siblings, reliability, config, version, pairs),
        model=model,
        model_refit=model_refit,
        reliability=reliability,
        reliability_refit=reliability_refit,
    )
