"""Simulated landing zone of a text-to-video app, with hidden ground truth, for the demo and for judging labels.

A world is drawn once from a `SimulationConfig` and a seed: creators send requests (a prompt in one of a
few categories, shared style modifiers) and get 2-4 candidate videos from model versions released over
the window. Each generation has a hidden quality

    true_quality = sigmoid(intercept + category + model + category x model + modifiers + z),  z ~ N(0, s)

and its `output_embedding` is a noisy linear image of [z, nuisance latents] plus category and model
offsets, so the embedding carries part (not all) of z. Engagement follows from quality through the
usual biases: heavy-tailed feed exposure that grows with quality, examination falling with feed
position, completion depending strongly on duration, studio selection by a softmax over siblings,
regenerate votes when all candidates are poor, plus noise: bots, creators liking their own videos,
duplicate deliveries, late events, generation records arriving after their events, and malformed rows.

Layout written under `out_dir`:

- `landing/generations/generations_YYYYMMDD_pNN.<fmt>`: generation records, by creation day.
- `landing/events/events_YYYYMMDD_pNNN.<fmt>`: events, a few files per day of arrival; formats rotate
  over `.jsonl`, `.jsonl.gz`, `.parquet`, `.csv`.
- `truth/generations.parquet` (generation_id, true_quality in [0,1], true_logit, latent_z, category,
  model_version, ...), `truth/viewers.parquet` (viewer_id, is_bot, is_creator),
  `truth/malformed.parquet` (file, row_number, record_kind, malformed_kind, field: one row per broken
  row; row_number counts data rows from 1, so a CSV header is not counted), `truth/landing_files.parquet`.

Wire format: timestamps are RFC 3339 strings with assorted UTC offsets, or integer epoch milliseconds,
mixed row by row in JSON Lines and CSV; a Parquet file holds one of the two for the whole file. CSV
cannot hold lists or structs: `reference_inputs`, `output_embedding` and `content_flags` are JSON text
in CSV cells (the ingest parses JSON text for list fields in CSV). Absent optional fields are left out
of JSON objects, empty in CSV and null in Parquet. Some rows carry extra unknown fields
(`experiment_arm`, `guidance_scale`). Malformed event rows replace the event they corrupt; malformed
generation rows are extra corrupted copies (each generation also has a valid record).

The output is byte-identical for the same config (no wall-clock time is used), and memory stays bounded:
events are built and written per (day, part) chunk of at most about `max_rows_per_file` rows.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from landing.contract import EVENT_TYPES, SURFACES
from landing.writers import (
    FILE_FORMATS,
    FileFormat,
    json_lines,
    json_value_columns,
    text_columns,
    write_jsonl,
    write_parquet,
    write_records,
)

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

EVENT_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}
SURFACE_CODE = {name: code for code, name in enumerate(SURFACES)}

EVENT_MALFORMED_KINDS: tuple[str, ...] = (
    "missing_field",
    "wrong_type",
    "unknown_event_type",
    "negative_watch_ms",
    "unparseable_timestamp",
    "far_future_timestamp",
    "oversized_id",
    "not_json",
)
GENERATION_MALFORMED_KINDS: tuple[str, ...] = (
    "missing_field",
    "wrong_type",
    "non_positive_duration",
    "unparseable_timestamp",
    "far_future_timestamp",
    "oversized_id",
    "oversized_prompt",
    "not_json",
)
EVENT_FIELDS: tuple[str, ...] = (
    "event_id",
    "event_type",
    "generation_id",
    "viewer_id",
    "occurred_at",
    "surface",
    "position",
    "watch_ms",
    "session_id",
    "app_version",
    "experiment_arm",
)
GENERATION_FIELDS: tuple[str, ...] = (
    "generation_id",
    "request_id",
    "creator_id",
    "prompt",
    "model_version",
    "created_at",
    "duration_ms",
    "width",
    "height",
    "fps",
    "seed",
    "reference_inputs",
    "output_uri",
    "output_embedding",
    "training_consent",
    "content_flags",
    "experiment_arm",
    "guidance_scale",
)
EVENT_REQUIRED: tuple[str, ...] = (
    "event_id",
    "event_type",
    "generation_id",
    "viewer_id",
    "occurred_at",
)
GENERATION_REQUIRED: tuple[str, ...] = (
    "generation_id",
    "request_id",
    "creator_id",
    "prompt",
    "model_version",
    "created_at",
    "duration_ms",
)

# Random streams: each part of the world draws from its own seed sequence, so chunks are independent.
_STREAM_GENERATIONS = 1
_STREAM_VIEWERS = 2
_STREAM_EXPOSURE = 3
_STREAM_EVENTS = 4
_STREAM_EVENT_FILES = 5
_STREAM_GENERATION_FILES = 6
_STREAM_EMBEDDING_BASIS = 7


@dataclass(frozen=True)
class CategorySpec:
    """A prompt category: its difficulty (logit shift), share of requests, typical length and vocabulary."""

    name: str
    effect: float
    weight: float
    base_duration_s: float
    vertical_share: float
    subjects: tuple[str, ...]
    actions: tuple[str, ...]
    settings: tuple[str, ...]


@dataclass(frozen=True)
class ModelVersionSpec:
    """A model version: quality shift, release time (fraction of the window), usage weight, render settings."""

    name: str
    effect: float
    release_fraction: float
    usage_weight: float
    width: int
    height: int
    fps: float
    duration_factor: float
    render_seconds: float
    category_effects: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ModifierSpec:
    """A style modifier appended to prompts with `frequency`, shifting the quality logit by `effect`."""

    text: str
    effect: float
    frequency: float


@dataclass(frozen=True)
class ActionSpec:
    """P(event | view) = sigmoid(intercept + slope * (true_quality - 0.5))."""

    event_type: str
    intercept: float
    slope: float


# fmt: off
DEFAULT_CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "portrait", 0.3, 0.16, 8.0, 0.7,
        ("an elderly fisherman", "a young woman with freckles", "a jazz singer", "a smiling child",
         "an astronaut without a helmet", "a street musician"),
        ("looking into the camera", "laughing softly", "turning toward the light", "singing on stage",
         "blinking slowly"),
        ("in golden hour light", "against a plain grey wall", "behind a rainy window", "by candlelight"),
    ),
    CategorySpec(
        "landscape", 0.7, 0.14, 14.0, 0.2,
        ("snowy mountains", "a misty pine forest", "a desert canyon", "rolling green hills",
         "a volcanic coastline", "a frozen lake"),
        ("under drifting clouds", "as the sun rises", "during a thunderstorm",
         "with the northern lights overhead"),
        ("seen from above", "at dusk", "in early spring", "in heavy fog"),
    ),
    CategorySpec(
        "action", -0.6, 0.13, 9.0, 0.5,
        ("a parkour runner", "a mountain biker", "two sword fighters", "a surfer", "a race car",
         "a skateboarder"),
        ("jumping between rooftops", "racing down a steep trail", "clashing blades",
         "riding a huge wave", "drifting around a corner", "landing a kickflip"),
        ("in a neon city", "at sunset", "in the rain", "in an abandoned warehouse"),
    ),
    CategorySpec(
        "animals", 0.2, 0.15, 10.0, 0.5,
        ("a red fox", "a golden retriever puppy", "a snow leopard", "a flock of flamingos",
         "a sea turtle", "a curious cat"),
        ("playing in the snow", "chasing a butterfly", "stalking through tall grass",
         "taking off from a lake", "swimming over a reef", "batting at a toy"),
        ("in a sunny meadow", "at the zoo", "in the wild", "in a cozy living room"),
    ),
    CategorySpec(
        "text-in-video", -1.1, 0.08, 5.0, 0.6,
        ('a neon sign that says "OPEN"', 'a birthday cake reading "Happy 30th"',
         'a chalkboard with the words "Big Sale"', 'a movie title card "The Last Summer"',
         'a storefront banner "Grand Opening"', 'a handwritten note saying "I miss you"'),
        ("flickering on", "appearing letter by letter", "being revealed slowly", "zooming in",
         "glowing brightly"),
        ("on a dark street", "in a kitchen", "in a classroom", "on a brick wall"),
    ),
    CategorySpec(
        "crowd", -0.8, 0.07, 12.0, 0.3,
        ("a stadium crowd", "a busy market", "a marathon start line", "a festival audience",
         "commuters in a train station", "a wedding party"),
        ("cheering after a goal", "bustling at noon", "surging forward", "dancing to music",
         "hurrying to platforms", "throwing confetti"),
        ("seen from the stands", "in a slow pan", "at night", "in summer"),
    ),
    CategorySpec(
        "food", 0.5, 0.12, 8.0, 0.6,
        ("a steaming bowl of ramen", "a chocolate lava cake", "fresh sushi", "a sizzling steak",
         "a stack of pancakes", "a wood-fired pizza"),
        ("being garnished", "with syrup pouring over it", "cut in half", "on a hot grill",
         "coming out of the oven"),
        ("on a rustic table", "in a restaurant kitchen", "in soft morning light", "in close-up"),
    ),
    CategorySpec(
        "abstract", 0.2, 0.15, 18.0, 0.4,
        ("swirling ink clouds", "fractal patterns", "liquid metal shapes", "floating geometric forms",
         "colorful smoke", "a kaleidoscope of light"),
        ("morphing endlessly", "pulsing to a beat", "dissolving into particles", "rotating slowly",
         "blooming outward"),
        ("on a black background", "in pastel colors", "in deep space", "in vivid neon"),
    ),
)

DEFAULT_MODEL_VERSIONS: tuple[ModelVersionSpec, ...] = (
    ModelVersionSpec("vidgen-1.0", -0.45, 0.0, 1.0, 768, 432, 16.0, 0.7, 40.0,
                     (("action", -0.4), ("text-in-video", -0.5))),
    ModelVersionSpec("vidgen-1.1", -0.1, 0.2, 2.0, 1280, 720, 24.0, 1.0, 60.0, (("action", -0.1),)),
    ModelVersionSpec("vidgen-2.0", 0.45, 0.5, 4.0, 1920, 1080, 24.0, 1.4, 120.0,
                     (("text-in-video", 1.3), ("crowd", 0.4))),
)

DEFAULT_MODIFIERS: tuple[ModifierSpec, ...] = (
    ModifierSpec("cinematic", 0.30, 0.25),
    ModifierSpec("4k", 0.10, 0.20),
    ModifierSpec("slow motion", 0.20, 0.12),
    ModifierSpec("anime", -0.15, 0.08),
    ModifierSpec("photorealistic", -0.20, 0.15),
    ModifierSpec("highly detailed", 0.10, 0.15),
    ModifierSpec("dramatic lighting", 0.25, 0.10),
    ModifierSpec("handheld camera", -0.25, 0.06),
    ModifierSpec("timelapse", -0.10, 0.05),
    ModifierSpec("watercolor style", 0.05, 0.05),
    ModifierSpec("shot on 35mm film", 0.15, 0.06),
    ModifierSpec("hyperrealistic", -0.30, 0.06),
    ModifierSpec("trending on social media", 0.0, 0.05),
    ModifierSpec("vibrant colors", 0.05, 0.10),
    ModifierSpec("fast cuts", -0.35, 0.05),
)

DEFAULT_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("like", -3.0, 6.0),
    ActionSpec("favorite", -4.2, 5.0),
    ActionSpec("share", -4.5, 5.0),
    ActionSpec("comment", -4.5, 3.0),
    ActionSpec("download", -5.0, 4.5),
    ActionSpec("dislike", -3.2, -6.0),
    ActionSpec("report", -6.0, -6.0),
)
# fmt: on


@dataclass(frozen=True)
class SimulationConfig:
    """Every knob of the simulated world and of its landing files; the defaults make the demo."""

    requests: int = 2000
    seed: int = 0
    days: int = 14
    base_time: datetime = datetime(2026, 10, 1, tzinfo=UTC)
    # requests and generations
    min_candidates: int = 2
    max_candidates: int = 4
    creators_per_request: float = 0.2
    creator_zipf_exponent: float = 0.9
    volume_growth: float = 1.0
    categories: tuple[CategorySpec, ...] = DEFAULT_CATEGORIES
    model_versions: tuple[ModelVersionSpec, ...] = DEFAULT_MODEL_VERSIONS
    modifiers: tuple[ModifierSpec, ...] = DEFAULT_MODIFIERS
    prompt_prefixes: tuple[str, ...] = ("", "", "a video of ", "close-up of ", "wide shot of ")
    prompt_details: tuple[str, ...] = (
        "with a shallow depth of field",
        "in the style of a documentary",
        "with soft background music",
        "with gentle camera movement",
        "centered in frame",
    )
    setting_share: float = 0.7
    detail_share: float = 0.3
    mixed_model_share: float = 0.3
    quality_intercept: float = 0.1
    latent_sd: float = 1.1
    # embedding = centroid(category) + offset(model) + W @ [z / latent_sd, nuisance] + noise
    embedding_dim: int = 16
    embedding_nuisance_dims: int = 5
    embedding_signal: float = 1.0
    embedding_category_scale: float = 1.0
    embedding_model_scale: float = 0.3
    embedding_noise_sd: float = 0.55
    embedding_missing_share: float = 0.01
    min_duration_ms: int = 2000
    max_duration_ms: int = 60_000
    duration_sd: float = 0.35
    reference_share: float = 0.15
    consent_false_share: float = 0.03
    consent_omitted_share: float = 0.2
    seed_omitted_share: float = 0.1
    render_settings_omitted_share: float = 0.05
    real_person_share: float = 0.03
    ip_character_share: float = 0.05
    unsafe_share: float = 0.005
    guidance_scale_share: float = 0.2
    # studio: the creator previews candidates, keeps one (softmax over quality), regenerates if all are poor
    studio_view_prob: float = 0.9
    select_temperature: float = 0.08
    select_none_share: float = 0.07
    poor_threshold: float = 0.3
    poor_select_share: float = 0.3
    regenerate_prob: float = 0.8
    regenerate_anyway_prob: float = 0.05
    # viewers
    viewers_per_generation: float = 3.0
    viewer_activity_sd: float = 1.0
    bot_share: float = 0.01
    bot_daily_impressions: float = 25.0
    bot_view_prob: float = 0.9
    bot_like_prob: float = 0.35
    bot_share_prob: float = 0.05
    experiment_viewer_share: float = 0.05
    self_engage_share: float = 0.6
    self_like_prob: float = 0.85
    self_delay_hours: float = 3.0
    app_versions: tuple[str, ...] = ("5.8.0", "5.9.2", "6.0.1")
    utc_offsets: tuple[str, ...] = (
        "Z",
        "+00:00",
        "+01:00",
        "+02:00",
        "-04:00",
        "-05:00",
        "-07:00",
        "+05:30",
        "+08:00",
        "+09:00",
    )
    session_gap_ms: int = 3 * HOUR_MS
    # feed exposure and engagement
    impressions_median: float = 50.0
    impressions_sd: float = 1.2
    popularity_feedback: float = 1.5
    max_impressions: int = 50_000
    exposure_decay_days: float = 2.0
    min_exposure_lag_ms: int = 60_000
    surface_shares: tuple[tuple[str, float], ...] = (
        ("feed", 0.85),
        ("profile", 0.06),
        ("search", 0.05),
        ("share", 0.04),
    )
    surface_examination: tuple[tuple[str, float], ...] = (
        ("profile", 0.7),
        ("search", 0.8),
        ("share", 0.95),
    )
    max_position: int = 30
    position_scale: float = 6.0
    ranking_strength: float = 0.3
    creator_boost_sd: float = 0.6
    generation_boost_sd: float = 0.6
    examination_exponent: float = 0.5
    view_intercept: float = -0.3
    view_slope: float = 5.0
    completion_intercept: float = 0.3
    completion_slope: float = 3.5
    completion_duration_slope: float = 0.8
    completion_reference_s: float = 10.0
    completion_concentration: float = 3.0
    completion_threshold: float = 0.95
    loop_share: float = 0.5
    actions: tuple[ActionSpec, ...] = DEFAULT_ACTIONS
    unlike_share: float = 0.04
    unlike_delay_hours: float = 6.0
    # delivery noise
    duplicate_share: float = 0.02
    duplicate_other_file_share: float = 0.4
    late_share: float = 0.03
    late_geometric_p: float = 0.6
    max_late_days: int = 3
    late_generation_share: float = 0.01
    duplicate_generation_share: float = 0.005
    malformed_share: float = 0.003
    malformed_generation_share: float = 0.003
    epoch_share: float = 0.3
    # files
    formats: tuple[FileFormat, ...] = FILE_FORMATS
    event_files_per_day: int = 3
    generation_files_per_day: int = 1
    max_rows_per_file: int = 250_000
    events_per_impression_estimate: float = 1.6
    output_uri_prefix: str = "s3://reelloop-sim/videos/"
    reference_uri_prefix: str = "s3://reelloop-sim/refs/"

    def __post_init__(self) -> None:
        if self.requests < 1:
            raise ValueError(f"requests must be at least 1, got {self.requests}")
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if not 1 <= self.min_candidates <= self.max_candidates:
            raise ValueError("need 1 <= min_candidates <= max_candidates")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.base_time.tzinfo is None:
            raise ValueError("base_time needs a UTC offset")
        unknown = set(self.formats) - set(FILE_FORMATS)
        if unknown or not self.formats:
            raise ValueError(
                f"formats must be among {', '.join(FILE_FORMATS)}; got {sorted(unknown)}"
            )
        if self.max_rows_per_file < 1000:
            raise ValueError("max_rows_per_file must be at least 1000")
        if self.models_released_at_start() == 0:
            raise ValueError("at least one model version must have release_fraction 0")
        for spec in self.model_versions:
            for name, _ in spec.category_effects:
                if name not in self.category_names():
                    raise ValueError(f"model {spec.name}: unknown category {name!r}")

    def category_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.categories)

    def models_released_at_start(self) -> int:
        return sum(1 for m in self.model_versions if m.release_fraction <= 0)

    @property
    def base_ms(self) -> int:
        return int(self.base_time.timestamp() * 1000)


@dataclass(frozen=True)
class LandingFile:
    """One written landing file (path relative to the output directory)."""

    path: str
    kind: str
    file_format: str
    rows: int
    malformed_rows: int
    duplicate_rows: int
    bytes: int


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation wrote: world sizes, row counts by kind and noise type, and every file."""

    out_dir: str
    requests: int
    generations: int
    creators: int
    viewers: int
    bots: int
    generation_rows: int
    event_rows: int
    events_by_type: tuple[tuple[str, int], ...]
    duplicate_event_rows: int
    late_event_rows: int
    malformed_event_rows: int
    malformed_generation_rows: int
    late_generation_rows: int
    duplicate_generation_rows: int
    files: tuple[LandingFile, ...] = field(repr=False)

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly summary (files counted per kind and format rather than listed)."""
        summary = {k: v for k, v in asdict(self).items() if k != "files"}
        summary["events_by_type"] = dict(self.events_by_type)
        per_kind: dict[str, dict[str, int]] = {}
        for f in self.files:
            per_kind.setdefault(f.kind, {}).setdefault(f.file_format, 0)
            per_kind[f.kind][f.file_format] += 1
        summary["files"] = per_kind
        return summary


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

    @property
    def n_generations(self) -> int:
        return self.generations.height

    def column(self, name: str) -> np.ndarray:
        return self.generations.get_column(name).to_numpy()


def _rng(config: SimulationConfig, *stream: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, *stream])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def scrambled_ids(prefix: str, index: np.ndarray, salt: int) -> pl.Series:
    """Opaque unique ids `prefix + decimal`: a bijective 64-bit mix (splitmix64) of index and salt."""
    with np.errstate(over="ignore"):
        z = index.astype(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return pl.select(pl.lit(prefix) + pl.Series("id", z).cast(pl.String)).to_series()


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
    rng = _rng(config, _STREAM_GENERATIONS)
    n_req = config.requests
    window_ms = config.days * DAY_MS
    categories, models, modifiers = config.categories, config.model_versions, config.modifiers

    # request arrivals with linearly rising volume (inverse CDF of density 1 + growth * t)
    u = np.sort(rng.random(n_req))
    g = config.volume_growth
    fraction = u if g == 0 else (np.sqrt(1 + 2 * g * u * (1 + g / 2)) - 1) / g
    request_ms = config.base_ms + (fraction * (window_ms - 1)).astype(np.int64)

    n_creators = max(1, round(n_req * config.creators_per_request))
    creator_weights = 1.0 / np.arange(1, n_creators + 1) ** config.creator_zipf_exponent
    creator_of_request = rng.permutation(n_creators)[
        rng.choice(n_creators, size=n_req, p=creator_weights / creator_weights.sum())
    ]
    cat_weights = np.array([c.weight for c in categories])
    category = rng.choice(len(categories), size=n_req, p=cat_weights / cat_weights.sum())
    modifier_mask = rng.random((n_req, len(modifiers))) < np.array([m.frequency for m in modifiers])
    modifier_effect = modifier_mask @ np.array([m.effect for m in modifiers])

    subject = _vocabulary(rng, category, [c.subjects for c in categories])
    action = _vocabulary(rng, category, [c.actions for c in categories])
    setting = _vocabulary(rng, category, [c.settings for c in categories])
    prefix = pl.Series(config.prompt_prefixes).gather(
        rng.integers(0, len(config.prompt_prefixes), n_req)
    )
    detail = pl.Series(config.prompt_details).gather(
        rng.integers(0, len(config.prompt_details), n_req)
    )
    request_frame = pl.DataFrame(
        {
            "prefix": prefix,
            "subject": subject,
            "action": action,
            "setting": setting,
            "has_setting": rng.random(n_req) < config.setting_share,
            "detail": detail,
            "has_detail": rng.random(n_req) < config.detail_share,
            **{f"m{j}": modifier_mask[:, j] for j in range(len(modifiers))},
        }
    )
    modifier_texts = [
        pl.when(pl.col(f"m{j}")).then(pl.lit(m.text)) for j, m in enumerate(modifiers)
    ]
    prompts = request_frame.select(
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

    # candidates and model versions (newer models used more once released; some candidates A/B another model)
    k = rng.integers(config.min_candidates, config.max_candidates + 1, n_req)
    req_of_gen = np.repeat(np.arange(n_req), k)
    n_gen = req_of_gen.size
    candidate_index = np.arange(n_gen) - np.repeat(np.cumsum(k) - k, k)
    release_ms = config.base_ms + np.array([m.release_fraction for m in models]) * window_ms
    available = request_ms[:, None] >= release_ms[None, :]
    usage = available * np.array([m.usage_weight for m in models])[None, :]
    primary = _grouped_choice(rng, usage)
    alternative = _grouped_choice(rng, usage[req_of_gen])
    ab_test = rng.random(n_gen) < config.mixed_model_share
    model = np.where(ab_test, alternative, primary[req_of_gen])

    cat_gen = category[req_of_gen]
    cat_index = {c.name: i for i, c in enumerate(categories)}
    interaction = np.zeros((len(categories), len(models)))
    for j, m in enumerate(models):
        for name, effect in m.category_effects:
            interaction[cat_index[name], j] = effect
    latent_z = rng.normal(0.0, config.latent_sd, n_gen)
    true_logit = (
        config.quality_intercept
        + np.array([c.effect for c in categories])[cat_gen]
        + np.array([m.effect for m in models])[model]
        + interaction[cat_gen, model]
        + modifier_effect[req_of_gen]
        + latent_z
    )
    true_quality = _sigmoid(true_logit)

    base_duration = np.array([c.base_duration_s for c in categories])[cat_gen]
    duration_factor = np.array([m.duration_factor for m in models])[model]
    duration_ms = np.clip(
        base_duration * duration_factor * np.exp(rng.normal(0, config.duration_sd, n_gen)) * 1000,
        config.min_duration_ms,
        config.max_duration_ms,
    ).astype(np.int64)
    vertical = (rng.random(n_req) < np.array([c.vertical_share for c in categories])[category])[
        req_of_gen
    ]
    long_side = np.array([m.width for m in models])[model]
    short_side = np.array([m.height for m in models])[model]
    render_ms = (
        np.array([m.render_seconds for m in models])[model] * 1000 * rng.uniform(0.5, 1.5, n_gen)
    )
    created_ms = request_ms[req_of_gen] + render_ms.astype(np.int64) + candidate_index * 2000

    # embedding: carries z partly, plus category/model offsets, nuisance latents and noise
    basis_rng = _rng(config, _STREAM_EMBEDDING_BASIS)
    dim = config.embedding_dim
    basis = basis_rng.normal(0, 1 / math.sqrt(dim), (dim, 1 + config.embedding_nuisance_dims))
    basis[:, 0] *= config.embedding_signal / max(np.linalg.norm(basis[:, 0]), 1e-12)
    centroids = basis_rng.normal(
        0, config.embedding_category_scale / math.sqrt(dim), (len(categories), dim)
    )
    model_offsets = basis_rng.normal(
        0, config.embedding_model_scale / math.sqrt(dim), (len(models), dim)
    )
    latents = np.column_stack(
        [latent_z / config.latent_sd, rng.normal(0, 1, (n_gen, config.embedding_nuisance_dims))]
    )
    embedding = (
        latents @ basis.T
        + centroids[cat_gen]
        + model_offsets[model]
        + rng.normal(0, config.embedding_noise_sd, (n_gen, dim))
    )
    embedding = np.round(embedding, 4).astype(np.float32)
    has_embedding = rng.random(n_gen) >= config.embedding_missing_share

    # studio: softmax choice over siblings (Gumbel-max), regenerate when all are poor
    gumbel_key = true_quality / config.select_temperature - np.log(-np.log(rng.random(n_gen)))
    studio_frame = pl.DataFrame({"req": req_of_gen, "key": gumbel_key, "q": true_quality}).select(
        best=pl.col("key") == pl.col("key").max().over("req"),
        worst=pl.col("key") == pl.col("key").min().over("req"),
        max_q=pl.col("q").max().over("req"),
    )
    all_poor = studio_frame.get_column("max_q").to_numpy() < config.poor_threshold
    select_any = (
        rng.random(n_req)
        < np.where(
            all_poor[np.cumsum(k) - k], config.poor_select_share, 1 - config.select_none_share
        )
    )[req_of_gen]
    selected = studio_frame.get_column("best").to_numpy() & select_any
    regenerate_req = rng.random(n_req) < np.where(
        all_poor[np.cumsum(k) - k], config.regenerate_prob, config.regenerate_anyway_prob
    )
    regenerated = studio_frame.get_column("worst").to_numpy() & regenerate_req[req_of_gen]
    ready_ms = (
        pl.DataFrame({"req": req_of_gen, "c": created_ms})
        .select(pl.col("c").max().over("req"))
        .to_series()
        .to_numpy()
    )
    decision_ms = ready_ms + rng.integers(20_000, 600_000, n_req)[req_of_gen]
    studio_ms = created_ms + rng.integers(2_000, 30_000, n_gen)
    # the feed ranker also promotes for reasons other than quality (creator reach, boosts): position confounder
    feed_boost = rng.normal(0, config.creator_boost_sd, n_creators)[
        creator_of_request[req_of_gen]
    ] + rng.normal(0, config.generation_boost_sd, n_gen)
    self_engaged = rng.random(n_gen) < config.self_engage_share
    self_ms = created_ms + (rng.exponential(config.self_delay_hours, n_gen) * HOUR_MS).astype(
        np.int64
    )

    # optional record fields
    has_refs = rng.random(n_req) < config.reference_share
    n_refs = np.where(has_refs, rng.integers(1, 3, n_req), 0)
    ref_req = np.repeat(np.arange(n_req), n_refs)
    ref_kind = pl.Series(["image", "video", "audio"]).gather(
        rng.choice(3, size=ref_req.size, p=[0.7, 0.2, 0.1])
    )
    request_ids = scrambled_ids("req_", np.arange(n_req), 11)
    refs = (
        pl.DataFrame({"req": ref_req, "kind": ref_kind})
        .with_columns(
            uri=pl.lit(config.reference_uri_prefix)
            + request_ids.gather(ref_req)
            + pl.lit("-")
            + pl.int_range(pl.len()).over("req").cast(pl.String)
            + pl.col("kind").replace_strict({"image": ".png", "video": ".mp4", "audio": ".wav"})
        )
        .group_by("req", maintain_order=True)
        .agg(pl.struct("kind", "uri").alias("reference_inputs"))
    )
    consent_false = (rng.random(n_req) < config.consent_false_share)[req_of_gen]
    consent_omitted = rng.random(n_gen) < config.consent_omitted_share
    anime = np.array([m.text == "anime" for m in modifiers], dtype=bool)
    has_anime = (modifier_mask[:, anime].any(axis=1) if anime.any() else np.zeros(n_req, bool))[
        req_of_gen
    ]
    portrait = np.array([c.name == "portrait" for c in categories])[cat_gen]
    flag_real_person = rng.random(n_gen) < config.real_person_share * np.where(portrait, 3.0, 0.3)
    flag_ip = rng.random(n_gen) < config.ip_character_share * np.where(has_anime, 4.0, 0.2)
    flag_unsafe = rng.random(n_gen) < config.unsafe_share

    order = np.argsort(created_ms, kind="stable")
    frame = pl.DataFrame(
        {
            "req": req_of_gen,
            "candidate_index": candidate_index,
            "creator": creator_of_request[req_of_gen],
            "category_code": cat_gen,
            "model_code": model,
            "true_logit": true_logit,
            "true_quality": true_quality,
            "latent_z": latent_z,
            "created_ms": created_ms,
            "duration_ms": duration_ms,
            "width": np.where(vertical, short_side, long_side).astype(np.int32),
            "height": np.where(vertical, long_side, short_side).astype(np.int32),
            "fps": np.array([m.fps for m in models])[model],
            "seed": rng.integers(0, 2**31, n_gen),
            "output_embedding": embedding,
            "has_embedding": has_embedding,
            "ab_test": ab_test,
            "consent": ~consent_false,
            "consent_omitted": consent_omitted & ~consent_false,
            "seed_omitted": rng.random(n_gen) < config.seed_omitted_share,
            "settings_omitted": rng.random(n_gen) < config.render_settings_omitted_share,
            "flag_real_person": flag_real_person,
            "flag_ip_character": flag_ip,
            "flag_unsafe": flag_unsafe,
            "guidance_scale": np.where(
                rng.random(n_gen) < config.guidance_scale_share,
                np.round(rng.uniform(3.0, 12.0, n_gen), 1),
                np.nan,
            ),
            "selected": selected,
            "regenerated": regenerated,
            "studio_ms": studio_ms,
            "decision_ms": decision_ms,
            "self_engaged": self_engaged,
            "self_ms": self_ms,
            "feed_boost": feed_boost,
        }
    )[order]
    frame = frame.with_columns(
        generation_id=scrambled_ids("gen_", np.arange(n_gen), 13),
        request_id=request_ids.gather(frame.get_column("req").to_numpy()),
        creator_id=scrambled_ids("u_", frame.get_column("creator").to_numpy(), 17),
        prompt=prompts.get_column("prompt").gather(frame.get_column("req").to_numpy()),
        modifiers=prompts.get_column("modifiers").gather(frame.get_column("req").to_numpy()),
        category=pl.Series([c.name for c in categories]).gather(
            frame.get_column("category_code").to_numpy()
        ),
        model_version=pl.Series([m.name for m in models]).gather(
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


def build_viewers(config: SimulationConfig, generations: pl.DataFrame) -> pl.DataFrame:
    """All users: creators first (user index = creator index), then bots, then the other viewers."""
    rng = _rng(config, _STREAM_VIEWERS)
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
            "viewer_id": scrambled_ids("u_", user, 17),
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
    rng = _rng(config, _STREAM_EXPOSURE)
    quality = generations.get_column("true_quality").to_numpy()
    n = quality.size
    if n == 0:
        return np.zeros((0, config.days), dtype=np.int32)
    log_total = (
        math.log(config.impressions_median)
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
    generations = build_generations(config)
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
    )


# ---------------------------------------------------------------------------------------------------
# events


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
    return (viewer.astype(np.uint64) << np.uint64(24)) + (t // config.session_gap_ms).astype(
        np.uint64
    )


def _watch_ms(
    config: SimulationConfig, rng: np.random.Generator, quality: np.ndarray, duration_ms: np.ndarray
) -> np.ndarray:
    """Time played: a completion fraction that rises with quality and falls with duration; finished videos may loop."""
    mean = _sigmoid(
        config.completion_intercept
        + config.completion_slope * (quality - 0.5)
        - config.completion_duration_slope
        * np.log(duration_ms / 1000 / config.completion_reference_s)
    )
    mean = np.clip(mean, 1e-3, 1 - 1e-3)
    k = config.completion_concentration
    fraction = rng.beta(mean * k, (1 - mean) * k)
    finished = fraction >= config.completion_threshold
    loops = rng.geometric(1 - np.clip(config.loop_share * mean, 0, 0.95)) - 1
    extra = np.where(loops > 0, loops + rng.random(quality.size), 0.0)
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
    """Impressions, the views among them, and the actions following the views (probabilities from quality)."""
    config = world.config
    quality = world.column("true_quality")
    duration = world.column("duration_ms")
    session = _session_keys(config, viewer, t)
    blocks = [_block(gen, viewer, EVENT_CODE["impression"], t, session, surface, position)]
    v = np.flatnonzero(viewed)
    if v.size == 0:
        return blocks
    gv, uv, sv = gen[v], viewer[v], session[v]
    tv = t[v] + rng.integers(200, 2500, v.size)
    watch = _watch_ms(config, rng, quality[gv], duration[gv])
    blocks.append(_block(gv, uv, EVENT_CODE["view"], tv, sv, surface[v], position[v], watch))
    if not with_actions:
        return blocks
    after_view = tv + (watch * rng.uniform(0.2, 1.0, v.size)).astype(np.int64)
    for action in config.actions:
        p = _sigmoid(action.intercept + action.slope * (quality[gv] - 0.5))
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
    examination = np.where(
        feed, (1.0 + np.maximum(position, 0)) ** -config.examination_exponent, other_exam[surface]
    )
    p_view = examination * _sigmoid(config.view_intercept + config.view_slope * (quality - 0.5))
    viewed = rng.random(n) < p_view
    return _engagement_blocks(world, rng, gen, viewer, t, surface, position, viewed)


def _bot_blocks(
    world: SimulatedWorld, rng: np.random.Generator, day: int, part: int, parts: int
) -> list[dict[str, np.ndarray]]:
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
    gen = rng.integers(0, eligible, n)
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


def _creator_blocks(
    world: SimulatedWorld, rng: np.random.Generator, day: int, part: int, parts: int
) -> list[dict[str, np.ndarray]]:
    """Studio events on the day a generation is created, and creators watching and liking their own videos."""
    config = world.config
    in_part = np.arange(world.n_generations) % parts == part
    day_of = (world.column("created_ms") - config.base_ms) // DAY_MS
    creator = world.column("creator")
    quality = world.column("true_quality")
    duration = world.column("duration_ms")
    blocks: list[dict[str, np.ndarray]] = []

    gens = np.flatnonzero(in_part & (day_of == day))
    if gens.size:
        studio = SURFACE_CODE["studio"]
        t = world.column("studio_ms")[gens]
        session = _session_keys(config, creator[gens], world.column("decision_ms")[gens])
        position = world.column("candidate_index")[gens]
        blocks.append(
            _block(gens, creator[gens], EVENT_CODE["impression"], t, session, studio, position)
        )
        v = np.flatnonzero(rng.random(gens.size) < config.studio_view_prob)
        watch = _watch_ms(config, rng, quality[gens[v]], duration[gens[v]])
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
                _block(
                    g,
                    creator[g],
                    EVENT_CODE[event_type],
                    world.column("decision_ms")[g],
                    session[hit],
                    studio,
                )
            )

    self_day = (world.column("self_ms") - config.base_ms) // DAY_MS
    gens = np.flatnonzero(in_part & world.column("self_engaged") & (self_day == day))
    if gens.size:
        viewer = creator[gens]
        t = world.column("self_ms")[gens]
        on_feed = rng.random(gens.size) < 0.5
        surface = np.where(on_feed, SURFACE_CODE["feed"], SURFACE_CODE["profile"])
        position = np.where(on_feed, rng.integers(0, 4, gens.size), -1)
        session = _session_keys(config, viewer, t)
        blocks.append(_block(gens, viewer, EVENT_CODE["impression"], t, session, surface, position))
        watch = (duration[gens] * rng.uniform(0.8, 2.0, gens.size)).astype(np.int64)
        tv = t + rng.integers(300, 2000, gens.size)
        blocks.append(
            _block(gens, viewer, EVENT_CODE["view"], tv, session, surface, position, watch)
        )
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
    rng = _rng(config, _STREAM_EVENTS, day, part)
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
    last_day = config.days - 1
    event_key = (
        (np.uint64(day) << np.uint64(48))
        + (np.uint64(part) << np.uint64(36))
        + np.arange(n, dtype=np.uint64)
    )
    natural_day = np.clip((columns["t"] - config.base_ms) // DAY_MS, day, last_day)
    late_draw = (rng.random(n) < config.late_share) & (natural_day < last_day)
    delay = np.minimum(rng.geometric(config.late_geometric_p, n), config.max_late_days)
    file_day = np.where(late_draw, np.minimum(natural_day + delay, last_day), natural_day)
    late = file_day > natural_day
    arrival = np.where(
        late,
        config.base_ms + file_day * DAY_MS + (rng.random(n) * DAY_MS).astype(np.int64),
        columns["t"] + rng.integers(50, 5000, n),
    )
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
    dup = np.flatnonzero(rng.random(n) < config.duplicate_share)
    other_file = rng.random(dup.size) < config.duplicate_other_file_share
    dup_day = np.minimum(file_day[dup] + other_file, last_day)
    dup_arrival = np.where(
        dup_day > file_day[dup],
        config.base_ms + dup_day * DAY_MS + (rng.random(dup.size) * DAY_MS).astype(np.int64),
        arrival[dup] + rng.integers(1000, 1_800_000, dup.size),
    )
    copies = chunk[dup].with_columns(
        file_day=pl.Series(dup_day, dtype=pl.Int16),
        arrival=pl.Series(dup_arrival),
        duplicate=pl.lit(True),
    )
    return pl.concat([chunk, copies])


def _utc_offsets(config: SimulationConfig) -> tuple[pl.Series, pl.Series]:
    """Offset suffix texts and their minutes east of UTC."""
    minutes = []
    for text in config.utc_offsets:
        match = re.fullmatch(r"Z|([+-])(\d\d):(\d\d)", text)
        if match is None:
            raise ValueError(f"bad UTC offset {text!r}; use Z or +HH:MM")
        sign = -1 if match.group(1) == "-" else 1
        minutes.append(
            0 if text == "Z" else sign * (int(match.group(2)) * 60 + int(match.group(3)))
        )
    return pl.Series(config.utc_offsets), pl.Series(minutes, dtype=pl.Int64)


def rfc3339_expr(ms: pl.Expr, tz: pl.Expr, config: SimulationConfig) -> pl.Expr:
    """RFC 3339 text of epoch milliseconds in the local time of UTC offset number `tz`."""
    texts, minutes = _utc_offsets(config)
    offset_min = tz.replace_strict(
        list(range(len(texts))), minutes.to_list(), return_dtype=pl.Int64
    )
    offset_text = tz.replace_strict(
        list(range(len(texts))), texts.to_list(), return_dtype=pl.String
    )
    local = pl.from_epoch(ms + offset_min * 60_000, time_unit="ms")
    return local.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f") + offset_text


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
            "event_id": scrambled_ids("ev_", chunk.get_column("event_key").to_numpy(), 19),
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
            "session_id": scrambled_ids("s_", chunk.get_column("session").to_numpy(), 23),
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


# ---------------------------------------------------------------------------------------------------
# corruption and rendering of wire records


@dataclass(frozen=True)
class _RecordSpec:
    fields: tuple[str, ...]
    required: tuple[str, ...]
    timestamp: str
    wrong_type_field: str
    id_fields: tuple[str, ...]


_EVENT_SPEC = _RecordSpec(
    EVENT_FIELDS,
    EVENT_REQUIRED,
    "occurred_at",
    "watch_ms",
    ("event_id", "generation_id", "viewer_id"),
)
_GENERATION_SPEC = _RecordSpec(
    GENERATION_FIELDS, GENERATION_REQUIRED, "created_at", "duration_ms", ("generation_id",)
)

_UNPARSEABLE_TIMESTAMPS = (
    "2026-13-45T25:61:00Z",
    "yesterday",
    "10/03/2026 14:22",
    "NaN",
    "2026-10-05 at noon",
)
_UNKNOWN_EVENT_TYPES = ("superlike", "hover", "impresion", "long_press")
_FAR_FUTURE_MS = int(datetime(2099, 1, 1, tzinfo=UTC).timestamp() * 1000)


def allowed_malformed_kinds(
    record_kind: str, file_format: FileFormat, epoch_timestamps: bool
) -> tuple[str, ...]:
    """The malformed kinds a file can carry: Parquet has typed columns, only JSON Lines has lines."""
    kinds = EVENT_MALFORMED_KINDS if record_kind == "events" else GENERATION_MALFORMED_KINDS
    excluded = set()
    if file_format != "jsonl" and file_format != "jsonl.gz":
        excluded.add("not_json")
    if file_format == "parquet":
        excluded.add("wrong_type")
        if epoch_timestamps:
            excluded.add("unparseable_timestamp")
    return tuple(k for k in kinds if k not in excluded)


def corrupt_records(
    wire: pl.DataFrame,
    record_kind: str,
    kinds: tuple[str, ...],
    malformed: np.ndarray,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Break the rows flagged in `malformed`, one kind each, recording `_malformed` and `_field`.

    Typed breakage is applied to the columns; breakage a typed column cannot hold is left as text
    overrides: `_ts_text` (unparseable timestamp), `_wrong_type` (a number sent as text), `_raw_line`.
    """
    spec = _EVENT_SPEC if record_kind == "events" else _GENERATION_SPEC
    ts_ms = "occurred_ms" if record_kind == "events" else "created_ms"
    n = wire.height
    kind_code = np.where(malformed, rng.integers(0, len(kinds), n), len(kinds))
    frame = wire.with_columns(
        _malformed=pl.Series([*kinds, None], dtype=pl.String).gather(kind_code),
        _missing=pl.Series(spec.required).gather(rng.integers(0, len(spec.required), n)),
        _id_target=pl.Series(spec.id_fields).gather(rng.integers(0, len(spec.id_fields), n)),
        _pick=pl.Series(rng.integers(0, 1 << 30, n)),
    )
    k = pl.col("_malformed")
    is_kind = {
        name: (k == name).fill_null(False)
        for name in (*EVENT_MALFORMED_KINDS, *GENERATION_MALFORMED_KINDS)
    }
    field_expr = (
        pl.when(is_kind["missing_field"])
        .then(pl.col("_missing"))
        .when(is_kind["oversized_id"])
        .then(pl.col("_id_target"))
        .when(is_kind["oversized_prompt"])
        .then(pl.lit("prompt"))
        .when(is_kind["wrong_type"] | is_kind["negative_watch_ms"])
        .then(pl.lit(spec.wrong_type_field))
        .when(is_kind["non_positive_duration"])
        .then(pl.lit("duration_ms"))
        .when(is_kind["unknown_event_type"])
        .then(pl.lit("event_type"))
        .when(is_kind["unparseable_timestamp"] | is_kind["far_future_timestamp"])
        .then(pl.lit(spec.timestamp))
    )
    frame = frame.with_columns(_field=field_expr)
    updates: dict[str, pl.Expr] = {}
    missing = is_kind["missing_field"]
    for name in spec.required:
        column = ts_ms if name == spec.timestamp else name
        base = pl.col(column)
        if name in spec.id_fields:
            base = (
                pl.when(is_kind["oversized_id"] & (pl.col("_id_target") == name))
                .then(pl.col(column) + pl.lit("-" + "f" * 130))
                .otherwise(base)
            )
        if name == spec.timestamp:
            base = (
                pl.when(is_kind["far_future_timestamp"])
                .then(pl.lit(_FAR_FUTURE_MS) + pl.col("_pick") * 97)
                .otherwise(base)
            )
        updates[column] = pl.when(missing & (pl.col("_missing") == name)).then(None).otherwise(base)
    if record_kind == "events":
        updates["event_type"] = (
            pl.when(is_kind["unknown_event_type"])
            .then(
                pl.lit(pl.Series(_UNKNOWN_EVENT_TYPES)).gather(
                    pl.col("_pick") % len(_UNKNOWN_EVENT_TYPES)
                )
            )
            .when(is_kind["negative_watch_ms"] | is_kind["wrong_type"])
            .then(pl.lit("view"))
            .otherwise(updates["event_type"])
        )
        updates["watch_ms"] = (
            pl.when(is_kind["negative_watch_ms"])
            .then(-(pl.col("_pick") % 5000) - 1)
            .when(is_kind["wrong_type"])
            .then(pl.col("watch_ms").fill_null(4213))
            .otherwise(pl.col("watch_ms"))
        )
    else:
        updates["duration_ms"] = (
            pl.when(is_kind["non_positive_duration"])
            .then(-(pl.col("_pick") % 3) * 1000)
            .otherwise(updates["duration_ms"])
        )
        updates["prompt"] = (
            pl.when(is_kind["oversized_prompt"])
            .then(pl.col("prompt") + pl.lit(", very" * 2100))
            .otherwise(updates["prompt"])
        )
    frame = frame.with_columns(**updates)
    wrong_value = pl.col(spec.wrong_type_field).cast(pl.String) + pl.lit(
        "ms" if record_kind == "events" else " ms"
    )
    raw_line = (
        pl.when((pl.col("_pick") % 2) == 0)
        .then(
            pl.lit('{"' + spec.id_fields[0] + '": "') + pl.col(spec.id_fields[0]).str.slice(0, 12)
        )
        .otherwise(pl.lit("<html><body>502 Bad Gateway</body></html>"))
    )
    return frame.with_columns(
        _ts_text=pl.when(is_kind["unparseable_timestamp"]).then(
            pl.lit(pl.Series(_UNPARSEABLE_TIMESTAMPS)).gather(
                pl.col("_pick") % len(_UNPARSEABLE_TIMESTAMPS)
            )
        ),
        _wrong_type=pl.when(is_kind["wrong_type"]).then(wrong_value),
        _raw_line=pl.when(is_kind["not_json"]).then(raw_line),
    ).drop("_missing", "_id_target", "_pick")


def wire_frame(
    records: pl.DataFrame,
    record_kind: str,
    file_format: FileFormat,
    config: SimulationConfig,
    epoch: pl.Series,
) -> tuple[pl.DataFrame, pl.Series | None]:
    """The frame to write for `file_format` (JSON value text, CSV text or typed), plus JSON raw-line overrides.

    `epoch` says per row whether the timestamp is written as epoch milliseconds (else RFC 3339).
    """
    spec = _EVENT_SPEC if record_kind == "events" else _GENERATION_SPEC
    ts_ms = "occurred_ms" if record_kind == "events" else "created_ms"
    frame = records.with_columns(_epoch=epoch)
    rfc = rfc3339_expr(pl.col(ts_ms), pl.col("_tz"), config)
    has = set(frame.columns)
    ts_text = pl.col("_ts_text") if "_ts_text" in has else pl.lit(None, dtype=pl.String)
    wrong = pl.col("_wrong_type") if "_wrong_type" in has else pl.lit(None, dtype=pl.String)
    fields = [name for name in spec.fields if name == spec.timestamp or name in has]
    typed = [pl.col(name) for name in fields if name != spec.timestamp]
    if file_format == "parquet":
        ts = pl.col(ts_ms) if bool(epoch.all()) else pl.coalesce(ts_text, rfc)
        out = frame.select(
            [
                ts.alias(spec.timestamp) if name == spec.timestamp else pl.col(name)
                for name in fields
            ]
        )
        return out, None
    if file_format == "csv":
        text = text_columns(frame.select(typed))
        ts = pl.coalesce(
            ts_text, pl.when(pl.col("_epoch")).then(pl.col(ts_ms).cast(pl.String)).otherwise(rfc)
        )
        extra = frame.select(ts.alias(spec.timestamp), wrong.alias("_wrong"))
        out = pl.concat([text, extra], how="horizontal").with_columns(
            pl.coalesce(pl.col("_wrong"), pl.col(spec.wrong_type_field)).alias(
                spec.wrong_type_field
            )
        )
        return out.select(fields), None
    values = json_value_columns(frame.select(typed))
    quoted_ts = pl.lit('"') + pl.coalesce(ts_text, rfc) + pl.lit('"')
    ts = (
        pl.when(ts_text.is_null() & pl.col("_epoch"))
        .then(pl.col(ts_ms).cast(pl.String))
        .otherwise(quoted_ts)
    )
    extra = frame.select(
        ts.alias(spec.timestamp), (pl.lit('"') + wrong + pl.lit('"')).alias("_wrong")
    )
    out = pl.concat([values, extra], how="horizontal").with_columns(
        pl.coalesce(pl.col("_wrong"), pl.col(spec.wrong_type_field)).alias(spec.wrong_type_field)
    )
    raw = frame.get_column("_raw_line") if "_raw_line" in has else None
    return out.select(fields), raw


def _write_wire(
    records: pl.DataFrame,
    record_kind: str,
    file_format: FileFormat,
    path: Path,
    config: SimulationConfig,
    rng: np.random.Generator,
    epoch_file: bool,
) -> int:
    n = records.height
    if file_format == "parquet":
        epoch = pl.Series(np.full(n, epoch_file))
    else:
        epoch = pl.Series(rng.random(n) < config.epoch_share)
    frame, raw = wire_frame(records, record_kind, file_format, config, epoch)
    if file_format in ("jsonl", "jsonl.gz"):
        return write_jsonl(json_lines(frame, raw), path, compress=file_format == "jsonl.gz")
    return write_records(frame, path, file_format)


# ---------------------------------------------------------------------------------------------------
# files


_EVENT_FILE = re.compile(r"events_\d{8}_p\d{3}\.(jsonl|jsonl\.gz|parquet|csv)")
_GENERATION_FILE = re.compile(r"generations_\d{8}_p\d{2}\.(jsonl|jsonl\.gz|parquet|csv)")
_TRUTH_FILES = (
    "generations.parquet",
    "viewers.parquet",
    "malformed.parquet",
    "landing_files.parquet",
)


def _remove_previous_output(out_dir: Path) -> None:
    """Delete files a previous simulation wrote here (only names this simulator writes)."""
    for folder, pattern in (
        (out_dir / "landing" / "events", _EVENT_FILE),
        (out_dir / "landing" / "generations", _GENERATION_FILE),
    ):
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if pattern.fullmatch(path.name):
                    path.unlink()
    for name in _TRUTH_FILES:
        (out_dir / "truth" / name).unlink(missing_ok=True)


def _day_label(config: SimulationConfig, day: int) -> str:
    return datetime.fromtimestamp((config.base_ms + day * DAY_MS) / 1000, tz=UTC).strftime("%Y%m%d")


class _FormatRotation:
    """Formats in turn; Parquet files alternate between RFC 3339 text and epoch-millisecond timestamps."""

    def __init__(self, formats: tuple[FileFormat, ...]) -> None:
        self.formats = formats
        self.count = 0
        self.parquet_count = 0

    def next(self) -> tuple[FileFormat, bool]:
        file_format = self.formats[self.count % len(self.formats)]
        self.count += 1
        epoch = False
        if file_format == "parquet":
            epoch = self.parquet_count % 2 == 1
            self.parquet_count += 1
        return file_format, epoch


def _malformed_truth(path: str, record_kind: str, corrupted: pl.DataFrame) -> pl.DataFrame:
    return corrupted.select(
        pl.lit(path).alias("file"),
        (pl.int_range(pl.len()) + 1).alias("row_number"),
        pl.lit(record_kind).alias("record_kind"),
        pl.col("_malformed").alias("malformed_kind"),
        pl.col("_field").alias("field"),
    ).filter(pl.col("malformed_kind").is_not_null())


def generation_records(world: SimulatedWorld) -> pl.DataFrame:
    """Generation wire records (typed; time in `created_ms`) with optional fields omitted on some rows."""
    creator_tz = world.viewer_tz[world.column("creator")]
    return world.generations.select(
        "generation_id",
        "request_id",
        "creator_id",
        "prompt",
        "model_version",
        "created_ms",
        "duration_ms",
        pl.when(~pl.col("settings_omitted")).then(pl.col("width")).alias("width"),
        pl.when(~pl.col("settings_omitted")).then(pl.col("height")).alias("height"),
        pl.when(~pl.col("settings_omitted")).then(pl.col("fps")).alias("fps"),
        pl.when(~pl.col("seed_omitted")).then(pl.col("seed")).alias("seed"),
        "reference_inputs",
        "output_uri",
        pl.when(pl.col("has_embedding")).then(pl.col("output_embedding")).alias("output_embedding"),
        pl.when(~pl.col("consent_omitted")).then(pl.col("consent")).alias("training_consent"),
        "content_flags",
        pl.when(pl.col("ab_test")).then(pl.lit("model-ab")).alias("experiment_arm"),
        "guidance_scale",
        pl.Series("_tz", creator_tz.astype(np.int64)),
        pl.col("created_ms").alias("_arrival"),
    )


def _write_generation_files(
    world: SimulatedWorld, root: Path, out_dir: Path
) -> tuple[list[LandingFile], list[pl.DataFrame], dict[str, int]]:
    config = world.config
    rng = _rng(config, _STREAM_GENERATION_FILES)
    records = generation_records(world)
    n = records.height
    last_day = config.days - 1
    day = np.clip(
        (records.get_column("created_ms").to_numpy() - config.base_ms) // DAY_MS, 0, last_day
    )
    late = (rng.random(n) < config.late_generation_share) & (day < last_day)
    file_day = np.where(late, np.minimum(day + rng.integers(1, 3, n), last_day), day)
    arrival = np.where(
        late,
        config.base_ms + file_day * DAY_MS + (rng.random(n) * DAY_MS).astype(np.int64),
        records.get_column("_arrival").to_numpy() + rng.integers(100, 10_000, n),
    )
    records = records.with_columns(
        _file_day=pl.Series(file_day), _arrival=pl.Series(arrival), _duplicate=pl.lit(False)
    )
    dup = np.flatnonzero(rng.random(n) < config.duplicate_generation_share)
    dup_day = np.minimum(file_day[dup] + (rng.random(dup.size) < 0.5), last_day)
    duplicates = records[dup].with_columns(
        _file_day=pl.Series(dup_day),
        _arrival=pl.col("_arrival") + pl.Series(rng.integers(1000, 3_600_000, dup.size)),
        _duplicate=pl.lit(True),
    )
    bad = np.flatnonzero(rng.random(n) < config.malformed_generation_share)
    broken = records[bad].with_columns(
        _arrival=pl.col("_arrival") - pl.Series(rng.integers(1, 60_000, bad.size)),
        _broken=pl.lit(True),
    )
    everything = pl.concat(
        [
            records.with_columns(_broken=pl.lit(False)),
            duplicates.with_columns(_broken=pl.lit(False)),
            broken,
        ]
    )
    rotation = _FormatRotation(config.formats)
    files: list[LandingFile] = []
    malformed: list[pl.DataFrame] = []
    counts = {
        "late": int(late.sum()),
        "duplicate": int(dup.size),
        "malformed": int(bad.size),
        "rows": 0,
    }
    for d in range(config.days):
        rows_today = everything.filter(pl.col("_file_day") == d)
        if rows_today.height == 0:
            continue
        split = np.arange(rows_today.height) % config.generation_files_per_day
        for part in range(config.generation_files_per_day):
            rows = rows_today.filter(pl.Series(split == part)).sort(["_arrival", "generation_id"])
            if rows.height == 0:
                continue
            file_format, epoch_file = rotation.next()
            kinds = allowed_malformed_kinds("generations", file_format, epoch_file)
            corrupted = corrupt_records(
                rows, "generations", kinds, rows.get_column("_broken").to_numpy(), rng
            )
            path = root / f"generations_{_day_label(config, d)}_p{part:02d}.{file_format}"
            relative = path.relative_to(out_dir).as_posix()
            size = _write_wire(corrupted, "generations", file_format, path, config, rng, epoch_file)
            bad_rows = _malformed_truth(relative, "generations", corrupted)
            malformed.append(bad_rows)
            counts["rows"] += rows.height
            files.append(
                LandingFile(
                    relative,
                    "generations",
                    file_format,
                    rows.height,
                    bad_rows.height,
                    int(rows.get_column("_duplicate").sum()),
                    size,
                )
            )
    return files, malformed, counts


def _write_event_files(
    world: SimulatedWorld, root: Path, out_dir: Path
) -> tuple[list[LandingFile], list[pl.DataFrame], dict[str, int], dict[str, int]]:
    config = world.config
    rotation = _FormatRotation(config.formats)
    files: list[LandingFile] = []
    malformed: list[pl.DataFrame] = []
    by_type = np.zeros(len(EVENT_TYPES), dtype=np.int64)
    counts = {"rows": 0, "duplicate": 0, "late": 0, "malformed": 0}
    pending: pl.DataFrame | None = None
    for day in range(config.days):
        parts = int(world.parts_per_day[day])
        incoming = None
        if pending is not None:
            incoming = pending.filter(pl.col("file_day") == day)
            pending = pending.filter(pl.col("file_day") != day)
        for part in range(parts):
            chunk = build_event_chunk(world, day, part)
            later = chunk.filter(pl.col("file_day") > day)
            pending = later if pending is None else pl.concat([pending, later])
            rows = chunk.filter(pl.col("file_day") == day)
            if incoming is not None and incoming.height:
                share = incoming.filter(pl.Series(np.arange(incoming.height) % parts == part))
                rows = pl.concat([rows, share])
            rows = rows.sort(["arrival", "event_key", "duplicate"])
            if rows.height == 0:
                continue
            rng = _rng(config, _STREAM_EVENT_FILES, day, part)
            file_format, epoch_file = rotation.next()
            kinds = allowed_malformed_kinds("events", file_format, epoch_file)
            wire = render_events(world, rows)
            corrupted = corrupt_records(
                wire, "events", kinds, rng.random(rows.height) < config.malformed_share, rng
            )
            path = root / f"events_{_day_label(config, day)}_p{part:03d}.{file_format}"
            relative = path.relative_to(out_dir).as_posix()
            size = _write_wire(corrupted, "events", file_format, path, config, rng, epoch_file)
            bad_rows = _malformed_truth(relative, "events", corrupted)
            malformed.append(bad_rows)
            n_dup = int(rows.get_column("duplicate").sum())
            files.append(
                LandingFile(
                    relative, "events", file_format, rows.height, bad_rows.height, n_dup, size
                )
            )
            by_type += np.bincount(rows.get_column("etype").to_numpy(), minlength=len(EVENT_TYPES))
            counts["rows"] += rows.height
            counts["duplicate"] += n_dup
            counts["late"] += int((rows.get_column("late") & ~rows.get_column("duplicate")).sum())
            counts["malformed"] += bad_rows.height
        logger.debug("simulated events of day %d in %d parts", day, parts)
    return files, malformed, counts, {name: int(by_type[i]) for i, name in enumerate(EVENT_TYPES)}


def truth_generations(world: SimulatedWorld) -> pl.DataFrame:
    """The hidden truth per generation (what labels and models are judged against)."""
    return world.generations.select(
        "generation_id",
        "request_id",
        "creator_id",
        "true_quality",
        "true_logit",
        "latent_z",
        "category",
        "model_version",
        "prompt",
        "modifiers",
        "candidate_index",
        "duration_ms",
        pl.from_epoch("created_ms", time_unit="ms").dt.replace_time_zone("UTC").alias("created_at"),
        pl.Series("planned_feed_impressions", world.feed_plan.sum(axis=1).astype(np.int64)),
        pl.col("selected").alias("studio_selected"),
        pl.col("regenerated").alias("studio_regenerated"),
        "self_engaged",
        "feed_boost",
        pl.col("consent").alias("training_consent"),
        "content_flags",
    )


def simulate_landing_zone(out_dir: str | Path, config: SimulationConfig) -> SimulationSummary:
    """Write a landing zone and its ground truth under `out_dir` (replacing a previous simulation's files)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output path is a file, not a directory: {out}")
    _remove_previous_output(out)
    world = build_world(config)
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    write_parquet(truth_generations(world), truth / "generations.parquet")
    write_parquet(
        world.viewers.select("viewer_id", "is_bot", "is_creator"), truth / "viewers.parquet"
    )
    gen_files, gen_malformed, gen_counts = _write_generation_files(
        world, out / "landing" / "generations", out
    )
    ev_files, ev_malformed, ev_counts, by_type = _write_event_files(
        world, out / "landing" / "events", out
    )
    malformed_schema = {
        "file": pl.String,
        "row_number": pl.Int64,
        "record_kind": pl.String,
        "malformed_kind": pl.String,
        "field": pl.String,
    }
    write_parquet(
        pl.concat(
            [pl.DataFrame(schema=malformed_schema), *gen_malformed, *ev_malformed],
            how="vertical_relaxed",
        ),
        truth / "malformed.parquet",
    )
    files = tuple(gen_files + ev_files)
    write_parquet(
        pl.DataFrame(
            [asdict(f) for f in files],
            schema={
                "path": pl.String,
                "kind": pl.String,
                "file_format": pl.String,
                "rows": pl.Int64,
                "malformed_rows": pl.Int64,
                "duplicate_rows": pl.Int64,
                "bytes": pl.Int64,
            },
        ),
        truth / "landing_files.parquet",
    )
    return SimulationSummary(
        out_dir=str(out),
        requests=config.requests,
        generations=world.n_generations,
        creators=int(world.viewers.get_column("is_creator").sum()),
        viewers=world.viewers.height,
        bots=int(world.viewers.get_column("is_bot").sum()),
        generation_rows=gen_counts["rows"],
        event_rows=ev_counts["rows"],
        events_by_type=tuple(by_type.items()),
        duplicate_event_rows=ev_counts["duplicate"],
        late_event_rows=ev_counts["late"],
        malformed_event_rows=ev_counts["malformed"],
        malformed_generation_rows=gen_counts["malformed"],
        late_generation_rows=gen_counts["late"],
        duplicate_generation_rows=gen_counts["duplicate"],
        files=files,
    )
