"""The row-level rules every export dataset applies: flagged, in the window, of a selected version,
the first exclusion reason that holds, what a completion points at, and exclusions counted per reason.
Pure polars expressions over the generation facts."""

from __future__ import annotations

import polars as pl

from features.export_config import ExportConfig


def is_flagged(report_threshold: int, prefix: str = "") -> pl.Expr:
    """True where the generation has any content flag or at least `report_threshold` viewer reports."""
    return (pl.col(f"{prefix}content_flag_count").fill_null(0) > 0) | (
        pl.col(f"{prefix}reports").fill_null(0) >= report_threshold
    )


def in_window(config: ExportConfig, column: str) -> pl.Expr:
    """True where `column` (a created_at) lies in [since, until); null timestamps are outside."""
    expr = pl.col(column).is_not_null()
    if config.since is not None:
        expr = expr & (pl.col(column) >= config.since)
    if config.until is not None:
        expr = expr & (pl.col(column) < config.until)
    return expr


def version_selected(config: ExportConfig, column: str) -> pl.Expr:
    """True where the generation's model version is one the export asked for (all when none named)."""
    if not config.model_versions:
        return pl.lit(True)
    return pl.col(column).is_in(list(config.model_versions))


def first_reason(checks: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """The first reason whose exclusion condition holds, else null (the row is exported)."""
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for reason, excluded in reversed(checks):
        expr = pl.when(excluded.fill_null(True)).then(pl.lit(reason)).otherwise(expr)
    return expr.alias("exclusion_reason")


def completion_uri(prefix: str = "") -> pl.Expr:
    """What a completion points at: the output's URI, else its generation_id."""
    return pl.coalesce(pl.col(f"{prefix}output_uri"), pl.col(f"{prefix}generation_id"))


def side_facts(facts: pl.DataFrame, side: str) -> pl.DataFrame:
    """The facts of one side of a pair, every column prefixed `<side>_`."""
    return facts.rename(lambda name: f"{side}_{name}")


def exclusion_counts(dataset: str, candidates: pl.DataFrame) -> pl.DataFrame:
    """Excluded rows of one dataset per reason: dataset, reason, rows."""
    return (
        candidates.filter(pl.col("exclusion_reason").is_not_null())
        .group_by("exclusion_reason")
        .agg(pl.len().cast(pl.Int64).alias("rows"))
        .select(
            pl.lit(dataset).alias("dataset"), pl.col("exclusion_reason").alias("reason"), "rows"
        )
    )
