"""Preference models over generation features: pairwise Bradley-Terry and pointwise quality regression.

Both expose `score_items(X)`: one score per generation, higher = better, comparable within a model.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data


class PairwisePreferenceModel(ClassifierMixin, BaseEstimator):
    """Bradley-Terry: P(first beats second) = sigmoid(w . (x_first - x_second)).

    `fit(X_diff, y)` takes one row x_first - x_second per comparison and y naming whether the first
    item won (`classes_[1]`, e.g. 1) or lost (`classes_[0]`). With `symmetric=True` every comparison
    is also learned mirrored (-x, other class), so the model cannot depend on presentation order;
    there is no intercept, as an item compared with itself must score 0.5.
    `score_items(X)` gives the utility w . x of single generations.
    """

    def __init__(
        self, C: float = 1.0, symmetric: bool = True, max_iter: int = 1000, tol: float = 1e-4
    ):
        self.C = C
        self.symmetric = symmetric
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None) -> PairwisePreferenceModel:
        """Learn w from comparison differences; `sample_weight` is the pairs' confidence."""
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {y_type}."
            )
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            raise ValueError(
                "PairwisePreferenceModel needs y with 2 classes (first lost, first won); got 1 class"
            )
        first_won = (y == self.classes_[1]).astype(np.int64)
        weight = (
            np.ones(X.shape[0])
            if sample_weight is None
            else np.asarray(sample_weight, dtype=np.float64)
        )
        if self.symmetric:
            X = sp.vstack([X, -X], format="csr") if sp.issparse(X) else np.vstack([X, -X])
            first_won = np.concatenate([first_won, 1 - first_won])
            weight = np.concatenate([weight, weight])
        logistic = LogisticRegression(
            C=self.C, fit_intercept=False, solver="liblinear", max_iter=self.max_iter, tol=self.tol
        )
        logistic.fit(X, first_won, sample_weight=weight)
        self.coef_ = logistic.coef_.ravel().copy()
        self.n_iter_ = int(np.max(logistic.n_iter_))
        return self

    def decision_function(self, X) -> np.ndarray:
        """Log-odds that the first item of each difference row beats the second."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=False)
        return np.asarray(X @ self.coef_).ravel()

    def predict_proba(self, X) -> np.ndarray:
        """Columns: P(classes_[0]) = P(first loses), P(classes_[1]) = P(first wins)."""
        p_first = expit(self.decision_function(X))
        return np.column_stack([1.0 - p_first, p_first])

    def predict(self, X) -> np.ndarray:
        first_wins = self.decision_function(X) > 0
        return self.classes_[first_wins.astype(int)]

    def score_items(self, X) -> np.ndarray:
        """Bradley-Terry utility of each single generation (differences of these are log-odds)."""
        return self.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_class = False
        return tags


class PointwiseQualityModel(RegressorMixin, BaseEstimator):
    """Ridge regression of a generation's quality label on its features.

    Fit with `sample_weight` = label certainty (see `label_certainty_weight`) so noisy labels of
    rarely shown generations pull less. `score_items` = predicted quality.
    """

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X, y, sample_weight=None) -> PointwiseQualityModel:
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64, y_numeric=True)
        ridge = Ridge(alpha=self.alpha, solver="auto")
        ridge.fit(X, y, sample_weight=sample_weight)
        self.coef_ = np.asarray(ridge.coef_, dtype=np.float64)
        self.intercept_ = ridge.intercept_
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=False)
        out = X @ self.coef_.T + self.intercept_
        return np.asarray(out)

    def score_items(self, X) -> np.ndarray:
        """Predicted quality of each generation (1-d)."""
        scores = self.predict(X)
        return scores if scores.ndim == 1 else scores[:, 0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def label_certainty_weight(
    quality_low: np.ndarray, quality_high: np.ndarray, min_width: float = 0.02
) -> np.ndarray:
    """1 / width of a label's interval (floored), scaled to mean 1: certain labels count more."""
    width = np.maximum(np.asarray(quality_high, float) - np.asarray(quality_low, float), min_width)
    weight = 1.0 / width
    return weight / weight.mean()
