"""Simulated events, drawn per (day, part) chunk: organic feed engagement, bots, studio sessions and
creators engaging with their own videos, with their delivery (late files, duplicate copies), and their
rendering into wire records."""

from __future__ import annotations

import numpy as np
import polars as pl

from landing.contract import EVENT_TYPES, SURFACES
from landing.simulate.config import DAY_MS, HOUR_MS, SimulationConfig
from landing.simulate.draws import (
    STREAM_BOT_TARGETS,
    STREAM_EVENTS,
    scrambled_ids,
    sigmoid,
    stream_rng,
)
from landing.simulate.signals import examination, logit_column
from landing.simulate.world import SimulatedWorld

EVENT_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}
SURFACE_CODE = {name: code for code, name in enumerate(SURFACES)}


def _block(
    gen: np.ndarray,
    viewer: np.ndarray,
    event_type: int,
    t: np.ndarray,
    session: np.ndarray,
    surface: np.ndarray | int = -1,
    position: np.ndarray | int = -1,
    watch: np.ndarray | int = -1,
) -> dict[str, np.ndarray]:
    """One block of events of one type as numeric columns (-1 = field absent)."""
    n = gen.size
    return {
        "gen": gen.astype(np.int32),
        "viewer": np.broadcast_to(viewer, n).astype(np.int32),
        "etype": np.full(n, event_type, dtype=np.int8),
        "surface": np.broadcast_to(surface, n).astype(np.int8),
        "position": np.broadcast_to(position, n).astype(np.int16),
        "watch_ms": np.broadcast_to(watch, n).astype(np.int64),
        "t": t.astype(np.int64),
        "session": session.astype(np.uint64),
    }


def _session_keys(config: SimulationConfig, viewer: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A viewer's session key: the viewer and the `session_gap_ms` slot the time falls in."""
    return (viewer.astype(np.uint64) << np.uint64(24)) + (t // config.session_gap_ms).astype(
        np.uint64
    )


def draw_watch_ms(
    config: SimulationConfig,
    rng: np.random.Generator,
    completion_logit: np.ndarray,
    duration_ms: np.ndarray,
) -> np.ndarray:
    """Time played: a Beta-drawn fraction around sigmoid(completion logit) (which rises with quality
    and falls with duration); a fraction reaching `completion_threshold` finishes, and may loop."""
    mean = sigmoid(completion_logit)
    mean = np.clip(mean, 1e-3, 1 - 1e-3)
    k = config.completion_concentration
    fraction = rng.beta(mean * k, (1 - mean) * k)
    finished = fraction >= config.completion_threshold
    loops = rng.geometric(1 - np.clip(config.loop_share * mean, 0, 0.95)) - 1
    extra = np.where(loops > 0, loops + rng.random(completion_logit.size), 0.0)
    played = np.where(finished, 1.0 + extra, fraction)
    return np.maximum(np.round(played * duration_ms), 1).astype(np.int64)


def _engagement_blocks(
    world: SimulatedWorld,
    rng: np.random.Generator,
    gen: np.ndarray,
    viewer: np.ndarray,
    t: np.ndarray,
    surface: np.ndarray,
    position: np.ndarray,
    viewed: np.ndarray,
    with_actions: bool = True,
) -> list[dict[str, np.ndarray]]:
    """Impressions, the views among them, and the actions following the views (probabilities from
    each generation's signal logits)."""
    config = world.config
    duration = world.column("duration_ms")
    session = _session_keys(config, viewer, t)
    blocks = [_block(gen, viewer, EVENT_CODE["impression"], t, session, surface, position)]
    v = np.flatnonzero(viewed)
    if v.size == 0:
        return blocks
    gv, uv, sv = gen[v], viewer[v], session[v]
    tv = t[v] + rng.integers(200, 2500, v.size)
    watch = draw_watch_ms(config, rng, world.column(logit_column("completion"))[gv], duration[gv])
    blocks.append(_block(gv, uv, EVENT_CODE["view"], tv, sv, surface[v], position[v], watch))
    if not with_actions:
        return blocks
    after_view = tv + (watch * rng.uniform(0.2, 1.0, v.size)).astype(np.int64)
    for action in config.actions:
        p = sigmoid(world.column(logit_column(action.event_type))[gv])
        hit = np.flatnonzero(rng.random(v.size) < p)
        ta = after_view[hit] + rng.integers(500, 5000, hit.size)
        blocks.append(
            _block(gv[hit], uv[hit], EVENT_CODE[action.event_type], ta, sv[hit], surface[v][hit])
        )
        if action.event_type == "like":
            undo = hit[rng.random(hit.size) < config.unlike_share]
            tu = (
                after_view[undo]
                + (rng.exponential(config.unlike_delay_hours, undo.size) * HOUR_MS).astype(np.int64)
                + 10_000
            )
            blocks.append(
                _block(gv[undo], uv[undo], EVENT_CODE["unlike"], tu, sv[undo], surface[v][undo])
            )
    return blocks


def _organic_blocks(
    world: SimulatedWorld, rng: np.random.Generator, day: int, part: int, parts: int
) -> list[dict[str, np.ndarray]]:
    """The day's planned impressions of this part's generations to human viewers (by activity), with
    feed positions that favour quality and boosts, and views examined by position or surface."""
    config = world.config
    counts = world.feed_plan[:, day].astype(np.int64)
    gens = np.flatnonzero((np.arange(world.n_generations) % parts == part) & (counts > 0))
    gen = np.repeat(gens, counts[gens])
    n = gen.size
    if n == 0:
        return []
    day_start = config.base_ms + day * DAY_MS
    lo = np.maximum(day_start, world.column("created_ms")[gen] + config.min_exposure_lag_ms)
    t = lo + (rng.random(n) * np.maximum(day_start + DAY_MS - lo, 1)).astype(np.int64)
    pick = np.searchsorted(world.human_cdf, rng.random(n) * world.human_cdf[-1], side="right")
    viewer = world.human_users[np.minimum(pick, world.human_users.size - 1)]
    names = [name for name, _ in config.surface_shares]
    shares = np.array([share for _, share in config.surface_shares])
    surface = np.array([SURFACE_CODE[s] for s in names])[
        rng.choice(len(names), size=n, p=shares / shares.sum())
    ]
    quality = world.column("true_quality")[gen]
    feed = surface == SURFACE_CODE["feed"]
    scale = config.position_scale * np.exp(
        -config.ranking_strength * (quality - 0.5) - world.column("feed_boost")[gen]
    )
    position = np.where(
        feed, np.minimum(np.floor(rng.exponential(scale)), config.max_position), -1
    ).astype(np.int16)
    other_exam = np.ones(len(SURFACES))
    for name, exam in config.surface_examination:
        other_exam[SURFACE_CODE[name]] = exam
    examined = np.where(feed, examination(config, position), other_exam[surface])
    p_view = examined * sigmoid(world.column(logit_column("view"))[gen])
    viewed = rng.random(n) < p_view
    return _engagement_blocks(world, rng, gen, viewer, t, surface, position, viewed)


def _bot_blocks(
    world: SimulatedWorld, rng: np.random.Generator, day: int, part: int, parts: int
) -> list[dict[str, np.ndarray]]:
    """This part's bots: many feed impressions of existing generations (some aimed at the ones they
    promote), views, likes and shares regardless of quality."""
    config = world.config
    mine = np.arange(world.bot_users.size) % parts == part
    counts = rng.poisson(world.bot_daily_rate[mine])
    viewer = np.repeat(world.bot_users[mine], counts)
    day_start = config.base_ms + day * DAY_MS
    created = world.column("created_ms")
    eligible = int(np.searchsorted(created, day_start + DAY_MS - config.min_exposure_lag_ms))
    n = viewer.size
    if n == 0 or eligible == 0:
        return []
    gen = _bot_promotions(world, day, part, rng.integers(0, eligible, n), eligible)
    lo = np.maximum(day_start, created[gen] + config.min_exposure_lag_ms)
    t = lo + (rng.random(n) * np.maximum(day_start + DAY_MS - lo, 1)).astype(np.int64)
    session = _session_keys(config, viewer, t)
    position = rng.integers(0, config.max_position + 1, n)
    feed = SURFACE_CODE["feed"]
    blocks = [_block(gen, viewer, EVENT_CODE["impression"], t, session, feed, position)]
    v = np.flatnonzero(rng.random(n) < config.bot_view_prob)
    tv = t[v] + rng.integers(100, 1000, v.size)
    watch = rng.integers(300, 3000, v.size)
    blocks.append(
        _block(gen[v], viewer[v], EVENT_CODE["view"], tv, session[v], feed, position[v], watch)
    )
    for event_type, prob in (("like", config.bot_like_prob), ("share", config.bot_share_prob)):
        hit = v[rng.random(v.size) < prob]
        blocks.append(
            _block(gen[hit], viewer[hit], EVENT_CODE[event_type], t[hit] + 4000, session[hit], feed)
        )
    return blocks


def _bot_promotions(
    world: SimulatedWorld, day: int, part: int, gen: np.ndarray, eligible: int
) -> np.ndarray:
    """`gen` with a `bot_target_share` of its entries replaced by promoted generations among the
    first `eligible` (drawn from a stream of their own: no other draw moves)."""
    config = world.config
    targets = world.bot_targets[world.bot_targets < eligible]
    if config.bot_target_share <= 0 or targets.size == 0:
        return gen
    rng = stream_rng(config, STREAM_BOT_TARGETS, day, part)
    aimed = rng.random(gen.size) < config.bot_target_share
    return np.where(aimed, targets[rng.integers(0, targets.size, gen.size)], gen)


def _creator_blocks(
    world: SimulatedWorld, rng: np.random.Generator, day: int, part: int, parts: int
) -> list[dict[str, np.ndarray]]:
    """Studio events on the day a generation is created, and creators watching and liking their own videos."""
    config = world.config
    in_part = np.arange(world.n_generations) % parts == part
    created_day = (world.column("created_ms") - config.base_ms) // DAY_MS
    self_day = (world.column("self_ms") - config.base_ms) // DAY_MS
    created_today = np.flatnonzero(in_part & (created_day == day) & world.column("in_studio"))
    self_engaged_today = np.flatnonzero(in_part & world.column("self_engaged") & (self_day == day))
    blocks = _studio_blocks(world, rng, created_today) if created_today.size else []
    if self_engaged_today.size:
        blocks += _self_engagement_blocks(world, rng, self_engaged_today)
    return blocks


def _studio_blocks(
    world: SimulatedWorld, rng: np.random.Generator, gens: np.ndarray
) -> list[dict[str, np.ndarray]]:
    """The creator's studio session on new generations: previews, views, then select or regenerate."""
    config = world.config
    creator = world.column("creator")
    decision_ms = world.column("decision_ms")
    studio = SURFACE_CODE["studio"]
    t = world.column("studio_ms")[gens]
    session = _session_keys(config, creator[gens], decision_ms[gens])
    position = world.column("candidate_index")[gens]
    blocks = [_block(gens, creator[gens], EVENT_CODE["impression"], t, session, studio, position)]
    v = np.flatnonzero(rng.random(gens.size) < config.studio_view_prob)
    watch = draw_watch_ms(
        config,
        rng,
        world.column(logit_column("completion"))[gens[v]],
        world.column("duration_ms")[gens[v]],
    )
    tv = t[v] + rng.integers(1000, 4000, v.size)
    blocks.append(
        _block(
            gens[v],
            creator[gens[v]],
            EVENT_CODE["view"],
            tv,
            session[v],
            studio,
            position[v],
            watch,
        )
    )
    for event_type, column in (("select", "selected"), ("regenerate", "regenerated")):
        hit = np.flatnonzero(world.column(column)[gens])
        g = gens[hit]
        blocks.append(
            _block(g, creator[g], EVENT_CODE[event_type], decision_ms[g], session[hit], studio)
        )
    return blocks


def _self_engagement_blocks(
    world: SimulatedWorld, rng: np.random.Generator, gens: np.ndarray
) -> list[dict[str, np.ndarray]]:
    """Creators finding their own videos on the feed or their profile, watching and mostly liking them."""
    config = world.config
    viewer = world.column("creator")[gens]
    t = world.column("self_ms")[gens]
    on_feed = rng.random(gens.size) < 0.5
    surface = np.where(on_feed, SURFACE_CODE["feed"], SURFACE_CODE["profile"])
    position = np.where(on_feed, rng.integers(0, 4, gens.size), -1)
    session = _session_keys(config, viewer, t)
    blocks = [_block(gens, viewer, EVENT_CODE["impression"], t, session, surface, position)]
    watch = (world.column("duration_ms")[gens] * rng.uniform(0.8, 2.0, gens.size)).astype(np.int64)
    tv = t + rng.integers(300, 2000, gens.size)
    blocks.append(_block(gens, viewer, EVENT_CODE["view"], tv, session, surface, position, watch))
    hit = np.flatnonzero(rng.random(gens.size) < config.self_like_prob)
    blocks.append(
        _block(
            gens[hit],
            viewer[hit],
            EVENT_CODE["like"],
            tv[hit] + watch[hit],
            session[hit],
            surface[hit],
        )
    )
    return blocks


EVENT_CHUNK_SCHEMA: dict[str, pl.DataType] = {
    "gen": pl.Int32(),
    "viewer": pl.Int32(),
    "etype": pl.Int8(),
    "surface": pl.Int8(),
    "position": pl.Int16(),
    "watch_ms": pl.Int64(),
    "t": pl.Int64(),
    "session": pl.UInt64(),
    "event_key": pl.UInt64(),
    "file_day": pl.Int16(),
    "arrival": pl.Int64(),
    "late": pl.Boolean(),
    "duplicate": pl.Boolean(),
}


def build_event_chunk(world: SimulatedWorld, day: int, part: int) -> pl.DataFrame:
    """The clean events drawn for (day, part), with delivery (file day, arrival, late, duplicate copies).

    Columns are numeric codes (gen, viewer: row indices; etype, surface: indices into EVENT_TYPES,
    SURFACES; -1 = absent); `render_events` turns them into wire records.
    """
    config = world.config
    parts = int(world.parts_per_day[day])
    rng = stream_rng(config, STREAM_EVENTS, day, part)
    blocks = (
        _organic_blocks(world, rng, day, part, parts)
        + _bot_blocks(world, rng, day, part, parts)
        + _creator_blocks(world, rng, day, part, parts)
    )
    columns = {
        key: np.concatenate([b[key] for b in blocks]) if blocks else np.zeros(0, dtype=np.int64)
        for key in ("gen", "viewer", "etype", "surface", "position", "watch_ms", "t", "session")
    }
    n = columns["t"].size
    event_key = (
        (np.uint64(day) << np.uint64(48))
        + (np.uint64(part) << np.uint64(36))
        + np.arange(n, dtype=np.uint64)
    )
    file_day, arrival, late = _delivery(config, rng, columns["t"], day)
    chunk = pl.DataFrame(
        {
            **columns,
            "event_key": event_key,
            "file_day": file_day,
            "arrival": arrival,
            "late": late,
            "duplicate": np.zeros(n, dtype=bool),
        }
    ).cast(EVENT_CHUNK_SCHEMA)
    return pl.concat([chunk, _duplicate_copies(config, rng, chunk, file_day, arrival)])


def _delivery(
    config: SimulationConfig, rng: np.random.Generator, t: np.ndarray, day: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per event: the day whose files carry it, its arrival time, and whether it arrives late
    (a geometric number of days, at most `max_late_days`, after the day it happened)."""
    n = t.size
    last_day = config.days - 1
    natural_day = np.clip((t - config.base_ms) // DAY_MS, day, last_day)
    late_draw = (rng.random(n) < config.late_share) & (natural_day < last_day)
    delay = np.minimum(rng.geometric(config.late_geometric_p, n), config.max_late_days)
    file_day = np.where(late_draw, np.minimum(natural_day + delay, last_day), natural_day)
    late = file_day > natural_day
    arrival = np.where(
        late,
        config.base_ms + file_day * DAY_MS + (rng.random(n) * DAY_MS).astype(np.int64),
        t + rng.integers(50, 5000, n),
    )
    return file_day, arrival, late


def _duplicate_copies(
    config: SimulationConfig,
    rng: np.random.Generator,
    chunk: pl.DataFrame,
    file_day: np.ndarray,
    arrival: np.ndarray,
) -> pl.DataFrame:
    """Second deliveries of some events: later in the same file, or in the next day's files."""
    last_day = config.days - 1
    dup = np.flatnonzero(rng.random(chunk.height) < config.duplicate_share)
    other_file = rng.random(dup.size) < config.duplicate_other_file_share
    dup_day = np.minimum(file_day[dup] + other_file, last_day)
    dup_arrival = np.where(
        dup_day > file_day[dup],
        config.base_ms + dup_day * DAY_MS + (rng.random(dup.size) * DAY_MS).astype(np.int64),
        arrival[dup] + rng.integers(1000, 1_800_000, dup.size),
    )
    return chunk[dup].with_columns(
        file_day=pl.Series(dup_day, dtype=pl.Int16),
        arrival=pl.Series(dup_arrival),
        duplicate=pl.lit(True),
    )


def render_events(world: SimulatedWorld, chunk: pl.DataFrame) -> pl.DataFrame:
    """Wire records of numeric events: ids, names, app version, experiment arm (typed; time in `occurred_ms`)."""
    config = world.config
    gen = chunk.get_column("gen").to_numpy()
    viewer = chunk.get_column("viewer").to_numpy()
    day = (chunk.get_column("t").to_numpy() - config.base_ms) / DAY_MS
    version = np.clip(
        np.floor(day / config.days * len(config.app_versions) + world.viewer_app_phase[viewer]),
        0,
        len(config.app_versions) - 1,
    ).astype(np.int64)
    arm = world.viewer_arm[viewer]
    generation_ids = world.generations.get_column("generation_id")
    viewer_ids = world.viewers.get_column("viewer_id")
    return pl.DataFrame(
        {
            "event_id": scrambled_ids(
                "ev_", chunk.get_column("event_key").to_numpy(), 19, config.seed
            ),
            "event_type": pl.Series(EVENT_TYPES).gather(
                chunk.get_column("etype").to_numpy().astype(np.int64)
            ),
            "generation_id": generation_ids.gather(gen),
            "viewer_id": viewer_ids.gather(viewer),
            "occurred_ms": chunk.get_column("t"),
            "surface": pl.Series([*SURFACES, None]).gather(
                np.where(
                    chunk.get_column("surface").to_numpy() < 0,
                    len(SURFACES),
                    chunk.get_column("surface").to_numpy(),
                ).astype(np.int64)
            ),
            "position": chunk.get_column("position").cast(pl.Int32),
            "watch_ms": chunk.get_column("watch_ms"),
            "session_id": scrambled_ids(
                "s_", chunk.get_column("session").to_numpy(), 23, config.seed
            ),
            "app_version": pl.Series(config.app_versions).gather(version),
            "experiment_arm": pl.Series(["control", "ranker-v2", None]).gather(
                np.where(arm < 0, 2, arm).astype(np.int64)
            ),
            "_tz": pl.Series(world.viewer_tz[viewer].astype(np.int64)),
        }
    ).with_columns(
        position=pl.when(pl.col("position") >= 0).then(pl.col("position")),
        watch_ms=pl.when(pl.col("watch_ms") >= 0).then(pl.col("watch_ms")),
    )
