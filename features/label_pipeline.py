"""One label run at generation level: refit the model, keep the stored one unless it moved, score, pair.

Pure: takes the clean aggregates of every generation and the stored model, returns the label rows,
the pairs and the model to store. Scores depend only on a generation's own counts and the model, so
an unchanged model leaves the labels of untouched generations bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from features.label_config import LabelConfig
from features.labels import (
    LABEL_COLUMNS,
    LabelModel,
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


def compute_label_outputs(
    engagement: pl.DataFrame,
    slots: pl.DataFrame,
    stored_model: LabelModel | None,
    stored_reliability: pl.DataFrame | None,
    config: LabelConfig,
) -> LabelOutputs:
    """Labels and pairs of every generation in `engagement` (one row each, with its record fields and prompt).

    `slots` holds organic impressions and views per (generation_id, surface, position).
    """
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
    data = label_data(engagement, slots)
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
