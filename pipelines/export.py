"""Export: consent-filtered, versioned DPO / KTO / reward datasets and a prompt curriculum in Hugging
Face layout.

read pairs and generation facts -> build each dataset's rows and splits (pure, features/) -> score the
prompt clusters with the champion -> refuse an export that selects nothing -> write the folders to a
staging folder and swap it into place -> record the export.

Decisions (also stated in each dataset card):
- OUT holding a previous reelloop export is replaced atomically (renameat2 exchange, else
  rename-aside); a non-empty OUT that is not a reelloop export is refused, never overwritten.
- Same warehouse state + same parameters = byte-identical files: rows sorted, fixed Parquet
  settings, card/manifest times from the warehouse (latest labeled_at / pair created_at), and
  export_id = hash of parameters + data file hashes (the output path is not part of any file).
- DPO: evidence rows about the same two generations merge into one row per unordered pair
  (features.pair_merging); per-row filters apply before the merge, per-pair ones after.
- Governance: training_consent = false drops a generation and every pair touching it; a
  flagged generation (content_flags, or reports >= the report threshold) is never DPO `chosen`,
  never a KTO `true` row, and is left out of reward and the curriculum; KTO drops `uncertain` labels.
- A dataset the options leave empty cannot be loaded by `datasets` (it refuses zero-row splits), so
  such an export is refused with one line naming the datasets and the main reasons; nothing is written.
- Traceability: `exports` has one row per export and path; `export_rows` one row per exported
  generation per row (DPO: chosen and rejected, per merged evidence row), with pair_id and label_version.
Safe to kill at any moment: the folder appears complete or not at all, and a rerun on the same
warehouse state writes the same bytes and records the export once.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from features.export import (
    ExportConfig,
    ExportTables,
    build_export,
    export_membership,
    labeled_candidates,
)
from features.export_governance import governance_policies
from features.export_schema import (
    COLUMN_DESCRIPTIONS,
    DATASET_DESCRIPTIONS,
    DATASET_SCHEMAS,
    DATASET_TITLES,
    EXCLUSION_REASONS,
    PROMPTS,
    PROMPTS_SCHEMA,
    SPLITS,
    exclusion_unit,
)
from features.prompt_curriculum import PromptCurriculum, prompt_curriculum
from pipelines.champion import Champion, read_current_champion
from pipelines.dataset_card import DatasetContent, ExportMetadata
from pipelines.dataset_files import WrittenExport, check_replaceable, write_export
from pipelines.export_notes import (
    OPTION_DESCRIPTIONS,
    dedup_section,
    margin_section,
    prompts_section,
    shared_sections,
)
from pipelines.steps import DIRECT, IO_RETRY, StepPolicy, StepRunner, step
from results.export import ExportSummary
from warehouse.export import ExportInputs, ExportRecord, read_export_inputs, record_export
from warehouse.resource import Warehouse

DATASET_TAGS: dict[str, tuple[str, ...]] = {
    "dpo": ("dpo", "preference", "video-generation"),
    "kto": ("kto", "preference", "video-generation"),
    "reward": ("reward-modeling", "video-generation"),
    PROMPTS: ("curriculum", "prompts", "video-generation"),
}
TOP_REASONS_IN_ERRORS: int = 3
EXPORT_STEPS = 4  # read, build the tables, write the files, record


@step(IO_RETRY)
def read_inputs(warehouse: Warehouse) -> ExportInputs:
    """Pairs, generation facts and warehouse state, read in one transaction (under the writer lock)."""
    with warehouse.writer(publish=False) as con:
        return read_export_inputs(con)


@step()
def build_tables(inputs: ExportInputs, config: ExportConfig) -> ExportTables:
    """Rows of each dataset and split, exclusions by reason, how DPO evidence merged (pure)."""
    return build_export(inputs.pairs, inputs.facts, config, inputs.latest_label_version)


@step()
def build_prompts(
    inputs: ExportInputs, tables: ExportTables, config: ExportConfig, champion: Champion | None
) -> PromptCurriculum:
    """The prompt curriculum of the labeled generations the filters keep, scored by the champion."""
    candidates = labeled_candidates(inputs.facts, config, tables.label_version, PROMPTS)
    versions: tuple[str, ...] = ()
    predictor = None
    if champion is not None:
        known = champion.bundle.feature_spec.model_versions
        versions = tuple(
            v for v in known if not config.model_versions or v in config.model_versions
        )
        predictor = champion.bundle.predicted_quality
    return prompt_curriculum(
        candidates, predictor, versions, config.priority_rule, tables.label_version
    )


def require_rows(
    tables: ExportTables, curriculum: PromptCurriculum | None, config: ExportConfig
) -> None:
    """A one-line error when a dataset the export writes would have no rows (it could not be loaded)."""
    counts = {dataset: sum(split.values()) for dataset, split in tables.counts().items()}
    excluded = tables.exclusion_counts()
    if curriculum is not None:
        counts[PROMPTS] = curriculum.rows.height
        excluded[PROMPTS] = curriculum.excluded
    empty = [dataset for dataset, rows in counts.items() if rows == 0]
    if not empty:
        return
    reasons = []
    for dataset in empty:
        top = sorted(excluded[dataset].items(), key=lambda item: (-item[1], item[0]))
        text = ", ".join(f"{reason} {n}" for reason, n in top[:TOP_REASONS_IN_ERRORS])
        reasons.append(f"{dataset}: {text or 'no candidates'}")
    raise ValueError(
        f"nothing to export for {', '.join(empty)} (label_version {tables.label_version}; "
        f"excluded {'; '.join(reasons)}): widen --since/--until or the filters, or leave the "
        "dataset out with --datasets"
    )


def export_metadata(
    inputs: ExportInputs, tables: ExportTables, config: ExportConfig
) -> ExportMetadata:
    """Provenance and shared prose written into cards and manifests: from warehouse state and parameters."""
    champion = inputs.champion
    return ExportMetadata(
        parameters=config.as_parameters(),
        label_version=tables.label_version,
        as_of=inputs.as_of,
        champion=None
        if champion is None
        else {
            "model_id": champion.model_id,
            "model_kind": champion.model_kind,
            "label_version": champion.label_version,
        },
        option_descriptions=OPTION_DESCRIPTIONS,
        shared_sections=shared_sections(config),
    )


def preference_contents(tables: ExportTables, config: ExportConfig) -> list[DatasetContent]:
    """What the writer needs for each of DPO, KTO and reward the export writes."""
    exclusions = tables.exclusion_counts()
    merging = tables.pair_merging
    sections = {"dpo": [dedup_section(config, merging), margin_section(config, merging)]}
    return [
        DatasetContent(
            name=dataset,
            title=DATASET_TITLES[dataset],
            description=DATASET_DESCRIPTIONS[dataset],
            schema=DATASET_SCHEMAS[dataset],
            column_descriptions={
                name: COLUMN_DESCRIPTIONS[name] for name in DATASET_SCHEMAS[dataset]
            },
            splits={split: tables.split_rows(dataset, split) for split in SPLITS},
            excluded=exclusions[dataset],
            exclusion_order=EXCLUSION_REASONS[dataset],
            exclusion_units={r: exclusion_unit(dataset, r) for r in EXCLUSION_REASONS[dataset]},
            policies=governance_policies(dataset, config),
            model_versions=tables.model_versions[dataset],
            created_range=tables.created_range[dataset],
            sections=sections.get(dataset, []),
            details={"pair_merging": merging} if dataset == "dpo" else {},
            tags=DATASET_TAGS[dataset],
        )
        for dataset in tables.datasets
    ]


def prompts_content(curriculum: PromptCurriculum, config: ExportConfig) -> DatasetContent:
    """What the writer needs for the prompt curriculum (one `train` split)."""
    reasons = EXCLUSION_REASONS[PROMPTS]
    versions = curriculum.rows.select(pl.col("by_model_version").explode()).unnest(
        "by_model_version"
    )
    served = (
        versions.group_by("model_version").agg(n=pl.col("generations").sum()).sort("model_version")
    )
    return DatasetContent(
        name=PROMPTS,
        title=DATASET_TITLES[PROMPTS],
        description=DATASET_DESCRIPTIONS[PROMPTS],
        schema=PROMPTS_SCHEMA,
        column_descriptions={name: COLUMN_DESCRIPTIONS[name] for name in PROMPTS_SCHEMA},
        splits={"train": curriculum.rows},
        excluded=curriculum.excluded,
        exclusion_order=reasons,
        exclusion_units={r: exclusion_unit(PROMPTS, r) for r in reasons},
        policies=governance_policies(PROMPTS, config),
        model_versions={v: int(n) for v, n in served.iter_rows() if n},
        sections=[prompts_section(config, curriculum.predicted_versions)],
        details={"predicted_model_versions": list(curriculum.predicted_versions)},
        tags=DATASET_TAGS[PROMPTS],
    )


def dataset_contents(
    tables: ExportTables, curriculum: PromptCurriculum | None, config: ExportConfig
) -> list[DatasetContent]:
    """Every dataset the export writes, in order."""
    contents = preference_contents(tables, config)
    if curriculum is not None:
        contents.append(prompts_content(curriculum, config))
    return contents


@step(StepPolicy(retries=1, retry_delay_seconds=(2.0,)))
def write_datasets(
    tables: ExportTables,
    curriculum: PromptCurriculum | None,
    inputs: ExportInputs,
    config: ExportConfig,
    out_dir: str,
) -> WrittenExport:
    """Write the dataset folders to a staging folder and swap it into `out_dir`."""
    return write_export(
        Path(out_dir),
        dataset_contents(tables, curriculum, config),
        export_metadata(inputs, tables, config),
    )


def recorded_counts(
    tables: ExportTables, curriculum: PromptCurriculum | None
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Rows per dataset and split, and exclusions per dataset and reason, the curriculum included."""
    counts, excluded = tables.counts(), tables.exclusion_counts()
    if curriculum is not None:
        counts[PROMPTS] = {"train": curriculum.rows.height}
        excluded[PROMPTS] = dict(curriculum.excluded)
    return counts, excluded


@step(IO_RETRY)
def record(
    warehouse: Warehouse,
    written: WrittenExport,
    tables: ExportTables,
    curriculum: PromptCurriculum | None,
    inputs: ExportInputs,
    config: ExportConfig,
) -> bool:
    """Record the export and its per-row membership (`exports`, `export_rows`); idempotent."""
    counts, excluded = recorded_counts(tables, curriculum)
    entry = ExportRecord(
        export_id=written.export_id,
        as_of=inputs.as_of,
        parameters=config.as_parameters(),
        label_version=tables.label_version,
        champion_model_id=inputs.champion.model_id if inputs.champion else None,
        counts=counts,
        exclusions=excluded,
        path=str(written.path),
        pair_merging=tables.pair_merging,
    )
    with warehouse.writer() as con:
        return record_export(con, entry, export_membership(tables))


def export_datasets(
    warehouse: Warehouse, out_dir: str, config: ExportConfig, runner: StepRunner = DIRECT
) -> ExportSummary:
    """Export the datasets `config.datasets` names (DPO, KTO, reward, prompts) to `out_dir`."""
    check_replaceable(Path(out_dir).absolute())  # fail before any work
    inputs = runner.run(read_inputs, warehouse)
    runner.progress("export: steps", 1, EXPORT_STEPS)
    tables = runner.run(build_tables, inputs, config)
    runner.progress("export: steps", 2, EXPORT_STEPS)
    curriculum = None
    if PROMPTS in config.datasets:
        champion = runner.run(read_current_champion, warehouse)
        curriculum = runner.run(build_prompts, inputs, tables, config, champion)
    require_rows(tables, curriculum, config)
    written = runner.run(write_datasets, tables, curriculum, inputs, config, out_dir)
    runner.progress("export: steps", 3, EXPORT_STEPS)
    recorded = runner.run(record, warehouse, written, tables, curriculum, inputs, config)
    runner.progress("export: steps", EXPORT_STEPS, EXPORT_STEPS)
    counts, excluded = recorded_counts(tables, curriculum)
    summary = ExportSummary(
        export_id=written.export_id,
        path=str(written.path),
        label_version=tables.label_version,
        as_of=inputs.as_of.isoformat() if inputs.as_of else None,
        counts=counts,
        excluded=excluded,
        newly_recorded=recorded,
        pair_merging=tables.pair_merging,
    )
    runner.log.info("export %s -> %s: %s", written.export_id, written.path, summary.counts)
    return summary
