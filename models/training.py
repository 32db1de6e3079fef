"""Train a preference model from generations, labels and pairs into a self-contained `ScoringBundle`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.isotonic import IsotonicRegression

from features.model_features import (
    FeatureSpec,
    GenerationFeatures,
    fit_feature_spec,
    generation_features,
)
from models.preference import (
    PairwisePreferenceModel,
    PointwiseQualityModel,
    label_certainty_weight,
)

MODEL_KINDS: tuple[str, ...] = ("pairwise", "pointwise")


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of both model kinds and the base feature spec (vocabulary filled at fit)."""

    pairwise_c: float = 1.0
    pointwise_alpha: float = 1.0
    min_label_width: float = 0.02
    feature_spec: FeatureSpec = field(default_factory=FeatureSpec)


class ScoringBundle:
    """A trained model with everything needed to score new generations: the feature spec, the
    estimator, and an isotonic map from score to predicted quality fitted on training labels."""

    def __init__(
        self,
        kind: str,
        feature_spec_json: str,
        estimator: PairwisePreferenceModel | PointwiseQualityModel,
        quality_calibration: IsotonicRegression,
    ):
        self.kind = kind
        self.feature_spec_json = feature_spec_json
        self.estimator = estimator
        self.quality_calibration = quality_calibration

    @property
    def feature_spec(self) -> FeatureSpec:
        return FeatureSpec.from_json(self.feature_spec_json)

    def score(self, generations: pl.DataFrame) -> np.ndarray:
        """One score per generation row (higher = better)."""
        features = generation_features(generations, self.feature_spec)
        return self.estimator.score_items(features.matrix)

    def scores_frame(self, generations: pl.DataFrame, model_id: str) -> pl.DataFrame:
        """(generation_id, model_id, score) rows, the shape of the `scores` table."""
        return generations.select("generation_id").with_columns(
            model_id=pl.lit(model_id), score=pl.Series(self.score(generations), dtype=pl.Float64)
        )

    def predicted_quality(self, generations: pl.DataFrame) -> np.ndarray:
        """Scores mapped to the quality_score scale [0, 1] by the training-label calibration."""
        return self.quality_calibration.predict(self.score(generations))


def row_positions(features: GenerationFeatures, generation_ids: pl.Series) -> np.ndarray:
    """Row of each id in the feature matrix; ids absent from it raise (the caller joins first)."""
    index = pl.DataFrame(
        {"generation_id": features.generation_ids, "row": np.arange(len(features.generation_ids))}
    )
    found = generation_ids.to_frame("generation_id").join(
        index, on="generation_id", how="left", maintain_order="left"
    )["row"]
    if found.null_count():
        raise ValueError(f"{found.null_count()} pair member(s) have no feature row")
    return found.to_numpy()


def pairwise_design(
    features: GenerationFeatures, pairs: pl.DataFrame
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """(x_first - x_second, first won?, confidence) per pair; orientation alternates by row so both
    classes are present without randomness."""
    chosen = row_positions(features, pairs["chosen_generation_id"])
    rejected = row_positions(features, pairs["rejected_generation_id"])
    chosen_first = np.arange(pairs.height) % 2 == 0
    first = np.where(chosen_first, chosen, rejected)
    second = np.where(chosen_first, rejected, chosen)
    x_diff = features.matrix[first] - features.matrix[second]
    return x_diff.tocsr(), chosen_first.astype(np.int64), pairs["confidence"].to_numpy()


def train_bundle(
    kind: str,
    generations: pl.DataFrame,
    labels: pl.DataFrame,
    pairs: pl.DataFrame,
    config: TrainingConfig | None = None,
) -> ScoringBundle:
    """Fit the feature vocabulary, the estimator of `kind` and the quality calibration on training data.

    `pairs` and `labels` must refer to rows of `generations`; pairs with an unknown member are dropped.
    """
    config = config or TrainingConfig()
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {', '.join(MODEL_KINDS)}")
    spec = fit_feature_spec(generations, config.feature_spec)
    features = generation_features(generations, spec)
    known = pl.Series(features.generation_ids).implode()
    labelled = labels.filter(pl.col("generation_id").is_in(known))
    if labelled.height == 0:
        raise ValueError("no labelled training generations: run `reelloop label` first")
    label_rows = row_positions(features, labelled["generation_id"])
    label_weight = label_certainty_weight(
        labelled["quality_low"].to_numpy(),
        labelled["quality_high"].to_numpy(),
        config.min_label_width,
    )
    if kind == "pairwise":
        usable = pairs.filter(
            pl.col("chosen_generation_id").is_in(known)
            & pl.col("rejected_generation_id").is_in(known)
        )
        if usable.height < 2:
            raise ValueError(f"need at least 2 training preference pairs, have {usable.height}")
        x_diff, first_won, confidence = pairwise_design(features, usable)
        estimator = PairwisePreferenceModel(C=config.pairwise_c).fit(
            x_diff, first_won, sample_weight=confidence
        )
    else:
        estimator = PointwiseQualityModel(alpha=config.pointwise_alpha).fit(
            features.matrix[label_rows],
            labelled["quality_score"].to_numpy(),
            sample_weight=label_weight,
        )
    calibration = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
        estimator.score_items(features.matrix[label_rows]),
        labelled["quality_score"].to_numpy(),
        sample_weight=label_weight,
    )
    return ScoringBundle(kind, spec.canonical_json(), estimator, calibration)
