"""The persistent covariance's floors (features.label_factor)."""

from __future__ import annotations

import numpy as np
import pytest

from features.label_config import LabelConfig
from features.label_factor import population_floor

FLOOR = np.array([1e-4, 1e-4, 1e-4])
POPULATION = np.array([0.01, 0.02, 0.005])
"""Each signal's variance over all generations alike."""
WEIGHTED = np.diag([0.009, 0.0001, -0.001])
"""C: precision-weighted cross-half covariance (the third signal's reads below 0)."""
LOADING = np.array([0.09, 0.1, 0.0])


def test_a_signal_the_weights_read_far_below_its_population_variance_is_floored_there() -> None:
    least = population_floor(FLOOR, POPULATION, WEIGHTED, LOADING, LabelConfig())
    # 0.01 is not 40x 0.009: the fitted floor stands; 0.02 is 200x 0.0001: 0.02 - 0.1^2
    assert least == pytest.approx([1e-4, 0.01, 0.005], rel=1e-12)


def test_the_floor_never_goes_below_the_fitted_one_and_can_be_turned_off() -> None:
    high = np.array([0.5, 0.5, 0.5])
    assert population_floor(high, POPULATION, WEIGHTED, LOADING, LabelConfig()) == pytest.approx(
        high
    )
    never = LabelConfig(population_floor_ratio=float("inf"))
    assert population_floor(FLOOR, POPULATION, WEIGHTED, LOADING, never) == pytest.approx(FLOOR)


def test_a_ratio_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="population_floor_ratio must be at least 1"):
        LabelConfig(population_floor_ratio=0.5)
