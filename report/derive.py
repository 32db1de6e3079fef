"""From the report views' frames to what the sections draw: weakest groups, buckets, champion metrics,
the truth histogram, and `derive_report_data`, which assembles them all into `ReportData`.

Pure functions of small frames (the views are aggregated in SQL); the statistics are in `report.stats`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl

from features.prompt_text import is_filler_word
from report.changes import run_figures
from report.config import DEFAULT_REPORT_CONFIG, ReportConfig
from report.data import ReportData, TruthData
from report.stats import paired_version_tests, pairwise_welch_holm, with_confidence_interval
from warehouse.report_views import ReportViews, TruthViews


def derive_report_data(
    views: ReportViews, config: ReportConfig = DEFAULT_REPORT_CONFIG
) -> ReportData:
    """The statistics the renderer draws, derived from the report views' frames."""
    overview_rows = views.warehouse_overview.to_dicts()
    registry = views.model_registry
    lateness = views.event_lateness
    unigrams, bigrams = weakest_distinct_ngrams(views.prompt_ngrams, config)
    truth = derive_truth(views.truth, config) if views.truth is not None else None
    data = ReportData(
        overview=overview_rows[0] if overview_rows else {},
        version_quality=with_confidence_interval(views.model_version_quality, config.confidence),
        version_daily=with_confidence_interval(views.model_version_daily, config.confidence),
        version_pairs=pairwise_welch_holm(views.model_version_quality, config.family_alpha),
        version_paired=paired_version_tests(
            views.model_version_paired, config.confidence, config.family_alpha
        ),
        weakest_unigrams=unigrams,
        weakest_bigrams=bigrams,
        weakest_clauses=weakest_groups(
            views.prompt_clauses,
            config.ngram_min_generations,
            config.ngram_rows,
            config.confidence,
        ),
        attributes=attribute_quality(
            views.generation_attributes,
            config.ngram_min_generations,
            config.attribute_max_values,
            config.confidence,
        ),
        funnel=views.funnel,
        position_bias=position_buckets(views.position_view_rate, config.max_position),
        duration_bias=duration_buckets(views.duration_completion, config.duration_buckets),
        ingest_files=views.ingest_files,
        quarantine_reasons=views.quarantine_reasons,
        lateness=lateness,
        late_events=late_event_count(lateness, config.late_after_days),
        abnormal_viewers=views.abnormal_viewers,
        registry=registry.drop("metrics"),
        champion_metrics=champion_metrics(registry),
        champion_history=views.champion_history,
        exports=views.exports,
        previous_run=views.previous_run,
        truth=truth,
        config=config,
        label_diagnostics=views.label_diagnostics,
    )
    return replace(data, figures=run_figures(data))


def derive_truth(views: TruthViews, config: ReportConfig) -> TruthData:
    """Labels against the truth: the agreement row, the 2D histogram on a grid, the per-group frames."""
    agreement_rows = views.agreement.to_dicts()
    return TruthData(
        agreement=agreement_rows[0] if agreement_rows else {},
        hist2d=truth_histogram(views.hist2d, config.truth_bins),
        by_label=views.by_label,
        by_model_version=views.by_model_version,
    )


def with_adjusted_interval(frame: pl.DataFrame, confidence: float) -> pl.DataFrame:
    """Confidence interval of `mean_adjusted` (quality minus the serving version's mean) as
    adjusted_ci_low / adjusted_ci_high, from sd_adjusted and the group's size."""
    adjusted = with_confidence_interval(
        frame.select(
            "generations",
            pl.col("mean_adjusted").alias("mean_quality"),
            (pl.col("sd_adjusted") / pl.col("generations").sqrt()).alias("se_quality"),
        ),
        confidence,
    )
    return frame.with_columns(
        adjusted_ci_low=adjusted["ci_low"], adjusted_ci_high=adjusted["ci_high"]
    )


def ranked_weakest(groups: pl.DataFrame, min_generations: int) -> pl.DataFrame:
    """Groups with at least `min_generations` generations, weakest first: by the version-adjusted
    mean where the view has it (a group is not blamed for the versions that served it), else raw."""
    key = groups.columns[0]
    order = "mean_adjusted" if "mean_adjusted" in groups.columns else "mean_quality"
    return groups.filter(pl.col("generations") >= min_generations).sort(
        [order, "generations", key], descending=[False, True, False]
    )


def with_intervals(weakest: pl.DataFrame, confidence: float) -> pl.DataFrame:
    """Confidence intervals of the raw mean (ci_low/ci_high) and of the adjusted one when present."""
    raw = with_confidence_interval(
        weakest.with_columns(se_quality=pl.col("sd_quality") / pl.col("generations").sqrt()),
        confidence,
    )
    return with_adjusted_interval(raw, confidence) if "mean_adjusted" in raw.columns else raw


def weakest_groups(
    groups: pl.DataFrame, min_generations: int, rows: int, confidence: float
) -> pl.DataFrame:
    """The `rows` groups (clauses, n-grams...) with the lowest (version-adjusted) mean quality among
    those with at least `min_generations` generations, with confidence intervals of their means."""
    return with_intervals(ranked_weakest(groups, min_generations).head(rows), confidence)


def content_ngrams(ngrams: pl.DataFrame, min_chars: int) -> pl.DataFrame:
    """The n-grams without filler: no stop word, fragment or bare number among their words."""
    words = pl.col("ngram").str.split(" ")
    filler = words.list.eval(is_filler_word(pl.element(), min_chars)).list.any()
    return ngrams.filter(~filler)


def weakest_distinct_ngrams(
    ngrams: pl.DataFrame, config: ReportConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The weakest 1-grams and 2-grams without filler that do not repeat each other: going from the
    weakest up over both kinds, an n-gram is left out when it shares a word with one already listed
    (so "neon sign" is not followed by "neon", "sign" or "sign says") or covers the same generations
    (same count and mean: "storefront", "banner" and "grand" of one phrase are listed once)."""
    ranked = ranked_weakest(
        content_ngrams(ngrams, config.ngram_min_word_chars), config.ngram_min_generations
    )
    chosen: dict[int, list[int]] = {1: [], 2: []}
    used: set[str] = set()
    covered: set[tuple[int, float]] = set()
    columns = ranked.select("ngram", "ngram_words", "generations", "mean_quality")
    for index, (ngram, words, generations, mean) in enumerate(columns.iter_rows()):
        parts, same_set = set(ngram.split(" ")), (generations, round(mean, 9))
        if words not in chosen or len(chosen[words]) >= config.ngram_rows:
            continue
        if parts & used or same_set in covered:
            continue
        chosen[words].append(index)
        used |= parts
        covered.add(same_set)
        if all(len(picked) >= config.ngram_rows for picked in chosen.values()):
            break
    return tuple(  # type: ignore[return-value]
        with_intervals(
            ranked.select(pl.all().gather(chosen[words])).drop("ngram_words"), config.confidence
        )
        for words in (1, 2)
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
