"""The numbers of the report: `report_*` views (warehouse/sql/report/*.sql) read into small polars frames.

Every figure is aggregated in SQL first, so what reaches Python (and the HTML) is bounded by the number of
model versions, days, n-grams, positions and bins, never by the number of events. The statistics on top
(confidence intervals, Welch tests with Holm correction, bucketing) are pure functions of those frames.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
from scipy import stats

from warehouse.sql_files import SQL_ROOT, sql_text

log = logging.getLogger(__name__)

REPORT_SQL_FOLDER = "report"

# Allowlist of the views the report reads; each is `warehouse/sql/report/<name>.sql`.
REPORT_VIEWS: tuple[str, ...] = (
    "report_warehouse_overview",
    "report_model_version_quality",
    "report_model_version_daily",
    "report_prompt_ngrams",
    "report_prompt_clauses",
    "report_generation_attributes",
    "report_funnel",
    "report_position_view_rate",
    "report_duration_completion",
    "report_ingest_files",
    "report_quarantine_reasons",
    "report_event_lateness",
    "report_abnormal_viewers",
    "report_model_registry",
    "report_champion_history",
    "report_truth_agreement",
    "report_truth_hist2d",
    "report_truth_by_label",
    "report_truth_by_model_version",
)

TRUTH_VIEWS: tuple[str, ...] = tuple(v for v in REPORT_VIEWS if v.startswith("report_truth"))


@dataclass(frozen=True)
class ReportConfig:
    """Choices the report makes on top of the views: confidence, thresholds, bucket widths, table lengths."""

    confidence: float = 0.95
    family_alpha: float = 0.05
    ngram_min_generations: int = 30
    ngram_rows: int = 12
    attribute_max_values: int = 12
    max_position: int = 30
    duration_buckets: int = 10
    late_after_days: int = 1
    truth_bins: int = 25


@dataclass(frozen=True)
class ReportData:
    """Everything the renderer draws, as small frames (no raw rows)."""

    overview: dict[str, Any]
    version_quality: pl.DataFrame
    version_daily: pl.DataFrame
    version_pairs: pl.DataFrame
    weakest_unigrams: pl.DataFrame
    weakest_bigrams: pl.DataFrame
    weakest_clauses: pl.DataFrame
    attributes: pl.DataFrame
    funnel: pl.DataFrame
    position_bias: pl.DataFrame
    duration_bias: pl.DataFrame
    ingest_files: pl.DataFrame
    quarantine_reasons: pl.DataFrame
    lateness: pl.DataFrame
    late_events: int
    abnormal_viewers: pl.DataFrame
    registry: pl.DataFrame
    champion_metrics: dict[str, Any] | None
    champion_history: pl.DataFrame
    truth: TruthData | None = None
    config: ReportConfig = field(default_factory=ReportConfig)


@dataclass(frozen=True)
class TruthData:
    """Label quality against the simulator's hidden truth."""

    agreement: dict[str, Any]
    hist2d: np.ndarray
    by_label: pl.DataFrame
    by_model_version: pl.DataFrame


# ---------------------------------------------------------------------------- views and truth


def report_view_names() -> list[str]:
    """Names of the view files in warehouse/sql/report (the allowlist must cover them all)."""
    folder = SQL_ROOT / REPORT_SQL_FOLDER
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))


def create_report_views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create or replace every `report_*` view so analysts can query them; returns their names."""
    for name in REPORT_VIEWS:
        con.execute(sql_text(f"{REPORT_SQL_FOLDER}/{name}"))
    return list(REPORT_VIEWS)


def load_truth(con: duckdb.DuckDBPyConnection, truth_path: str | Path) -> int:
    """Replace `report_truth` with the truth parquet (generation_id, true_quality); returns its rows."""
    path = Path(truth_path)
    if not path.is_file():
        raise FileNotFoundError(f"truth file not found: {path}")
    columns = {
        row[0]
        for row in con.execute(
            "select column_name from (describe select * from read_parquet(?))", [str(path)]
        ).fetchall()
    }
    missing = {"generation_id", "true_quality"} - columns
    if missing:
        raise ValueError(f"truth file {path} lacks column(s) {', '.join(sorted(missing))}")
    con.execute("begin transaction")
    try:
        con.execute("delete from report_truth")
        con.execute(
            "insert into report_truth (generation_id, true_quality, source_path, loaded_at) "
            "select cast(generation_id as varchar), cast(true_quality as double), ?, current_timestamp "
            "from read_parquet(?) where generation_id is not null and true_quality is not null",
            [str(path), str(path)],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return int(con.execute("select count(*) from report_truth").fetchall()[0][0])


def read_view(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    """All rows of one report view (every view is aggregated, hence small)."""
    if name not in REPORT_VIEWS:
        raise ValueError(f"not a report view: {name}")
    return con.table(name).pl()  # name is from the allowlist; no SQL text is built


def read_report_data(
    con: duckdb.DuckDBPyConnection, config: ReportConfig = ReportConfig(), with_truth: bool = False
) -> ReportData:
    """Read the report views (already created) and derive the statistics the renderer draws."""
    views = {
        name: read_view(con, name) for name in REPORT_VIEWS if with_truth or name not in TRUTH_VIEWS
    }
    overview_rows = views["report_warehouse_overview"].to_dicts()
    registry = views["report_model_registry"]
    lateness = views["report_event_lateness"]
    ngrams = views["report_prompt_ngrams"]
    truth = None
    if with_truth:
        agreement_rows = views["report_truth_agreement"].to_dicts()
        truth = TruthData(
            agreement=agreement_rows[0] if agreement_rows else {},
            hist2d=truth_histogram(views["report_truth_hist2d"], config.truth_bins),
            by_label=views["report_truth_by_label"],
            by_model_version=views["report_truth_by_model_version"],
        )
    return ReportData(
        overview=overview_rows[0] if overview_rows else {},
        version_quality=with_confidence_interval(
            views["report_model_version_quality"], config.confidence
        ),
        version_daily=with_confidence_interval(
            views["report_model_version_daily"], config.confidence
        ),
        version_pairs=pairwise_welch_holm(
            views["report_model_version_quality"], config.family_alpha
        ),
        weakest_unigrams=weakest_ngrams(
            ngrams, 1, config.ngram_min_generations, config.ngram_rows, config.confidence
        ),
        weakest_bigrams=weakest_ngrams(
            ngrams, 2, config.ngram_min_generations, config.ngram_rows, config.confidence
        ),
        weakest_clauses=weakest_groups(
            views["report_prompt_clauses"],
            config.ngram_min_generations,
            config.ngram_rows,
            config.confidence,
        ),
        attributes=attribute_quality(
            views["report_generation_attributes"],
            config.ngram_min_generations,
            config.attribute_max_values,
            config.confidence,
        ),
        funnel=views["report_funnel"],
        position_bias=position_buckets(views["report_position_view_rate"], config.max_position),
        duration_bias=duration_buckets(
            views["report_duration_completion"], config.duration_buckets
        ),
        ingest_files=views["report_ingest_files"],
        quarantine_reasons=views["report_quarantine_reasons"],
        lateness=lateness,
        late_events=late_event_count(lateness, config.late_after_days),
        abnormal_viewers=views["report_abnormal_viewers"],
        registry=registry.drop("metrics"),
        champion_metrics=champion_metrics(registry),
        champion_history=views["report_champion_history"],
        truth=truth,
        config=config,
    )


# ---------------------------------------------------------------------------- pure statistics


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


def weakest_groups(
    groups: pl.DataFrame, min_generations: int, rows: int, confidence: float
) -> pl.DataFrame:
    """The `rows` groups (n-grams, clauses...) with the lowest mean quality among those with at least
    `min_generations` generations, with confidence intervals of their means."""
    key = groups.columns[0]
    weakest = (
        groups.filter(pl.col("generations") >= min_generations)
        .sort(["mean_quality", "generations", key], descending=[False, True, False])
        .head(rows)
    )
    return with_confidence_interval(
        weakest.with_columns(se_quality=pl.col("sd_quality") / pl.col("generations").sqrt()),
        confidence,
    )


def weakest_ngrams(
    ngrams: pl.DataFrame, words: int, min_generations: int, rows: int, confidence: float
) -> pl.DataFrame:
    """`weakest_groups` among the n-grams of `words` words."""
    return weakest_groups(
        ngrams.filter(pl.col("ngram_words") == words).drop("ngram_words"),
        min_generations,
        rows,
        confidence,
    )


def attribute_quality(
    attributes: pl.DataFrame, min_generations: int, max_values: int, confidence: float
) -> pl.DataFrame:
    """Quality per value of the categorical extra fields: values with at least `min_generations`
    generations, of fields with at most `max_values` distinct present values (continuous fields skipped)."""
    present = attributes.filter(pl.col("value") != "(absent)")
    categorical = (
        present.group_by("attribute")
        .agg(pl.len().alias("values"))
        .filter(pl.col("values") <= max_values)
    )
    kept = attributes.join(categorical.select("attribute"), on="attribute").filter(
        pl.col("generations") >= min_generations
    )
    return with_confidence_interval(
        kept.with_columns(se_quality=pl.col("sd_quality") / pl.col("generations").sqrt()),
        confidence,
    ).sort("attribute", "mean_quality")


def position_buckets(by_position: pl.DataFrame, max_position: int) -> pl.DataFrame:
    """Slots 0..max_position-1 as they are, the rest pooled as `max_position` (shown as "N+").

    Three view rates per slot, each also relative to slot 0 (`*_vs_top`): raw (events as ingested),
    clean (without the viewers the label stage removed) and corrected (clean views over
    propensity-weighted clean impressions: the examination effect divided out; null where the label
    stage fitted no propensity). What slope the corrected curve keeps is the ranker placing better
    videos higher, not examination.
    """
    pooled = (
        by_position.with_columns(position=pl.min_horizontal("position", pl.lit(max_position)))
        .group_by("position")
        .agg(
            pl.col("impressions").sum().cast(pl.Float64),
            pl.col("views").sum().cast(pl.Float64),
            pl.col("clean_impressions").sum().cast(pl.Float64),
            pl.col("clean_views").sum().cast(pl.Float64),
            pl.col("clean_effective_impressions").sum().cast(pl.Float64),
            fitted=pl.col("clean_effective_impressions").is_not_null().all(),
        )
        .sort("position")
    )
    rates = pooled.with_columns(
        raw_view_rate=pl.when(pl.col("impressions") > 0).then(
            pl.col("views") / pl.col("impressions")
        ),
        clean_view_rate=pl.when(pl.col("clean_impressions") > 0).then(
            pl.col("clean_views") / pl.col("clean_impressions")
        ),
        corrected_view_rate=pl.when(
            pl.col("fitted") & (pl.col("clean_effective_impressions") > 0)
        ).then(pl.col("clean_views") / pl.col("clean_effective_impressions")),
    ).drop("fitted")
    return rates.with_columns(
        (pl.col(c) / pl.col(c).filter(pl.col("position") == 0).first()).alias(
            f"{c.removesuffix('_view_rate')}_vs_top"
        )
        for c in ("raw_view_rate", "clean_view_rate", "corrected_view_rate")
    )


def duration_buckets(by_second: pl.DataFrame, buckets: int) -> pl.DataFrame:
    """Whole-second rows pooled into about `buckets` equal-frequency buckets of labeled generations
    (of views where nothing is labeled), so no bucket is a handful of videos."""
    rows = by_second.sort("duration_s").with_columns(
        weight=pl.when(pl.col("labeled_generations").sum() > 0)
        .then(pl.col("labeled_generations"))
        .otherwise(pl.col("views"))
        .cast(pl.Float64)
    )
    total = float(rows["weight"].sum()) if rows.height else 0.0
    share = (
        (pl.col("weight").cum_sum() - pl.col("weight") / 2) / total if total > 0 else pl.lit(0.0)
    )
    bucketed = rows.with_columns(
        bucket=(share * buckets).floor().clip(0, buckets - 1).cast(pl.Int64),
        score_sum=pl.col("mean_completion_score").fill_null(0.0) * pl.col("labeled_generations"),
    )
    pooled = bucketed.group_by("bucket").agg(
        duration_from_s=pl.col("duration_s").min(),
        duration_to_s=pl.col("duration_s").max(),
        views=pl.col("views").sum(),
        completions=pl.col("completions").sum(),
        labeled_generations=pl.col("labeled_generations").sum(),
        score_sum=pl.col("score_sum").sum(),
    )
    return (
        pooled.with_columns(
            raw_completion_rate=pl.when(pl.col("views") > 0).then(
                pl.col("completions") / pl.col("views")
            ),
            mean_completion_score=pl.when(pl.col("labeled_generations") > 0).then(
                pl.col("score_sum") / pl.col("labeled_generations")
            ),
        )
        .drop("score_sum")
        .sort("bucket")
    )


def late_event_count(lateness: pl.DataFrame, late_after_days: int) -> int:
    """Events whose occurred_at is at least `late_after_days` days older than their file's newest event."""
    return int(lateness.filter(pl.col("lag_days") >= late_after_days)["events"].sum())


def champion_metrics(registry: pl.DataFrame) -> dict[str, Any] | None:
    """The metrics JSON of the current champion (newest if several are flagged), or None."""
    champions = registry.filter(pl.col("is_champion")).sort("created_at", descending=True)
    if champions.is_empty():
        return None
    raw = champions["metrics"][0]
    if raw is None:
        return {}
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def truth_histogram(hist2d: pl.DataFrame, bins: int) -> np.ndarray:
    """Counts[truth_bin, quality_bin] on a bins x bins grid from the percent-binned view."""
    grid = np.zeros((bins, bins), dtype=np.int64)
    if hist2d.is_empty():
        return grid
    q = np.minimum(hist2d["quality_pct"].to_numpy() * bins // 100, bins - 1)
    t = np.minimum(hist2d["truth_pct"].to_numpy() * bins // 100, bins - 1)
    np.add.at(grid, (t, q), hist2d["generations"].to_numpy())
    return grid
