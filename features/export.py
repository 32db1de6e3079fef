"""Preference datasets (DPO, KTO, reward) from labels and pairs: rows, governance filters, split.

Pure polars: the flow reads the warehouse (`warehouse.export`), calls `build_export`, and writes
the frames in Hugging Face layout (`warehouse.dataset_files`). Every candidate row is either
exported or counted under one exclusion reason, never silently lost.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import polars as pl

DATASETS: tuple[str, ...] = ("dpo", "kto", "reward")
SPLITS: tuple[str, ...] = ("train", "test")

# Exclusion reasons; a row failing several checks is counted once, under the first in this order.
MISSING_GENERATION = (
    "missing_generation"  # the label or pair names a generation the warehouse lacks
)
NO_CONSENT = "no_consent"  # training_consent = false on the generation (or either side of a pair)
FLAGGED_CHOSEN = "flagged_chosen"  # DPO: the chosen side has content_flags or too many reports
FLAGGED_POSITIVE = (
    "flagged_positive"  # KTO: a `good` generation with content_flags or too many reports
)
FLAGGED = "flagged"  # reward: any flagged generation (never a training target)
NAMES_CREATOR = "names_creator"  # output_uri or prompt embeds the raw creator id
STALE_LABEL_VERSION = (
    "stale_label_version"  # label or pair from another label_version than the export's
)
OUTSIDE_WINDOW = "outside_window"  # generation created_at outside [since, until)
LOW_CONFIDENCE = "low_confidence"  # DPO: pair confidence below min_confidence
UNCERTAIN_LABEL = "uncertain_label"  # KTO: label `uncertain` is neither desirable nor undesirable
UNKNOWN_LABEL = "unknown_label"  # KTO: a label value other than good / bad / uncertain

EXCLUSION_REASONS: dict[str, tuple[str, ...]] = {
    "dpo": (
        MISSING_GENERATION,
        NO_CONSENT,
        FLAGGED_CHOSEN,
        NAMES_CREATOR,
        STALE_LABEL_VERSION,
        OUTSIDE_WINDOW,
        LOW_CONFIDENCE,
    ),
    "kto": (
        MISSING_GENERATION,
        NO_CONSENT,
        FLAGGED_POSITIVE,
        NAMES_CREATOR,
        STALE_LABEL_VERSION,
        OUTSIDE_WINDOW,
        UNCERTAIN_LABEL,
        UNKNOWN_LABEL,
    ),
    "reward": (
        MISSING_GENERATION,
        NO_CONSENT,
        FLAGGED,
        NAMES_CREATOR,
        STALE_LABEL_VERSION,
        OUTSIDE_WINDOW,
    ),
}

DATASET_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "dpo": {
        "prompt": pl.String(),
        "chosen": pl.String(),
        "rejected": pl.String(),
        "chosen_generation_id": pl.String(),
        "rejected_generation_id": pl.String(),
        "chosen_model_version": pl.String(),
        "rejected_model_version": pl.String(),
        "confidence": pl.Float64(),
        "margin": pl.Float64(),
        "source": pl.String(),
        "pair_id": pl.String(),
        "label_version": pl.String(),
    },
    "kto": {
        "prompt": pl.String(),
        "completion": pl.String(),
        "label": pl.Boolean(),
        "generation_id": pl.String(),
        "label_version": pl.String(),
        "quality_score": pl.Float64(),
    },
    "reward": {
        "prompt": pl.String(),
        "completion": pl.String(),
        "score": pl.Float64(),
        "generation_id": pl.String(),
        "label_version": pl.String(),
    },
}

DATASET_TITLES: dict[str, str] = {
    "dpo": "reelloop DPO preference pairs",
    "kto": "reelloop KTO desirable / undesirable outputs",
    "reward": "reelloop reward-model targets",
}

DATASET_DESCRIPTIONS: dict[str, str] = {
    "dpo": (
        "Pairs of sibling videos generated for the same request, where engagement says `chosen` beat "
        "`rejected` (columns as TRL's DPOTrainer expects: prompt, chosen, rejected). Completions are the "
        "outputs' URIs (else generation ids): join to the videos or their embeddings to train."
    ),
    "kto": (
        "Single generated videos labeled desirable (`label` true: engagement label `good`) or undesirable "
        "(false: `bad`); `uncertain` labels are left out. Columns as TRL's KTOTrainer expects: prompt, completion, label."
    ),
    "reward": (
        "Generated videos with their debiased engagement quality score in [0, 1] as a regression target "
        "for a reward model: prompt, completion, score."
    ),
}

COLUMN_DESCRIPTIONS: dict[str, str] = {
    "prompt": "the creator's text prompt",
    "chosen": "output URI (else generation_id) of the preferred video",
    "rejected": "output URI (else generation_id) of the less preferred sibling",
    "completion": "output URI (else generation_id) of the video",
    "chosen_generation_id": "warehouse generation_id of the chosen video",
    "rejected_generation_id": "warehouse generation_id of the rejected video",
    "chosen_model_version": "generator model version of the chosen video",
    "rejected_model_version": "generator model version of the rejected video",
    "confidence": "confidence of the preference, from the pair builder, in [0, 1]",
    "margin": "quality_score(chosen) - quality_score(rejected); null if a side has no label",
    "source": "what the preference comes from (e.g. studio select, engagement)",
    "pair_id": "warehouse preference_pairs.pair_id",
    "label_version": "version of the labeling that produced the label or pair",
    "label": "true: desirable (label good); false: undesirable (label bad)",
    "generation_id": "warehouse generation_id",
    "quality_score": "debiased engagement quality estimate in [0, 1]",
    "score": "debiased engagement quality estimate in [0, 1] (labels.quality_score)",
}


def governance_policies(dataset: str, config: ExportConfig) -> list[str]:
    """The governance rules applied to `dataset`, as sentences for its dataset card."""
    flagged = f"flagged = any content_flags or >= {config.report_threshold} viewer reports"
    common = [
        "training_consent = false: the generation is in no dataset, nor is any pair that touches it",
        "outputs whose URI or prompt contains the creator id are left out; no creator or viewer ids are exported",
        f"rows come from label_version as stated; others are excluded as `{STALE_LABEL_VERSION}`",
        "train/test split by request: sha256(split_salt, request_id) < test_fraction goes to test, "
        "so siblings never cross the split and a request has the same split in every dataset",
    ]
    specific = {
        "dpo": [
            f"{flagged}: a flagged generation is never `chosen` (it may be `rejected`)",
            f"pairs with confidence < {config.min_confidence} are excluded",
        ],
        "kto": [
            f"{flagged}: a flagged generation is never a desirable (true) row; it may be undesirable (false)",
            "label `uncertain` is excluded (neither desirable nor undesirable)",
        ],
        "reward": [
            f"{flagged}: flagged generations are excluded entirely (never a training target)"
        ],
    }
    return common + specific[dataset]


# Rows are written sorted by these keys so the same warehouse state gives the same bytes.
SORT_KEYS: dict[str, str] = {"dpo": "pair_id", "kto": "generation_id", "reward": "generation_id"}

KTO_LABELS: dict[str, bool] = {"good": True, "bad": False}
UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class ExportConfig:
    """What to export: window on generation created_at [since, until), filters, split and governance."""

    since: datetime | None = None
    until: datetime | None = None
    min_confidence: float = 0.0
    test_fraction: float = 0.1
    report_threshold: int = 3  # a generation with >= this many viewer reports is treated as flagged
    split_salt: str = "reelloop-split-v1"
    label_version: str | None = None  # None: the warehouse's newest label_version

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(
                f"--since ({self.since:%Y-%m-%d %H:%M}) must be before --until ({self.until:%Y-%m-%d %H:%M})"
            )
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"--min-confidence must be in [0, 1], got {self.min_confidence}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"--test-fraction must be in [0, 1), got {self.test_fraction}")
        if self.report_threshold < 1:
            raise ValueError(f"--report-threshold must be >= 1, got {self.report_threshold}")

    def as_parameters(self) -> dict[str, object]:
        """The parameters as JSON-ready values (ISO timestamps), recorded in manifests and `exports`."""
        params = asdict(self)
        for name in ("since", "until"):
            value = params[name]
            params[name] = None if value is None else value.astimezone(UTC).isoformat()
        return params


@dataclass(frozen=True)
class ExportTables:
    """The rows of each dataset (with a `split` column), and exclusions counted per dataset and reason."""

    label_version: str
    rows: dict[str, pl.DataFrame]
    exclusions: pl.DataFrame  # dataset, reason, rows
    # per dataset: generator model_version -> how many exported generations it made
    model_versions: dict[str, dict[str, int]]
    # per dataset: earliest and latest created_at of the exported generations
    created_range: dict[str, tuple[datetime | None, datetime | None]]

    def split_rows(self, dataset: str, split: str) -> pl.DataFrame:
        """The rows of one dataset split, in the dataset's columns and sort order."""
        frame = self.rows[dataset]
        return frame.filter(pl.col("split") == split).select(list(DATASET_SCHEMAS[dataset]))

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per dataset and split."""
        return {
            dataset: {split: self.split_rows(dataset, split).height for split in SPLITS}
            for dataset in DATASETS
        }

    def exclusion_counts(self) -> dict[str, dict[str, int]]:
        """Excluded rows per dataset and reason (reasons with zero rows left out)."""
        out: dict[str, dict[str, int]] = {dataset: {} for dataset in DATASETS}
        for dataset, reason, rows in self.exclusions.iter_rows():
            out[dataset][reason] = int(rows)
        return out


def request_test_bucket(request_ids: pl.Series, salt: str) -> pl.DataFrame:
    """Each distinct request_id with a stable bucket in [0, 1): sha256(salt, request_id) as a fraction.

    sha256 (not polars' hash, which may change across versions) keeps the split stable across
    releases; it runs once per request, not per row.
    """
    unique = request_ids.drop_nulls().unique().sort()
    buckets = [
        int.from_bytes(hashlib.sha256(f"{salt}\x1f{rid}".encode()).digest()[:8], "big") / 2**64
        for rid in unique.to_list()
    ]
    return pl.DataFrame(
        {"request_id": unique, "test_bucket": pl.Series(buckets, dtype=pl.Float64)},
        schema={"request_id": pl.String, "test_bucket": pl.Float64},
    )


def with_split(frame: pl.DataFrame, test_fraction: float, salt: str) -> pl.DataFrame:
    """`frame` with a `split` column: `test` when its request's bucket < test_fraction; siblings share it."""
    buckets = request_test_bucket(frame.get_column("request_id"), salt)
    return (
        frame.join(buckets, on="request_id", how="left")
        .with_columns(
            pl.when(pl.col("test_bucket") < test_fraction)
            .then(pl.lit("test"))
            .otherwise(pl.lit("train"))
            .alias("split")
        )
        .drop("test_bucket")
    )


def is_flagged(report_threshold: int, prefix: str = "") -> pl.Expr:
    """True where the generation has any content flag or at least `report_threshold` viewer reports."""
    return (pl.col(f"{prefix}content_flag_count").fill_null(0) > 0) | (
        pl.col(f"{prefix}reports").fill_null(0) >= report_threshold
    )


def in_window(config: ExportConfig, column: str) -> pl.Expr:
    """True where `column` (a created_at) lies in [since, until); null timestamps are outside."""
    expr = pl.col(column).is_not_null()
    if config.since is not None:
        expr = expr & (pl.col(column) >= config.since)
    if config.until is not None:
        expr = expr & (pl.col(column) < config.until)
    return expr


def first_reason(checks: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """The first reason whose exclusion condition holds, else null (the row is exported)."""
    expr: pl.Expr | None = None
    for reason, excluded in reversed(checks):
        otherwise = pl.lit(None, dtype=pl.String) if expr is None else expr
        expr = pl.when(excluded.fill_null(True)).then(pl.lit(reason)).otherwise(otherwise)
    assert expr is not None
    return expr.alias("exclusion_reason")


def completion_uri() -> pl.Expr:
    """What a completion points at: the output's URI, else its generation_id."""
    return pl.coalesce(pl.col("output_uri"), pl.col("generation_id"))


def dpo_candidates(
    pairs: pl.DataFrame, facts: pl.DataFrame, config: ExportConfig, label_version: str
) -> pl.DataFrame:
    """Every preference pair with the facts of both sides and its exclusion_reason (null = exported)."""
    side_columns = [
        "generation_id",
        "has_generation",
        "model_version",
        "created_at",
        "output_uri",
        "training_consent",
        "content_flag_count",
        "names_creator",
        "quality_score",
        "reports",
    ]

    def side(prefix: str) -> pl.DataFrame:
        return (
            facts.select(side_columns)
            .with_columns(completion_uri().alias("completion"))
            .rename(lambda name: f"{prefix}_{name}")
        )

    joined = pairs.join(side("chosen"), on="chosen_generation_id", how="left").join(
        side("rejected"), on="rejected_generation_id", how="left"
    )
    sides = ("chosen", "rejected")
    checks = [
        (
            MISSING_GENERATION,
            ~pl.all_horizontal([pl.col(f"{s}_has_generation").fill_null(False) for s in sides]),
        ),
        (NO_CONSENT, ~pl.all_horizontal([pl.col(f"{s}_training_consent") for s in sides])),
        (FLAGGED_CHOSEN, is_flagged(config.report_threshold, "chosen_")),
        (NAMES_CREATOR, pl.any_horizontal([pl.col(f"{s}_names_creator") for s in sides])),
        (STALE_LABEL_VERSION, pl.col("label_version") != label_version),
        (
            OUTSIDE_WINDOW,
            ~(in_window(config, "chosen_created_at") & in_window(config, "rejected_created_at")),
        ),
        (LOW_CONFIDENCE, pl.col("confidence") < config.min_confidence),
    ]
    return joined.with_columns(first_reason(checks))


def dpo_rows(candidates: pl.DataFrame) -> pl.DataFrame:
    """Exported DPO rows: TRL's prompt/chosen/rejected plus ids, model versions, confidence and margin."""
    return candidates.filter(pl.col("exclusion_reason").is_null()).select(
        "request_id",
        "prompt",
        pl.col("chosen_completion").alias("chosen"),
        pl.col("rejected_completion").alias("rejected"),
        "chosen_generation_id",
        "rejected_generation_id",
        "chosen_model_version",
        "rejected_model_version",
        "confidence",
        (pl.col("chosen_quality_score") - pl.col("rejected_quality_score")).alias("margin"),
        "source",
        "pair_id",
        "label_version",
        "chosen_created_at",
        "rejected_created_at",
    )


def labeled_candidates(
    facts: pl.DataFrame, config: ExportConfig, label_version: str, dataset: str
) -> pl.DataFrame:
    """Every labeled generation with its exclusion_reason for `dataset` (kto or reward)."""
    labeled = facts.filter(pl.col("label").is_not_null())
    flagged = is_flagged(config.report_threshold)
    if dataset == "kto":
        governance = [(FLAGGED_POSITIVE, flagged & (pl.col("label") == "good"))]
        content = [
            (UNCERTAIN_LABEL, pl.col("label") == UNCERTAIN),
            (UNKNOWN_LABEL, ~pl.col("label").is_in(list(KTO_LABELS))),
        ]
    elif dataset == "reward":
        governance = [(FLAGGED, flagged)]
        content = []
    else:
        raise ValueError(f"labeled_candidates builds kto or reward, not {dataset!r}")
    checks = [
        (MISSING_GENERATION, ~pl.col("has_generation")),
        (NO_CONSENT, ~pl.col("training_consent")),
        *governance,
        (NAMES_CREATOR, pl.col("names_creator")),
        (STALE_LABEL_VERSION, pl.col("label_version") != label_version),
        (OUTSIDE_WINDOW, ~in_window(config, "created_at")),
        *content,
    ]
    return labeled.with_columns(first_reason(checks))


def kto_rows(candidates: pl.DataFrame) -> pl.DataFrame:
    """Exported KTO rows: prompt/completion/label (True = good, False = bad) plus ids and quality_score."""
    return candidates.filter(pl.col("exclusion_reason").is_null()).select(
        "request_id",
        "prompt",
        completion_uri().alias("completion"),
        pl.col("label").replace_strict(KTO_LABELS, return_dtype=pl.Boolean).alias("label"),
        "generation_id",
        "label_version",
        "quality_score",
        "model_version",
        "created_at",
    )


def reward_rows(candidates: pl.DataFrame) -> pl.DataFrame:
    """Exported reward rows: prompt/completion/score (the quality_score) plus ids."""
    return candidates.filter(pl.col("exclusion_reason").is_null()).select(
        "request_id",
        "prompt",
        completion_uri().alias("completion"),
        pl.col("quality_score").alias("score"),
        "generation_id",
        "label_version",
        "model_version",
        "created_at",
    )


def exclusion_counts(dataset: str, candidates: pl.DataFrame) -> pl.DataFrame:
    """Excluded rows of one dataset per reason: dataset, reason, rows."""
    return (
        candidates.filter(pl.col("exclusion_reason").is_not_null())
        .group_by("exclusion_reason")
        .agg(pl.len().cast(pl.Int64).alias("rows"))
        .select(
            pl.lit(dataset).alias("dataset"), pl.col("exclusion_reason").alias("reason"), "rows"
        )
    )


def finalized(dataset: str, rows: pl.DataFrame, config: ExportConfig) -> pl.DataFrame:
    """Rows in the dataset's schema plus `split`, sorted by split then the dataset's key."""
    schema = DATASET_SCHEMAS[dataset]
    split = with_split(rows, config.test_fraction, config.split_salt)
    key = SORT_KEYS[dataset]
    # the other columns break ties, so even duplicate keys give one row order
    order = ["split", key, *(name for name in schema if name != key)]
    return split.select(
        [pl.col(name).cast(dtype) for name, dtype in schema.items()] + [pl.col("split")]
    ).sort(order, nulls_last=True)


def model_version_counts(rows: pl.DataFrame, columns: list[str]) -> dict[str, int]:
    """How many exported generations each generator model_version contributed, by version name."""
    versions = pl.concat([rows.get_column(c).alias("model_version") for c in columns]).drop_nulls()
    counts = versions.value_counts(name="n").sort("model_version")
    return {version: int(n) for version, n in counts.iter_rows()}


def created_range(
    rows: pl.DataFrame, columns: list[str]
) -> tuple[datetime | None, datetime | None]:
    """Earliest and latest created_at of the exported generations (None, None when there are none)."""
    moments = pl.concat([rows.get_column(c).alias("created_at") for c in columns]).drop_nulls()
    if moments.is_empty():
        return None, None
    return moments.min(), moments.max()


PROVENANCE_COLUMNS: dict[str, tuple[list[str], list[str]]] = {
    "dpo": (
        ["chosen_model_version", "rejected_model_version"],
        ["chosen_created_at", "rejected_created_at"],
    ),
    "kto": (["model_version"], ["created_at"]),
    "reward": (["model_version"], ["created_at"]),
}


def export_label_version(config: ExportConfig, latest_label_version: str | None) -> str:
    """The label_version an export is built from: the requested one, else the warehouse's newest."""
    chosen = config.label_version or latest_label_version
    if chosen is None:
        raise ValueError(
            "nothing to export: the warehouse has no labels or preference pairs (run `reelloop label` first)"
        )
    return chosen


def build_export(
    pairs: pl.DataFrame,
    facts: pl.DataFrame,
    config: ExportConfig,
    latest_label_version: str | None,
) -> ExportTables:
    """DPO rows from pairs, KTO and reward rows from labels, each split by request and governance-filtered."""
    label_version = export_label_version(config, latest_label_version)
    dpo = dpo_candidates(pairs, facts, config, label_version)
    kto = labeled_candidates(facts, config, label_version, "kto")
    reward = labeled_candidates(facts, config, label_version, "reward")
    unsplit = {"dpo": dpo_rows(dpo), "kto": kto_rows(kto), "reward": reward_rows(reward)}
    rows = {dataset: finalized(dataset, frame, config) for dataset, frame in unsplit.items()}
    model_versions = {
        dataset: model_version_counts(frame, PROVENANCE_COLUMNS[dataset][0])
        for dataset, frame in unsplit.items()
    }
    created = {
        dataset: created_range(frame, PROVENANCE_COLUMNS[dataset][1])
        for dataset, frame in unsplit.items()
    }
    exclusions = pl.concat(
        [
            exclusion_counts("dpo", dpo),
            exclusion_counts("kto", kto),
            exclusion_counts("reward", reward),
        ]
    ).sort(["dataset", "reason"])
    return ExportTables(
        label_version=label_version,
        rows=rows,
        exclusions=exclusions,
        model_versions=model_versions,
        created_range=created,
    )


def export_membership(tables: ExportTables) -> pl.DataFrame:
    """One row per generation per exported row: dataset, split, row_index (in its split), role, ids, label_version."""
    parts = []
    for dataset in DATASETS:
        for split in SPLITS:
            frame = (
                tables.split_rows(dataset, split)
                .with_row_index("row_index")
                .with_columns(pl.col("row_index").cast(pl.Int64))
            )
            if dataset == "dpo":
                roles = [("chosen", "chosen_generation_id"), ("rejected", "rejected_generation_id")]
                pair_id = pl.col("pair_id")
            else:
                roles = [("completion", "generation_id")]
                pair_id = pl.lit(None, dtype=pl.String)
            for role, id_column in roles:
                parts.append(
                    frame.select(
                        pl.lit(dataset).alias("dataset"),
                        pl.lit(split).alias("split"),
                        "row_index",
                        pl.lit(role).alias("role"),
                        pl.col(id_column).alias("generation_id"),
                        pair_id.alias("pair_id"),
                        "label_version",
                    )
                )
    return pl.concat(parts).sort(["dataset", "split", "row_index", "role"])
