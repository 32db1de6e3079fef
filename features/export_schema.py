"""What each exported dataset holds: its columns and their types and meaning, its title and summary, and
the exclusion reasons it counts (in the order they are checked).

Kept apart from the row building (features.export) so the card writer and the tests read one source.
"""

from __future__ import annotations

import polars as pl

PAIR_DATASETS: tuple[str, ...] = ("dpo",)
GENERATION_DATASETS: tuple[str, ...] = ("kto", "reward")
PROMPTS = "prompts"
DATASETS: tuple[str, ...] = (*PAIR_DATASETS, *GENERATION_DATASETS)
ALL_DATASETS: tuple[str, ...] = (*DATASETS, PROMPTS)
SPLITS: tuple[str, ...] = ("train", "test")

# Exclusion reasons; a row failing several checks is counted once, under the first in its dataset's order.
MISSING_GENERATION = (
    "missing_generation"  # the label or pair names a generation the warehouse lacks
)
NO_CONSENT = "no_consent"  # training_consent = false on the generation (or either side of a pair)
NAMES_CREATOR = "names_creator"  # output_uri or prompt embeds the raw creator id
STALE_LABEL_VERSION = (
    "stale_label_version"  # label or pair of another label_version than the export's
)
OUTSIDE_WINDOW = "outside_window"  # generation created_at outside [since, until)
SOURCE_NOT_SELECTED = "source_not_selected"  # DPO evidence from a source left out by --sources
OTHER_MODEL_VERSION = "other_model_version"  # a generation of a version left out by --model-version
CROSS_MODEL_VERSION = (
    "cross_model_version"  # DPO: sides of different versions (--same-model-version)
)
CONTRADICTORY_EVIDENCE = "contradictory_evidence"  # DPO: the pair's evidence points both ways
FLAGGED_CHOSEN = "flagged_chosen"  # DPO: the chosen side has content_flags or too many reports
LOW_CONFIDENCE = "low_confidence"  # DPO: merged confidence below min_confidence
NEGATIVE_MARGIN = (
    "negative_margin"  # DPO: chosen labelled lower than rejected (--negative-margin drop)
)
BELOW_MIN_MARGIN = "below_min_margin"  # DPO: margin below --min-margin, or unknown
PROMPT_CAP = "prompt_cap"  # DPO: beyond --max-pairs-per-prompt for its prompt
FLAGGED_POSITIVE = (
    "flagged_positive"  # KTO: a `good` generation with content_flags or too many reports
)
FLAGGED = "flagged"  # reward, prompts: any flagged generation (never a training target)
UNCERTAIN_LABEL = "uncertain_label"  # KTO: label `uncertain` is neither desirable nor undesirable
UNKNOWN_LABEL = "unknown_label"  # KTO: a label value other than good / bad / uncertain

# DPO: reasons checked on each evidence row of preference_pairs, before rows about the same pair merge
DPO_EVIDENCE_REASONS: tuple[str, ...] = (
    MISSING_GENERATION,
    NO_CONSENT,
    NAMES_CREATOR,
    STALE_LABEL_VERSION,
    OUTSIDE_WINDOW,
    SOURCE_NOT_SELECTED,
    OTHER_MODEL_VERSION,
    CROSS_MODEL_VERSION,
)
# DPO: reasons checked on each merged (unordered) pair
DPO_PAIR_REASONS: tuple[str, ...] = (
    CONTRADICTORY_EVIDENCE,
    FLAGGED_CHOSEN,
    LOW_CONFIDENCE,
    NEGATIVE_MARGIN,
    BELOW_MIN_MARGIN,
    PROMPT_CAP,
)

# reward and prompts: a flagged generation is never a target nor counted
TARGET_REASONS: tuple[str, ...] = (
    MISSING_GENERATION,
    NO_CONSENT,
    FLAGGED,
    NAMES_CREATOR,
    STALE_LABEL_VERSION,
    OUTSIDE_WINDOW,
    OTHER_MODEL_VERSION,
)

EXCLUSION_REASONS: dict[str, tuple[str, ...]] = {
    "dpo": DPO_EVIDENCE_REASONS + DPO_PAIR_REASONS,
    "kto": (
        MISSING_GENERATION,
        NO_CONSENT,
        FLAGGED_POSITIVE,
        NAMES_CREATOR,
        STALE_LABEL_VERSION,
        OUTSIDE_WINDOW,
        OTHER_MODEL_VERSION,
        UNCERTAIN_LABEL,
        UNKNOWN_LABEL,
    ),
    "reward": TARGET_REASONS,
    PROMPTS: TARGET_REASONS,
}


def exclusion_unit(dataset: str, reason: str) -> str:
    """What an excluded count of `reason` counts in `dataset` (DPO counts evidence rows, then pairs)."""
    if dataset in PAIR_DATASETS:
        return "evidence rows" if reason in DPO_EVIDENCE_REASONS else "merged pairs"
    return "labeled generations"


REFERENCE_INPUT = pl.Struct({"kind": pl.String(), "uri": pl.String()})
# What the generator needs to reproduce a sample, as the generation record gave it (null when absent).
CONDITIONING: dict[str, pl.DataType] = {
    "model_version": pl.String(),
    "duration_ms": pl.Int64(),
    "width": pl.Int64(),
    "height": pl.Int64(),
    "fps": pl.Float64(),
    "seed": pl.Int64(),
    "reference_inputs": pl.List(REFERENCE_INPUT),
}


def side_conditioning(side: str) -> dict[str, pl.DataType]:
    """The conditioning columns of one side of a pair: `chosen_model_version`, ..."""
    return {f"{side}_{name}": dtype for name, dtype in CONDITIONING.items()}


DATASET_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "dpo": {
        "prompt": pl.String(),
        "chosen": pl.String(),
        "rejected": pl.String(),
        "chosen_generation_id": pl.String(),
        "rejected_generation_id": pl.String(),
        **side_conditioning("chosen"),
        **side_conditioning("rejected"),
        "confidence": pl.Float64(),
        "margin": pl.Float64(),
        "sources": pl.List(pl.String()),
        "evidence_rows": pl.Int64(),
        "source_pair_ids": pl.List(pl.String()),
        "pair_id": pl.String(),
        "label_version": pl.String(),
    },
    "kto": {
        "prompt": pl.String(),
        "completion": pl.String(),
        "label": pl.Boolean(),
        "generation_id": pl.String(),
        **CONDITIONING,
        "quality_score": pl.Float64(),
        "label_version": pl.String(),
    },
    "reward": {
        "prompt": pl.String(),
        "completion": pl.String(),
        "score": pl.Float64(),
        "generation_id": pl.String(),
        **CONDITIONING,
        "label_version": pl.String(),
    },
}

VERSION_QUALITY = pl.Struct(
    {
        "model_version": pl.String(),
        "generations": pl.Int64(),
        "observed_quality": pl.Float64(),
        "predicted_quality": pl.Float64(),
    }
)
PROMPTS_SCHEMA: dict[str, pl.DataType] = {
    "priority_rank": pl.Int64(),
    "prompt": pl.String(),
    "prompt_cluster": pl.String(),
    "prompt_variants": pl.Int64(),
    "requests": pl.Int64(),
    "generations": pl.Int64(),
    "mean_quality": pl.Float64(),
    "sd_quality": pl.Float64(),
    "good_share": pl.Float64(),
    "bad_share": pl.Float64(),
    "expected_quality": pl.Float64(),
    "deficit": pl.Float64(),
    "deficit_low": pl.Float64(),
    "predicted_quality": pl.Float64(),
    "prediction_gap": pl.Float64(),
    "by_model_version": pl.List(VERSION_QUALITY),
    "priority": pl.Float64(),
    "label_version": pl.String(),
}

DATASET_TITLES: dict[str, str] = {
    "dpo": "reelloop DPO preference pairs",
    "kto": "reelloop KTO desirable / undesirable outputs",
    "reward": "reelloop reward-model targets",
    PROMPTS: "reelloop prompt curriculum",
}

DATASET_DESCRIPTIONS: dict[str, str] = {
    "dpo": (
        "Pairs of sibling videos generated for the same request, one row per unordered pair, where the "
        "merged evidence (studio select / regenerate, debiased feed engagement) says `chosen` beat "
        "`rejected` (columns as TRL's DPOTrainer and Diffusion-DPO / VideoDPO-style trainers expect: "
        "prompt, chosen, rejected, plus each side's generation settings). Completions are the outputs' "
        "URIs (else generation ids): join to the videos or their embeddings to train."
    ),
    "kto": (
        "Single generated videos labeled desirable (`label` true: engagement label `good`) or undesirable "
        "(false: `bad`); `uncertain` labels are left out. Columns as TRL's KTOTrainer expects: prompt, "
        "completion, label, plus the generation settings."
    ),
    "reward": (
        "Generated videos with their debiased engagement quality score in [0, 1] as a regression target "
        "for a reward model: prompt, completion, score, plus the generation settings."
    ),
    PROMPTS: (
        "One row per cluster of near-identical prompts (same content words in the same order): how its "
        "generations were labeled, what the model versions that served it usually achieve, what the "
        "preference model champion predicts for it under each version, and a `priority` for the next "
        "training mix: how far it falls below what its versions usually achieve, at the lower end of a "
        "confidence interval, so only weaknesses the evidence supports rank high."
    ),
}

CONDITIONING_DESCRIPTIONS: dict[str, str] = {
    "model_version": "generator model version of {video}",
    "duration_ms": "length of {video} in milliseconds, as generated",
    "width": "width of {video} in pixels (null when the record has none)",
    "height": "height of {video} in pixels (null when the record has none)",
    "fps": "frame rate of {video} (null when the record has none)",
    "seed": "generator seed of {video} (null when the record has none)",
    "reference_inputs": "multimodal references the generator was given for {video}: list of {{kind, uri}}",
}


def conditioning_descriptions(side: str = "") -> dict[str, str]:
    """Meaning of the conditioning columns, of one side of a pair (`chosen_...`) or of the video."""
    video = f"the {side} video" if side else "the video"
    prefix = f"{side}_" if side else ""
    return {
        f"{prefix}{name}": text.format(video=video)
        for name, text in CONDITIONING_DESCRIPTIONS.items()
    }


COLUMN_DESCRIPTIONS: dict[str, str] = {
    "prompt": "the creator's text prompt",
    "chosen": "output URI (else generation_id) of the preferred video",
    "rejected": "output URI (else generation_id) of the less preferred sibling",
    "completion": "output URI (else generation_id) of the video",
    "chosen_generation_id": "warehouse generation_id of the chosen video",
    "rejected_generation_id": "warehouse generation_id of the rejected video",
    **conditioning_descriptions("chosen"),
    **conditioning_descriptions("rejected"),
    **conditioning_descriptions(),
    "confidence": "P(chosen is better) from the merged evidence (see 'One row per pair')",
    "margin": "quality_score(chosen) - quality_score(rejected); null if a side has no label; "
    "negative when a studio vote outweighs a higher label (see 'Negative margins')",
    "sources": "the evidence merged into the row: select, regenerate, sibling (sorted)",
    "evidence_rows": "how many preference_pairs rows were merged into the row",
    "source_pair_ids": "warehouse preference_pairs.pair_id of each merged evidence row",
    "pair_id": "id of the unordered pair: sha256(request_id, both generation ids), direction-free",
    "label_version": "version of the labeling that produced the label or pair",
    "label": "true: desirable (label good); false: undesirable (label bad)",
    "generation_id": "warehouse generation_id",
    "quality_score": "debiased engagement quality estimate in [0, 1]",
    "score": "debiased engagement quality estimate in [0, 1] (labels.quality_score)",
    "priority_rank": "1 = the first prompt to add to the next training mix",
    "prompt_cluster": "id of the cluster of near-identical prompts: sha256 of its content words",
    "prompt_variants": "distinct prompt texts in the cluster (`prompt` is the most used one)",
    "requests": "requests with a labeled generation of the cluster",
    "generations": "labeled generations of the cluster",
    "mean_quality": "mean quality_score of those generations (observed)",
    "sd_quality": "standard deviation of their quality_score (null for one generation)",
    "good_share": "share labeled good",
    "bad_share": "share labeled bad",
    "expected_quality": "what the model versions that served the cluster achieve on average over "
    "all prompts, weighted by how many of its generations each made",
    "deficit": "expected_quality - mean_quality: how far the cluster falls below its versions' usual",
    "deficit_low": "lower confidence bound of the deficit (pooled spread, one-sided)",
    "predicted_quality": "the champion's predicted quality_score of the prompt, over the versions "
    "that served it (weighted as above); null without a champion",
    "prediction_gap": "predicted_quality - mean_quality: positive where the preference model is "
    "optimistic about a prompt the videos did not deliver on",
    "by_model_version": "per model version: its labeled generations of the cluster, their mean "
    "quality (null when none) and the champion's prediction",
    "priority": "max(0, deficit_low): weight for the next training mix (0 = no solid weakness)",
}
