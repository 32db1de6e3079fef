"""The persistent covariance's margin and floors (features.label_factor)."""

from __future__ import annotations

import numpy as np
import pytest

from features.label_config import LabelConfig
from features.label_factor import (
    HalfResiduals,
    Loadings,
    cross_half_covariance,
    persistent_covariance,
    population_floor,
)

FLOOR = np.array([1e-4, 1e-4, 1e-4])
POPULATION = np.array([0.01, 0.02, 0.0])
"""Each signal's rate variance over all generations (the third's unknown: 0)."""
LOADING = np.array([0.09, 0.1, 0.0])


def test_psi_is_at_least_the_population_variance_less_the_quality_part() -> None:
    least = population_floor(FLOOR, POPULATION, LOADING)
    # 0.01 - 0.09^2 = 0.0019 and 0.02 - 0.1^2 = 0.01 top the fitted floor; the third keeps it
    assert least == pytest.approx([0.0019, 0.01, 1e-4], rel=1e-12)


def test_the_floor_never_goes_below_the_fitted_one() -> None:
    high = np.array([0.5, 0.5, 0.5])
    assert population_floor(high, POPULATION, LOADING) == pytest.approx(high)
    assert population_floor(FLOOR, np.zeros(3), LOADING) == pytest.approx(FLOOR)


def test_a_negative_population_share_is_refused() -> None:
    with pytest.raises(ValueError, match="population_floor_share must be finite and >= 0"):
        LabelConfig(population_floor_share=-0.5)


def test_a_variance_has_the_standard_error_of_its_one_estimate() -> None:
    # one signal, every weight 1: products a * b = 2, 2, 12, 12 around their mean 7
    halves = HalfResiduals(
        np.array([[1.0], [2.0], [3.0], [4.0]]),
        np.array([[2.0], [1.0], [4.0], [3.0]]),
        np.ones((4, 1)),
        np.ones((4, 1)),
    )
    covariance, se = cross_half_covariance(halves)
    assert covariance[0, 0] == pytest.approx(7.0 - 2.5 * 2.5)
    assert se[0, 0] == pytest.approx(np.sqrt(4 * 5.0**2) / 4)


def test_psi_takes_each_variance_at_its_upper_end_by_its_standard_errors() -> None:
    loading = np.array([0.6, 0.1, 0.0])
    covariance = np.diag([0.5, 0.02, 1e-4]) + np.outer(loading, loading) - np.diag(loading**2)
    se = np.full((3, 3), 1.0)
    np.fill_diagonal(se, [0.01, 0.004, 2e-4])
    fitted = Loadings(loading, np.ones(3, dtype=bool), ())
    floor = np.full(3, 1e-6)
    psi = persistent_covariance(covariance, se, fitted, floor, LabelConfig())
    # C_kk - b_k^2 + 1 se_kk: 0.5 - 0.36 + 0.01, 0.02 - 0.01 + 0.004, 1e-4 + 2e-4
    assert np.diag(psi) == pytest.approx([0.15, 0.014, 3e-4], rel=1e-9)
    assert psi[0, 1] == psi[0, 2] == psi[1, 2] == 0.0
    exact = persistent_covariance(
        covariance, se, fitted, floor, LabelConfig(persistent_se_margin=0)
    )
    assert np.diag(exact) == pytest.approx([0.14, 0.01, 1e-4], rel=1e-9)
    np.fill_diagonal(se, [0.01, 0.004, np.inf])  # a signal no generation shows in both halves
    unknown = persistent_covariance(covariance, se, fitted, floor, LabelConfig())
    assert np.diag(unknown) == pytest.approx([0.15, 0.014, 1e-4], rel=1e-9)


def test_a_negative_or_infinite_margin_is_refused() -> None:
    for margin in (-1.0, float("inf")):
        with pytest.raises(ValueError, match="persistent_se_margin must be finite and >= 0"):
            LabelConfig(persistent_se_margin=margin)
