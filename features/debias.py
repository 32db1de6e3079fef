"""Corrections of raw engagement: feed-position (examination) bias and duration bias.

All estimated from the data: the examination curve from views per impression by feed slot, the
duration correction as the per-view quantile of the watch ratio among views of videos of similar
duration (Kuaishou's D2Q). Abnormal viewers are `features.abnormal_viewers`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse

from features.curve_shrinkage import SlotEstimates, raw_log_propensity, shrunk_log_propensity

SLOT: list[str] = ["surface", "position"]
"""An exposure slot: the surface and, on the feed, the position (-1 where the surface has none)."""

CURVE_SCHEMA: dict[str, pl.DataType] = {
    "surface": pl.String,
    "position": pl.Int64,
    "impressions": pl.Int64,
    "views": pl.Int64,
    "propensity": pl.Float64,
}


@dataclass(frozen=True)
class ExposureCells:
    """Impressions per (generation, exposure slot) as a sparse generation x slot matrix, with view totals.

    Built once per run from the slots frame: the examination fit and the effective impressions
    under any curve are then sparse products instead of joins and group-bys over every cell.
    """

    slots: pl.DataFrame
    """surface, position, impressions, views: one row per matrix column, sorted by slot."""
    generation_ids: pl.Series
    """The generation of each matrix row (null for an index no cell uses)."""
    shown: sparse.csr_array
    """Impressions, generations x slots."""
    views_by_generation: np.ndarray


def exposure_cells(positions: pl.DataFrame) -> ExposureCells:
    """The cells of `positions` (generation_id, surface, position, impressions, views, optionally generation_index).

    `generation_index`, when given, is a dense integer index of generation_id (saves hashing the ids).
    """
    if positions.is_empty():
        raise ValueError("exposure cells need at least one slot row")
    if positions["surface"].null_count() or positions["position"].null_count():
        raise ValueError(
            "exposure slots need a surface and a position (-1 off the feed) on every row"
        )
    surfaces = positions["surface"].unique().sort()
    surface = positions["surface"].cast(pl.Enum(surfaces.to_list())).to_physical().to_numpy()
    position = positions["position"].to_numpy().astype(np.int64)
    low = int(position.min())
    span = int(position.max()) - low + 1
    key = surface.astype(np.int64) * span + (position - low)
    if surfaces.len() * span <= 4 * key.size + 1024:
        present = np.bincount(key, minlength=surfaces.len() * span) > 0
        slot_keys = np.flatnonzero(present)
        slot = (np.cumsum(present) - 1)[key]
    else:
        slot_keys, slot = np.unique(key, return_inverse=True)
    if "generation_index" in positions.columns:
        generation = positions["generation_index"].to_numpy().astype(np.int64)
    else:
        generation = (
            positions.select(pl.col("generation_id").rank("dense").cast(pl.Int64) - 1)
            .to_series()
            .to_numpy()
        )
    shown = positions["impressions"].to_numpy().astype(np.float64)
    viewed = positions["views"].to_numpy().astype(np.float64)
    order = None
    if not np.all(generation[1:] >= generation[:-1]):
        # CSR rows must be contiguous: order the cells by generation (stable: ties keep their order)
        order = np.argsort(generation, kind="stable")
        generation, slot, shown, viewed = (
            generation[order],
            slot[order],
            shown[order],
            viewed[order],
        )
    n_generations, n_slots = int(generation.max()) + 1, slot_keys.size
    per_generation = np.bincount(generation, minlength=n_generations)
    row_starts = np.zeros(n_generations + 1, dtype=np.int64)
    np.cumsum(per_generation, out=row_starts[1:])
    # the id of each row, read off its first cell (a row without cells has none)
    first = np.minimum(row_starts[:-1], generation.size - 1)
    ids = (
        positions["generation_id"].cast(pl.String).gather(first if order is None else order[first])
    )
    if not per_generation.all():
        ids = pl.select(pl.when(pl.Series(per_generation > 0)).then(ids)).to_series()
    return ExposureCells(
        slots=pl.DataFrame(
            {
                "surface": surfaces.gather(slot_keys // span),
                "position": slot_keys % span + low,
                "impressions": np.bincount(slot, weights=shown, minlength=n_slots),
                "views": np.bincount(slot, weights=viewed, minlength=n_slots),
            },
            schema={
                "surface": pl.String,
                "position": pl.Int64,
                "impressions": pl.Float64,
                "views": pl.Float64,
            },
        ),
        generation_ids=ids,
        shown=sparse.csr_array((shown, slot, row_starts), shape=(n_generations, n_slots)),
        views_by_generation=np.bincount(generation, weights=viewed, minlength=n_generations),
    )


@dataclass(frozen=True)
class CurveShape:
    """How the examination curve is fitted: fixed-point rounds and the shrinkage toward a smooth shape."""

    iterations: int
    tolerance: float = 0.0
    smooth_degree: int = 2
    shrink_passes: int = 5
    anchor: tuple[str, int] = ("feed", 0)


def examination_curve(positions: pl.DataFrame, shape: CurveShape) -> pl.DataFrame:
    """Examination propensity per exposure slot relative to the anchor (surface, position, impressions, views, propensity).

    `positions` holds impressions and views per (generation_id, surface, position), optionally with a
    dense integer `generation_index` (saves hashing the ids); see `fitted_examination`.
    """
    if positions.is_empty() or positions["impressions"].sum() == 0:
        return pl.DataFrame(schema=CURVE_SCHEMA)
    return fitted_examination(exposure_cells(positions), shape)


def _expected_views(cells: ExposureCells, shape: CurveShape) -> np.ndarray:
    """Per slot: the views it would get at examination 1, from the rank-one fixed point
    views ~ impressions * propensity[slot] * attractiveness[generation] (impressions without rounds)."""
    shown = cells.shown
    views_by_slot = cells.slots["views"].to_numpy()
    expected = cells.slots["impressions"].to_numpy().astype(np.float64)
    examination = views_by_slot / np.maximum(expected, 1.0)
    for _ in range(shape.iterations):
        previous = examination
        exposure = shown @ examination
        attractiveness = np.divide(
            cells.views_by_generation, exposure, out=np.zeros(exposure.size), where=exposure > 0
        )
        expected = shown.T @ attractiveness
        examination = np.divide(
            views_by_slot, expected, out=np.zeros(expected.size), where=expected > 0
        )
        if np.max(np.abs(examination - previous)) <= shape.tolerance * np.max(previous):
            break
    return expected


def fitted_examination(cells: ExposureCells, shape: CurveShape) -> pl.DataFrame:
    """Examination propensity per exposure slot of `cells`, relative to the anchor.

    With iterations = 0 the raw propensity is the pooled view rate of the slot; each iteration refits
    views ~ impressions * propensity[slot] * attractiveness[generation] (a rank-one Poisson fixed point),
    so a feed that ranks better videos higher does not inflate the top slots; the iterations stop
    early once no propensity moves by more than `tolerance` times the largest. The raw values are then
    shrunk toward a smooth non-increasing shape (features.curve_shrinkage): no sparse slot swings it.
    """
    slots = cells.slots
    if slots.is_empty() or slots["impressions"].sum() == 0:
        return pl.DataFrame(schema=CURVE_SCHEMA)
    views = slots["views"].to_numpy().astype(np.float64)
    estimates = SlotEstimates(
        on_feed=(slots["surface"] == "feed").to_numpy(),
        position=slots["position"].to_numpy(),
        impressions=slots["impressions"].to_numpy().astype(np.float64),
        views=views,
        log_raw=raw_log_propensity(views, _expected_views(cells, shape)),
    )
    log_propensity = shrunk_log_propensity(estimates, shape.smooth_degree, shape.shrink_passes)
    surface, position = shape.anchor
    anchor = (
        (estimates.on_feed & (estimates.position == position))
        if surface == "feed"
        else ((slots["surface"] == surface).to_numpy() & (estimates.position == position))
    )
    reference = (
        int(np.flatnonzero(anchor)[0]) if anchor.any() else int(np.argmax(estimates.impressions))
    )
    return slots.select(
        "surface",
        "position",
        pl.col("impressions").cast(pl.Int64),
        pl.col("views").cast(pl.Int64),
        propensity=pl.Series(np.exp(log_propensity - log_propensity[reference]), dtype=pl.Float64),
    ).sort(SLOT)


def slotted_exposure(cells: ExposureCells, curve: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per matrix row of `cells`: slotted impressions and their sum of examination propensities (the COEC denominator).

    A slot missing from the curve (first seen after the curve was fitted) counts with propensity 1.
    """
    propensity = (
        cells.slots.select(SLOT)
        .join(curve.select(*SLOT, "propensity"), on=SLOT, how="left", maintain_order="left")
        .select(pl.col("propensity").fill_null(1.0))
        .to_series()
        .to_numpy()
    )
    shown = cells.shown
    return shown @ np.ones(shown.shape[1]), shown @ propensity


def effective_impressions(positions: pl.DataFrame, curve: pl.DataFrame) -> pl.DataFrame:
    """Per generation: slotted impressions and their sum of examination propensities (the COEC denominator).

    A slot missing from the curve (first seen after the curve was fitted) counts with propensity 1.
    """
    if positions.is_empty():
        return pl.DataFrame(
            schema={
                "generation_id": pl.String,
                "slotted_impressions": pl.Int64,
                "effective_slotted": pl.Float64,
            }
        )
    cells = exposure_cells(positions)
    slotted, effective = slotted_exposure(cells, curve)
    return pl.DataFrame(
        {
            "generation_id": cells.generation_ids,
            "slotted_impressions": slotted.astype(np.int64),
            "effective_slotted": effective,
        }
    ).drop_nulls("generation_id")


def duration_bucket_edges(durations_ms: pl.Series, buckets: int) -> list[int]:
    """Lower edges (first is 0) of `buckets` equal-frequency duration buckets; ties merge buckets."""
    values = durations_ms.drop_nulls().to_numpy()
    if values.size == 0 or buckets <= 1:
        return [0]
    cuts = np.quantile(values, np.arange(1, buckets) / buckets, method="lower")
    return [0, *sorted({int(c) + 1 for c in cuts if int(c) + 1 > int(values.min())})]


def duration_bucket(duration_ms: pl.Expr, edges: list[int]) -> pl.Expr:
    """Index of the bucket (by its lower edge) a duration falls in."""
    expr = pl.lit(0, dtype=pl.Int32)
    for index, edge in enumerate(edges[1:], start=1):
        expr = pl.when(duration_ms >= edge).then(pl.lit(index, dtype=pl.Int32)).otherwise(expr)
    return expr


def duration_buckets(durations_ms: pl.Series, edges: list[int]) -> np.ndarray:
    """`duration_bucket` of every duration as an array (a null duration falls in bucket 0)."""
    values = durations_ms.cast(pl.Float64).fill_null(float("-inf")).to_numpy()
    bucket = np.searchsorted(np.asarray(edges[1:], dtype=np.float64), values, side="right")
    return bucket.astype(np.int32)


def completion_quantile_grid(
    completion: pl.DataFrame, edges: list[int], levels: int
) -> pl.DataFrame:
    """D2Q reference: `levels` + 1 quantiles (0..1) of completion within each duration bucket.

    `completion` holds duration_ms and completion (one value per generation with views). Returns
    duration_bucket, min_duration_ms, level, value; a bucket without generations gets a grid of 0..1.
    """
    values = completion["completion"].cast(pl.Float64).to_numpy()
    observed = ~np.isnan(values) & completion["completion"].is_not_null().to_numpy()
    buckets = duration_buckets(completion["duration_ms"], edges)
    return completion_grid(values[observed], buckets[observed], edges, levels)


def completion_grid(
    values: np.ndarray, buckets: np.ndarray, edges: list[int], levels: int
) -> pl.DataFrame:
    """`completion_quantile_grid` of completion `values` whose duration buckets are `buckets`."""
    grid_levels = np.array([i / levels for i in range(levels + 1)])
    quantiles = [
        np.quantile(of_bucket, grid_levels) if of_bucket.size else grid_levels
        for of_bucket in (values[buckets == bucket] for bucket in range(len(edges)))
    ]
    return pl.DataFrame(
        {
            "duration_bucket": np.repeat(np.arange(len(edges)), grid_levels.size),
            "min_duration_ms": np.repeat(np.asarray(edges, dtype=np.int64), grid_levels.size),
            "level": np.tile(grid_levels, len(edges)),
            "value": np.concatenate(quantiles).astype(np.float64),
        },
        schema={
            "duration_bucket": pl.Int32,
            "min_duration_ms": pl.Int64,
            "level": pl.Float64,
            "value": pl.Float64,
        },
    )


def grid_edges(grid: pl.DataFrame) -> list[int]:
    """The duration bucket lower edges a completion grid was fitted with."""
    return (
        grid.select("duration_bucket", "min_duration_ms")
        .unique()
        .sort("duration_bucket")["min_duration_ms"]
        .to_list()
    )


def completion_quantile(completion: pl.DataFrame, grid: pl.DataFrame) -> pl.Series:
    """Each row's position (0..1) in its duration bucket's completion distribution (linear between grid quantiles).

    `completion` holds duration_ms and completion; rows with a null completion get null.
    """
    values = completion["completion"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    buckets = duration_buckets(completion["duration_ms"], grid_edges(grid))
    return pl.Series(
        "completion_quantile", completion_positions(values, buckets, grid), dtype=pl.Float64
    ).fill_nan(None)


def completion_positions(values: np.ndarray, buckets: np.ndarray, grid: pl.DataFrame) -> np.ndarray:
    """`completion_quantile` of completion `values` whose duration buckets are `buckets` (NaN stays NaN)."""
    ordered = grid.sort("duration_bucket", "level")
    grid_bucket = ordered["duration_bucket"].to_numpy()
    grid_value, grid_level = ordered["value"].to_numpy(), ordered["level"].to_numpy()
    out = np.full(values.size, np.nan)
    observed = ~np.isnan(values)
    for b in np.unique(buckets[observed]):
        of_grid = grid_bucket == b
        xs, ys = grid_value[of_grid], grid_level[of_grid]
        rows = (buckets == b) & observed
        # ties in the grid (a point mass) map to the middle of their levels
        upper = np.interp(values[rows], xs, ys)
        lower = -np.interp(-values[rows], -xs[::-1], -ys[::-1])
        out[rows] = 0.5 * (upper + lower)
    return out
