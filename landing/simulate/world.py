"""The simulated world: its generations (with each signal's logit), its users (creators, bots, other
viewers), the planned feed exposure per generation and day, and the arrays the event chunks are drawn
from."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from landing.simulate.config import DAY_MS, SimulationConfig
from landing.simulate.draws import (
    STREAM_BOT_TARGETS,
    STREAM_EXPOSURE,
    STREAM_VIEWERS,
    scrambled_ids,
    stream_rng,
)
from landing.simulate.generations import build_generations
from landing.simulate.signals import signal_logits


@dataclass(frozen=True, eq=False)
class SimulatedWorld:
    """The drawn world: generation and viewer frames plus the arrays the event chunks are drawn from."""

    config: SimulationConfig
    generations: pl.DataFrame
    viewers: pl.DataFrame
    feed_plan: np.ndarray
    parts_per_day: np.ndarray
    human_users: np.ndarray
    human_cdf: np.ndarray
    bot_users: np.ndarray
    bot_daily_rate: np.ndarray
    viewer_tz: np.ndarray
    viewer_app_phase: np.ndarray
    viewer_arm: np.ndarray
    bot_targets: np.ndarray
    """Row indices (ascending, so in created_at order) of the generations bots promote."""

    @property
    def n_generations(self) -> int:
        """How many generations the world has."""
        return self.generations.height

    def column(self, name: str) -> np.ndarray:
        """One generation column as a numpy array (rows in created_at order)."""
        return self.generations.get_column(name).to_numpy()


def build_viewers(config: SimulationConfig, generations: pl.DataFrame) -> pl.DataFrame:
    """All users: creators first (user index = creator index), then bots, then the other viewers."""
    rng = stream_rng(config, STREAM_VIEWERS)
    n_creators = int(generations.get_column("creator").max()) + 1 if generations.height else 0
    n_creators = max(n_creators, max(1, round(config.requests * config.creators_per_request)))
    n_users = max(n_creators + 2, round(generations.height * config.viewers_per_generation))
    n_bots = min(round(n_users * config.bot_share), n_users - n_creators - 1)
    user = np.arange(n_users)
    is_bot = (user >= n_creators) & (user < n_creators + n_bots)
    activity = np.where(is_bot, 0.0, np.exp(rng.normal(0, config.viewer_activity_sd, n_users)))
    bot_rate = np.where(
        is_bot, config.bot_daily_impressions * np.exp(rng.normal(0, 0.5, n_users)), 0.0
    )
    arm = np.where(
        rng.random(n_users) < config.experiment_viewer_share, rng.integers(0, 2, n_users), -1
    )
    return pl.DataFrame(
        {
            "user": user,
            "viewer_id": scrambled_ids("u_", user, 17, config.seed),
            "is_bot": is_bot,
            "is_creator": user < n_creators,
            "activity": activity,
            "bot_daily_rate": bot_rate,
            "tz": rng.integers(0, len(config.utc_offsets), n_users).astype(np.int8),
            "app_phase": rng.uniform(-0.5, 0.5, n_users),
            "arm": arm.astype(np.int8),
        }
    )


def plan_feed_exposure(config: SimulationConfig, generations: pl.DataFrame) -> np.ndarray:
    """Organic impressions per generation and day (generations x days): lognormal totals rising with
    quality, spread over the days after creation with an exponential decay; the part after the window is lost."""
    rng = stream_rng(config, STREAM_EXPOSURE)
    quality = generations.get_column("true_quality").to_numpy()
    n = quality.size
    if n == 0:
        return np.zeros((0, config.days), dtype=np.int32)
    log_total = (
        math.log(config.impressions_median * config.exposure_scale)
        + config.impressions_sd * rng.normal(0, 1, n)
        + config.popularity_feedback * (quality - np.median(quality))
    )
    total = np.minimum(np.floor(np.exp(log_total)), config.max_impressions).astype(np.int64)
    created_day = (generations.get_column("created_ms").to_numpy() - config.base_ms) / DAY_MS
    bounds = np.arange(config.days + 1)[None, :] - created_day[:, None]
    cdf = 1.0 - np.exp(-np.clip(bounds, 0, None) / config.exposure_decay_days)
    probs = np.diff(cdf, axis=1)
    probs = np.column_stack([probs, np.clip(1.0 - probs.sum(axis=1), 0.0, 1.0)])
    probs /= probs.sum(axis=1, keepdims=True)
    return rng.multinomial(total, probs)[:, : config.days].astype(np.int32)


def build_world(config: SimulationConfig) -> SimulatedWorld:
    """Draw the whole world (generation- and viewer-level; events are drawn later, chunk by chunk)."""
    generations = signal_logits(config, build_generations(config))
    viewers = build_viewers(config, generations)
    feed_plan = plan_feed_exposure(config, generations)
    is_bot = viewers.get_column("is_bot").to_numpy()
    activity = viewers.get_column("activity").to_numpy()
    human_users = np.flatnonzero(~is_bot)
    bot_users = np.flatnonzero(is_bot)
    bot_rate = viewers.get_column("bot_daily_rate").to_numpy()[bot_users]
    created_day = (generations.get_column("created_ms").to_numpy() - config.base_ms) // DAY_MS
    studio_rows = np.bincount(created_day, minlength=config.days)[: config.days] * 3
    estimate = (
        feed_plan.sum(axis=0) * config.events_per_impression_estimate
        + bot_rate.sum() * 2.5
        + studio_rows
    )
    parts = np.maximum(
        config.event_files_per_day, np.ceil(estimate / config.max_rows_per_file)
    ).astype(int)
    return SimulatedWorld(
        config=config,
        generations=generations,
        viewers=viewers,
        feed_plan=feed_plan,
        parts_per_day=parts,
        human_users=human_users,
        human_cdf=np.cumsum(activity[human_users]),
        bot_users=bot_users,
        bot_daily_rate=bot_rate,
        viewer_tz=viewers.get_column("tz").to_numpy(),
        viewer_app_phase=viewers.get_column("app_phase").to_numpy(),
        viewer_arm=viewers.get_column("arm").to_numpy(),
        bot_targets=np.flatnonzero(
            stream_rng(config, STREAM_BOT_TARGETS).random(generations.height)
            < config.bot_promoted_share
        ),
    )
