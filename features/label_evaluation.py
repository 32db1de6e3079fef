"""How well labels and pairs recover a known ground truth (the simulator's true_quality)."""

from __future__ import annotations

import polars as pl

DEFAULT_BANDS: tuple[tuple[float, float], ...] = ((0.5, 0.7), (0.7, 0.9), (0.9, 1.0))


def spearman(frame: pl.DataFrame, x: str, y: str) -> float | None:
    """Spearman rank correlation of two columns over rows where both are present (None under 3 rows)."""
    both = frame.select(x, y).drop_nulls()
    if both.height < 3:
        return None
    value = both.select(pl.corr(x, y, method="spearman")).item()
    return None if value is None else float(value)


def rank_agreement(
    labels: pl.DataFrame,
    naive: pl.DataFrame,
    truth: pl.DataFrame,
    *,
    min_impressions: int,
) -> pl.DataFrame:
    """Spearman with true_quality of quality_score and of the naive rates, over all labeled generations and well-shown ones.

    `labels`: generation_id, impressions, quality_score; `naive`: generation_id, naive_like_rate,
    naive_view_rate; `truth`: generation_id, true_quality. Returns score, scope, generations, spearman.
    """
    joined = (
        labels.select("generation_id", "impressions", "quality_score")
        .join(
            naive.select("generation_id", "naive_like_rate", "naive_view_rate"),
            on="generation_id",
            how="left",
        )
        .join(truth.select("generation_id", "true_quality"), on="generation_id")
    )
    scopes = {
        "all generations": joined,
        f">= {min_impressions} feed impressions": joined.filter(
            pl.col("impressions") >= min_impressions
        ),
    }
    rows = []
    for score in ("quality_score", "naive_like_rate", "naive_view_rate"):
        for scope, part in scopes.items():
            rows.append(
                {
                    "score": score,
                    "scope": scope,
                    "generations": part.height,
                    "spearman": spearman(part, score, "true_quality"),
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "score": pl.String,
            "scope": pl.String,
            "generations": pl.Int64,
            "spearman": pl.Float64,
        },
    )


def pair_agreement(
    pairs: pl.DataFrame,
    truth: pl.DataFrame,
    bands: tuple[tuple[float, float], ...] = DEFAULT_BANDS,
) -> pl.DataFrame:
    """Share of pairs whose chosen side is truly better, per source (and 'all') and confidence band.

    Bands are [low, high), the last one closed at 1. Pairs with a side missing from the truth are left out.
    Returns source, band, pairs, truly_better (share), mean_confidence.
    """
    quality = truth.select("generation_id", "true_quality")
    judged = (
        pairs.select("chosen_generation_id", "rejected_generation_id", "source", "confidence")
        .join(
            quality.rename({"generation_id": "chosen_generation_id", "true_quality": "chosen_q"}),
            on="chosen_generation_id",
        )
        .join(
            quality.rename(
                {"generation_id": "rejected_generation_id", "true_quality": "rejected_q"}
            ),
            on="rejected_generation_id",
        )
        .with_columns(truly_better=pl.col("chosen_q") > pl.col("rejected_q"))
    )
    band_expr = pl.lit(None, dtype=pl.String)
    for index, (low, high) in enumerate(bands):
        last = index == len(bands) - 1
        inside = (pl.col("confidence") >= low) & (
            (pl.col("confidence") <= high) if last else (pl.col("confidence") < high)
        )
        closing = "]" if last else ")"
        band_expr = (
            pl.when(inside).then(pl.lit(f"[{low:.2f}, {high:.2f}{closing}")).otherwise(band_expr)
        )
    banded = judged.with_columns(band=band_expr).filter(pl.col("band").is_not_null())
    everything = pl.concat([banded, banded.with_columns(source=pl.lit("all"))])
    return (
        everything.group_by("source", "band")
        .agg(
            pairs=pl.len().cast(pl.Int64),
            truly_better=pl.col("truly_better").mean(),
            mean_confidence=pl.col("confidence").mean(),
        )
        .sort("source", "band")
    )


def format_table(frame: pl.DataFrame, float_digits: int = 3) -> str:
    """A plain-text table of a small frame (right-aligned numbers)."""
    header = frame.columns
    rows = [
        [
            "-"
            if value is None
            else f"{value:.{float_digits}f}"
            if isinstance(value, float)
            else str(value)
            for value in row
        ]
        for row in frame.iter_rows()
    ]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    numeric = [dtype.is_numeric() for dtype in frame.dtypes]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric, strict=True)
        )

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])
