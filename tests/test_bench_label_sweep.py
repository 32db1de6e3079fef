"""The label sweep's variants: a named default config with int and float fields replaced, or a
one-line reason why not."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from features.label_config import LabelConfig

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def sweep() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("label_sweep", BENCH / "label_sweep.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses resolve their annotations there
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_a_variant_replaces_the_fields_it_names_and_keeps_the_rest(sweep: ModuleType) -> None:
    variant = sweep.variant("converged: fit_passes=20, persistent_se_margin=0.5")
    assert variant.name == "converged"
    assert variant.config.fit_passes == 20
    assert variant.config.persistent_se_margin == 0.5
    assert variant.config.population_floor_share == LabelConfig().population_floor_share
    assert variant.config.label_version != LabelConfig().label_version
    assert sweep.variant("default").config == LabelConfig()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("x: fit_passes=2.5", "fit_passes takes an int, got '2.5'"),
        ("x: persistent_se_margin=inf", "persistent_se_margin must be finite and >= 0"),
        ("x: no_such_field=1", "'no_such_field' is not an int or float field of LabelConfig"),
        (
            "x: signal_orientation=1",
            "'signal_orientation' is not an int or float field of LabelConfig",
        ),
        ("x: fit_passes", "'fit_passes' is not FIELD=VALUE"),
        ("x: fit_passes=3, fit_passes=4", "fit_passes is set twice"),
        (": fit_passes=2", "has no name"),
        ("x: persistent_se_margin=-1", "persistent_se_margin must be finite and >= 0"),
    ],
)
def test_a_bad_variant_is_refused_with_its_reason(
    sweep: ModuleType, text: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        sweep.variant(text)
