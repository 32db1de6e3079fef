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


PAIRED_SCHEMA: dict[str, pl.DataType] = {
    "version_a": pl.String(),
    "version_b": pl.String(),
    "requests": pl.Int64(),
    "mean_difference": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "t_statistic": pl.Float64(),
    "p_value": pl.Float64(),
    "p_holm": pl.Float64(),
    "significant": pl.Boolean(),
}


def paired_version_tests(
    paired: pl.DataFrame, confidence: float, family_alpha: float
) -> pl.DataFrame:
    """One-sample t-test of the within-request differences of each pair of versions (mean A - mean B
    on the same prompts), with its confidence interval, Holm-corrected across the pairs; pairs seen
    in fewer than two requests are left out (no spread to test against)."""
    rows = []
    for r in paired.filter(pl.col("requests") >= 2).to_dicts():
        n, mean, sd = int(r["requests"]), float(r["mean_difference"]), r["sd_difference"]
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * (sd or 0.0) / math.sqrt(n)
        if not sd:
            t_stat = math.copysign(math.inf, mean) if mean else 0.0
            p = 0.0 if mean else 1.0
        else:
            t_stat = mean / (sd / math.sqrt(n))
            p = float(2 * stats.t.sf(abs(t_stat), n - 1))
        rows.append(
            {
                "version_a": r["version_a"],
                "version_b": r["version_b"],
                "requests": n,
                "mean_difference": mean,
                "ci_low": mean - half,
                "ci_high": mean + half,
                "t_statistic": t_stat,
                "p_value": p,
            }
        )
    tested = pl.DataFrame(rows, schema={k: PAIRED_SCHEMA[k] for k in list(PAIRED_SCHEMA)[:8]})
    adjusted = holm_adjusted(tested["p_value"].to_numpy())
    return tested.with_columns(
        p_holm=pl.Series(adjusted, dtype=pl.Float64),
        significant=pl.Series(adjusted < family_alpha, dtype=pl.Boolean),
    ).sort("p_holm", "version_a", "version_b")
