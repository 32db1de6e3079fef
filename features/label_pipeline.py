"""One label run at generation level: refit the model, keep the stored one unless it moved, score, pair,
check.

Pure: takes the clean aggregates of every generation (whole and per viewer-half x period cell) and the
stored model, returns the label rows, the pairs, the model to store and the run's diagnostics. Scores
depend only on a generation's own counts and the model, so an unchanged model leaves the labels of
untouched generations bit-identical.

The examination curve comes first (`adopted_examination`): it is fitted on the exposure slots of a
sample of generations, and the warehouse weights every impression by it before these functions run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from features.cross_pairs import cross_pairs
from features.debias import CurveShape, examination_curve
from features.label_config import LabelConfig
from features.label_diagnostics import DIAGNOSTIC_SCHEMA, StudioChoices, label_diagnostics
from features.labels import (
    LABEL_COLUMNS,
    LabelFit,
    fit_labels,
    held_out_quality,
    label_fit_moved,
    label_frames,
    label_rows,
    label_subsets,
    quality_scores,
)
from features.pairs import (
    PAIR_COLUMNS,
    RELIABILITY_SCHEMA,
    STUDIO_SOURCES,
    SiblingPairs,
    fit_source_reliability,
    preference_pairs,
    reliability_moved,
    sibling_pairs,
)


@dataclass(frozen=True)
class LabelOutputs:
    """What a label run writes: labels, pairs, diagnostics, and the model and reliability if (re)adopted."""

    labels: pl.DataFrame
    pairs: pl.DataFrame
    fit: LabelFit | None
    model_refit: bool
    reliability: pl.DataFrame
    reliability_refit: bool
    diagnostics: pl.DataFrame


def curve_shape(config: LabelConfig) -> CurveShape:
    """How the config fits the examination curve."""
    return CurveShape(
        iterations=config.position_em_iterations,
        tolerance=config.position_em_tolerance,
        smooth_degree=config.position_smooth_degree,
        shrink_passes=config.position_shrink_passes,
    )


def adopted_examination(
    slots: pl.DataFrame, stored: pl.DataFrame | None, config: LabelConfig
) -> tuple[pl.DataFrame, bool]:
    """(the examination curve to weigh impressions by, whether it is newly adopted).

    `slots` holds organic impressions and views per (generation_id, surface, position) of the sampled
    generations (optionally with a dense `generation_index`). The refit replaces `stored` only when some
    propensity moved by more than `config.prior_tolerance`; a change re-weights every generation.
    No stored curve weighs every impression 1, as an empty fit does: that is no change.
    """
    fitted = examination_curve(slots, curve_shape(config))
    if stored is None:
        return fitted, not fitted.is_empty()
    if not examination_moved(stored, fitted, config.prior_tolerance):
        return stored, False
    return fitted, True


def examination_moved(old: pl.DataFrame | None, new: pl.DataFrame, tolerance: float) -> bool:
    """True when a refit examination curve differs from the adopted one by more than `tolerance` (absolute)."""
    if old is None:
        return True
    keys = ["surface", "position"]
    both = old.select(*keys, "propensity").join(
        new.select(*keys, "propensity"), on=keys, suffix="_new"
    )
    if both.height != old.height or both.height != new.height:
        return True
    if both.is_empty():
        return False
    change = both.select((pl.col("propensity_new") - pl.col("propensity")).abs().max()).item()
    return bool(change > tolerance)


def studio_choices(pairs: SiblingPairs) -> StudioChoices:
    """The select votes among sibling pairs, as row positions of the (sorted) generations."""
    selects = pairs.votes.source == STUDIO_SOURCES.index("select")
    return StudioChoices(winner=pairs.votes.winner[selects], loser=pairs.votes.loser[selects])


def _empty_outputs(stored: LabelFit | None) -> LabelOutputs:
    return LabelOutputs(
        labels=pl.DataFrame(schema=list(LABEL_COLUMNS)),
        pairs=pl.DataFrame(schema=list(PAIR_COLUMNS)),
        fit=stored,
        model_refit=False,
        reliability=pl.DataFrame(schema=RELIABILITY_SCHEMA),
        reliability_refit=False,
        diagnostics=pl.DataFrame(schema=DIAGNOSTIC_SCHEMA),
    )


def compute_label_outputs(
    engagement: pl.DataFrame,
    cells: pl.DataFrame,
    stored: LabelFit | None,
    stored_reliability: pl.DataFrame | None,
    config: LabelConfig,
) -> LabelOutputs:
    """Labels, pairs and diagnostics of every generation in `engagement` (one row each, with its record
    fields, prompt and created_at, and its effective impressions under the adopted examination curve);
    `cells` holds the same engagement per (generation, viewer half, period)."""
    version = config.label_version
    if engagement.is_empty():
        return _empty_outputs(stored)
    frames = label_frames(engagement, cells)
    sample, fitted_rows = label_subsets(frames.full, config)
    fitted = fit_labels(frames, config, sample, fitted_rows)
    model_refit = label_fit_moved(stored, fitted, config.prior_tolerance, config.interval_tolerance)
    fit = fitted if model_refit or stored is None else stored
    scores = quality_scores(frames.full, fit.model, config)
    quality = scores["quality_z"].to_numpy()
    siblings = frames.full.select(
        "generation_id",
        "request_id",
        "prompt",
        "created_at",
        "studio_impressions",
        "selects",
        "regenerates",
    ).with_columns(scores.select("quality_z", "quality_z_var"))
    pairs = sibling_pairs(siblings)
    reliability = fit_source_reliability(siblings, config, pairs)
    reliability_refit = model_refit or reliability_moved(
        stored_reliability, reliability, config.prior_tolerance
    )
    if not reliability_refit and stored_reliability is not None:
        reliability = stored_reliability
    all_pairs = pl.concat(
        [
            preference_pairs(siblings, reliability, config, version, pairs),
            cross_pairs(siblings, config, version),
        ]
    )
    order = np.argsort(all_pairs["pair_id"].to_numpy(), kind="stable")
    return LabelOutputs(
        labels=label_rows(frames.full, scores, fit, config, version),
        pairs=all_pairs.select(pl.all().gather(order)),
        fit=fit,
        model_refit=model_refit,
        reliability=reliability,
        reliability_refit=reliability_refit,
        diagnostics=label_diagnostics(
            frames,
            fit.model,
            quality,
            studio_choices(pairs),
            config,
            sample,
            held_out_quality(frames.full, fitted, quality, config),
        ),
    )
