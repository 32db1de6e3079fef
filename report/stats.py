"""The report's statistics: Student-t confidence intervals of means, Welch tests, Holm correction.

Pure functions of small summary frames (n, mean, sd / se per group), never of raw rows.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import polars as pl
from scipy import stats


def with_confidence_interval(summary: pl.DataFrame, confidence: float) -> pl.DataFrame:
    """Adds ci_low/ci_high: mean +- t(confidence, n-1) * se (null where n < 2)."""
    n = summary["generations"].to_numpy().astype(float)
    with np.errstate(invalid="ignore"):
        t = np.where(n >= 2, stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)), np.nan)
    half = pl.Series("half", t) * summary["se_quality"]
    return summary.with_columns(
        ci_low=(pl.col("mean_quality") - half).fill_nan(None),
        ci_high=(pl.col("mean_quality") + half).fill_nan(None),
    )


def holm_adjusted(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted


def pairwise_welch_holm(summary: pl.DataFrame, family_alpha: float) -> pl.DataFrame:
    """Welch t-test of mean quality for every pair of model versions, Holm-corrected across the pairs."""
    rows = [r for r in summary.to_dicts() if r["generations"] >= 2 and r["sd_quality"] is not None]
    records = []
    for a, b in combinations(rows, 2):
        if a["sd_quality"] == 0 and b["sd_quality"] == 0:
            p = 0.0 if a["mean_quality"] != b["mean_quality"] else 1.0
            t_stat = math.copysign(math.inf, a["mean_quality"] - b["mean_quality"])
        else:
            result = stats.ttest_ind_from_stats(
                a["mean_quality"],
                a["sd_quality"],
                a["generations"],
                b["mean_quality"],
                b["sd_quality"],
                b["generations"],
                equal_var=False,
            )
            t_stat, p = float(result.statistic), float(result.pvalue)
        records.append(
            {
                "version_a": a["model_version"],
                "version_b": b["model_version"],
                "difference": a["mean_quality"] - b["mean_quality"],
                "t_statistic": t_stat,
                "p_value": p,
            }
        )
    schema = {
        "version_a": pl.String,
        "version_b": pl.String,
        "difference": pl.Float64,
        "t_statistic": pl.Float64,
        "p_value": pl.Float64,
    }
    pairs = pl.DataFrame(records, schema=schema)
    adjusted = holm_adjusted(pairs["p_value"].to_numpy())
    return pairs.with_columns(
        p_holm=pl.Series(adjusted, dtype=pl.Float64),
        significant=pl.Series(adjusted < family_alpha, dtype=pl.Boolean),
    ).sort("p_holm")
