"""The simulated world's knobs: the specs of categories, model versions, modifiers and actions, their
default tables, and `SimulationConfig` (every knob of the world and of its landing files)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from landing.writers import FILE_FORMATS, FileFormat

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

ExaminationShape = Literal["power", "exponential", "fold"]
"""How examination falls with feed position (see `SimulationConfig.examination_shape`)."""
EXAMINATION_SHAPES: tuple[str, ...] = get_args(ExaminationShape)
QUALITY_SIGNALS: tuple[str, ...] = ("view", "completion")
"""The engagement signals besides the actions (`ActionSpec.event_type`): view given examination,
and the completion of a view."""


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
    studio_share: float = 1.0
    """Share of requests whose candidates the creator reviews in the studio (select / regenerate
    exist only there; 0: a product without a studio)."""
    # viewers
    viewers_per_generation: float = 3.0
    viewer_activity_sd: float = 1.0
    bot_share: float = 0.01
    bot_daily_impressions: float = 25.0
    bot_view_prob: float = 0.9
    bot_like_prob: float = 0.35
    bot_share_prob: float = 0.05
    bot_target_share: float = 0.0
    """Share of bot impressions aimed at the few generations they promote (the rest: any generation)."""
    bot_promoted_share: float = 0.02
    """Share of generations that bots promote (when `bot_target_share` > 0)."""
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
    exposure_scale: float = 1.0
    """Multiplies every generation's planned feed impressions: a product with more or less traffic."""
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
    examination_shape: ExaminationShape = "power"
    """Examination by feed position p, 1 at the top: power (1 + p) ** -examination_exponent;
    exponential exp(-examination_decay * p); fold: 1 above `examination_fold`, then
    examination_below_fold * (1 + p - fold) ** -examination_exponent (a grid seen a screen at a time)."""
    examination_exponent: float = 0.5
    examination_decay: float = 0.15
    examination_fold: int = 4
    examination_below_fold: float = 0.5
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
    # what differs between products' signals (a signal: view, completion or an action's event type)
    signal_quality_weights: tuple[tuple[str, float], ...] = ()
    """signal -> multiplier of its quality slope (0: the signal carries no quality; unnamed: 1)."""
    signal_noise_sd: tuple[tuple[str, float], ...] = ()
    """signal -> sd of a persistent per-generation logit shift that has nothing to do with quality."""
    signal_nuisance: tuple[tuple[str, float], ...] = ()
    """signal -> loading on one shared per-generation nuisance (appeal that is not quality, e.g. a
    catchy thumbnail lifting views and shares alike)."""
    category_action_effects: tuple[tuple[str, str, float], ...] = ()
    """(category, action event type, logit shift): e.g. food is liked more whatever its quality."""
    # the truth's long-run rates are measured as the label measures them
    truth_watch_ratio_cap: float = 2.0
    """A view's watch ratio counts up to this in the truth's expected completion."""
    truth_long_view_ms: int = 18_000
    """A view is long when it reaches the end or this many milliseconds (the truth's long_view rate;
    the label's `long_view_ms` should match)."""
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
        self._check_world()
        self._check_knobs()

    def _check_world(self) -> None:
        """The size, window, formats and model versions make a world."""
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

    def _check_knobs(self) -> None:
        """The knobs that vary a product are in range and name known signals and categories."""
        for name, low, high in (
            ("exposure_scale", 1e-3, 1e3),
            ("studio_share", 0.0, 1.0),
            ("bot_share", 0.0, 0.5),
            ("bot_target_share", 0.0, 1.0),
            ("bot_promoted_share", 0.0, 1.0),
            ("examination_below_fold", 0.0, 1.0),
        ):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value}")
        if self.examination_shape not in EXAMINATION_SHAPES:
            raise ValueError(
                f"examination_shape must be one of {', '.join(EXAMINATION_SHAPES)}, "
                f"got {self.examination_shape!r}"
            )
        if self.examination_exponent < 0 or self.examination_decay < 0:
            raise ValueError("examination_exponent and examination_decay must be >= 0")
        if self.examination_fold < 1:
            raise ValueError(f"examination_fold must be at least 1, got {self.examination_fold}")
        signals = set(self.signal_names())
        for knob in ("signal_quality_weights", "signal_noise_sd", "signal_nuisance"):
            unknown = sorted({name for name, _ in getattr(self, knob)} - signals)
            if unknown:
                raise ValueError(f"{knob} names unknown signal(s): {', '.join(unknown)}")
        if any(sd < 0 for _, sd in self.signal_noise_sd):
            raise ValueError("signal_noise_sd must be >= 0")
        actions = {a.event_type for a in self.actions}
        for category, action, _ in self.category_action_effects:
            if category not in self.category_names() or action not in actions:
                raise ValueError(
                    f"category_action_effects: unknown category or action {category!r}, {action!r}"
                )
        if self.truth_watch_ratio_cap <= 0 or self.truth_long_view_ms < 0:
            raise ValueError("truth_watch_ratio_cap must be > 0 and truth_long_view_ms >= 0")

    def signal_names(self) -> tuple[str, ...]:
        """Every engagement signal of the world: view, completion, then the actions in config order."""
        return QUALITY_SIGNALS + tuple(a.event_type for a in self.actions)

    def category_names(self) -> tuple[str, ...]:
        """The category names, in config order."""
        return tuple(c.name for c in self.categories)

    def models_released_at_start(self) -> int:
        """How many model versions are available from the start of the window."""
        return sum(1 for m in self.model_versions if m.release_fraction <= 0)

    @property
    def base_ms(self) -> int:
        """The window's start in epoch milliseconds."""
        return int(self.base_time.timestamp() * 1000)
