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

What differs between products is a knob of `SimulationConfig`, each default leaving the demo world as
it was: exposure (`exposure_scale`), the examination curve's shape and strength (`examination_*`), bot
share and behaviour (`bot_*`, including bots promoting a few generations), each action's propensity by
category (`category_action_effects`), the duration effect on completion, the share of requests going
through the studio (`studio_share`), persistent per-signal noise and a nuisance shared across signals
(`signal_noise_sd`, `signal_nuisance`) and which signals carry quality (`signal_quality_weights`).
Every signal's per-generation logit (`landing.simulate.signals`) drives both the events and the truth's
long-run rates (`landing.simulate.expected`).

Layout written under `out_dir`:

- `landing/generations/generations_YYYYMMDD_pNN.<fmt>`: generation records, by creation day.
- `landing/events/events_YYYYMMDD_pNNN.<fmt>`: events, a few files per day of arrival; formats rotate
  over `.jsonl`, `.jsonl.gz`, `.parquet`, `.csv`.
- `truth/generations.parquet` (generation_id, true_quality in [0,1], true_logit, latent_z, category,
  model_version, ..., and `rate_<signal>`: each signal's long-run rate on the scale the label measures
  it), `truth/viewers.parquet` (viewer_id, is_bot, is_creator),
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

from landing.contract import EVENT_TYPES, SURFACES
from landing.simulate.config import (
    DAY_MS,
    DEFAULT_ACTIONS,
    DEFAULT_CATEGORIES,
    DEFAULT_MODEL_VERSIONS,
    DEFAULT_MODIFIERS,
    HOUR_MS,
    ActionSpec,
    CategorySpec,
    ModelVersionSpec,
    ModifierSpec,
    SimulationConfig,
)
from landing.simulate.corruption import (
    EVENT_MALFORMED_KINDS,
    GENERATION_MALFORMED_KINDS,
    allowed_malformed_kinds,
    corrupt_records,
)
from landing.simulate.draws import scrambled_ids
from landing.simulate.events import (
    EVENT_CHUNK_SCHEMA,
    EVENT_CODE,
    SURFACE_CODE,
    build_event_chunk,
    render_events,
)
from landing.simulate.files import LandingFile, generation_records
from landing.simulate.generations import build_generations
from landing.simulate.landing_zone import (
    SimulationSummary,
    previous_simulation_files,
    simulate_landing_zone,
    truth_generations,
)
from landing.simulate.wire import (
    EVENT_REQUIRED,
    EVENT_WIRE_FIELDS,
    GENERATION_REQUIRED,
    GENERATION_WIRE_FIELDS,
    rfc3339_expr,
    wire_frame,
)
from landing.simulate.world import (
    SimulatedWorld,
    build_viewers,
    build_world,
    plan_feed_exposure,
)

__all__ = [
    "DAY_MS",
    "DEFAULT_ACTIONS",
    "DEFAULT_CATEGORIES",
    "DEFAULT_MODEL_VERSIONS",
    "DEFAULT_MODIFIERS",
    "EVENT_CHUNK_SCHEMA",
    "EVENT_CODE",
    "EVENT_MALFORMED_KINDS",
    "EVENT_REQUIRED",
    "EVENT_TYPES",
    "EVENT_WIRE_FIELDS",
    "GENERATION_MALFORMED_KINDS",
    "GENERATION_REQUIRED",
    "GENERATION_WIRE_FIELDS",
    "HOUR_MS",
    "SURFACES",
    "SURFACE_CODE",
    "ActionSpec",
    "CategorySpec",
    "LandingFile",
    "ModelVersionSpec",
    "ModifierSpec",
    "SimulatedWorld",
    "SimulationConfig",
    "SimulationSummary",
    "allowed_malformed_kinds",
    "build_event_chunk",
    "build_generations",
    "build_viewers",
    "build_world",
    "corrupt_records",
    "generation_records",
    "plan_feed_exposure",
    "previous_simulation_files",
    "render_events",
    "rfc3339_expr",
    "scrambled_ids",
    "simulate_landing_zone",
    "truth_generations",
    "wire_frame",
]
