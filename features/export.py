"""Preference datasets (DPO, KTO, reward) from labels and pairs: rows, governance filters, the options
an ML engineer picks, and the split.

Pure polars: the stage reads the warehouse (`warehouse.export`), calls `build_export`, and writes the
frames in Hugging Face layout (`pipelines.dataset_files`). Every candidate row is either exported or
counted under one exclusion reason, never silently lost. DPO evidence rows about the same two
generations merge into one row per unordered pair (`features.pair_merging`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from features.export_schema import (
    ALL_DATASETS,
    BELOW_MIN_MARGIN,
    CONDITIONING,
    CONTRADICTORY_EVIDENCE,
    CROSS_MODEL_VERSION,
    DATASET_SCHEMAS,
    DATASETS,
    FLAGGED,
    FLAGGED_CHOSEN,
    FLAGGED_POSITIVE,
    LOW_CONFIDENCE,
    MISSING_GENERATION,
    NAMES_CREATOR,
    NEGATIVE_MARGIN,
    NO_CONSENT,
    OTHER_MODEL_VERSION,
    OUTSIDE_WINDOW,
    PROMPT_CAP,
    SOURCE_NOT_SELECTED,
    SPLITS,
    STALE_LABEL_VERSION,
    UNCERTAIN_LABEL,
    UNKNOWN_LABEL,
)
from features.pair_merging import EVIDENCE_SCHEMA, MergeRule, merge_evidence
from features.prompt_curriculum import PriorityRule
from features.prompt_text import prompt_cluster_ids

NEGATIVE_MARGIN_RULES: tuple[str, ...] = ("keep", "drop")
DEFAULT_LICENSE_NOTE: str = (
    "the videos and prompts are user generations under the product's terms of service, not an open "
    "license: use them only to train the product's own models (set --license when one applies)"
)
# Rows are written sorted by these keys so the same warehouse state gives the same bytes.
SORT_KEYS: dict[str, str] = {"dpo": "pair_id", "kto": "generation_id", "reward": "generation_id"}
KTO_LABELS: dict[str, bool] = {"good": True, "bad": False}
UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class ExportConfig:
    """What to export: window on generation created_at [since, until), filters, options, split,
    governance, and the card's license and language."""

    since: datetime | None = None
    until: datetime | None = None
    min_confidence: float = 0.0
    test_fraction: float = 0.1
    report_threshold: int = 3  # a generation with >= this many viewer reports is treated as flagged
    split_salt: str = "reelloop-split-v1"
    label_version: str | None = None  # None: the warehouse's newest label_version
    same_model_version: bool = False  # DPO: only pairs whose sides share a model version
    model_versions: tuple[str, ...] = ()  # only generations of these versions (empty: all)
    min_margin: float | None = None  # DPO: only pairs with quality margin >= this
    max_pairs_per_prompt: int | None = None  # DPO: at most this many pairs per prompt cluster
    sources: tuple[str, ...] = ()  # DPO: only evidence from these pair sources (empty: all)
    max_contradiction: float = MergeRule.max_contradiction
    negative_margin: str = "keep"  # DPO: keep (explained in the card) or drop negative margins
    datasets: tuple[str, ...] = ALL_DATASETS
    license: str = "other"
    license_note: str = DEFAULT_LICENSE_NOTE
    language: tuple[str, ...] = ("en",)
    priority_confidence: float = PriorityRule.confidence  # prompts: level of the deficit's bound
    priority_min_generations: int = PriorityRule.min_generations  # prompts: fewer: priority 0

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        for name in ("model_versions", "sources", "datasets", "language"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))
        if self.license != "other" and self.license_note == DEFAULT_LICENSE_NOTE:
            object.__setattr__(self, "license_note", f"set to `{self.license}` by the exporter")
        self.check_ranges()
        self.check_choices()

    def check_ranges(self) -> None:
        """One-line errors for numbers out of range (named as the command line spells them)."""
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
        if self.min_margin is not None and not -1.0 <= self.min_margin <= 1.0:
            raise ValueError(f"--min-margin must be in [-1, 1], got {self.min_margin}")
        if self.max_pairs_per_prompt is not None and self.max_pairs_per_prompt < 1:
            raise ValueError(
                f"--max-pairs-per-prompt must be >= 1, got {self.max_pairs_per_prompt}"
            )
        self.priority_rule  # noqa: B018 (validates)
        self.merge_rule  # noqa: B018 (validates)

    def check_choices(self) -> None:
        """One-line errors for options outside their choices."""
        if self.negative_margin not in NEGATIVE_MARGIN_RULES:
            raise ValueError(
                f"--negative-margin must be one of {', '.join(NEGATIVE_MARGIN_RULES)}, "
                f"got {self.negative_margin!r}"
            )
        unknown = sorted(set(self.datasets) - set(ALL_DATASETS))
        if unknown or not self.datasets:
            raise ValueError(
                f"--datasets must name some of {', '.join(ALL_DATASETS)}, got {', '.join(unknown) or 'none'}"
            )
        if not self.license.strip() or any(not code.strip() for code in self.language):
            raise ValueError("--license and --language must not be empty")

    @property
    def merge_rule(self) -> MergeRule:
        """How DPO evidence about one pair combines."""
        return MergeRule(max_contradiction=self.max_contradiction)

    @property
    def priority_rule(self) -> PriorityRule:
        """How the prompt curriculum turns a deficit into a priority."""
        return PriorityRule(self.priority_confidence, self.priority_min_generations)

    def as_parameters(self) -> dict[str, object]:
        """The parameters as JSON-ready values (ISO timestamps, lists), recorded in manifests and `exports`."""
        params = asdict(self)
        for name in ("since", "until"):
            value = params[name]
            params[name] = None if value is None else value.astimezone(UTC).isoformat()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


@dataclass(frozen=True)
class ExportTables:
    """The rows of each dataset (with a `split` column), exclusions per dataset and reason, and how the
    DPO evidence rows merged into pairs."""

    label_version: str
    rows: dict[str, pl.DataFrame]
    exclusions: pl.DataFrame  # dataset, reason, rows
    # per dataset: generator model_version -> how many exported generations it made
    model_versions: dict[str, dict[str, int]]
    # per dataset: earliest and latest created_at of the exported generations
    created_range: dict[str, tuple[datetime | None, datetime | None]]
    pair_merging: dict[str, Any] = field(default_factory=dict)
    datasets: tuple[str, ...] = DATASETS  # the ones the export writes (--datasets)

    def split_rows(self, dataset: str, split: str) -> pl.DataFrame:
        """The rows of one dataset split, in the dataset's columns and sort order."""
        frame = self.rows[dataset]
        return frame.filter(pl.col("split") == split).select(list(DATASET_SCHEMAS[dataset]))

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per dataset and split."""
        return {
            dataset: {split: self.split_rows(dataset, split).height for split in SPLITS}
            for dataset in self.datasets
        }

    def exclusion_counts(self) -> dict[str, dict[str, int]]:
        """Excluded rows per dataset and reason (reasons with zero rows left out)."""
        out: dict[str, dict[str, int]] = {dataset: {} for dataset in self.datasets}
        for dataset, reason, rows in self.exclusions.iter_rows():
            if dataset in out:
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


def version_selected(config: ExportConfig, column: str) -> pl.Expr:
    """True where the generation's model version is one the export asked for (all when none named)."""
    if not config.model_versions:
        return pl.lit(True)
    return pl.col(column).is_in(list(config.model_versions))


def first_reason(checks: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """The first reason whose exclusion condition holds, else null (the row is exported)."""
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for reason, excluded in reversed(checks):
        expr = pl.when(excluded.fill_null(True)).then(pl.lit(reason)).otherwise(expr)
    return expr.alias("exclusion_reason")


def completion_uri(prefix: str = "") -> pl.Expr:
    """What a completion points at: the output's URI, else its generation_id."""
    return pl.coalesce(pl.col(f"{prefix}output_uri"), pl.col(f"{prefix}generation_id"))


def side_facts(facts: pl.DataFrame, side: str) -> pl.DataFrame:
    """The facts of one side of a pair, every column prefixed `<side>_`."""
    return facts.rename(lambda name: f"{side}_{name}")


def dpo_evidence(
    pairs: pl.DataFrame, facts: pl.DataFrame, config: ExportConfig, label_version: str
) -> pl.DataFrame:
    """Every preference_pairs row with its exclusion_reason among the per-row checks (null = it merges)."""
    columns = ["generation_id", "has_generation", "training_consent", "names_creator"]
    columns += ["created_at", "model_version"]
    joined = pairs.join(
        side_facts(facts.select(columns), "chosen"), on="chosen_generation_id", how="left"
    ).join(side_facts(facts.select(columns), "rejected"), on="rejected_generation_id", how="left")
    sides = ("chosen", "rejected")
    both = pl.all_horizontal
    checks = [
        (
            MISSING_GENERATION,
            ~both([pl.col(f"{s}_has_generation").fill_null(False) for s in sides]),
        ),
        (NO_CONSENT, ~both([pl.col(f"{s}_training_consent") for s in sides])),
        (NAMES_CREATOR, pl.any_horizontal([pl.col(f"{s}_names_creator") for s in sides])),
        (STALE_LABEL_VERSION, pl.col("label_version") != label_version),
        (OUTSIDE_WINDOW, ~both([in_window(config, f"{s}_created_at") for s in sides])),
        (
            SOURCE_NOT_SELECTED,
            ~pl.col("source").is_in(list(config.sources)) if config.sources else pl.lit(False),
        ),
        (
            OTHER_MODEL_VERSION,
            ~both([version_selected(config, f"{s}_model_version") for s in sides]),
        ),
        (
            CROSS_MODEL_VERSION,
            pl.col("chosen_model_version") != pl.col("rejected_model_version")
            if config.same_model_version
            else pl.lit(False),
        ),
    ]
    return joined.with_columns(first_reason(checks))


PAIR_SIDE_COLUMNS: tuple[str, ...] = (
    "generation_id",
    "output_uri",
    "created_at",
    "content_flag_count",
    "reports",
    "quality_score",
    *CONDITIONING,
)


def merged_pairs(evidence: pl.DataFrame, facts: pl.DataFrame, config: ExportConfig) -> pl.DataFrame:
    """The evidence rows that passed merged into one row per unordered pair, with both sides' facts,
    the margin, the prompt cluster and the pair-level exclusion_reason (null = exported)."""
    kept = evidence.filter(pl.col("exclusion_reason").is_null()).select(list(EVIDENCE_SCHEMA))
    merged = merge_evidence(kept, config.merge_rule)
    side_columns = list(PAIR_SIDE_COLUMNS)
    merged = (
        merged.join(
            side_facts(facts.select(side_columns), "chosen"), on="chosen_generation_id", how="left"
        )
        .join(
            side_facts(facts.select(side_columns), "rejected"),
            on="rejected_generation_id",
            how="left",
        )
        .with_columns(
            margin=pl.col("chosen_quality_score") - pl.col("rejected_quality_score"),
            prompt_cluster=prompt_cluster_ids(merged["prompt"]),
        )
    )
    checks = [
        (CONTRADICTORY_EVIDENCE, pl.col("contradictory")),
        (FLAGGED_CHOSEN, is_flagged(config.report_threshold, "chosen_")),
        (LOW_CONFIDENCE, pl.col("confidence") < config.min_confidence),
        (
            NEGATIVE_MARGIN,
            (pl.col("margin") < 0).fill_null(False)
            if config.negative_margin == "drop"
            else pl.lit(False),
        ),
        (
            BELOW_MIN_MARGIN,
            pl.col("margin") < config.min_margin
            if config.min_margin is not None
            else pl.lit(False),
        ),
    ]
    return capped_per_prompt(merged.with_columns(first_reason(checks)), config)


def capped_per_prompt(pairs: pl.DataFrame, config: ExportConfig) -> pl.DataFrame:
    """Pairs beyond `max_pairs_per_prompt` of their prompt cluster (the least confident, then the
    smallest margins, then by pair_id) excluded as `prompt_cap`; only still-exported pairs count."""
    if config.max_pairs_per_prompt is None:
        return pairs
    ranked = (
        pairs.filter(pl.col("exclusion_reason").is_null())
        .sort(
            ["prompt_cluster", "confidence", "margin", "pair_id"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
        .with_columns(rank_in_prompt=pl.int_range(pl.len()).over("prompt_cluster"))
        .filter(pl.col("rank_in_prompt") >= config.max_pairs_per_prompt)
        .select("pair_id")
    )
    over_cap = pl.col("pair_id").is_in(ranked["pair_id"].implode())
    return pairs.with_columns(
        exclusion_reason=pl.when(pl.col("exclusion_reason").is_null() & over_cap)
        .then(pl.lit(PROMPT_CAP))
        .otherwise(pl.col("exclusion_reason"))
    )


def side_columns(side: str) -> list[pl.Expr]:
    """A pair side's conditioning columns, named as the DPO schema names them."""
    return [pl.col(f"{side}_{name}") for name in CONDITIONING]


def dpo_rows(pairs: pl.DataFrame) -> pl.DataFrame:
    """Exported DPO rows: TRL's prompt/chosen/rejected, both sides' ids and conditioning, the merged
    confidence, margin and evidence."""
    return pairs.filter(pl.col("exclusion_reason").is_null()).select(
        "request_id",
        "prompt",
        completion_uri("chosen_").alias("chosen"),
        completion_uri("rejected_").alias("rejected"),
        "chosen_generation_id",
        "rejected_generation_id",
        *side_columns("chosen"),
        *side_columns("rejected"),
        "confidence",
        "margin",
        "sources",
        "evidence_rows",
        "source_pair_ids",
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
    elif dataset in ("reward", "prompts"):
        governance = [(FLAGGED, flagged)]
        content = []
    else:
        raise ValueError(f"labeled_candidates builds kto, reward or prompts, not {dataset!r}")
    checks = [
        (MISSING_GENERATION, ~pl.col("has_generation")),
        (NO_CONSENT, ~pl.col("training_consent")),
        *governance,
        (NAMES_CREATOR, pl.col("names_creator")),
        (STALE_LABEL_VERSION, pl.col("label_version") != label_version),
        (OUTSIDE_WINDOW, ~in_window(config, "created_at")),
        (OTHER_MODEL_VERSION, ~version_selected(config, "model_version")),
        *content,
    ]
    return labeled.with_columns(first_reason(checks))


def kto_rows(candidates: pl.DataFrame) -> pl.DataFrame:
    """Exported KTO rows: prompt/completion/label (True = good, False = bad), ids, conditioning, quality."""
    return candidates.filter(pl.col("exclusion_reason").is_null()).select(
        "request_id",
        "prompt",
        completion_uri().alias("completion"),
        pl.col("label").replace_strict(KTO_LABELS, return_dtype=pl.Boolean).alias("label"),
        "generation_id",
        *CONDITIONING,
        "quality_score",
        "label_version",
        "created_at",
    )


def reward_rows(candidates: pl.DataFrame) -> pl.DataFrame:
    """Exported reward rows: prompt/completion/score (the quality_score), ids and conditioning."""
    return candidates.filter(pl.col("exclusion_reason").is_null()).select(
        "request_id",
        "prompt",
        completion_uri().alias("completion"),
        pl.col("quality_score").alias("score"),
        "generation_id",
        *CONDITIONING,
        "label_version",
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
    """Rows in the dataset's schema plus `split`, sorted by split then the dataset's (unique) key."""
    schema = DATASET_SCHEMAS[dataset]
    split = with_split(rows, config.test_fraction, config.split_salt)
    return split.select(
        [pl.col(name).cast(dtype) for name, dtype in schema.items()] + [pl.col("split")]
    ).sort(["split", SORT_KEYS[dataset]], nulls_last=True)


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


def merge_statistics(evidence: pl.DataFrame, pairs: pl.DataFrame) -> dict[str, Any]:
    """How DPO evidence rows became rows: read, excluded per row, merged into pairs, dropped per pair,
    exported; exported rows by their combination of sources, negative margins and version mixes."""
    exported = pairs.filter(pl.col("exclusion_reason").is_null())
    kept_evidence = int(evidence["exclusion_reason"].is_null().sum())
    by_sources = (
        exported.select(pl.col("sources").list.join("+").alias("sources"))
        .group_by("sources")
        .len()
        .sort("sources")
    )
    return {
        "evidence_rows": evidence.height,
        "evidence_rows_excluded": evidence.height - kept_evidence,
        "evidence_rows_merged": kept_evidence,
        "merged_pairs": pairs.height,
        "evidence_rows_folded": kept_evidence - pairs.height,
        "pairs_with_several_rows": int((pairs["evidence_rows"] > 1).sum()),
        "pairs_with_opposing_evidence": int((pairs["contradiction"] > 0).sum()),
        "pairs_excluded": int(pairs["exclusion_reason"].is_not_null().sum()),
        "exported_pairs": exported.height,
        "exported_by_sources": {name: int(n) for name, n in by_sources.iter_rows()},
        "exported_negative_margin": int((exported["margin"] < 0).sum()),
        "exported_cross_model_version": int(
            (exported["chosen_model_version"] != exported["rejected_model_version"]).sum()
        ),
    }


def build_export(
    pairs: pl.DataFrame,
    facts: pl.DataFrame,
    config: ExportConfig,
    latest_label_version: str | None,
) -> ExportTables:
    """DPO rows from merged pairs, KTO and reward rows from labels, each split by request and filtered."""
    label_version = export_label_version(config, latest_label_version)
    evidence = dpo_evidence(pairs, facts, config, label_version)
    dpo = merged_pairs(evidence, facts, config)
    kto = labeled_candidates(facts, config, label_version, "kto")
    reward = labeled_candidates(facts, config, label_version, "reward")
    unsplit = {"dpo": dpo_rows(dpo), "kto": kto_rows(kto), "reward": reward_rows(reward)}
    rows = {dataset: finalized(dataset, frame, config) for dataset, frame in unsplit.items()}
    exclusions = pl.concat(
        [
            exclusion_counts("dpo", evidence),
            exclusion_counts("dpo", dpo),
            exclusion_counts("kto", kto),
            exclusion_counts("reward", reward),
        ]
    ).sort(["dataset", "reason"])
    return ExportTables(
        label_version=label_version,
        rows=rows,
        exclusions=exclusions,
        model_versions={
            dataset: model_version_counts(frame, PROVENANCE_COLUMNS[dataset][0])
            for dataset, frame in unsplit.items()
        },
        created_range={
            dataset: created_range(frame, PROVENANCE_COLUMNS[dataset][1])
            for dataset, frame in unsplit.items()
        },
        pair_merging=merge_statistics(evidence, dpo),
        datasets=tuple(d for d in DATASETS if d in config.datasets),
    )


MEMBERSHIP_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "split": pl.String(),
    "row_index": pl.Int64(),
    "role": pl.String(),
    "generation_id": pl.String(),
    "pair_id": pl.String(),
    "label_version": pl.String(),
}


def export_membership(tables: ExportTables) -> pl.DataFrame:
    """One row per generation per exported row (DPO: per side and per merged evidence row): dataset,
    split, row_index (in its split), role, generation_id, pair_id (preference_pairs), label_version."""
    parts = []
    for dataset in tables.datasets:
        for split in SPLITS:
            frame = (
                tables.split_rows(dataset, split)
                .with_row_index("row_index")
                .with_columns(pl.col("row_index").cast(pl.Int64))
            )
            if dataset == "dpo":
                frame = frame.explode("source_pair_ids").rename({"pair_id": "merged_pair_id"})
                roles = [("chosen", "chosen_generation_id"), ("rejected", "rejected_generation_id")]
                pair_id = pl.col("source_pair_ids")
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
    if not parts:
        return pl.DataFrame(schema=MEMBERSHIP_SCHEMA)
    return pl.concat(parts).sort(["dataset", "split", "row_index", "role", "pair_id"])
