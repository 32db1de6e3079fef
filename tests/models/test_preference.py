"""The two estimators: scikit-learn's contract, and what they learn on tiny data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import spearmanr
from sklearn.utils.estimator_checks import parametrize_with_checks

from models.preference import (
    PairwisePreferenceModel,
    PointwiseQualityModel,
    label_certainty_weight,
)


@parametrize_with_checks([PairwisePreferenceModel(), PointwiseQualityModel()])
def test_scikit_learn_contract(estimator, check):
    check(estimator)


def bradley_terry_pairs(n_items: int = 40, n_pairs: int = 400, seed: int = 0):
    """Items with known utility X @ w; y says whether the first item of each pair has the higher one."""
    rng = np.random.default_rng(seed)
    items = rng.normal(size=(n_items, 3))
    utility = items @ np.array([2.0, -1.0, 0.0])
    first, second = rng.integers(0, n_items, (2, n_pairs))
    keep = utility[first] != utility[second]
    first, second = first[keep], second[keep]
    y = (utility[first] > utility[second]).astype(int)
    return items, utility, items[first] - items[second], y


def test_pairwise_model_recovers_the_utility_ordering():
    items, utility, x_diff, y = bradley_terry_pairs()
    model = PairwisePreferenceModel(C=10.0).fit(x_diff, y)
    coef = model.coef_ / np.linalg.norm(model.coef_)
    assert np.dot(coef, np.array([2.0, -1.0, 0.0]) / np.sqrt(5)) > 0.99
    assert spearmanr(model.score_items(items), utility).statistic > 0.99
    assert model.score(x_diff, y) > 0.99


def test_pairwise_model_is_antisymmetric_without_intercept():
    _, _, x_diff, y = bradley_terry_pairs()
    model = PairwisePreferenceModel().fit(x_diff, y)
    np.testing.assert_allclose(model.decision_function(-x_diff), -model.decision_function(x_diff))
    proba = model.predict_proba(x_diff)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(model.predict_proba(np.zeros((1, 3))), [[0.5, 0.5]])


def test_pairwise_model_does_not_depend_on_presentation_order():
    _, _, x_diff, y = bradley_terry_pairs()
    flipped = np.arange(len(y)) % 2 == 0
    x_other = np.where(flipped[:, None], -x_diff, x_diff)
    y_other = np.where(flipped, 1 - y, y)
    a = PairwisePreferenceModel().fit(x_diff, y).coef_
    b = PairwisePreferenceModel().fit(x_other, y_other).coef_
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_pairwise_model_weights_pairs_by_confidence():
    _, _, x_diff, y = bradley_terry_pairs()
    noise = np.ones_like(y) - y  # every label flipped: a contradicting copy of the data
    x_all = np.vstack([x_diff, x_diff])
    y_all = np.concatenate([y, noise])
    trusted = PairwisePreferenceModel().fit(
        x_all, y_all, sample_weight=np.concatenate([np.ones(len(y)), np.full(len(y), 0.1)])
    )
    assert trusted.score(x_diff, y) == pytest.approx(1.0, abs=0.02)
    distrusted = PairwisePreferenceModel().fit(
        x_all, y_all, sample_weight=np.concatenate([np.full(len(y), 0.1), np.ones(len(y))])
    )
    assert distrusted.score(x_diff, y) == pytest.approx(0.0, abs=0.02)


def test_pairwise_model_accepts_sparse_differences_and_needs_both_outcomes():
    _, _, x_diff, y = bradley_terry_pairs()
    dense = PairwisePreferenceModel().fit(x_diff, y).coef_
    sparse = PairwisePreferenceModel().fit(sp.csr_matrix(x_diff), y).coef_
    np.testing.assert_allclose(dense, sparse, atol=1e-8)
    with pytest.raises(ValueError, match="2 classes"):
        PairwisePreferenceModel().fit(x_diff, np.ones(len(y), dtype=int))


def test_pointwise_model_fits_quality_and_scores_items():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    quality = 0.5 + 0.2 * x[:, 0] - 0.1 * x[:, 1]
    model = PointwiseQualityModel(alpha=1e-6).fit(x, quality)
    np.testing.assert_allclose(model.coef_, [0.2, -0.1], atol=1e-6)
    assert model.intercept_ == pytest.approx(0.5, abs=1e-6)
    np.testing.assert_allclose(model.score_items(x), quality, atol=1e-6)


def test_pointwise_model_follows_the_certain_labels():
    x = np.array([[0.0], [1.0], [1.0]])
    quality = np.array([0.0, 1.0, 0.0])  # two contradicting labels at x = 1
    weight = label_certainty_weight(np.array([0.0, 0.95, 0.0]), np.array([0.02, 1.0, 1.0]))
    model = PointwiseQualityModel(alpha=1e-9).fit(x, quality, sample_weight=weight)
    # weighted mean at x = 1: certain label 1.0 (width 0.05) vs vague 0.0 (width 1.0) -> 20 / 21
    assert model.predict(np.array([[1.0]]))[0] == pytest.approx(20 / 21, abs=1e-6)


def test_label_certainty_weight_is_inverse_width_with_a_floor():
    weight = label_certainty_weight(np.array([0.4, 0.3, 0.5]), np.array([0.5, 0.5, 0.51]))
    # widths 0.1, 0.2, 0.01 -> floored to 0.02 -> 1/w = 10, 5, 50; mean 21.67
    np.testing.assert_allclose(weight, np.array([10.0, 5.0, 50.0]) / (65.0 / 3.0))
