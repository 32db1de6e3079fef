"""A small synthetic population for label tests: per (viewer half, period) cell counts drawn from each
generation's own rates, with the record fields a label run reads; and a label model with parameters
set by hand. Not a test module."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import polars as pl
from scipy.special import ndtr
from scipy.stats import norm

from features.engagement import CELL_COLUMNS, engagement_cells, generation_engagement
from features.label_model import LabelModel

T0 = datetime(2026, 10, 1, tzinfo=UTC)
RATIO_SD: float = 0.35
"""Spread of one view's watch ratio around the generation's completion."""
CELLS: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (0, 1), (1, 1))
ACTIONS: dict[str, str] = {
    "like": "likes",
    "favorite": "favorites",
    "share": "shares",
    "comment": "comments",
    "download": "downloads",
    "dislike": "dislikes",
    "report": "reports",
}


def clipped_mean(centre: float, low: float = 0.0, high: float = 2.0) -> float:
    """E[min(max(X, low), high)] for X ~ N(centre, RATIO_SD): a view's expected capped watch ratio."""
    a, b = (low - centre) / RATIO_SD, (high - centre) / RATIO_SD
    inside = centre * (norm.cdf(b) - norm.cdf(a)) + RATIO_SD * (norm.pdf(a) - norm.pdf(b))
    return float(low * norm.cdf(a) + high * norm.sf(b) + inside)


@dataclass
class LabelWorld:
    """Generations added one by one; `frames` gives (engagement, cells) as the warehouse stores them."""

    seed: int = 0
    records: list[dict] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)
    truths: list[dict] = field(default_factory=list)
    """Each generation's long-run rate of every signal, on the label model's scale."""

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def add(
        self,
        generation_id: str,
        *,
        impressions: int,
        view_rate: float,
        completion: float = 0.5,
        actions: dict[str, float] | None = None,
        examination: float = 1.0,
        duration_ms: int = 8000,
        request: str | None = None,
        model_version: str = "m1",
        copies: dict[str, str] | None = None,
        created_at: datetime = T0,
    ) -> None:
        """One generation: its impressions spread over the 4 cells, views ~ Bin(impressions, examination x
        view_rate), each action ~ Bin(views, rate); `copies` makes a count column equal another's."""
        self.records.append(
            {
                "generation_id": generation_id,
                "request_id": request or f"r_{generation_id}",
                "model_version": model_version,
                "duration_ms": duration_ms,
                "prompt": f"prompt of {generation_id}",
                "created_at": created_at,
            }
        )
        self.truths.append(
            {
                "generation_id": generation_id,
                "view": view_rate,
                "completion": clipped_mean(completion) / 2.0 if duration_ms >= 100 else None,
                "long_view": float(1.0 - ndtr((0.95 - completion) / RATIO_SD))
                if duration_ms >= 100
                else None,
                **{action: (actions or {}).get(action, 0.0) for action in ACTIONS},
            }
        )
        for (half, period), shown in zip(
            CELLS, self.rng.multinomial(impressions, [0.25] * 4), strict=True
        ):
            views = int(self.rng.binomial(shown, min(examination * view_rate, 1.0)))
            ratios = np.clip(self.rng.normal(completion, RATIO_SD, views), 0.0, 2.0)
            row = {
                "generation_id": generation_id,
                "half": half,
                "period": period,
                "impressions": int(shown),
                "effective_impressions": float(shown) * examination,
                "views": views,
                "watch_ms": int(ratios.sum() * duration_ms),
                "ratio_sum": float(ratios.sum()),
                "ratio_sq_sum": float((ratios**2).sum()),
                "long_views": int(np.sum(ratios >= 0.95)),
            }
            for action, column in ACTIONS.items():
                row[column] = int(self.rng.binomial(views, (actions or {}).get(action, 0.0)))
            for column, source in (copies or {}).items():
                row[column] = row[source]
            row["net_likes"] = row["likes"]
            self.cells.append(row)

    def add_copy(self, generation_id: str, of: str, examination: float) -> None:
        """A generation with exactly the engagement of `of`, shown where the feed is examined
        `examination` times as often (its effective impressions scale by it)."""
        record = next(r for r in self.records if r["generation_id"] == of)
        self.records.append(
            {**record, "generation_id": generation_id, "request_id": f"r_{generation_id}"}
        )
        for cell in [c for c in self.cells if c["generation_id"] == of]:
            scaled = cell["effective_impressions"] * examination
            self.cells.append(
                {**cell, "generation_id": generation_id, "effective_impressions": scaled}
            )
        truth = next(t for t in self.truths if t["generation_id"] == of)
        self.truths.append(
            {**truth, "generation_id": generation_id, "view": truth["view"] / examination}
        )

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(engagement with record fields, sorted by generation_id; cells)."""
        records = pl.DataFrame(self.records).sort("generation_id")
        raw = pl.DataFrame(self.cells)
        sums = raw.drop("likes", "net_likes")
        likes = raw.select("generation_id", "half", "period", "likes", "net_likes")
        cells = engagement_cells(sums, likes).select(CELL_COLUMNS)
        engagement = records.join(
            generation_engagement(records["generation_id"], cells), on="generation_id"
        )
        return engagement, cells


def population(
    n: int = 300, seed: int = 0, hidden: dict[str, float] | None = None, **extra: object
) -> LabelWorld:
    """`n` generations whose quality q ~ N(0, 1) (put in `hidden`) drives the view rate, completion,
    likes, favorites and dislikes, each also with a persistent quirk of its own."""
    rng = np.random.default_rng(seed + 1000)
    world = LabelWorld(seed=seed)
    for i in range(n):
        q = float(rng.normal())
        quirk = rng.normal(0.0, 0.3, 4)
        if hidden is not None:
            hidden[f"g{i:04d}"] = q
        world.add(
            f"g{i:04d}",
            impressions=int(np.exp(rng.normal(4.5, 1.0))),
            view_rate=float(1.0 / (1.0 + np.exp(-(0.5 * q - 0.3 + quirk[0])))),
            completion=float(np.clip(0.5 + 0.12 * q + 0.05 * quirk[1], 0.05, 1.5)),
            actions={
                "like": float(0.08 / (1.0 + np.exp(-(0.8 * q + quirk[2])))),
                "favorite": float(0.02 / (1.0 + np.exp(-(0.6 * q + quirk[3])))),
                "dislike": float(0.03 / (1.0 + np.exp(0.7 * q))),
            },
            request=f"r{i // 3:04d}",
            **extra,  # type: ignore[arg-type]
        )
    return world


def fixed_model(
    signals: tuple[str, ...],
    intercept: np.ndarray,
    loading: np.ndarray,
    persistent: np.ndarray,
    *,
    exposure_edges: tuple[int, ...] = (0,),
    shrink_strength: float = 1e7,
    dof: float = float("inf"),
    rounds: int = 0,
) -> LabelModel:
    """A label model with these signal parameters: one duration bucket, binomial noise (dispersion 1,
    no noise correlation), no model_version segments and a flat N(0, 1) prior of quality."""
    k = len(signals)
    return LabelModel(
        signals=signals,
        duration_edges=(0,),
        intercept=np.asarray(intercept, dtype=np.float64)[:, None],
        loading=loading,
        long_run_variance=loading**2 + np.diag(persistent),
        persistent=persistent,
        dispersion=np.ones(k),
        noise_correlation=np.eye(k),
        unit_scale=np.ones(k),
        shrink_strength=np.full(k, shrink_strength),
        segments=(),
        exposure_edges=exposure_edges,
        prior_effects=np.zeros(1 + len(exposure_edges)),
        prior_variance=1.0,
        residual_dof=dof,
        robust_rounds=rounds,
    )
