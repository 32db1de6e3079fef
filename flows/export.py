"""`reelloop export`: consent-filtered, versioned DPO / KTO / reward datasets in Hugging Face layout.

Decisions (also stated in each dataset card):
- OUT holding a previous reelloop export is replaced atomically (renameat2 exchange, else
  rename-aside); a non-empty OUT that is not a reelloop export is refused, never overwritten.
- Same warehouse state + same parameters = byte-identical files: rows sorted, fixed Parquet
  settings, card/manifest times from the warehouse (latest labeled_at / pair created_at), and
  export_id = hash of parameters + data file hashes (the output path is not part of any file).
- Governance: training_consent = false drops a generation and every pair touching it; a
  flagged generation (content_flags, or reports >= --report-threshold) is never DPO `chosen`,
  never a KTO `true` row, and is left out of reward entirely; KTO drops `uncertain` labels.
- Traceability: `exports` has one row per export and path; `export_rows` one row per exported
  generation per row (DPO: chosen and rejected), with pair_id and label_version.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

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
from flows.artifacts import publish_export_artifacts
from flows.locking import warehouse_at
from flows.runner import run_plain, run_task
from warehouse.dataset_files import (
    DatasetContent,
    ExportMetadata,
    WrittenExport,
    check_replaceable,
    write_export,
)
from warehouse.export import ExportInputs, ExportRecord, read_export_inputs, record_export

log = logging.getLogger(__name__)


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def read_inputs(db_path: str) -> ExportInputs:
    """Pairs, generation facts and warehouse state, read in one transaction (under the writer lock)."""
    with warehouse_at(db_path).writer(publish=False) as con:
        return read_export_inputs(con)


@task(cache_policy=NO_CACHE)
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


@task(retries=1, retry_delay_seconds=[2], cache_policy=NO_CACHE)
def write_datasets(
    tables: ExportTables, inputs: ExportInputs, config: ExportConfig, out_dir: str
) -> WrittenExport:
    """Write the three dataset folders to a staging folder and swap it into `out_dir`."""
    return write_export(
        Path(out_dir), dataset_contents(tables, config), export_metadata(inputs, tables, config)
    )


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def record(
    db_path: str,
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
    with warehouse_at(db_path).writer() as con:
        return record_export(con, entry, export_membership(tables))


def export_datasets(
    db_path: str,
    out_dir: str,
    config: ExportConfig,
    *,
    run: Callable[..., Any] = run_plain,
    logger: logging.Logger | logging.LoggerAdapter = log,
) -> dict:
    """Export DPO, KTO and reward datasets to `out_dir`; returns export_id, path, counts and exclusions.

    Safe to kill at any moment: the folder appears complete or not at all, and a rerun on the same
    warehouse state writes the same bytes and records the export once.
    """
    check_replaceable(Path(out_dir).absolute())  # fail before any work
    inputs = run(read_inputs, db_path)
    tables = run(build_tables, inputs, config)
    written = run(write_datasets, tables, inputs, config, out_dir)
    recorded = run(record, db_path, written, tables, inputs, config)
    summary = {
        "export_id": written.export_id,
        "path": str(written.path),
        "label_version": tables.label_version,
        "as_of": inputs.as_of.isoformat() if inputs.as_of else None,
        "counts": tables.counts(),
        "excluded": tables.exclusion_counts(),
        "newly_recorded": recorded,
    }
    logger.info("export %s -> %s: %s", written.export_id, written.path, summary["counts"])
    return summary


@flow(name="export")
def export_flow(
    db_path: str = "reelloop.duckdb",
    out_dir: str = "export",
    since: datetime | None = None,
    until: datetime | None = None,
    min_confidence: float = 0.0,
    test_fraction: float = 0.1,
    report_threshold: int = 3,
) -> dict:
    """Export DPO, KTO and reward datasets to `out_dir`; returns export_id, path, counts and exclusions."""
    config = ExportConfig(
        since=since,
        until=until,
        min_confidence=min_confidence,
        test_fraction=test_fraction,
        report_threshold=report_threshold,
    )
    summary = export_datasets(db_path, out_dir, config, run=run_task, logger=get_run_logger())
    publish_export_artifacts(summary)
    return summary


def parse_moment(text: str) -> datetime:
    """A date (YYYY-MM-DD, midnight UTC) or ISO-8601 timestamp (UTC if no offset)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or ISO timestamp: {text!r}") from exc


def summary_lines(summary: dict) -> list[str]:
    """What the CLI prints: where the export is, rows per dataset and split, exclusions by reason."""
    lines = [
        f"export {summary['export_id']} (label_version {summary['label_version']}, as of {summary['as_of']})",
        f"written to {summary['path']}",
    ]
    for dataset in DATASETS:
        counts = summary["counts"][dataset]
        split_text = "  ".join(f"{split} {counts[split]:>7}" for split in SPLITS)
        lines.append(f"  {dataset:<7} {split_text}   {Path(summary['path']) / dataset}")
    lines.append("excluded rows by reason:")
    for dataset in DATASETS:
        excluded = summary["excluded"][dataset]
        text = ", ".join(f"{reason} {n}" for reason, n in sorted(excluded.items())) or "none"
        lines.append(f"  {dataset:<7} {text}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Handler of `reelloop export`."""
    if not Path(args.db).is_file():
        raise FileNotFoundError(
            f"warehouse {args.db} not found (run `reelloop ingest` and `reelloop label` first)"
        )
    check_replaceable(Path(args.out).absolute())  # user errors before starting Prefect
    ExportConfig(
        since=args.since,
        until=args.until,
        min_confidence=args.min_confidence,
        test_fraction=args.test_fraction,
        report_threshold=args.report_threshold,
    )
    summary = export_flow(
        db_path=args.db,
        out_dir=args.out,
        since=args.since,
        until=args.until,
        min_confidence=args.min_confidence,
        test_fraction=args.test_fraction,
        report_threshold=args.report_threshold,
    )
    print("\n".join(summary_lines(summary)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` verb."""
    defaults = ExportConfig()
    parser = subparsers.add_parser(
        "export",
        help="write DPO / KTO / reward preference datasets (Hugging Face layout)",
        description=(
            "Write OUT/dpo, OUT/kto and OUT/reward as Hugging Face dataset folders (Parquet train/test "
            "splits, README.md dataset card, manifest.json). Consent-filtered, flagged outputs never a "
            "training target, split by request. An existing OUT that holds a previous reelloop export is "
            "replaced atomically; any other non-empty OUT is refused."
        ),
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--since",
        type=parse_moment,
        default=None,
        help="only generations created at or after this date/time (UTC)",
    )
    parser.add_argument(
        "--until",
        type=parse_moment,
        default=None,
        help="only generations created before this date/time (UTC; exclusive)",
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=defaults.min_confidence,
        help=f"DPO: keep pairs with confidence >= this (default {defaults.min_confidence})",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=defaults.test_fraction,
        help=f"share of requests in the test split (default {defaults.test_fraction})",
    )
    parser.add_argument(
        "--report-threshold",
        type=int,
        default=defaults.report_threshold,
        help=f"generations with this many viewer reports count as flagged (default {defaults.report_threshold})",
    )
    parser.set_defaults(handler=run)
