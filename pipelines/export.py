"""Export: consent-filtered, versioned DPO / KTO / reward datasets in Hugging Face layout.

read pairs and generation facts -> build each dataset's rows and splits (pure, features/) ->
write the folders to a staging folder and swap it into place -> record the export.

Decisions (also stated in each dataset card):
- OUT holding a previous reelloop export is replaced atomically (renameat2 exchange, else
  rename-aside); a non-empty OUT that is not a reelloop export is refused, never overwritten.
- Same warehouse state + same parameters = byte-identical files: rows sorted, fixed Parquet
  settings, card/manifest times from the warehouse (latest labeled_at / pair created_at), and
  export_id = hash of parameters + data file hashes (the output path is not part of any file).
- Governance: training_consent = false drops a generation and every pair touching it; a
  flagged generation (content_flags, or reports >= the report threshold) is never DPO `chosen`,
  never a KTO `true` row, and is left out of reward entirely; KTO drops `uncertain` labels.
- Traceability: `exports` has one row per export and path; `export_rows` one row per exported
  generation per row (DPO: chosen and rejected), with pair_id and label_version.
Safe to kill at any moment: the folder appears complete or not at all, and a rerun on the same
warehouse state writes the same bytes and records the export once.
"""

from __future__ import annotations

from pathlib import Path

from features.export import (
    COLUMN_DESCRIPTIONS,
    DATASET_DESCRIPTIONS,
    DATASET_SCHEMAS,
    DATASET_TITLES,
    DATASETS,
    EXCLUSION_REASONS,
    SPLITS,
    ExportConfig,
    ExportTables,
    build_export,
    export_membership,
    governance_policies,
)
from pipelines.dataset_files import (
    DatasetContent,
    ExportMetadata,
    WrittenExport,
    check_replaceable,
    write_export,
)
from pipelines.steps import DIRECT, IO_RETRY, StepPolicy, StepRunner, step
from results.export import ExportSummary
from warehouse.export import ExportInputs, ExportRecord, read_export_inputs, record_export
from warehouse.resource import Warehouse

EXPORT_STEPS = 4  # read, build the tables, write the files, record


@step(IO_RETRY)
def read_inputs(warehouse: Warehouse) -> ExportInputs:
    """Pairs, generation facts and warehouse state, read in one transaction (under the writer lock)."""
    with warehouse.writer(publish=False) as con:
        return read_export_inputs(con)


@step()
def build_tables(inputs: ExportInputs, config: ExportConfig) -> ExportTables:
    """Rows of each dataset and split, and exclusions by reason (pure)."""
    return build_export(inputs.pairs, inputs.facts, config, inputs.latest_label_version)


def export_metadata(
    inputs: ExportInputs, tables: ExportTables, config: ExportConfig
) -> ExportMetadata:
    """Provenance written into cards and manifests: all from warehouse state and parameters."""
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
    )


def dataset_contents(tables: ExportTables, config: ExportConfig) -> list[DatasetContent]:
    """What the writer needs for each dataset: rows per split, card text, exclusions, model versions."""
    exclusions = tables.exclusion_counts()
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
            policies=governance_policies(dataset, config),
            model_versions=tables.model_versions[dataset],
            created_range=tables.created_range[dataset],
        )
        for dataset in DATASETS
    ]


@step(StepPolicy(retries=1, retry_delay_seconds=(2.0,)))
def write_datasets(
    tables: ExportTables, inputs: ExportInputs, config: ExportConfig, out_dir: str
) -> WrittenExport:
    """Write the three dataset folders to a staging folder and swap it into `out_dir`."""
    return write_export(
        Path(out_dir), dataset_contents(tables, config), export_metadata(inputs, tables, config)
    )


@step(IO_RETRY)
def record(
    warehouse: Warehouse,
    written: WrittenExport,
    tables: ExportTables,
    inputs: ExportInputs,
    config: ExportConfig,
) -> bool:
    """Record the export and its per-row membership (`exports`, `export_rows`); idempotent."""
    entry = ExportRecord(
        export_id=written.export_id,
        as_of=inputs.as_of,
        parameters=config.as_parameters(),
        label_version=tables.label_version,
        champion_model_id=inputs.champion.model_id if inputs.champion else None,
        counts=tables.counts(),
        exclusions=tables.exclusion_counts(),
        path=str(written.path),
    )
    with warehouse.writer() as con:
        return record_export(con, entry, export_membership(tables))


def export_datasets(
    warehouse: Warehouse, out_dir: str, config: ExportConfig, runner: StepRunner = DIRECT
) -> ExportSummary:
    """Export DPO, KTO and reward datasets to `out_dir`."""
    check_replaceable(Path(out_dir).absolute())  # fail before any work
    inputs = runner.run(read_inputs, warehouse)
    runner.progress("export: steps", 1, EXPORT_STEPS)
    tables = runner.run(build_tables, inputs, config)
    runner.progress("export: steps", 2, EXPORT_STEPS)
    written = runner.run(write_datasets, tables, inputs, config, out_dir)
    runner.progress("export: steps", 3, EXPORT_STEPS)
    recorded = runner.run(record, warehouse, written, tables, inputs, config)
    runner.progress("export: steps", EXPORT_STEPS, EXPORT_STEPS)
    summary = ExportSummary(
        export_id=written.export_id,
        path=str(written.path),
        label_version=tables.label_version,
        as_of=inputs.as_of.isoformat() if inputs.as_of else None,
        counts=tables.counts(),
        excluded=tables.exclusion_counts(),
        newly_recorded=recorded,
    )
    runner.log.info("export %s -> %s: %s", written.export_id, written.path, summary.counts)
    return summary
