"""A bad simulation config fails at once with a clear message."""

from __future__ import annotations

import pytest

from landing.simulate import SimulationConfig


def test_bad_config_is_a_clear_value_error() -> None:
    with pytest.raises(ValueError, match="requests must be at least 1"):
        SimulationConfig(requests=0)
    with pytest.raises(ValueError, match="formats"):
        SimulationConfig(formats=("xml",))  # type: ignore[arg-type]
