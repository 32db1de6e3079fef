"""The label config refuses values no fit can use, with the field's name."""

from __future__ import annotations

import pytest

from features.label_config import LabelConfig


@pytest.mark.parametrize("field", ["residual_floor", "persistent_se_margin", "watch_ratio_cap"])
def test_a_nan_float_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be a number, got nan"):
        LabelConfig(**{field: float("nan")})


@pytest.mark.parametrize("passes", [0, -3])
def test_a_fit_needs_at_least_one_pass(passes: int) -> None:
    with pytest.raises(ValueError, match=f"fit_passes must be at least 1, got {passes}"):
        LabelConfig(fit_passes=passes)


def test_the_defaults_are_valid() -> None:
    assert LabelConfig().fit_passes >= 1
