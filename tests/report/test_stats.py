"""Student-t confidence intervals, Holm adjustment and pairwise Welch tests against scipy."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from report.stats import holm_adjusted, pairwise_welch_holm, with_confidence_interval


def test_confidence_interval_is_student_t() -> None:
    values = np.array([0.1, 0.4, 0.35, 0.8, 0.5])
    summary = pl.DataFrame(
        {"generations": [5], "mean_quality": [values.mean()], "se_quality": [stats.sem(values)]}
    )
    got = with_confidence_interval(summary, 0.95).row(0, named=True)
    low, high = stats.t.interval(0.95, 4, loc=values.mean(), scale=stats.sem(values))
    assert (got["ci_low"], got["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    single = with_confidence_interval(
        pl.DataFrame(
            {"generations": [1], "mean_quality": [0.5], "se_quality": [None]},
            schema_overrides={"se_quality": pl.Float64},
        ),
        0.95,
    ).row(0, named=True)
    assert single["ci_low"] is None


def test_holm_adjustment_matches_the_step_down_definition() -> None:
    adjusted = holm_adjusted(np.array([0.01, 0.04, 0.03, 0.5]))
    assert adjusted == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm_adjusted(np.array([])).size == 0


def test_pairwise_welch_matches_scipy_on_raw_samples() -> None:
    rng = np.random.default_rng(3)
    samples = {
        "a": rng.normal(0.5, 0.1, 40),
        "b": rng.normal(0.56, 0.2, 60),
        "c": rng.normal(0.5, 0.1, 30),
    }
    summary = pl.DataFrame(
        {
            "model_version": list(samples),
            "generations": [len(v) for v in samples.values()],
            "mean_quality": [v.mean() for v in samples.values()],
            "sd_quality": [v.std(ddof=1) for v in samples.values()],
        }
    )
    pairs = pairwise_welch_holm(summary, 0.05)
    assert pairs.height == 3
    raw = {
        (x, y): stats.ttest_ind(samples[x], samples[y], equal_var=False).pvalue
        for x, y in [("a", "b"), ("a", "c"), ("b", "c")]
    }
    got = {(r["version_a"], r["version_b"]): r for r in pairs.to_dicts()}
    for key, p in raw.items():
        assert got[key]["p_value"] == pytest.approx(p)
    assert [got[k]["p_holm"] for k in raw] == pytest.approx(
        list(holm_adjusted(np.array(list(raw.values()))))
    )
    assert all(r["significant"] == (r["p_holm"] < 0.05) for r in pairs.to_dicts())


def test_paired_version_tests_match_a_one_sample_t_test_on_the_differences() -> None:
    from report.stats import paired_version_tests

    differences = np.array([-0.2, -0.1, -0.25, 0.05, -0.15, -0.3])
    sparse = np.array([0.1, 0.12])
    paired = pl.DataFrame(
        {
            "version_a": ["v1", "v1", "v2"],
            "version_b": ["v2", "v3", "v3"],
            "requests": [6, 2, 1],
            "mean_difference": [differences.mean(), sparse.mean(), 0.4],
            "sd_difference": [differences.std(ddof=1), sparse.std(ddof=1), None],
        }
    )
    got = {
        (r["version_a"], r["version_b"]): r
        for r in paired_version_tests(paired, 0.95, 0.05).to_dicts()
    }
    assert set(got) == {("v1", "v2"), ("v1", "v3")}  # one request: no spread, not tested
    expected = stats.ttest_1samp(differences, 0.0)
    row = got[("v1", "v2")]
    assert row["p_value"] == pytest.approx(expected.pvalue)
    assert row["t_statistic"] == pytest.approx(expected.statistic)
    low, high = stats.t.interval(0.95, 5, loc=differences.mean(), scale=stats.sem(differences))
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["p_holm"] == pytest.approx(min(1.0, 2 * min(r["p_value"] for r in got.values())))
    assert row["significant"] == (row["p_holm"] < 0.05)
