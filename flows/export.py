"""The export flow: `pipelines.export` with each step a Prefect task (see that module)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from features.export_config import ExportConfig
from features.export_schema import ALL_DATASETS
from flows.artifacts import publish_stage_artifacts
from flows.locking import warehouse_at
from flows.runner import PrefectRunner
from pipelines.export import export_datasets
from results.export import ExportSummary

DEFAULTS = ExportConfig()


@flow(name="export")
def export_flow(
    db_path: str = "reelloop.duckdb",
    out_dir: str = "export",
    since: datetime | None = None,
    until: datetime | None = None,
    min_confidence: float = DEFAULTS.min_confidence,
    test_fraction: float = DEFAULTS.test_fraction,
    report_threshold: int = DEFAULTS.report_threshold,
    same_model_version: bool = False,
    model_versions: tuple[str, ...] = (),
    min_margin: float | None = None,
    max_pairs_per_prompt: int | None = None,
    sources: tuple[str, ...] = (),
    max_contradiction: float = DEFAULTS.max_contradiction,
    negative_margin: str = DEFAULTS.negative_margin,
    datasets: tuple[str, ...] = ALL_DATASETS,
    license: str = DEFAULTS.license,  # noqa: A002 (the dataset card's YAML key)
    license_note: str = DEFAULTS.license_note,
    language: tuple[str, ...] = DEFAULTS.language,
) -> ExportSummary:
    """Export DPO, KTO, reward datasets and the prompt curriculum to `out_dir`; returns export_id,
    path, counts, exclusions and how DPO evidence merged."""
    config = ExportConfig(
        since=since,
        until=until,
        min_confidence=min_confidence,
        test_fraction=test_fraction,
        report_threshold=report_threshold,
        same_model_version=same_model_version,
        model_versions=tuple(model_versions),
        min_margin=min_margin,
        max_pairs_per_prompt=max_pairs_per_prompt,
        sources=tuple(sources),
        max_contradiction=max_contradiction,
        negative_margin=negative_margin,
        datasets=tuple(datasets),
        license=license,
        license_note=license_note,
        language=tuple(language),
    )
    summary = export_datasets(warehouse_at(db_path), out_dir, config, PrefectRunner())
    publish_stage_artifacts(summary)
    return summary
