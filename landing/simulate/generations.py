"""The simulated generations: requests and prompts, candidates and model versions, hidden quality,
embeddings, studio decisions and record fields.

Everything is drawn from the one generations stream in the fixed order of `build_generations`: moving
a step (or a draw inside one) changes every seeded world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from landing.contract import REFERENCE_KINDS
from landing.simulate.config import DAY_MS, HOUR_MS, SimulationConfig
from landing.simulate.draws import (
    STREAM_EMBEDDING_BASIS,
    STREAM_GENERATIONS,
    STREAM_STUDIO,
    scrambled_ids,
    sigmoid,
    stream_rng,
)

_REFERENCE_SHARES = (0.7, 0.2, 0.1)
"""Share of each of REFERENCE_KINDS among reference inputs."""
_REFERENCE_SUFFIXES = {"image": ".png", "video": ".mp4", "audio": ".wav"}


@dataclass(frozen=True)
class _Requests:
    """Request-level draws: arrival time, creator, category and style modifiers of each request."""

    ms: np.ndarray
    creator: np.ndarray
    n_creators: int
    category: np.ndarray
    modifier_mask: np.ndarray

    @property
    def size(self) -> int:
        return self.ms.size


@dataclass(frozen=True)
class _Candidates:
    """Generation-level layout: each candidate's request, its index among its siblings, its category
    and model version (unsorted: row i is the i-th candidate in request order)."""

    per_request: np.ndarray
    req: np.ndarray
    index: np.ndarray
    category: np.ndarray
    model: np.ndarray
    ab_test: np.ndarray

    @property
    def size(self) -> int:
        return self.req.size

    @property
    def first_of_request(self) -> np.ndarray:
        return np.cumsum(self.per_request) - self.per_request


def _grouped_choice(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row of a non-negative weight matrix, drawn proportionally to the row."""
    cumulative = np.cumsum(weights, axis=1)
    draw = rng.random(weights.shape[0]) * cumulative[:, -1]
    return np.minimum((cumulative <= draw[:, None]).sum(axis=1), weights.shape[1] - 1)


def _vocabulary(
    rng: np.random.Generator, category: np.ndarray, lists: list[tuple[str, ...]]
) -> pl.Series:
    """One word per row from the row's category list (lists of different lengths)."""
    lengths = np.array([len(words) for words in lists])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pick = offsets[category] + (rng.random(category.size) * lengths[category]).astype(np.int64)
    return pl.Series([w for words in lists for w in words]).gather(pick)


def build_generations(config: SimulationConfig) -> pl.DataFrame:
    """All generations with their record fields and hidden truth, sorted by created_at (ms since epoch)."""
    rng = stream_rng(config, STREAM_GENERATIONS)
    requests = _draw_requests(config, rng)
    prompts = _prompt_texts(config, _draw_prompt_parts(config, rng, requests))
    candidates = _draw_candidates(config, rng, requests)
    quality = _draw_quality(config, rng, requests, candidates)
    render = _draw_render(config, rng, requests, candidates)
    embedding = _draw_embeddings(config, rng, candidates, quality["latent_z"])
    in_studio = _draw_studio_sessions(config, candidates)
    studio = _draw_studio(
        config, rng, candidates, quality["true_quality"], render["created_ms"], in_studio
    )
    behaviour = _draw_creator_behaviour(config, rng, requests, candidates, render["created_ms"])
    request_ids = scrambled_ids("req_", np.arange(requests.size), 11, config.seed)
    refs = _draw_reference_inputs(config, rng, request_ids)
    consent, flags = _draw_consent_and_flags(config, rng, requests, candidates)
    settings = _draw_optional_settings(config, rng, candidates.size)
    order = np.argsort(render["created_ms"], kind="stable")
    frame = pl.DataFrame(
        {
            "req": candidates.req,
            "candidate_index": candidates.index,
            "creator": requests.creator[candidates.req],
            "category_code": candidates.category,
            "model_code": candidates.model,
            **quality,
            **render,
            "seed": settings["seed"],
            **embedding,
            "ab_test": candidates.ab_test,
            **consent,
            "seed_omitted": settings["seed_omitted"],
            "settings_omitted": settings["settings_omitted"],
            **flags,
            "guidance_scale": settings["guidance_scale"],
            **studio,
            **behaviour,
        }
    )[order]
    return _with_record_fields(config, frame, prompts, refs, request_ids)


def _draw_requests(config: SimulationConfig, rng: np.random.Generator) -> _Requests:
    """Request arrivals with linearly rising volume, Zipf-weighted creators, categories, modifiers."""
    n_req = config.requests
    window_ms = config.days * DAY_MS
    modifiers = config.modifiers
    # inverse CDF of the arrival density 1 + growth * t
    u = np.sort(rng.random(n_req))
    g = config.volume_growth
    fraction = u if g == 0 else (np.sqrt(1 + 2 * g * u * (1 + g / 2)) - 1) / g
    request_ms = config.base_ms + (fraction * (window_ms - 1)).astype(np.int64)

    n_creators = max(1, round(n_req * config.creators_per_request))
    creator_weights = 1.0 / np.arange(1, n_creators + 1) ** config.creator_zipf_exponent
    creator_of_request = rng.permutation(n_creators)[
        rng.choice(n_creators, size=n_req, p=creator_weights / creator_weights.sum())
    ]
    cat_weights = np.array([c.weight for c in config.categories])
    category = rng.choice(len(config.categories), size=n_req, p=cat_weights / cat_weights.sum())
    modifier_mask = rng.random((n_req, len(modifiers))) < np.array([m.frequency for m in modifiers])
    return _Requests(request_ms, creator_of_request, n_creators, category, modifier_mask)


def _draw_prompt_parts(
    config: SimulationConfig, rng: np.random.Generator, requests: _Requests
) -> pl.DataFrame:
    """Per request: prefix, subject, action, setting and detail words, which are used, and modifiers."""
    n_req = requests.size
    categories = config.categories
    subject = _vocabulary(rng, requests.category, [c.subjects for c in categories])
    action = _vocabulary(rng, requests.category, [c.actions for c in categories])
    setting = _vocabulary(rng, requests.category, [c.settings for c in categories])
    prefix = pl.Series(config.prompt_prefixes).gather(
        rng.integers(0, len(config.prompt_prefixes), n_req)
    )
    detail = pl.Series(config.prompt_details).gather(
        rng.integers(0, len(config.prompt_details), n_req)
    )
    return pl.DataFrame(
        {
            "prefix": prefix,
            "subject": subject,
            "action": action,
            "setting": setting,
            "has_setting": rng.random(n_req) < config.setting_share,
            "detail": detail,
            "has_detail": rng.random(n_req) < config.detail_share,
            **{f"m{j}": requests.modifier_mask[:, j] for j in range(len(config.modifiers))},
        }
    )


def _prompt_texts(config: SimulationConfig, parts: pl.DataFrame) -> pl.DataFrame:
    """Per request: the prompt text (parts joined by commas) and the list of its modifiers."""
    modifiers = config.modifiers
    modifier_texts = [
        pl.when(pl.col(f"m{j}")).then(pl.lit(m.text)) for j, m in enumerate(modifiers)
    ]
    return parts.select(
        pl.concat_str(
            [
                pl.col("prefix") + pl.col("subject") + pl.lit(" ") + pl.col("action"),
                pl.when(pl.col("has_setting")).then(pl.col("setting")),
                pl.when(pl.col("has_detail")).then(pl.col("detail")),
                *modifier_texts,
            ],
            separator=", ",
            ignore_nulls=True,
        ).alias("prompt"),
        pl.concat_list(modifier_texts).list.drop_nulls().alias("modifiers")
        if modifiers
        else pl.lit([], dtype=pl.List(pl.String)).alias("modifiers"),
    )


def _draw_candidates(
    config: SimulationConfig, rng: np.random.Generator, requests: _Requests
) -> _Candidates:
    """2-4 candidates per request, each from a model version released by then (newer ones used more);
    some candidates A/B test another model than their siblings'."""
    models = config.model_versions
    k = rng.integers(config.min_candidates, config.max_candidates + 1, requests.size)
    req_of_gen = np.repeat(np.arange(requests.size), k)
    n_gen = req_of_gen.size
    candidate_index = np.arange(n_gen) - np.repeat(np.cumsum(k) - k, k)
    release_ms = config.base_ms + np.array([m.release_fraction for m in models]) * (
        config.days * DAY_MS
    )
    available = requests.ms[:, None] >= release_ms[None, :]
    usage = available * np.array([m.usage_weight for m in models])[None, :]
    primary = _grouped_choice(rng, usage)
    alternative = _grouped_choice(rng, usage[req_of_gen])
    ab_test = rng.random(n_gen) < config.mixed_model_share
    model = np.where(ab_test, alternative, primary[req_of_gen])
    category = requests.category[req_of_gen]
    return _Candidates(k, req_of_gen, candidate_index, category, model, ab_test)


def _draw_quality(
    config: SimulationConfig,
    rng: np.random.Generator,
    requests: _Requests,
    candidates: _Candidates,
) -> dict[str, np.ndarray]:
    """Hidden quality: sigmoid(intercept + category + model + category x model + modifiers + z)."""
    categories, models = config.categories, config.model_versions
    cat_gen, model = candidates.category, candidates.model
    cat_index = {c.name: i for i, c in enumerate(categories)}
    interaction = np.zeros((len(categories), len(models)))
    for j, m in enumerate(models):
        for name, effect in m.category_effects:
            interaction[cat_index[name], j] = effect
    modifier_effect = requests.modifier_mask @ np.array([m.effect for m in config.modifiers])
    latent_z = rng.normal(0.0, config.latent_sd, candidates.size)
    true_logit = (
        config.quality_intercept
        + np.array([c.effect for c in categories])[cat_gen]
        + np.array([m.effect for m in models])[model]
        + interaction[cat_gen, model]
        + modifier_effect[candidates.req]
        + latent_z
    )
    return {"true_logit": true_logit, "true_quality": sigmoid(true_logit), "latent_z": latent_z}


def _draw_render(
    config: SimulationConfig,
    rng: np.random.Generator,
    requests: _Requests,
    candidates: _Candidates,
) -> dict[str, np.ndarray]:
    """Creation time (request + render time), duration, frame size (some vertical) and fps."""
    categories, models = config.categories, config.model_versions
    cat_gen, model, req_of_gen = candidates.category, candidates.model, candidates.req
    base_duration = np.array([c.base_duration_s for c in categories])[cat_gen]
    duration_factor = np.array([m.duration_factor for m in models])[model]
    duration_ms = np.clip(
        base_duration
        * duration_factor
        * np.exp(rng.normal(0, config.duration_sd, candidates.size))
        * 1000,
        config.min_duration_ms,
        config.max_duration_ms,
    ).astype(np.int64)
    vertical_share = np.array([c.vertical_share for c in categories])[requests.category]
    vertical = (rng.random(requests.size) < vertical_share)[req_of_gen]
    long_side = np.array([m.width for m in models])[model]
    short_side = np.array([m.height for m in models])[model]
    render_ms = (
        np.array([m.render_seconds for m in models])[model]
        * 1000
        * rng.uniform(0.5, 1.5, candidates.size)
    )
    created_ms = requests.ms[req_of_gen] + render_ms.astype(np.int64) + candidates.index * 2000
    return {
        "created_ms": created_ms,
        "duration_ms": duration_ms,
        "width": np.where(vertical, short_side, long_side).astype(np.int32),
        "height": np.where(vertical, long_side, short_side).astype(np.int32),
        "fps": np.array([m.fps for m in models])[model],
    }


def _draw_embeddings(
    config: SimulationConfig,
    rng: np.random.Generator,
    candidates: _Candidates,
    latent_z: np.ndarray,
) -> dict[str, np.ndarray]:
    """Output embeddings carrying z partly, plus category/model offsets, nuisance latents and noise."""
    basis_rng = stream_rng(config, STREAM_EMBEDDING_BASIS)
    dim = config.embedding_dim
    basis = basis_rng.normal(0, 1 / math.sqrt(dim), (dim, 1 + config.embedding_nuisance_dims))
    basis[:, 0] *= config.embedding_signal / max(np.linalg.norm(basis[:, 0]), 1e-12)
    centroids = basis_rng.normal(
        0, config.embedding_category_scale / math.sqrt(dim), (len(config.categories), dim)
    )
    model_offsets = basis_rng.normal(
        0, config.embedding_model_scale / math.sqrt(dim), (len(config.model_versions), dim)
    )
    n_gen = candidates.size
    latents = np.column_stack(
        [latent_z / config.latent_sd, rng.normal(0, 1, (n_gen, config.embedding_nuisance_dims))]
    )
    embedding = (
        latents @ basis.T
        + centroids[candidates.category]
        + model_offsets[candidates.model]
        + rng.normal(0, config.embedding_noise_sd, (n_gen, dim))
    )
    return {
        "output_embedding": np.round(embedding, 4).astype(np.float32),
        "has_embedding": rng.random(n_gen) >= config.embedding_missing_share,
    }


def _draw_studio_sessions(config: SimulationConfig, candidates: _Candidates) -> np.ndarray:
    """Per generation: whether its request goes through the studio (`studio_share` of requests;
    drawn from a stream of its own, so the share moves no other draw)."""
    rng = stream_rng(config, STREAM_STUDIO)
    return (rng.random(candidates.per_request.size) < config.studio_share)[candidates.req]


def _draw_studio(
    config: SimulationConfig,
    rng: np.random.Generator,
    candidates: _Candidates,
    true_quality: np.ndarray,
    created_ms: np.ndarray,
    in_studio: np.ndarray,
) -> dict[str, np.ndarray]:
    """The creator's studio decision: a softmax choice over siblings (Gumbel-max), sometimes none;
    the worst candidate regenerated, mostly when all are poor; when the creator saw and decided.
    Requests outside the studio (`in_studio` false) get neither."""
    req_of_gen, n_req = candidates.req, candidates.per_request.size
    first = candidates.first_of_request
    gumbel_key = true_quality / config.select_temperature - np.log(
        -np.log(rng.random(candidates.size))
    )
    studio_frame = pl.DataFrame({"req": req_of_gen, "key": gumbel_key, "q": true_quality}).select(
        best=pl.col("key") == pl.col("key").max().over("req"),
        worst=pl.col("key") == pl.col("key").min().over("req"),
        max_q=pl.col("q").max().over("req"),
    )
    all_poor = studio_frame.get_column("max_q").to_numpy() < config.poor_threshold
    select_any = (
        rng.random(n_req)
        < np.where(all_poor[first], config.poor_select_share, 1 - config.select_none_share)
    )[req_of_gen]
    selected = studio_frame.get_column("best").to_numpy() & select_any & in_studio
    regenerate_req = rng.random(n_req) < np.where(
        all_poor[first], config.regenerate_prob, config.regenerate_anyway_prob
    )
    regenerated = (
        studio_frame.get_column("worst").to_numpy() & regenerate_req[req_of_gen] & in_studio
    )
    ready_ms = (
        pl.DataFrame({"req": req_of_gen, "c": created_ms})
        .select(pl.col("c").max().over("req"))
        .to_series()
        .to_numpy()
    )
    decision_ms = ready_ms + rng.integers(20_000, 600_000, n_req)[req_of_gen]
    studio_ms = created_ms + rng.integers(2_000, 30_000, candidates.size)
    return {
        "in_studio": in_studio,
        "selected": selected,
        "regenerated": regenerated,
        "studio_ms": studio_ms,
        "decision_ms": decision_ms,
    }


def _draw_creator_behaviour(
    config: SimulationConfig,
    rng: np.random.Generator,
    requests: _Requests,
    candidates: _Candidates,
    created_ms: np.ndarray,
) -> dict[str, np.ndarray]:
    """Creators engaging with their own videos, and the feed boost each generation gets."""
    n_gen = candidates.size
    # the feed ranker also promotes for reasons other than quality (creator reach, boosts): position confounder
    feed_boost = rng.normal(0, config.creator_boost_sd, requests.n_creators)[
        requests.creator[candidates.req]
    ] + rng.normal(0, config.generation_boost_sd, n_gen)
    self_engaged = rng.random(n_gen) < config.self_engage_share
    self_ms = created_ms + (rng.exponential(config.self_delay_hours, n_gen) * HOUR_MS).astype(
        np.int64
    )
    return {"self_engaged": self_engaged, "self_ms": self_ms, "feed_boost": feed_boost}


def _draw_reference_inputs(
    config: SimulationConfig, rng: np.random.Generator, request_ids: pl.Series
) -> pl.DataFrame:
    """`reference_inputs` (kind, uri) of the requests that have any: one row per such request."""
    n_req = request_ids.len()
    has_refs = rng.random(n_req) < config.reference_share
    n_refs = np.where(has_refs, rng.integers(1, 3, n_req), 0)
    ref_req = np.repeat(np.arange(n_req), n_refs)
    ref_kind = pl.Series(list(REFERENCE_KINDS)).gather(
        rng.choice(len(REFERENCE_KINDS), size=ref_req.size, p=list(_REFERENCE_SHARES))
    )
    return (
        pl.DataFrame({"req": ref_req, "kind": ref_kind})
        .with_columns(
            uri=pl.lit(config.reference_uri_prefix)
            + request_ids.gather(ref_req)
            + pl.lit("-")
            + pl.int_range(pl.len()).over("req").cast(pl.String)
            + pl.col("kind").replace_strict(_REFERENCE_SUFFIXES)
        )
        .group_by("req", maintain_order=True)
        .agg(pl.struct("kind", "uri").alias("reference_inputs"))
    )


def _draw_consent_and_flags(
    config: SimulationConfig,
    rng: np.random.Generator,
    requests: _Requests,
    candidates: _Candidates,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Training consent (withheld per request, omitted per row) and the content flags
    (real person mostly in portraits, IP characters mostly in anime, unsafe)."""
    n_req, n_gen, req_of_gen = requests.size, candidates.size, candidates.req
    consent_false = (rng.random(n_req) < config.consent_false_share)[req_of_gen]
    consent_omitted = rng.random(n_gen) < config.consent_omitted_share
    anime = np.array([m.text == "anime" for m in config.modifiers], dtype=bool)
    has_anime = (
        requests.modifier_mask[:, anime].any(axis=1) if anime.any() else np.zeros(n_req, bool)
    )[req_of_gen]
    portrait = np.array([c.name == "portrait" for c in config.categories])[candidates.category]
    flag_real_person = rng.random(n_gen) < config.real_person_share * np.where(portrait, 3.0, 0.3)
    flag_ip = rng.random(n_gen) < config.ip_character_share * np.where(has_anime, 4.0, 0.2)
    flag_unsafe = rng.random(n_gen) < config.unsafe_share
    consent = {"consent": ~consent_false, "consent_omitted": consent_omitted & ~consent_false}
    flags = {
        "flag_real_person": flag_real_person,
        "flag_ip_character": flag_ip,
        "flag_unsafe": flag_unsafe,
    }
    return consent, flags


def _draw_optional_settings(
    config: SimulationConfig, rng: np.random.Generator, n_gen: int
) -> dict[str, np.ndarray]:
    """Render seeds, which rows leave out the seed or the render settings, and guidance scales."""
    return {
        "seed": rng.integers(0, 2**31, n_gen),
        "seed_omitted": rng.random(n_gen) < config.seed_omitted_share,
        "settings_omitted": rng.random(n_gen) < config.render_settings_omitted_share,
        "guidance_scale": np.where(
            rng.random(n_gen) < config.guidance_scale_share,
            np.round(rng.uniform(3.0, 12.0, n_gen), 1),
            np.nan,
        ),
    }


def _with_record_fields(
    config: SimulationConfig,
    frame: pl.DataFrame,
    prompts: pl.DataFrame,
    refs: pl.DataFrame,
    request_ids: pl.Series,
) -> pl.DataFrame:
    """The record fields of the (created_at-sorted) generations: ids, prompt, names, references,
    output uri and content flags."""
    req = frame.get_column("req").to_numpy()
    frame = frame.with_columns(
        generation_id=scrambled_ids("gen_", np.arange(frame.height), 13, config.seed),
        request_id=request_ids.gather(req),
        creator_id=scrambled_ids("u_", frame.get_column("creator").to_numpy(), 17, config.seed),
        prompt=prompts.get_column("prompt").gather(req),
        modifiers=prompts.get_column("modifiers").gather(req),
        category=pl.Series([c.name for c in config.categories]).gather(
            frame.get_column("category_code").to_numpy()
        ),
        model_version=pl.Series([m.name for m in config.model_versions]).gather(
            frame.get_column("model_code").to_numpy()
        ),
        guidance_scale=pl.col("guidance_scale").fill_nan(None),
        output_embedding=pl.col("output_embedding").cast(pl.List(pl.Float32)),
    )
    flags = [
        pl.when(pl.col(f"flag_{name}")).then(pl.lit(name))
        for name in ("real_person", "ip_character", "unsafe")
    ]
    return (
        frame.join(refs, on="req", how="left", maintain_order="left")
        .with_columns(
            output_uri=pl.lit(config.output_uri_prefix) + pl.col("generation_id") + pl.lit(".mp4"),
            content_flags=pl.concat_list(flags).list.drop_nulls(),
        )
        .with_columns(
            content_flags=pl.when(pl.col("content_flags").list.len() > 0).then(
                pl.col("content_flags")
            ),
        )
    )
